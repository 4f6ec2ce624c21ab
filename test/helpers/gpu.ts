// One Dawn device + engine shared by the whole test process (pipelines compile once).
import { backward } from '../../src/engine/autograd.js';
import { type Engine, type KernelFamily, getEngine } from '../../src/engine/engine.js';
import { scope } from '../../src/engine/scope.js';
import { type Tensor, tensor } from '../../src/engine/tensor.js';
import { createNodeEngine } from '../../src/node/device.js';
import type { F64Tensor } from '../reference/core.js';

export interface Gpu {
  engine: Engine;
  info: Record<string, string>;
  features: string[];
  destroy(): void;
}

let shared: Gpu | null = null;

export async function getGpu(): Promise<Gpu> {
  if (shared) return shared;
  // tensor cores where the adapter has them, so the f16 GEMMs' subgroup-matrix variants are tested too
  const { engine, gpu } = await createNodeEngine({ poison: true, seed: 1234, tensorCores: true });
  shared = { engine, info: gpu.info, features: gpu.features, destroy: () => { engine.destroy(); gpu.destroy(); } };
  return shared;
}

/** Kernel families to test: the subgroup kernels where the device has them, the tiled and the portable ones. */
export const kernelFamilies = (): KernelFamily[] => [...(getEngine().canSubgroup ? ['subgroup' as const] : []), 'tiled', 'portable'];
/** A test body run with one kernel family selected. */
export const using = (fam: KernelFamily, f: () => unknown) => async () => {
  const e = getEngine(), was = e.kernelFamily;
  e.kernelFamily = fam;
  try { await f(); } finally { e.kernelFamily = was; }
};

/** A test body run with the per-channel reductions split into pieces (GPUs) or not (CPU adapters). */
export const splitting = (on: boolean, f: () => unknown) => async () => {
  const e = getEngine(), was = e.splitReductions;
  e.splitReductions = on;
  try { await f(); } finally { e.splitReductions = was; }
};

export type GpuFn = (...xs: Tensor[]) => Tensor;

export const upload = (t: F64Tensor, requiresGrad = false): Tensor =>
  tensor(Float32Array.from(t.data), t.shape, { requiresGrad });

/** Runs fn on uploaded copies of xs and returns the output as float64. */
export async function runGpu(fn: GpuFn, xs: F64Tensor[]): Promise<Float64Array> {
  const out = scope(() => fn(...xs.map((x) => upload(x))));
  try { return Float64Array.from(await out.read()); } finally { out.dispose(); }
}

/** Gradients of L = Σ probe ⊙ fn(xs) w.r.t. each x, by one GPU backward pass. */
export async function gradsGpu(fn: GpuFn, xs: F64Tensor[], probe: F64Tensor, which?: boolean[]): Promise<Float64Array[]> {
  const leaves = xs.map((x, i) => upload(x, which ? which[i] : true));
  try {
    scope(() => {
      const y = fn(...leaves);
      backward(y, tensor(Float32Array.from(probe.data), probe.shape, { dtype: y.dtype }));   // f16 outputs (f16 storage) take an f16 gradient
    });
    const out: Float64Array[] = [];
    for (const l of leaves) out.push(l.grad ? Float64Array.from(await l.grad.read()) : new Float64Array(0));
    return out;
  } finally {
    for (const l of leaves) l.dispose();
  }
}
