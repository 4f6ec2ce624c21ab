import { ShaderStage } from './gpu-consts.js';

export type Constants = Readonly<Record<string, number>>;
/** Binding kinds in order: 'r' read-only storage, 'rw' storage, 'u' uniform. */
export type Signature = readonly ('r' | 'rw' | 'u')[];

export interface Kernel {
  readonly name: string;
  readonly wgsl: string;
  readonly constants?: Constants;
}

/** A shader that failed to compile or validate; the message points at numbered source lines. */
export class KernelError extends Error {
  constructor(readonly kernel: string, detail: string, readonly source: string) {
    super(`kernel '${kernel}' failed to build: ${detail}`);
    this.name = 'KernelError';
  }
}

/**
 * WebGPU's default maxStorageBuffersPerShaderStage. Every kernel stays within it, so a host app's
 * device with default limits runs all of them; the cache refuses a kernel that binds more.
 */
export const MAX_STORAGE_BINDINGS = 8;

const stableJson = (o: Constants) => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));

export function numbered(code: string, around?: number): string {
  const lines = code.split('\n');
  const lo = around ? Math.max(0, around - 4) : 0;
  const hi = around ? Math.min(lines.length, around + 3) : lines.length;
  return lines.slice(lo, hi).map((l, i) => `${String(lo + i + 1).padStart(4)}| ${l}`).join('\n');
}

/**
 * Modules keyed by the full WGSL source, pipelines by source + override constants + binding
 * signature: a key can never miss a field, so two different kernels never collide. A launch looks
 * its pipeline up by the Kernel object first (no hashing of the source), then by that key.
 * Uniform bindings take a dynamic offset: the engine packs a batch's uniforms into one ring buffer.
 */
export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly byKernel = new WeakMap<Kernel, Map<string, GPUComputePipeline>>();
  /** Compile/validation failures found asynchronously; the engine rethrows them at the next sync. */
  readonly failures: KernelError[] = [];
  readonly validations: Promise<void>[] = [];

  constructor(private readonly device: GPUDevice) {}

  get size(): number { return this.pipelines.size; }

  layout(sig: Signature, key = sig.join(',')): GPUBindGroupLayout {
    let l = this.layouts.get(key);
    if (!l) {
      l = this.device.createBindGroupLayout({
        label: `layout(${key})`,
        entries: sig.map((kind, binding) => ({
          binding,
          visibility: ShaderStage.COMPUTE,
          buffer: kind === 'u' ? { type: 'uniform', hasDynamicOffset: true }
            : { type: kind === 'r' ? 'read-only-storage' : 'storage' },
        })),
      });
      this.layouts.set(key, l);
    }
    return l;
  }

  get(kernel: Kernel, sig: Signature, sigKey = sig.join(',')): GPUComputePipeline {
    let mine = this.byKernel.get(kernel);
    const fast = mine?.get(sigKey);
    if (fast) return fast;
    if (!mine) this.byKernel.set(kernel, (mine = new Map()));
    const constants = kernel.constants ?? {};
    const key = `${kernel.wgsl}\u0000${stableJson(constants)}\u0000${sigKey}`;
    const hit = this.pipelines.get(key);
    if (hit) { mine.set(sigKey, hit); return hit; }
    const storage = sig.filter((k) => k !== 'u').length;
    if (storage > MAX_STORAGE_BINDINGS) {
      throw new KernelError(kernel.name, `${storage} storage buffers, more than WebGPU's default limit of ${MAX_STORAGE_BINDINGS} per shader stage`, kernel.wgsl);
    }
    this.device.pushErrorScope('validation');
    let module = this.modules.get(kernel.wgsl);
    if (!module) {
      module = this.device.createShaderModule({ label: kernel.name, code: kernel.wgsl });
      this.modules.set(kernel.wgsl, module);
    }
    const pipeline = this.device.createComputePipeline({
      label: kernel.name,
      layout: this.device.createPipelineLayout({ label: kernel.name, bindGroupLayouts: [this.layout(sig)] }),
      compute: { module, entryPoint: 'main', constants },
    });
    this.pipelines.set(key, pipeline);
    mine.set(sigKey, pipeline);
    const m = module;
    this.validations.push(this.device.popErrorScope().then(async (err) => {
      if (!err) return;
      const info = await m.getCompilationInfo();
      const msgs = info.messages.filter((x) => x.type === 'error');
      const detail = msgs.length
        ? msgs.map((x) => `${x.lineNum}:${x.linePos} ${x.message}\n${numbered(kernel.wgsl, x.lineNum)}`).join('\n')
        : err.message;
      this.failures.push(new KernelError(kernel.name, detail, kernel.wgsl));
    }));
    return pipeline;
  }

  /** Waits for every pending validation and throws the first failure. */
  async check(): Promise<void> {
    const pending = this.validations.splice(0);
    await Promise.all(pending);
    const f = this.failures.shift();
    if (f) throw f;
  }
}
