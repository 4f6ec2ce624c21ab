import { ADD_SAME, ADD_SAME_F16, ADD_SAME_VEC4 } from './builtins.js';
import { floatToHalf, fromHalfBits, toHalfBits } from '../io/half.js';
import { type Binding, type Engine, getEngine } from './engine.js';
import { keep, trackTensor } from './scope.js';
import { type Shape, checkShape, fmt, numel } from './shape.js';

/**
 * Element types. 'f16' (2 bytes) holds activations and their gradients under mixed precision
 * (engine.storesHalf); it is read and written from the host as f32 values.
 */
export type DType = 'f32' | 'f16' | 'i32' | 'u32';
export type TypedArrayOf<D extends DType> = D extends 'f32' | 'f16' ? Float32Array : D extends 'i32' ? Int32Array : Uint32Array;
/** Bytes per element. */
export const dtypeBytes = (d: DType): number => (d === 'f16' ? 2 : 4);
/** Buffer bytes for n elements: whole 4-byte words (storage bindings need them). */
export const storageBytes = (n: number, d: DType): number => Math.ceil((n * dtypeBytes(d)) / 4) * 4;

/**
 * A GPUBuffer, or a window of one (`offset`, `bytes`) inside a parent storage such as a parameter
 * arena; refcounted so views and saved activations can share it. A window keeps its parent alive.
 */
export class Storage {
  private refs = 1;
  constructor(readonly engine: Engine, readonly buffer: GPUBuffer, readonly bytes: number, readonly offset = 0,
    private readonly parent: Storage | null = null) {}
  retain(): void { this.refs++; }
  release(): void {
    if (--this.refs > 0) return;
    if (this.parent) this.parent.release();
    else this.engine.pool.release(this.buffer);
  }
  /** Whether this is a window into another storage (e.g. a parameter arena). */
  get isWindow(): boolean { return this.parent !== null; }
  /** What a kernel binds: the whole buffer, or the window's range. */
  get binding(): Binding {
    return this.parent ? { buffer: this.buffer, offset: this.offset, size: this.bytes } : this.buffer;
  }
}

/** Autograd record attached to the output of a differentiable op. */
export interface GradNode {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly needsGrad: readonly boolean[];
  backward(dy: Tensor): (Tensor | null)[];
  /** Optional: backward of a gradient that arrived as two parts, a + b, added inside the op's own kernel. */
  backwardSum?(a: Tensor, b: Tensor): (Tensor | null)[];
  release(): void;
}

let nextId = 1;

