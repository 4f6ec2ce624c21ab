import { BindGroupCache } from './bind-groups.js';
import { BufferPool, STAGING_USAGE, STORAGE_USAGE } from './buffer-pool.js';
import { FILL } from './builtins.js';
import { BufferUsage, MapMode } from './gpu-consts.js';
import { type Param, paramBytes } from './params.js';
import { type Kernel, PipelineCache, type Signature } from './pipeline-cache.js';
import { type KernelTiming, Profiler } from './profiler.js';
import { UniformRing } from './uniform-ring.js';

export interface EngineOptions {
  /** Fill every new output buffer with NaN so an unwritten element shows up (tests). */
  poison?: boolean;
  /** Submit after this many dispatches even without a read-back (default 64). */
  flushEvery?: number;
  /** Seed of the engine's counter-based RNG (dropout, init). */
  seed?: number;
  /**
   * Use the subgroup-broadcast kernels (bench/NOTES.md §5–7). Default: on CPU adapters (lavapipe,
   * SwiftShader), where they were measured to be 2–3× faster; off on GPUs, where they were measured
   * 2–10× slower than the tiled ones (H100, bench/NOTES.md §28).
   * Either way only where the device has 'subgroups' with at least 8 lanes.
   */
  subgroups?: boolean;
  /**
   * Use the workgroup-memory tiled kernels (src/kernels/tiled.ts) where the subgroup ones are
   * off. Default: on GPUs (on an H100 their split-K weight gradients are 10–290× faster than the
   * portable ones, bench/NOTES.md §28); off on CPU adapters, where lavapipe runs them slowly
   * (emulated barriers).
   */
  tiled?: boolean;
  /** Kernel family by name (the CLI's --kernels); overrides `subgroups` and `tiled`. 'auto' keeps the defaults. */
  kernels?: KernelFamily | 'auto';
  /**
   * Operand precision of the convolution and matmul GEMMs (the CLI's --precision). 'f16' rounds
   * both operands to f16 as they are staged (tensor-core inputs) and accumulates in f32, like
   * PyTorch's autocast; everything else stays f32. Needs the device feature 'shader-f16'. Default f32.
   */
  precision?: Precision;
  /**
   * The subgroup-matrix (tensor-core) shape the f16 GEMMs use, chosen by the host from the
   * adapter's subgroupMatrixConfigs (src/node/device.ts); null or absent: f16 GEMMs on the
   * scalar tiled kernel.
   */
  matrix?: MatrixShape | null;
  /** Tiled GEMMs of at most 16 rows on 16×256 tiles (tiled.ts NARROW); not yet measured on a GPU, so off by default. */
  narrowTiles?: boolean;
  /** Tiled GEMMs of at least 128 rows on 128×128 tiles, 8×8 outputs an invocation (tiled.ts LARGE); not yet measured, off by default. */
  largeTiles?: boolean;
  /** f32 tiled GEMMs on square tiles with vec4 workgroup reads (tiled.ts SQUARE_VEC); not yet measured, off by default. */
  vecTiles?: boolean;
  /**
   * Split-K weight gradients add their splits into the result with f32 atomics instead of storing
   * partial tiles for a sum_splits pass (conv2d-tiled.ts); the sums' order then varies from run to
   * run. Not yet measured, off by default.
   */
  atomicSplits?: boolean;
  /**
   * With precision 'f16', store activations and their gradients as f16 (default true): convolutions
   * take f16 inputs and write f16 outputs, batch norm, ReLU, add, max-pool and concat run on them,
   * and every other op gets them cast to f32 (autograd.ts). false: only the GEMM operands are f16.
   */
  halfStorage?: boolean;
}

/** Operand precision of the GEMMs (EngineOptions.precision). */
export type Precision = 'f32' | 'f16';
export const PRECISIONS: readonly Precision[] = ['f32', 'f16'];

/**
 * A subgroup-matrix configuration with f16 inputs and f32 results: result blocks M×N, depth K,
 * `lanes` invocations per subgroup, and the WGSL form of the load and store builtins this Dawn
 * takes ('template': layout as a template argument, newer Dawn; 'bool': a col_major argument).
 */
export interface MatrixShape { M: number; N: number; K: number; lanes: number; syntax: 'template' | 'bool' }

/** Convolution and matmul kernel families (bench/NOTES.md §5, §13, §14). */
export type KernelFamily = 'subgroup' | 'tiled' | 'portable';
export const KERNEL_FAMILIES: readonly KernelFamily[] = ['subgroup', 'tiled', 'portable'];

