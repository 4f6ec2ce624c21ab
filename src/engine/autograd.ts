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
      const node: GradNode = {
        name, inputs, needsGrad,
        backward: (dy) => (label ? labelled(`${label} (backward)`, () => def.backward(ctx, dy)) : def.backward(ctx, dy)),
        release: () => ctx.release(),
      };
      out.node = node;
    } else {
      ctx.release();
    }
    return out;
  };
}

/** Adds g into acc (out of place: gradients may share storage), disposing both. For inner nodes; leaves use Tensor.addGrad. */
function accumulate(acc: Tensor | null, g: Tensor): Tensor {
  return acc ? addConsuming(acc, g) : keep(g);
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
  const grads = new Map<Tensor, Tensor>();
  noGrad(() => {
    if (!root.node) {
      if (root.requiresGrad) root.addGrad(grad ? grad.view(grad.shape) : ones(root.shape));
      return;
    }
    grads.set(root, keep(grad ? grad.view(grad.shape) : ones(root.shape)));
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const node = t.node!;
      t.node = null;
      const dy = grads.get(t);
      grads.delete(t);
      if (dy) {
        const gs = node.backward(dy);
        dy.dispose();
        node.inputs.forEach((inp, i) => {
          const g = gs[i];
          if (!g) return;
          keep(g);
          if (!node.needsGrad[i]) { g.dispose(); return; }
          if (!sameShape(g.shape, inp.shape)) {
            throw new Error(`backward of ${node.name}: gradient ${fmt(g.shape)} for input ${inp.describe()}`);
          }
          if (inp.node) grads.set(inp, accumulate(grads.get(inp) ?? null, g));
          else if (inp.requiresGrad) inp.addGrad(g);
          else g.dispose();
        });
      }
      node.release();
    }
  });
  for (const g of grads.values()) g.dispose();
}

/** Frees the saved activations of a graph that will never be back-propagated. */
export function releaseGraph(root: Tensor): void {
  for (const t of topoOrder(root)) { t.node?.release(); t.node = null; }
}