/** Most parts a leaf's gradient is kept in before they are summed (bounds their memory). */
export const MAX_GRAD_PARTS = 4;

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  requiresGrad = false;
  node: GradNode | null = null;
  /**
   * Set by a parameter arena: backward keeps this leaf's later gradient contributions as parts
   * (up to MAX_GRAD_PARTS), which the arena adds for all its parameters at once (bench/NOTES.md §41).
   */
  collectGradParts = false;
  private gradFirst: Tensor | null = null;
  private gradRest: Tensor[] = [];
  private store: Storage | null;

  constructor(storage: Storage, shape: Shape, readonly dtype: DType, readonly label = 'tensor') {
    this.store = storage;
    this.shape = Object.freeze([...shape]);
    trackTensor(this);
  }

  get size(): number { return numel(this.shape); }
  get rank(): number { return this.shape.length; }
  get disposed(): boolean { return this.store === null; }
  get engine(): Engine { return this.storage.engine; }

  get storage(): Storage {
    if (!this.store) throw new Error(`${this.describe()} was used after dispose()`);
    return this.store;
  }

  get buffer(): GPUBuffer { return this.storage.buffer; }
  /** Byte offset of this tensor's data in `buffer` (non-zero for windows into an arena). */
  get byteOffset(): number { return this.storage.offset; }
  /** What a kernel binds for this tensor (see Storage.binding). */
  get binding(): Binding { return this.storage.binding; }
  /** Whether the tensor is a window into a larger storage (a parameter arena, or `window()`). */
  get isWindow(): boolean { return this.storage.isWindow; }

  describe(): string { return `tensor #${this.id} ${this.dtype}${fmt(this.shape)} (${this.label})`; }
  toString(): string { return this.describe(); }

  /** Accumulated gradient of a leaf tensor after backward(); parts still pending are summed now. */
  get grad(): Tensor | null {
    if (this.gradRest.length) {
      this.gradFirst = this.gradRest.reduce(addConsuming, this.gradFirst!);
      this.gradRest = [];
    }
    return this.gradFirst;
  }

  /** Replaces the gradient (pending parts of the old one are disposed; the old gradient is not). */
  set grad(g: Tensor | null) {
    for (const t of this.gradRest) t.dispose();
    this.gradRest = [];
    this.gradFirst = g;
  }

  /** Whether the tensor has a gradient, without summing its parts. */
  get hasGrad(): boolean { return this.gradFirst !== null; }

  /** The gradient as the tensors whose sum it is ([] when there is none), for callers that add them themselves. */
  get gradParts(): readonly Tensor[] { return this.gradFirst ? [this.gradFirst, ...this.gradRest] : []; }

  /** Adds g to the gradient (as a pending part when `collectGradParts`); g is owned from now on. */
  addGrad(g: Tensor): void {
    keep(g);
    if (!this.gradFirst) this.gradFirst = g;
    else if (!this.collectGradParts) this.gradFirst = addConsuming(this.gradFirst, g);
    else if (this.gradRest.length < MAX_GRAD_PARTS - 1) this.gradRest.push(g);
    else this.gradRest.push(addConsuming(this.gradRest.pop()!, g));   // the last part takes the rest
  }

  /** Disposes the gradient and any pending parts. */
  clearGrad(): void {
    this.gradFirst?.dispose();
    this.grad = null;
  }

  /** Releases this tensor's reference to its GPU buffer. Idempotent. */
  dispose(): void {
    if (this.store) { this.store.release(); this.store = null; }
    this.clearGrad();
  }

  /** A new tensor sharing this one's storage with another shape of the same size (no autograd). */
  view(shape: Shape, label = this.label): Tensor {
    checkShape('view', shape);
    if (numel(shape) !== this.size) {
      throw new Error(`view: cannot view ${this.describe()} as ${fmt(shape)} (${numel(shape)} elements)`);
    }
    this.storage.retain();
    return new Tensor(this.storage, shape, this.dtype, label);
  }

  /**
   * A tensor on `numel(shape)` elements of this one's storage from element `offset` on (no
   * autograd). The byte offset must meet the device's storage-binding alignment (256 bytes on most).
   */
  window(offset: number, shape: Shape, label = this.label): Tensor {
    checkShape('window', shape);
    const n = numel(shape), s = this.storage, eb = dtypeBytes(this.dtype);
    const align = s.engine.limits.minStorageBufferOffsetAlignment;
    if (!Number.isInteger(offset) || offset < 0 || offset + n > this.size || ((s.offset + offset * eb) % align) !== 0) {
      throw new Error(`window: elements [${offset}, ${offset + n}) of ${this.describe()} are outside it or not ${align}-byte aligned`);
    }
    s.retain();
    return new Tensor(new Storage(s.engine, s.buffer, storageBytes(n, this.dtype), s.offset + offset * eb, s), shape, this.dtype, label);
  }

  /**
   * Points this tensor at `other`'s storage (same size and dtype) and releases its own. The tensor
   * keeps its identity, so modules and optimizers that hold it see the move (parameter arenas).
   */
  adoptStorage(other: Tensor): void {
    if (other.size !== this.size || other.dtype !== this.dtype) {
      throw new Error(`adoptStorage: ${other.describe()} cannot hold ${this.describe()}`);
    }
    const s = other.storage;
    s.retain();
    this.storage.release();
    this.store = s;
  }

  /** Reads the data back to the host (async: WebGPU has no synchronous read-back); f16 comes back as f32 values. */
  async read(): Promise<Float32Array | Int32Array | Uint32Array> {
    const s = this.storage;
    const bytes = await s.engine.readBuffer(s.buffer, storageBytes(this.size, this.dtype), s.offset);
    if (this.dtype === 'f16') return fromHalfBits(new Uint16Array(bytes), this.size);
    return this.dtype === 'f32' ? new Float32Array(bytes) : this.dtype === 'i32' ? new Int32Array(bytes) : new Uint32Array(bytes);
  }

  /** The values of an f32 or f16 tensor. */
  async readF32(): Promise<Float32Array> {
    if (this.dtype !== 'f32' && this.dtype !== 'f16') throw new Error(`readF32: ${this.describe()} is not f32 or f16`);
    return (await this.read()) as Float32Array;
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: ${this.describe()} has ${this.size} elements, expected 1`);
    return (await this.read())[0];
  }

  /** Overwrites the contents from host data of the same size. */
  write(data: ArrayLike<number>): void {
    if (data.length !== this.size) {
      throw new Error(`write: ${data.length} values for ${this.describe()} (${this.size} elements)`);
    }
    this.engine.assertAlive('write');
    this.engine.upload(this.buffer, toTyped(data, this.dtype), this.byteOffset);
  }
}

function toTyped(data: ArrayLike<number>, dtype: DType): Float32Array | Int32Array | Uint32Array | Uint16Array {
  if (dtype === 'f16') return toHalfBits(data);
  if (dtype === 'f32') return data instanceof Float32Array ? data : Float32Array.from(data);
  if (dtype === 'i32') return data instanceof Int32Array ? data : Int32Array.from(data);
  return data instanceof Uint32Array ? data : Uint32Array.from(data);
}

/**
 * a + b for gradient sums, as a new tensor outside any scope; a and b (same size, possibly sharing
 * storage, hence out of place) are disposed. vec4 when the size allows.
 */
export function addConsuming(a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== b.dtype || (a.dtype !== 'f32' && a.dtype !== 'f16')) throw new Error(`gradient sum: ${a.describe()} + ${b.describe()}`);
  const y = keep(empty(a.shape, a.dtype, 'grad'));
  const quads = a.size % 4 === 0;
  const n = quads ? a.size / 4 : a.size;
  a.engine.launch(a.dtype === 'f16' ? ADD_SAME_F16[quads ? 1 : 0] : quads ? ADD_SAME_VEC4 : ADD_SAME, { inputs: [a.binding, b.binding], outputs: [y.binding], params: [n], threads: n });
  a.dispose();
  b.dispose();
  return y;
}

/** An uninitialised tensor (NaN-poisoned when the engine runs with `poison`). */
export function empty(shape: Shape, dtype: DType = 'f32', label = 'empty'): Tensor {
  checkShape(label, shape);
  const e = getEngine();
  const bytes = storageBytes(numel(shape), dtype);
  return new Tensor(new Storage(e, e.newBuffer(bytes, `${label} output ${fmt(shape)}`), bytes), shape, dtype, label);
}

export function full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  const t = empty(shape, dtype, 'full');
  const bits = new DataView(new ArrayBuffer(4));
  if (dtype === 'f32') bits.setFloat32(0, value, true);
  else if (dtype === 'f16') bits.setUint32(0, floatToHalf(value) * 0x10001, true);
  else if (dtype === 'i32') bits.setInt32(0, value, true);
  else bits.setUint32(0, value, true);
  t.engine.fill(t.binding, storageBytes(t.size, dtype), bits.getUint32(0, true));
  return t;
}

export const zeros = (shape: Shape, dtype: DType = 'f32') => full(shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'f32') => full(shape, 1, dtype);

export interface TensorOptions { dtype?: DType; requiresGrad?: boolean; label?: string }

/** Uploads host data (row-major, NCHW for images) into a new tensor. */
export function tensor(data: ArrayLike<number>, shape: Shape, opts: TensorOptions = {}): Tensor {
  checkShape('tensor', shape);
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'i32' : data instanceof Uint32Array ? 'u32' : 'f32');
  if (data.length !== numel(shape)) {
    throw new Error(`tensor: ${data.length} values do not fill shape ${fmt(shape)} (${numel(shape)} elements)`);
  }
  const t = empty(shape, dtype, opts.label ?? 'tensor');
  t.write(data);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

export const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;

export function assertDType(op: string, t: Tensor, dtype: DType, name = 'input'): void {
  if (t.dtype !== dtype) throw new Error(`${op}: ${name} must be ${dtype}, got ${t.describe()}`);
}
