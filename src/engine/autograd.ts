import { currentLabel, getEngine, labelled } from './engine.js';
import { keep } from './scope.js';
import { fmt, sameShape } from './shape.js';
import { type DType, type GradNode, type Tensor, addConsuming, isTensor, ones } from './tensor.js';

let enabled = true;

export const isGradEnabled = (): boolean => enabled;

/** Runs `fn` without recording the tape (evaluation, optimizer steps). */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try { return fn(); } finally { enabled = prev; }
}

/** Per-call context: which inputs need gradients, saved tensors and op-specific state. */
export class OpContext<S> {
  private readonly savedViews: Tensor[] = [];
  state!: S;
  constructor(readonly needsGrad: readonly boolean[]) {}

  /** Keeps the tensors' storage alive until backward has used them (views, not the originals). */
  save(...ts: Tensor[]): void {
    for (const t of ts) this.savedViews.push(keep(t.view(t.shape, `saved ${t.label}`)));
  }

  get saved(): readonly Tensor[] { return this.savedViews; }

  release(): void {
    for (const t of this.savedViews) t.dispose();
    this.savedViews.length = 0;
  }
}

export interface OpDef<A extends unknown[], S> {
  forward(ctx: OpContext<S>, ...args: A): Tensor;
  /** Gradients for the tensor arguments, in order; null where none is needed. Must return fresh tensors. */
  backward(ctx: OpContext<S>, dy: Tensor): (Tensor | null)[];
  /**
   * Optional: the same for an output whose gradient arrived from two consumers as a + b, for ops
   * whose backward kernel can add them as it reads them (one pass instead of an add and a pass).
   */
  backwardSum?(ctx: OpContext<S>, a: Tensor, b: Tensor): (Tensor | null)[];
  /**
   * f16 tensors (mixed precision, engine.storesHalf). Absent: the op runs in f32, and f16 arguments
   * are cast to f32 before it (differentiably). 'same': its first `activations` tensor arguments
   * stay f16 when all of them are; mixed, they are all cast to f16 where the engine stores f16
   * (engine.storesHalf), else to f32; the op computes in their dtype, its output and input
   * gradients in it too. 'autocast': its first tensor argument is cast
   * to f16 when the engine stores activations as f16, else to f32 (the GEMM ops, PyTorch's autocast
   * list). Further tensor arguments (weights, biases) are cast to f32 where f16.
   */
  half?: 'same' | 'autocast';
  /** Leading tensor arguments that are activations ('same' and 'autocast'); default 1. */
  activations?: number;
}

type Cast = (t: Tensor, to: 'f16' | 'f32') => Tensor;
let castOp: Cast | null = null;
/** The differentiable cast the f16 rules use (src/kernels/cast.ts registers it: it is itself an op). */
export function setCastOp(c: Cast): void { castOp = c; }

const isFloat = (t: Tensor) => t.dtype === 'f32' || t.dtype === 'f16';

/** The arguments with the casts `def.half` asks for; the casts made are pushed to `made`. */
function castArgs<A extends unknown[]>(name: string, def: OpDef<A, unknown>, args: A, made: Tensor[]): A {
  const acts = def.half ? (def.activations ?? 1) : 0;
  let actWant: DType = 'f32';
  if (def.half === 'autocast') actWant = getEngine().storesHalf ? 'f16' : 'f32';
  else if (def.half === 'same') {
    // mixed f16 and f32 activations: f16 where the engine stores f16 (the f32 ones, e.g. the input
    // image, join the f16 stream once, rather than every later residual join widening it), else f32
    const a = args.filter(isTensor).slice(0, acts);
    actWant = a.every((t) => t.dtype === 'f16') || (a.some((t) => t.dtype === 'f16') && getEngine().storesHalf) ? 'f16' : 'f32';
  }
  let k = 0;
  return args.map((a) => {
    if (!isTensor(a)) return a;
    const want = k++ < acts ? actWant : 'f32';
    if (!isFloat(a) || a.dtype === want) return a;
    if (!castOp) throw new Error(`${name}: ${a.describe()} needs a cast to ${want}, and no cast op is registered (import src/kernels/cast.ts)`);
    const c = castOp(a, want);
    made.push(c);
    return c;
  }) as A;
}

/** Whether an op's arguments need casts: an f16 tensor argument, or an autocast op on an f32 one under f16 storage. */
function needsCasts(def: OpDef<never, unknown>, args: readonly unknown[]): boolean {
  for (const a of args) if (isTensor(a) && a.dtype === 'f16') return true;
  return def.half === 'autocast' && getEngine().storesHalf;
}

