import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor } from '../src/engine/tensor.js';
import { crossEntropy, focalLoss, l1Loss } from '../src/kernels/losses.js';
import { softDice } from '../src/kernels/dice.js';
import { softmax } from '../src/kernels/softmax.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { upload } from './helpers/gpu.js';
import { type F64Tensor, f64, randn, rng } from './reference/core.js';
import { xentRef } from './reference/image.js';

const t = suite('losses');
const GR = { rtol: 1e-3, atol: 1e-5 };
const N = 2, C = 5, H = 3, W = 7;

function labels(seed: number, ignore: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: N * H * W }, () => (r() < 0.15 ? ignore : Math.floor(r() * C)));
}
const weights = [0.5, 2, 1, 3, 0];   // last class weight 0, as the void class in CB-iFL

t('cross-entropy: weighted mean with ignore index, forward and gradient', async () => {
  const x = randn([N, C, H, W], 1, 2), y = labels(2, 255);
  const tgt = tensor(y, [N, H, W]), w = tensor(Float32Array.from(weights), [C]);
  const fn = (a: any) => crossEntropy(a, tgt, { weight: w, ignoreIndex: 255 });
  const ref = (a: F64Tensor) => xentRef(a, y, weights, 255, 'ce');
  await checkForward(fn, ref, [x], { rtol: 1e-5, atol: 1e-6 });
  await checkGrad(fn, ref, [x], GR);
  const fnPlain = (a: any) => crossEntropy(a, tgt, { ignoreIndex: 255 });
  await checkForward(fnPlain, (a) => xentRef(a, y, null, 255, 'ce'), [x], { rtol: 1e-5, atol: 1e-6 });
  tgt.dispose(); w.dispose();
});

for (const gamma of [0, 0.1, 0.2, 2]) {
  t(`focal loss (CB-iFL form) γ=${gamma}: per-image normalisation, detached modulating factor`, async () => {
    const x = randn([N, C, H, W], 3, 2), y = labels(4, 19);
    const tgt = tensor(y, [N, H, W]), w = tensor(Float32Array.from(weights), [C]);
    const fn = (a: any) => focalLoss(a, tgt, { weight: w, gamma, alpha: 0.7, ignoreIndex: 19 });
    await checkForward(fn, (a) => xentRef(a, y, weights, 19, 'focal', gamma, 0.7), [x], { rtol: 1e-5, atol: 1e-6 });
    const frozen = f64(x.shape, x.data);
    await checkGrad(fn, (a) => xentRef(a, y, weights, 19, 'focal', gamma, 0.7, frozen), [x], GR);
    tgt.dispose(); w.dispose();
  });
}

t('loss shape and dtype errors name the tensors', () => {
  const x = upload(randn([2, 5, 3, 3], 5));
  const bad = tensor(new Int32Array(2 * 3 * 4), [2, 3, 4]);
  assert.throws(() => crossEntropy(x, bad), /cross_entropy: target \[2,3,4\] does not match logits \[2,5,3,3\] \(expected \[2,3,3\]\)/);
  const f = tensor(new Float32Array(18), [2, 3, 3]);
  assert.throws(() => focalLoss(x, f), /focal_loss: target must be i32/);
  for (const v of [x, bad, f]) v.dispose();
});

t('L1 loss: mean absolute error and its gradient', async () => {
  const a = randn([2, 3, 5, 7], 6), b = randn([2, 3, 5, 7], 7);
  const ref = (p: F64Tensor, q: F64Tensor) => f64([], [p.data.reduce((s, v, i) => s + Math.abs(v - q.data[i]), 0) / p.data.length]);
  await checkForward(l1Loss, ref, [a, b], { rtol: 1e-5, atol: 1e-7 });
  await checkGrad(l1Loss, ref, [a, b], { rtol: 1e-3, atol: 1e-6 });
});
// the TAS500 seed's soft Dice, through a softmax (as the system applies it), on positions that are
// not a multiple of the workgroup, with labels outside [0, C) (no class) and a class absent from an image
t('soft Dice (TAS500 seed): mean over (n, c) of 1 − (2I+1)/(Y+P+1) on softmax probabilities, forward and gradient', async () => {
  const HW = 83, x = randn([N, C, HW], 7, 2);
  const r = rng(8);
  const y = Int32Array.from({ length: N * HW }, (_, i) => (r() < 0.1 ? 255 : i >= HW && Math.floor(r() * C) === 2 ? 0 : Math.floor(r() * C)));
  const tgt = tensor(y, [N, HW]);
  const ref = (a: F64Tensor) => {
    let s = 0;
    for (let n = 0; n < N; n++) {
      const p = new Float64Array(C * HW);
      for (let j = 0; j < HW; j++) {
        let m = -Infinity, z = 0;
        for (let c = 0; c < C; c++) m = Math.max(m, a.data[(n * C + c) * HW + j]);
        for (let c = 0; c < C; c++) z += Math.exp(a.data[(n * C + c) * HW + j] - m);
        for (let c = 0; c < C; c++) p[c * HW + j] = Math.exp(a.data[(n * C + c) * HW + j] - m) / z;
      }
      for (let c = 0; c < C; c++) {
        let I = 0, Y = 0, P = 0;
        for (let j = 0; j < HW; j++) { const yy = y[n * HW + j] === c ? 1 : 0, v = p[c * HW + j]; I += v * yy; Y += yy; P += v * v; }
        s += 1 - (2 * I + 1) / (Y + P + 1);
      }
    }
    return f64([], [s / (N * C)]);
  };
  const fn = (a: any) => softDice(softmax(a), tgt);
  await checkForward(fn, ref, [x], { rtol: 1e-5, atol: 1e-6 });
  await checkGrad(fn, ref, [x], GR);
  tgt.dispose();
});

t.run();
