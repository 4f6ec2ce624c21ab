import { ADD_INTO_VEC4 } from '../engine/builtins.js';
import { keep } from '../engine/scope.js';
import { type Tensor, empty, full, tensor, zeros } from '../engine/tensor.js';

/**
 * Parameters up to this many elements go into an optimizer's arena: biases, batch-norm scales and
 * shifts, the small conv weights. For them a dispatch costs more than its work (bench/NOTES.md §32);
 * the big weights keep their own buffers and dispatches, so their gradients are not copied.
 */
export const ARENA_MAX_ELEMENTS = 1 << 14;

/**
 * Small parameters packed into one buffer, each from a block boundary (the device's binding
 * alignment), so that one dispatch updates all of them. The parameter tensors keep their identity
 * and become windows into the arena; gradients are copied into a twin arena before the update, and
 * each state slot (Adam's moments) is one more twin. `owner` names each block's parameter, for
 * kernels that need per-parameter values. Alignment gaps stay zero, which Adam maps to zero.
 */
export class ParamArena {
  readonly offsets = new Map<Tensor, number>();
  /** Elements of each arena (the packed parameters and their gaps). */
  readonly size: number;
  /** The parameters' data as one flat tensor. */
  readonly values: Tensor;
  /** Gradients gathered by `gatherGrads()`. */
  readonly grads: Tensor;
  /** Values per block; every parameter starts at a block boundary. */
  readonly block: number;
  /** u32 per block: the index in `params` of the parameter it belongs to. */
  readonly owner: Tensor;
  private readonly slots = new Map<string, Tensor>();
  /** Twins of `grads` for the gradients' pending parts (see Tensor.collectGradParts). */
  private readonly partArenas: Tensor[] = [];

  /**
   * Packs the parameters of `params` with at most `pack` elements (true: ARENA_MAX_ELEMENTS; false:
   * none; an optimizer's `pack` option) that are not in an arena already; null if fewer than two.
   */
  static pack(params: readonly Tensor[], pack: boolean | number = true): ParamArena | null {
    const max = pack === true ? ARENA_MAX_ELEMENTS : pack === false ? -1 : pack;
    const picked = [...new Set(params)].filter((p) => p.size <= max && !p.isWindow);
    return picked.length > 1 ? new ParamArena(picked) : null;
  }

  private constructor(readonly params: readonly Tensor[]) {
    const e = params[0].engine;
    const align = (this.block = e.limits.minStorageBufferOffsetAlignment / 4);
    let n = 0;
    const owner: number[] = [];
    params.forEach((p, i) => {
      this.offsets.set(p, n);
      const blocks = Math.ceil(p.size / align);
      for (let b = 0; b < blocks; b++) owner.push(i);
      n += blocks * align;
    });
    this.size = n;
    this.owner = keep(tensor(Uint32Array.from(owner), [owner.length], { label: 'arena owners' }));
    this.values = keep(zeros([n]));
    this.grads = keep(zeros([n]));
    for (const p of params) {
      const off = this.offsets.get(p)!;
      e.copyBuffer(p.buffer, p.byteOffset, this.values.buffer, off * 4, p.size * 4);
      const w = this.values.window(off, p.shape, p.label);
      p.adoptStorage(w);
      w.dispose();
      p.collectGradParts = true;
    }
  }

  has(p: Tensor): boolean { return this.offsets.has(p); }

  /** The flat state arena `name` (filled with `init` when first asked for, gaps included). */
  slot(name: string, init = 0): Tensor {
    let s = this.slots.get(name);
    if (!s) this.slots.set(name, (s = keep(init === 0 ? zeros([this.size]) : full([this.size], init))));
    return s;
  }

  /** Parameter p's window of state arena `name`. */
  slotWindow(name: string, p: Tensor, init = 0): Tensor {
    return this.slot(name, init).window(this.offsets.get(p)!, p.shape, `${name} of ${p.label}`);
  }

  private coef: Tensor | null = null;
  /** Uploads this step's per-parameter values (4 per parameter, for the optimizer's kernel) and returns them. */
  coefficients(values: Float32Array): Tensor {
    if (values.length !== 4 * this.params.length) throw new Error(`arena: ${values.length} coefficients for ${this.params.length} parameters`);
    this.coef ??= keep(empty([values.length], 'f32', 'arena coefficients'));
    this.coef.write(values);
    return this.coef;
  }

  /**
   * Sums the gradients there are into `grads`; false if no parameter has one. Part i of every
   * gradient is copied into twin arena i (zeroed first where some parameter has no part i), and
   * each twin is added in one dispatch: depth − 1 dispatches, however many parameters.
   */
  gatherGrads(): boolean {
    const e = this.values.engine;
    const parts = this.params.map((p) => p.gradParts);
    const depth = Math.max(0, ...parts.map((q) => q.length));
    if (depth === 0) return false;
    while (this.partArenas.length < depth - 1) this.partArenas.push(keep(zeros([this.size], 'f32')));
    for (let i = 0; i < depth; i++) {
      const dst = i === 0 ? this.grads : this.partArenas[i - 1];
      // part 0's holes stay: the optimizers skip parameters without a gradient
      if (i > 0 && parts.some((q) => q.length <= i)) e.clearBuffer(dst.buffer, 0, this.size * 4);
      this.params.forEach((p, k) => {
        const g = parts[k][i];
        if (g) e.copyBuffer(g.buffer, g.byteOffset, dst.buffer, this.offsets.get(p)! * 4, p.size * 4);
      });
    }
    const n = this.size / 4;
    for (const twin of this.partArenas.slice(0, depth - 1)) {
      e.launch(ADD_INTO_VEC4, { inputs: [twin.binding], outputs: [this.grads.binding], params: [n], threads: n });
    }
    return true;
  }

  dispose(): void {
    this.values.dispose();
    this.grads.dispose();
    this.owner.dispose();
    this.coef?.dispose();
    this.coef = null;
    for (const s of this.slots.values()) s.dispose();
    this.slots.clear();
    for (const t of this.partArenas) t.dispose();
    this.partArenas.length = 0;
    for (const p of this.params) p.collectGradParts = false;
  }
}
