// The exact restoration of a heat distortion: the simulator samples distorted(p) = clean(p + d(p)),
// so the warp that undoes it is u with u(p) + d(p + u(p)) = 0, found by the fixed point
// u ← −d(p + u(p)) (bilinear, the warp op), starting from u = −d. It converges where the map
// p → p + d(p) does not fold (|∇d| < 1); the residual says how well it did. Restoration metrics
// compare a network's flow with u (end-point error), and warping by u is the restoration ceiling.
import { noGrad } from '../engine/autograd.js';
import type { Tensor } from '../engine/tensor.js';
import { scale } from '../kernels/elementwise.js';
import { warp } from '../kernels/warp.js';

/** u for fields d [N, 2K, H, W] (each frame's pair of channels: rows, columns), after `iterations` fixed-point steps. */
export function inverseField(d: Tensor, iterations = 30): Tensor {
  if (d.rank !== 4 || d.shape[1] % 2) throw new Error(`inverseField: fields must be [N, 2K, H, W], got ${d.describe()}`);
  const [n, c, h, w] = d.shape, k = c / 2;
  return noGrad(() => {
    // frames as a batch: [N·K, 2, H, W] views of the same storage
    const dd = d.view([n * k, 2, h, w]);
    let u = scale(dd, -1);
    for (let i = 0; i < iterations; i++) {
      const s = warp(dd, u);
      u.dispose();
      u = scale(s, -1);
      s.dispose();
    }
    const out = u.view([n, c, h, w]);
    u.dispose(); dd.dispose();
    return out;
  });
}
