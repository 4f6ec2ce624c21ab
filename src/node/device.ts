// Node-side host: creates a Dawn GPUDevice (webgpu npm package) for the CLI, tests and bench.
// The engine itself never imports this file: browser or other WebGPU hosts pass their own device.
import { create, globals } from 'webgpu';
import { type Engine, type EngineOptions, type MatrixShape, deviceClassOf, initEngine } from '../engine/engine.js';
import { MATMUL_TILED } from '../kernels/matmul.js';
import { MMA_WORKGROUP_BYTES, matrixFits, tiledKernel } from '../kernels/tiled.js';
import { adapterInfo, deviceRequest } from '../engine/device-request.js';
import { setDawnPollInterval } from './poll.js';

export interface NodeDeviceOptions {
  /** Dawn backend, e.g. 'vulkan' (default on Linux), 'metal', 'd3d12', 'null'. */
  backend?: string;
  /** Extra Dawn toggles to enable (e.g. 'disable_robustness'). */
  enableToggles?: string[];
  powerPreference?: GPUPowerPreference;
  /**
   * Milliseconds between Dawn's polls while the host awaits GPU work (src/node/poll.ts). Default
   * (or env MIRAGE_POLL_MS): 1 on CPU adapters, whose cores a busy-polling JS thread would take
   * from the kernels; 0 (Dawn's busy polling, lowest latency) on GPUs. Process-wide.
   */
  pollMs?: number;
  /**
   * Offer f16 shaders where the GPU can: turns on Dawn's toggle vulkan_enable_f16_on_nvidia (Dawn
   * hides shader-f16 on NVIDIA's Vulkan driver without it). Default: with tensorCores.
   */
  f16?: boolean;
  /**
   * Ask for Dawn's experimental subgroup matrices (tensor cores) for the f16 GEMMs: turns on the
   * toggle allow_unsafe_apis (the feature is experimental) and `f16`, requests the feature where the
   * adapter lists it, and picks a shape from adapter.info.subgroupMatrixConfigs (f16 in, f32 out)
   * that fits the tiled GEMM. Default: env MIRAGE_TENSOR_CORES=1; createNodeEngine sets it for
   * precision f16 unless MIRAGE_TENSOR_CORES=0 (f16 GEMMs on the scalar core, e.g. to measure the gain).
   */
  tensorCores?: boolean;
}

const MATRIX_FEATURE = 'chromium-experimental-subgroup-matrix' as GPUFeatureName;

/** One entry of Dawn's adapter.info.subgroupMatrixConfigs (empty unless the adapter has the feature). */
export interface MatrixConfig { componentType: string; resultComponentType: string; M: number; N: number; K: number }
export const matrixConfigs = (adapter: GPUAdapter): MatrixConfig[] =>
  [...((adapter.info as unknown as { subgroupMatrixConfigs?: MatrixConfig[] }).subgroupMatrixConfigs ?? [])];

/** The largest f16→f32 subgroup-matrix config of the adapter that fits the tiled GEMM (tiled.ts), or null. */
export function pickMatrixShape(adapter: GPUAdapter): Omit<MatrixShape, 'syntax'> | null {
  const info = adapter.info as unknown as { subgroupMinSize?: number; subgroupMaxSize?: number };
  const lanes = Number(info.subgroupMaxSize ?? 0);
  if (adapter.limits.maxComputeWorkgroupStorageSize < MMA_WORKGROUP_BYTES) return null;
  if (!lanes || Number(info.subgroupMinSize ?? 0) !== lanes) return null;   // one subgroup size, or the blocks per subgroup are unknown
  const fits = matrixConfigs(adapter)
    .filter((c) => c.componentType === 'f16' && c.resultComponentType === 'f32')
    .map((c) => ({ M: c.M, N: c.N, K: c.K, lanes }))
    .filter((c) => matrixFits(c))
    .sort((a, b) => b.M * b.N * b.K - a.M * a.N * a.K);
  return fits[0] ?? null;
}

/**
 * Which WGSL form of subgroupMatrixLoad/Store this Dawn compiles (newer Dawn takes the layout as a
 * template argument, older a col_major bool argument), found by building the real thing: the
 * tiled matmul's subgroup-matrix variant, shader and pipeline. Null and the errors if neither builds.
 */
async function matrixSyntax(device: GPUDevice, s: Omit<MatrixShape, 'syntax'>): Promise<{ syntax: MatrixShape['syntax'] | null; errors: string[] }> {
  const errors: string[] = [];
  for (const syntax of ['template', 'bool'] as const) {
    const k = tiledKernel(MATMUL_TILED, { kind: 'mma', shape: { ...s, syntax } });
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: k.wgsl, label: `${k.name} (probe)` });
    const info = await module.getCompilationInfo();
    device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main', constants: { ...k.constants } } });
    const err = await device.popErrorScope();
    const msgs = info.messages.filter((m) => m.type === 'error').map((m) => `line ${m.lineNum}: ${m.message}`);
    if (!err && !msgs.length) return { syntax, errors };
    errors.push(`${syntax} syntax: ${msgs[0] ?? err?.message ?? 'unknown error'}`);
  }
  return { syntax: null, errors };
}