/** A byte range of a buffer (offset aligned to minStorageBufferOffsetAlignment). */
export interface BufferRange { buffer: GPUBuffer; offset: number; size: number }
/** A whole buffer or a range of one, as bound to a kernel. */
export type Binding = GPUBuffer | BufferRange;

/** What a launch binds: storage inputs (read), storage outputs (read_write), then uniforms. */
export interface LaunchSpec {
  inputs?: readonly Binding[];
  outputs: readonly Binding[];
  params?: readonly Param[];
  /** Number of invocations; the engine derives workgroups from the kernel's WG constant. */
  threads?: number;
  /** Or the number of workgroups directly (one workgroup per output element, etc.). */
  groups?: number;
}

/** Poison: a NaN as f32, and as each f16 half of the word (f16 tensors). */
export const NAN_BITS = 0x7fc07fc0;

/** 'cpu' for software adapters (lavapipe, SwiftShader), else 'gpu', from the adapter's info. */
export function deviceClassOf(info: object): 'cpu' | 'gpu' {
  const i = info as Record<string, unknown>;
  return /llvmpipe|lavapipe|swiftshader|software/i.test(
    ['vendor', 'architecture', 'device', 'description'].map((k) => String(i[k] ?? '')).join(' ')) ? 'cpu' : 'gpu';
}

/**
 * The engine wraps one GPUDevice handed in by the host: buffer pool, pipeline cache and a
 * batched command encoder (one compute pass, submitted on read-back or every `flushEvery`).
 */
export class Engine {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly bindGroups: BindGroupCache;
  /** Every launch's uniforms of the current batch, uploaded at its submit. */
  readonly uniforms: UniformRing;
  readonly poison: boolean;
  readonly limits: GPUSupportedLimits;
  readonly flushEvery: number;
  /** The device has 'subgroups' and every subgroup has at least 8 lanes, so the subgroup family can run. */
  readonly canSubgroup: boolean;
  /**
   * The family the conv and matmul kernels use, read at each launch. Settable (tests and the bench
   * run every family); 'subgroup' only where `canSubgroup`.
   */
  kernelFamily: KernelFamily;
  /**
   * Per-channel reductions (bias gradients, batch norm) split each plane into pieces summed by
   * many workgroups, then combine them in a second pass: on GPUs (one workgroup per channel left
   * most of an H100 idle, bench/NOTES.md §28). Off on CPU adapters, whose few workers one
   * workgroup per channel already fills. Settable (tests run both).
   */
  splitReductions: boolean;
  /** Tiled GEMMs of at most 16 rows on narrow tiles (EngineOptions.narrowTiles); settable. */
  narrowTiles: boolean;
  /** Tiled GEMMs of at least 128 rows on 128×128 tiles (EngineOptions.largeTiles); settable. */
  largeTiles: boolean;
  /** f32 square tiles with vec4 workgroup reads (EngineOptions.vecTiles); settable. */
  vecTiles: boolean;
  /** Split-K weight gradients summed by atomics in place (EngineOptions.atomicSplits); settable. */
  atomicSplits: boolean;
  /** Subgroup-matrix shape of the f16 GEMMs (EngineOptions.matrix); settable (tests run both). */
  matrix: MatrixShape | null;
  /** Activations in f16 under precision 'f16' (EngineOptions.halfStorage); settable. */
  halfStorage: boolean;
  /** Whether f16-capable ops store activations as f16 now: precision 'f16' with halfStorage. */
  get storesHalf(): boolean { return this.precisionNow === 'f16' && this.halfStorage; }
  private precisionNow: Precision = 'f32';
  /** Operand precision of the conv and matmul GEMMs (EngineOptions.precision); settable. */
  get precision(): Precision { return this.precisionNow; }
  set precision(p: Precision) {
    if (!PRECISIONS.includes(p)) throw new Error(`precision '${p}': expected one of ${PRECISIONS.join(', ')}`);
    if (p === 'f16' && !this.device.features.has('shader-f16')) {
      throw new Error("precision 'f16': this device has no 'shader-f16' feature (on NVIDIA's Vulkan driver Dawn hides it unless the toggle vulkan_enable_f16_on_nvidia is on, which mirage's Node host sets for --precision f16)");
    }
    this.precisionNow = p;
  }
  /** Kernels may use subgroup operations (the subgroup family is selected). */
  get subgroups(): boolean { return this.kernelFamily === 'subgroup'; }
  /**
   * 'cpu' for software adapters (lavapipe, SwiftShader), else 'gpu', from the adapter's info; hosts
   * whose adapter info is blank (browsers without developer features) set it from a probe
   * (src/browser/probe.ts) together with kernelFamily and splitReductions.
   */
  deviceClass: 'cpu' | 'gpu';
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private inBatch = 0;
  private readonly errors: Error[] = [];
  private readonly submitChecks: Promise<void>[] = [];
  private rngCounter = 0;
  seed: number;
  dispatches = 0;
  submits = 0;
  lostReason: string | null = null;
  destroyed = false;

