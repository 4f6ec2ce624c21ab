// Float64 building blocks for checking composite layers (attention, fusion, encoder/decoder blocks):
// per-channel maps, global means, gates, and batch norms with random statistics written into a layer.
import type { Tensor } from '../../src/engine/tensor.js';
import type { BatchNorm2d } from '../../src/models/layers.js';
import { type F64Tensor, f64, randn } from '../reference/core.js';

export const host = async (x: Tensor): Promise<F64Tensor> => f64([...x.shape], await x.read());
export const sig = (v: number) => 1 / (1 + Math.exp(-v));
export const relu = (v: number) => Math.max(v, 0);

export const meanHw = (x: F64Tensor): F64Tensor => {
  const [N, C, H, W] = x.shape, out = f64([N, C, 1, 1]);
  for (let i = 0; i < N * C; i++) { let a = 0; for (let p = 0; p < H * W; p++) a += x.data[i * H * W + p]; out.data[i] = a / (H * W); }
  return out;
};

/** y[n,c,p] = f(x[n,c,p], c). */
export const perChannel = (x: F64Tensor, f: (v: number, c: number) => number): F64Tensor => {
  const [, C, H, W] = x.shape, out = f64(x.shape);
  x.data.forEach((v, i) => { out.data[i] = f(v, Math.floor(i / (H * W)) % C); });
  return out;
};

/** y[n,c,p] = f(x[n,c,p], g[n,c]) for a [N,C,1,1] g. */
export const gate = (x: F64Tensor, g: F64Tensor, f: (v: number, g: number) => number): F64Tensor => {
  const [, , H, W] = x.shape, out = f64(x.shape);
  x.data.forEach((v, i) => { out.data[i] = f(v, g.data[Math.floor(i / (H * W))]); });
  return out;
};

/**
 * Random running statistics, shift and (where the layer learns one) scale for a BN, written into
 * the layer; returns (v, c) ↦ bn(v) in eval mode.
 */
export async function randomBn(bn: BatchNorm2d, seed: number): Promise<(v: number, c: number) => number> {
  const C = bn.numFeatures, m = randn([C], seed, 0.3).data, v = randn([C], seed + 1).data.map((q) => 0.5 + q * q), beta = randn([C], seed + 2, 0.5).data;
  const learnsScale = bn.parameters().includes(bn.weight);
  const gamma = learnsScale ? randn([C], seed + 3).data.map((q) => 1 + 0.3 * q) : new Float64Array(C).fill(1);
  bn.running_mean.write(Float32Array.from(m)); bn.running_var.write(Float32Array.from(v)); bn.bias.write(Float32Array.from(beta));
  if (learnsScale) bn.weight.write(Float32Array.from(gamma));
  return (x, c) => ((x - m[c]) / Math.sqrt(v[c] + bn.eps)) * gamma[c] + beta[c];
}