export interface NodeDevice {
  device: GPUDevice;
  /** The Dawn GPU instance (navigator.gpu equivalent), e.g. for another WebGPU library. */
  instance: GPU;
  adapter: GPUAdapter;
  /** Adapter description: vendor, architecture, device, description. */
  info: Record<string, string>;
  features: string[];
  /** The subgroup-matrix shape for the f16 GEMMs (tensorCores, where the adapter has one that fits), else null. */
  matrix: MatrixShape | null;
  /** Why the subgroup-matrix GEMM did not build in either WGSL form, where the adapter offered a shape (`mirage info` prints it). */
  matrixErrors: string[];
  destroy(): void;
}

// Dawn crashes if the object returned by create() is collected while a device lives
// (platform.md), so every instance is kept for the life of the process.
const keepAlive: unknown[] = [];

export async function createNodeDevice(opts: NodeDeviceOptions = {}): Promise<NodeDevice> {
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  Object.assign(globalThis, globals);
  const flags = [`disable-dawn-features=timestamp_quantization`];
  const backend = opts.backend ?? process.env.MIRAGE_BACKEND ?? (process.platform === 'linux' ? 'vulkan' : undefined);
  if (backend) flags.push(`backend=${backend}`);
  const tensorCores = opts.tensorCores ?? process.env.MIRAGE_TENSOR_CORES === '1';
  const f16 = opts.f16 ?? tensorCores;
  const toggles = [...(opts.enableToggles ?? []), ...(tensorCores ? ['allow_unsafe_apis'] : []), ...(f16 ? ['vulkan_enable_f16_on_nvidia'] : [])];
  if (toggles.length) flags.push(`enable-dawn-features=${toggles.join(',')}`);
  const gpu = create(flags);
  keepAlive.push(gpu);
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new Error(`mirage: no WebGPU adapter found (backend ${backend ?? 'default'}). On Linux without a GPU, ` +
      'install Mesa lavapipe from bookworm-backports (see README, "CPU-only machines") and set XDG_RUNTIME_DIR.');
  }
  const request = deviceRequest(adapter);
  const shape = tensorCores && adapter.features.has(MATRIX_FEATURE) && adapter.features.has('shader-f16') ? pickMatrixShape(adapter) : null;
  if (shape) request.requiredFeatures.push(MATRIX_FEATURE);
  const features = request.requiredFeatures;
  const device = await adapter.requestDevice(request);
  keepAlive.push(device);
  const probe = shape ? await matrixSyntax(device, shape) : null;
  const matrix = shape && probe?.syntax ? { ...shape, syntax: probe.syntax } : null;
  const matrixErrors = probe && !probe.syntax ? probe.errors : [];
  const info = adapterInfo(adapter);
  const envPoll = process.env.MIRAGE_POLL_MS;
  if (opts.pollMs === undefined && envPoll && !(Number(envPoll) >= 0)) throw new Error(`MIRAGE_POLL_MS='${envPoll}': expected milliseconds >= 0`);
  setDawnPollInterval(opts.pollMs ?? (envPoll ? Number(envPoll) : deviceClassOf(info) === 'cpu' ? 1 : 0));
  return { device, instance: gpu as unknown as GPU, adapter, info, features, matrix, matrixErrors, destroy: () => device.destroy() };
}

/** Engine options every createNodeEngine call starts from (the CLI's --kernels sets them). */
export const engineDefaults: EngineOptions = {};

/** A Dawn device plus an engine on it, made current. */
export async function createNodeEngine(opts: NodeDeviceOptions & EngineOptions = {}): Promise<{ engine: Engine; gpu: NodeDevice }> {
  // f16 GEMMs want tensor cores (and on NVIDIA the toggle that lets Dawn offer shader-f16 at all)
  // (a precision given here, even undefined, is the caller's choice; else the CLI's --precision)
  const precision = 'precision' in opts ? opts.precision : engineDefaults.precision;
  const f16 = precision === 'f16';
  const gpu = await createNodeDevice({ ...opts, f16: opts.f16 ?? (f16 || undefined),
    tensorCores: opts.tensorCores ?? (f16 ? process.env.MIRAGE_TENSOR_CORES !== '0' : undefined) });
  let engine: Engine;
  // MIRAGE_NARROW_TILES=1: 16×256 tiles for the GEMMs of at most 16 rows (to measure them; tiled.ts NARROW);
  // MIRAGE_LARGE_TILES=1: 128×128 tiles, 8×8 outputs an invocation, for GEMMs of at least 128 rows (tiled.ts LARGE);
  // MIRAGE_VEC_TILES=1: f32 square tiles with vec4 workgroup reads (tiled.ts SQUARE_VEC);
  // MIRAGE_ATOMIC_SPLITS=1: split-K weight gradients summed in place by atomics (no sum_splits pass);
  // MIRAGE_F16_STORAGE=0: f16 GEMM operands only, activations f32 (to measure what f16 storage saves)
  const env = { matrix: gpu.matrix, narrowTiles: process.env.MIRAGE_NARROW_TILES === '1', largeTiles: process.env.MIRAGE_LARGE_TILES === '1',
    vecTiles: process.env.MIRAGE_VEC_TILES === '1', atomicSplits: process.env.MIRAGE_ATOMIC_SPLITS === '1',
    halfStorage: process.env.MIRAGE_F16_STORAGE !== '0' };
  try { engine = initEngine(gpu.device, { ...env, ...engineDefaults, ...opts, precision }); } catch (e) { gpu.destroy(); throw e; }
  return { engine, gpu };
}
