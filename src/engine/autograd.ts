import { currentLabel, labelled } from './engine.js';
import { keep } from './scope.js';
import { fmt, sameShape } from './shape.js';
import { type GradNode, type Tensor, addConsuming, isTensor, ones } from './tensor.js';

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
}

/** Wraps a forward/backward pair into a differentiable op recorded on the tape. */
export function defineOp<A extends unknown[], S = undefined>(name: string, def: OpDef<A, S>): (...args: A) => Tensor {
  return (...args: A): Tensor => {
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
  if (grad && !sameShape(grad.shape, root.shape)) {
    throw new Error(`backward: gradient ${fmt(grad.shape)} does not match ${root.describe()}`);
  }
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor[]>();
  noGrad(() => {
    if (!root.node) {
      if (root.requiresGrad) root.addGrad(grad ? grad.view(grad.shape) : ones(root.shape));
      return;
    }
    grads.set(root, [keep(grad ? grad.view(grad.shape) : ones(root.shape))]);
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
          if (!sameShape(g.shape, inp.shape)) {
            throw new Error(`backward of ${node.name}: gradient ${fmt(g.shape)} for input ${inp.describe()}`);
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