  constructor(readonly device: GPUDevice, opts: EngineOptions = {}) {
    this.limits = device.limits;
    this.pool = new BufferPool(device, Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize));
    this.pipelines = new PipelineCache(device);
    this.bindGroups = new BindGroupCache(device);
    this.pool.onTrim = () => this.bindGroups.clear();
    this.uniforms = new UniformRing(device, device.limits.minUniformBufferOffsetAlignment);
    this.poison = opts.poison ?? false;
    this.flushEvery = opts.flushEvery ?? 64;
    const info = (device as GPUDevice & { adapterInfo?: Record<string, unknown> }).adapterInfo ?? {};
    this.deviceClass = deviceClassOf(info);
    const minLanes = Number(info.subgroupMinSize ?? 0);
    this.canSubgroup = device.features.has('subgroups') && minLanes >= 8;
    const k = opts.kernels ?? 'auto';
    if (k === 'subgroup' && !this.canSubgroup) {
      throw new Error(`kernels 'subgroup': this device has no 'subgroups' feature with at least 8 lanes (subgroupMinSize ${minLanes}); use tiled or portable`);
    }
    const sub = (opts.subgroups ?? this.deviceClass === 'cpu') && this.canSubgroup;
    this.kernelFamily = k !== 'auto' ? k : sub ? 'subgroup' : (opts.tiled ?? this.deviceClass === 'gpu') ? 'tiled' : 'portable';
    this.splitReductions = this.deviceClass === 'gpu';
    this.matrix = opts.matrix ?? null;
    this.narrowTiles = opts.narrowTiles ?? false;
    this.largeTiles = opts.largeTiles ?? false;
    this.vecTiles = opts.vecTiles ?? false;
    this.atomicSplits = opts.atomicSplits ?? false;
    this.halfStorage = opts.halfStorage ?? true;
    this.precision = opts.precision ?? 'f32';
    this.seed = (opts.seed ?? 0x5eed) >>> 0;
    device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message || 'no message'}`;
    });
  }

  /** Throws if the device is gone; every public GPU entry point calls this first. */
  assertAlive(what: string): void {
    if (this.lostReason !== null || this.destroyed) {
      throw new Error(`${what}: the GPU device was lost (${this.lostReason ?? 'engine destroyed'}); ` +
        'create a new device and engine, then reload the model from a checkpoint');
    }
  }

  /** Position of the seeded counter (dropout draws so far), which checkpoints save so a resumed run draws as an uninterrupted one. */
  get rngState(): number { return this.rngCounter; }
  set rngState(v: number) {
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) throw new Error(`engine: rng state must be a u32, got ${v}`);
    this.rngCounter = v;
  }

  /** Restarts the random streams from `seed` (as a new engine with that seed would). */
  reseed(seed: number): void {
    this.seed = seed >>> 0;
    this.rngCounter = 0;
  }

  /** Next value of the engine's seeded counter, for kernels that need fresh random streams. */
  nextSeed(): number {
    this.rngCounter = (this.rngCounter + 1) >>> 0;
    return (Math.imul(this.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(this.rngCounter, 0xc2b2ae35)) >>> 0;
  }

  newBuffer(bytes: number, what: string): GPUBuffer {
    this.assertAlive(what);
    const buf = this.pool.acquire(Math.max(4, bytes), STORAGE_USAGE, what);
    if (this.poison) this.fill(buf, bytes, NAN_BITS);
    return buf;
  }

  private scratchBuf: GPUBuffer | null = null;
  /** A small storage buffer to bind where a kernel's optional operand is unused. */
  get scratch(): GPUBuffer {
    this.scratchBuf ??= this.device.createBuffer({ size: 256, usage: STORAGE_USAGE, label: 'scratch' });
    return this.scratchBuf;
  }

  fill(buf: Binding, bytes: number, bits: number): void {
    const n = Math.ceil(bytes / 4);
    if (n > 0) this.launch(FILL, { outputs: [buf], params: [n, bits >>> 0], threads: n });
  }

  private readonly signatures = new Map<number, { sig: Signature; key: string }>();
  /** The binding signature of n inputs, m outputs and maybe a uniform block, built once. */
  private signature(n: number, m: number, u: boolean): { sig: Signature; key: string } {
    const id = (n * 256 + m) * 2 + (u ? 1 : 0);
    let s = this.signatures.get(id);
    if (!s) {
      const sig: Signature = [...new Array<'r'>(n).fill('r'), ...new Array<'rw'>(m).fill('rw'), ...(u ? ['u' as const] : [])];
      this.signatures.set(id, (s = { sig, key: sig.join(',') }));
    }
    return s;
  }

  launch(kernel: Kernel, spec: LaunchSpec): void {
    this.assertAlive(kernel.name);
    const inputs = spec.inputs ?? [];
    const { sig, key } = this.signature(inputs.length, spec.outputs.length, spec.params !== undefined);
    const pipeline = this.pipelines.get(kernel, sig, key);
    let groups = spec.groups ?? Math.ceil((spec.threads ?? 0) / (kernel.constants?.WG ?? 64));
    if (groups === 0) return;
    let offset = -1;
    if (spec.params) {
      offset = this.uniforms.push(spec.params);
      if (offset < 0) { this.flush(); offset = this.uniforms.push(spec.params); }
    }
    const bindGroup = this.bindGroups.get(this.pipelines.layout(sig, key), key, [...inputs, ...spec.outputs],
      spec.params ? this.uniforms.buffer : null, spec.params ? paramBytes(spec.params.length) : 0, kernel.name);
    const x = Math.min(groups, this.limits.maxComputeWorkgroupsPerDimension);
    const y = Math.ceil(groups / x);
    if (y > this.limits.maxComputeWorkgroupsPerDimension) {
      throw new Error(`${kernel.name}: ${groups} workgroups exceed the device's dispatch limit`);
    }
    const stamps = this.profiler?.next(this.labels.length ? `${this.labels[this.labels.length - 1]}|${kernel.name}` : kernel.name);
    const pass = stamps ? this.commandEncoder().beginComputePass({ label: kernel.name, timestampWrites: stamps })
      : this.beginPass();
    pass.setPipeline(pipeline);
    if (offset >= 0) pass.setBindGroup(0, bindGroup, [offset]);
    else pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y);
    if (stamps) pass.end();
    this.dispatches++;
    if (++this.inBatch >= this.flushEvery) this.flush();
  }

  private beginPass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'mirage batch' });
    if (!this.pass) this.pass = this.encoder.beginComputePass({ label: 'mirage pass' });
    return this.pass;
  }

  /** Encoder for copies; ends the open compute pass (a new one starts at the next launch). */
  commandEncoder(): GPUCommandEncoder {
    if (this.pass) { this.pass.end(); this.pass = null; }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'mirage batch' });
    return this.encoder;
  }

  private profiler: Profiler | null = null;
  /** Layer names for the profiler (innermost last); see `labelled()`. */
  readonly labels: string[] = [];

  /**
   * Starts timing every dispatch with GPU timestamps (one pass each, so slower overall), the first
   * `capacity` of them; stopProfiling() throws if more were made, so no time goes missing unseen.
   */
  startProfiling(capacity = 2048): void {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`startProfiling: capacity must be a positive integer, got ${capacity}`);
    if (!this.device.features.has('timestamp-query')) {
      throw new Error('profiling needs the timestamp-query feature, which this device lacks');
    }
    this.flush();
    this.profiler = new Profiler(this.device, capacity);
  }

  get profiling(): boolean { return this.profiler !== null; }

  /** Stops profiling and returns the GPU time of each dispatch since startProfiling(). */
  async stopProfiling(): Promise<KernelTiming[]> {
    const p = this.profiler;
    if (!p) throw new Error('stopProfiling: profiling was not started');
    this.profiler = null;
    const read = p.resolve(this.commandEncoder());
    this.flush();
    const t = await read();
    if (p.dropped) throw new Error(`stopProfiling: ${p.dropped} dispatches past the capacity of ${p.capacity} were not timed; start with a larger capacity`);
    return t;
  }

  /**
   * Encodes a buffer-to-buffer copy of `bytes` (offsets and size multiples of 4), ordered with the
   * dispatches around it. No dispatch: lavapipe does it as one memcpy (bench/NOTES.md §25).
   */
  copyBuffer(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.assertAlive('copyBuffer');
    if (bytes > 0) this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Encodes zeroing `bytes` of `buf` from `offset` (multiples of 4), ordered like copyBuffer; no dispatch. */
  clearBuffer(buf: GPUBuffer, offset: number, bytes: number): void {
    this.assertAlive('clearBuffer');
    if (bytes > 0) this.commandEncoder().clearBuffer(buf, offset, bytes);
  }

  /** Submits everything encoded so far and recycles the buffers released meanwhile. */
  flush(): void {
    if (this.destroyed || this.lostReason !== null) return;
    if (this.encoder) {
      const enc = this.commandEncoder();
      this.encoder = null;
      this.uniforms.upload(this.device.queue);
      this.device.pushErrorScope('validation');
      this.device.queue.submit([enc.finish()]);
      this.submits++;
      this.submitChecks.push(this.device.popErrorScope().then((e) => {
        if (e) this.errors.push(new Error(`GPU validation error in a submitted batch: ${e.message}`));
      }));
    }
    this.inBatch = 0;
    this.pool.recyclePending();
  }

  /** Waits for all submitted work; rethrows shader build failures and validation errors. */
  async sync(): Promise<void> {
    this.flush();
    await this.pipelines.check();
    await this.device.queue.onSubmittedWorkDone();
    await Promise.all(this.submitChecks.splice(0));
    this.throwPending();
  }

  /** Submits what is encoded and returns a promise that resolves when the GPU has finished it. */
  fence(): Promise<void> {
    this.flush();
    if (this.destroyed || this.lostReason !== null) return Promise.resolve();
    return this.device.queue.onSubmittedWorkDone();
  }

  private throwPending(): void {
    this.assertAlive('sync');
    const e = this.errors.shift();
    if (e) { this.errors.length = 0; throw e; }
  }

  /**
   * Writes host data into `buf`, ordered after everything encoded so far: the bytes go to a
   * pooled staging buffer (queue.writeBuffer) and an encoded copy moves them into place.
   */
  upload(buf: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.assertAlive('upload');
    const bytes = Math.ceil(data.byteLength / 4) * 4;
    if (bytes === 0) return;
    const staging = this.pool.acquire(bytes, STAGING_USAGE, 'upload');
    this.device.queue.writeBuffer(staging, 0, data.buffer, data.byteOffset, bytes);
    this.commandEncoder().copyBufferToBuffer(staging, 0, buf, offset, bytes);
    this.pool.release(staging);
  }

  /** Copies `bytes` from a storage buffer into host memory (async only). */
  async readBuffer(buf: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    this.assertAlive('read');
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(4, size), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
      label: 'readback' });
    try {
      if (size > 0) this.commandEncoder().copyBufferToBuffer(buf, offset, staging, 0, size);
      this.flush();
      await this.pipelines.check();
      await staging.mapAsync(MapMode.READ);
      await Promise.all(this.submitChecks.splice(0));
      this.throwPending();
      return staging.getMappedRange(0, size).slice(0, bytes);
    } catch (e) {
      if (this.lostReason !== null) this.assertAlive('read');
      throw e;
    } finally {
      if (staging.mapState === 'mapped') staging.unmap();
      staging.destroy();
    }
  }

  destroy(): void {
    if (this.destroyed) return;
    this.flush();
    this.destroyed = true;
    if (current === this) current = null;
  }
}

let current: Engine | null = null;

/** Runs fn with a layer label on the engine's stack; profiled dispatches are named "label|kernel". */
export function labelled<T>(label: string, fn: () => T): T {
  const e = current;
  if (!e) return fn();
  e.labels.push(label);
  try { return fn(); } finally { e.labels.pop(); }
}

export const currentLabel = (): string | undefined => current?.labels[current.labels.length - 1];

/** Creates an engine on a device handed in by the host app and makes it the current one. */
export function initEngine(device: GPUDevice, opts: EngineOptions = {}): Engine {
  current = new Engine(device, opts);
  return current;
}

export function setEngine(e: Engine | null): void { current = e; }

export function getEngine(): Engine {
  if (!current) throw new Error('mirage: no engine; call initEngine(device) first (Node: createNodeEngine())');
  return current;
}

export function hasEngine(): boolean { return current !== null; }
