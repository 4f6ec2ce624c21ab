// Node-side host: creates a Dawn GPUDevice (webgpu npm package) for the CLI, tests and bench.
// The engine itself never imports this file: browser or other WebGPU hosts pass their own device.
import { create, globals } from 'webgpu';
import { type Engine, type EngineOptions, deviceClassOf, initEngine } from '../engine/engine.js';
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
}

export interface NodeDevice {
  device: GPUDevice;
  /** The Dawn GPU instance (navigator.gpu equivalent), e.g. for another WebGPU library. */
  instance: GPU;
  adapter: GPUAdapter;
  /** Adapter description: vendor, architecture, device, description. */
  info: Record<string, string>;
  features: string[];
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
  if (opts.enableToggles?.length) flags.push(`enable-dawn-features=${opts.enableToggles.join(',')}`);
  const gpu = create(flags);
  keepAlive.push(gpu);
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new Error(`mirage: no WebGPU adapter found (backend ${backend ?? 'default'}). On Linux without a GPU, ` +
      'install Mesa lavapipe from bookworm-backports (see README, "CPU-only machines") and set XDG_RUNTIME_DIR.');
  }
  const request = deviceRequest(adapter);
  const features = request.requiredFeatures;
  const device = await adapter.requestDevice(request);
  keepAlive.push(device);
  const info = adapterInfo(adapter);
  const envPoll = process.env.MIRAGE_POLL_MS;
  if (opts.pollMs === undefined && envPoll && !(Number(envPoll) >= 0)) throw new Error(`MIRAGE_POLL_MS='${envPoll}': expected milliseconds >= 0`);
  setDawnPollInterval(opts.pollMs ?? (envPoll ? Number(envPoll) : deviceClassOf(info) === 'cpu' ? 1 : 0));
  return { device, instance: gpu as unknown as GPU, adapter, info, features, destroy: () => device.destroy() };
}

/** Engine options every createNodeEngine call starts from (the CLI's --kernels sets them). */
export const engineDefaults: EngineOptions = {};

/** A Dawn device plus an engine on it, made current. */
export async function createNodeEngine(opts: NodeDeviceOptions & EngineOptions = {}): Promise<{ engine: Engine; gpu: NodeDevice }> {
  const gpu = await createNodeDevice(opts);
  let engine: Engine;
  try { engine = initEngine(gpu.device, { ...engineDefaults, ...opts }); } catch (e) { gpu.destroy(); throw e; }
  return { engine, gpu };
}
