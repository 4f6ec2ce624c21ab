// Browser host: a GPUDevice from the page's navigator.gpu, with mirage's features and limits, and an
// engine on it. Measured quirks it handles (Debian Chromium 156 on a CPU-only machine, issue #23):
// - with the ANGLE flags (--use-webgpu-adapter=opengles --use-angle=vulkan --force-webgpu-compat)
//   lavapipe is reachable only as a compatibility-mode adapter, so a plain request that finds
//   nothing is retried with featureLevel 'compatibility';
// - requestAdapter() sometimes answers null right at page load; a retry 100 ms later succeeded
//   every time, so it retries (default 10 times);
// - the compatibility adapter's defaults are low (e.g. 128 invocations per workgroup): the adapter's
//   own limits are requested (device-request.ts);
// - without --enable-webgpu-developer-features its info is blank, so the kernel family comes from a
//   timing probe (probe.ts) rather than from the adapter's name.
import { type Engine, type EngineOptions, deviceClassOf, initEngine } from '../engine/engine.js';
import { adapterInfo, deviceRequest } from '../engine/device-request.js';
import { type ProbeResult, probeKernels } from './probe.js';

export interface BrowserEngineOptions extends EngineOptions {
  /** The WebGPU entry point (default: navigator.gpu). */
  gpu?: GPU;
  /** Adapter requests before giving up, 100 ms apart (default 10). */
  tries?: number;
  /** Probe the kernel families: 'auto' (default) when the adapter info is blank, or always / never. */
  probe?: 'auto' | boolean;
}

export interface BrowserEngine {
  engine: Engine;
  device: GPUDevice;
  adapter: GPUAdapter;
  /** vendor, architecture, device, description (blank where the browser hides them). */
  info: Record<string, string>;
  features: string[];
  /** The adapter is a compatibility-mode one (WebGPU compat: ANGLE on OpenGL ES or Vulkan). */
  compatibility: boolean;
  /** The kernel-family probe's times, when it ran. */
  probe: ProbeResult | null;
  destroy(): void;
}

/** Thrown when the page has no WebGPU at all, with what to do about it. */
export class NoWebGpuError extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Chromium's message when its WebGPU instance went away under a pending request (transient at page load). */
const LOST_INSTANCE = /valid external Instance reference no longer exists/;

/** The adapter, retried while null; a plain request first, then a compatibility-mode one. */
async function findAdapter(gpu: GPU, tries: number): Promise<{ adapter: GPUAdapter; compatibility: boolean } | null> {
  for (let i = 0; i < tries; i++) {
    const plain = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    // a core adapter has 'core-features-and-limits'; one without it is compatibility-mode (ANGLE)
    if (plain) return { adapter: plain, compatibility: !plain.features.has('core-features-and-limits') };
    const compat = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    if (compat) return { adapter: compat, compatibility: true };
    await sleep(100);
  }
  return null;
}

export async function createBrowserEngine(opts: BrowserEngineOptions = {}): Promise<BrowserEngine> {
  const gpu = opts.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    throw new NoWebGpuError(secure === false
      ? 'WebGPU is only available to secure pages: open this page over https or from localhost (http://127.0.0.1:PORT).'
      : 'This browser has no WebGPU (navigator.gpu is undefined). Use Chrome or Edge 113+, Safari 26+ or Firefox 141+; ' +
        'on Linux, Chromium needs --enable-unsafe-webgpu (and, without a GPU, --use-webgpu-adapter=opengles --use-angle=vulkan --force-webgpu-compat).');
  }
  const tries = opts.tries ?? 10;
  const found = await findAdapter(gpu, tries);
  if (!found) {
    throw new NoWebGpuError(`navigator.gpu gave no adapter in ${tries} tries (plain and compatibility mode): WebGPU is ` +
      'disabled or blocklisted for this GPU (see chrome://gpu), or no driver is present.');
  }
  let { adapter, compatibility } = found;
  let device: GPUDevice | null = null;
  // Chromium sometimes loses its WebGPU instance while the GPU process starts (more often on a busy
  // CPU): requestDevice then rejects with "A valid external Instance reference no longer exists".
  // The adapter is spent; a fresh one a moment later works (platform.md). Other errors are final.
  for (let i = 1; !device; i++) {
    try { device = await adapter.requestDevice(deviceRequest(adapter)); } catch (e) {
      if (!LOST_INSTANCE.test(String((e as Error)?.message ?? e))) throw e;
      if (i >= tries) throw new NoWebGpuError(`requestDevice failed ${i} times: Chromium kept losing its WebGPU instance (${(e as Error).message}); reload the page`);
      await sleep(100 * i);
      const again = await findAdapter(gpu, tries);
      if (!again) throw new NoWebGpuError(`navigator.gpu gave no adapter after Chromium lost its WebGPU instance (${(e as Error).message})`);
      ({ adapter, compatibility } = again);
    }
  }
  const info = adapterInfo(adapter);
  let engine: Engine;
  try { engine = initEngine(device, opts); } catch (e) { device.destroy(); throw e; }
  const blank = !info.vendor && !info.architecture && deviceClassOf(info) === 'gpu';
  const probe = opts.kernels && opts.kernels !== 'auto' ? null
    : opts.probe === true || ((opts.probe ?? 'auto') === 'auto' && blank) ? await probeKernels(engine) : null;
  return { engine, device, adapter, info, features: [...device.features].map(String).sort(), compatibility, probe, destroy: () => device.destroy() };
}