/** Wraps a forward/backward pair into a differentiable op recorded on the tape. */
export function defineOp<A extends unknown[], S = undefined>(name: string, def: OpDef<A, S>): (...args: A) => Tensor {
  const op = (...args: A): Tensor => {
    if (needsCasts(def as OpDef<never, unknown>, args)) {
      const made: Tensor[] = [];
      const cast = castArgs(name, def as OpDef<A, unknown>, args, made);
      // the casts' outputs are this op's inputs only: the graph keeps their nodes (and what the op
      // saved keeps their storage), so they are released now, not left to a scope (unless the op
      // gave one back as its output)
      let out: Tensor | null = null;
      try { return (out = record(cast)); } finally { for (const t of made) if (t !== out) t.dispose(); }
    }
    return record(args);
  };
  const record = (args: A): Tensor => {
    const inputs = args.filter(isTensor);
    const needsGrad = inputs.map((t) => enabled && (t.requiresGrad || t.node !== null));
    const ctx = new OpContext<S>(needsGrad);
    const out = def.forward(ctx, ...args);
    if (needsGrad.some(Boolean)) {
      const label = currentLabel();   // backward kernels are attributed to the same layer
      const inLayer = <T>(f: () => T): T => (label ? labelled(`${label} (backward)`, f) : f());
      const node: GradNode = {
        name, inputs, needsGrad,
        backward: (dy) => inLayer(() => def.backward(ctx, dy)),
        release: () => ctx.release(),
      };
      if (def.backwardSum) node.backwardSum = (a, b) => inLayer(() => def.backwardSum!(ctx, a, b));
      out.node = node;
    } else {
      ctx.release();
    }
    return out;
  };
  return op;
}

/**
 * Adds g (kept) to the gradient parts of inner node t (out of place: gradients may share storage).
 * Parts are summed as they arrive, except that a node with backwardSum keeps a second part for its
 * backward to add; a third is added as ((p0 + p1) + p2), the same order as summing at once.
 * Leaves use Tensor.addGrad.
 */
function accumulate(grads: Map<Tensor, Tensor[]>, t: Tensor, g: Tensor): void {
  const parts = grads.get(t);
  if (!parts) grads.set(t, [g]);
  else if (parts.length === 2) { parts[0] = addConsuming(parts[0], parts[1]); parts[1] = g; }
  else if (t.node!.backwardSum) parts.push(g);
  else parts[0] = addConsuming(parts[0], g);
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i === 0) {
      if (seen.has(t) || !t.node) { stack.pop(); continue; }
      seen.add(t);
    }
    const inputs = t.node!.inputs;
    if (i < inputs.length) { top[1]++; stack.push([inputs[i], 0]); }
    else { stack.pop(); order.push(t); }
  }
  return order;
}

/**
 * Back-propagates from `root` (a one-element loss, or any tensor with an explicit `grad` of its
 * shape) in reverse topological order. Leaf tensors with requiresGrad accumulate into `.grad`;
 * saved activations are released as soon as their node has run, and the graph is consumed.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!grad && root.size !== 1) {
    throw new Error(`backward: ${root.describe()} is not a scalar; pass a gradient of shape ${fmt(root.shape)}`);
  }
  if (grad && (!sameShape(grad.shape, root.shape) || grad.dtype !== root.dtype)) {
    throw new Error(`backward: gradient ${grad.describe()} does not match ${root.describe()}`);
  }
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor[]>();
  noGrad(() => {
    if (!root.node) {
      if (root.requiresGrad) root.addGrad(grad ? grad.view(grad.shape) : ones(root.shape, root.dtype));
      return;
    }
    grads.set(root, [keep(grad ? grad.view(grad.shape) : ones(root.shape, root.dtype))]);
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const node = t.node!;
      t.node = null;
      const dy = grads.get(t);
      grads.delete(t);
      if (dy) {
        const gs = dy.length === 2 ? node.backwardSum!(dy[0], dy[1]) : node.backward(dy[0]);
        for (const part of dy) part.dispose();
        node.inputs.forEach((inp, i) => {
          const g = gs[i];
          if (!g) return;
          keep(g);
          if (!node.needsGrad[i]) { g.dispose(); return; }
          if (!sameShape(g.shape, inp.shape) || g.dtype !== inp.dtype) {
            throw new Error(`backward of ${node.name}: gradient ${g.dtype}${fmt(g.shape)} for input ${inp.describe()}`);
          }
          if (inp.node) accumulate(grads, inp, g);
          else if (inp.requiresGrad) inp.addGrad(g);
          else g.dispose();
        });
      }
      node.release();
    }
  });
  for (const parts of grads.values()) for (const g of parts) g.dispose();
}

/** Frees the saved activations of a graph that will never be back-propagated. */
export function releaseGraph(root: Tensor): void {
  for (const t of topoOrder(root)) { t.node?.release(); t.node = null; }
}
