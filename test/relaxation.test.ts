import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad } from '../src/engine/autograd.js';
import { tensor } from '../src/engine/tensor.js';
import { imageWeightedLoss, relaxedLoss } from '../src/kernels/label-relaxation.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { upload } from './helpers/gpu.js';
import { type F64Tensor, randn, rng } from './reference/core.js';
import { type RelaxRefOptions, imageWeightedLossRef, relaxedLossRef } from './reference/relaxation.js';

const t = suite('label relaxation');
const GR = { rtol: 1e-3, atol: 1e-5 };

/** Blocky labels (regions of 2–4 pixels, so windows straddle boundaries), some ignore pixels. */
function blockLabels(N: number, H: number, W: number, C: number, ignore: number, seed: number): Int32Array {
  const r = rng(seed), out = new Int32Array(N * H * W);
  const bh = 2 + Math.floor(r() * 3), bw = 2 + Math.floor(r() * 3);
  const block = Array.from({ length: N * Math.ceil(H / bh) * Math.ceil(W / bw) }, () => Math.floor(r() * C));
  for (let n = 0; n < N; n++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const v = block[(n * Math.ceil(H / bh) + Math.floor(y / bh)) * Math.ceil(W / bw) + Math.floor(x / bw)];
    out[(n * H + y) * W + x] = r() < 0.12 ? ignore : v;
  }
  return out;
}

const cases: { name: string; N: number; C: number; H: number; W: number; ignore: number; o: Partial<RelaxRefOptions> }[] = [
  { name: 'window 3×3, Cityscapes-like ignore 255', N: 2, C: 5, H: 7, W: 9, ignore: 255, o: {} },
  { name: 'strict border classes 1 and 3', N: 2, C: 5, H: 7, W: 9, ignore: 255, o: { strict: [1, 3] } },
  { name: 'after rlx_off_epoch: boundaries ×2', N: 2, C: 5, H: 7, W: 9, ignore: 255, o: { off: true, strict: [2] } },
  { name: "the reference's batch-mixing border weights", N: 3, C: 4, H: 6, W: 5, ignore: 255, o: { batchBug: true } },
  { name: 'batch bug after rlx_off_epoch', N: 2, C: 4, H: 6, W: 5, ignore: 255, o: { batchBug: true, off: true } },
  { name: 'window 5×5, wt_bound 6, void channel as ignore (label C−1)', N: 2, C: 6, H: 9, W: 11, ignore: 5, o: { border: 2, bound: 6 } },
  { name: 'window 5×5 after rlx_off (window 3×3 and ×2)', N: 1, C: 5, H: 8, W: 7, ignore: 255, o: { border: 2, off: true } },
  { name: '40 classes (the set spans two words)', N: 1, C: 40, H: 6, W: 7, ignore: 255, o: { strict: [33] } },
];
for (const c of cases) {
  t(`relaxed loss vs the reference formula: ${c.name}`, async () => {
    const o: RelaxRefOptions = { ignore: c.ignore, border: 1, strict: [], bound: 1, off: false, batchBug: false, ...c.o };
    const y = blockLabels(c.N, c.H, c.W, c.C, c.ignore, c.H * 31 + c.C);
    if (c.C === 40) for (let i = 0; i < y.length; i += 3) y[i] = 30 + (i % 10);   // classes above 31 present
    const lab = tensor(y, [c.N, c.H, c.W]);
    const x = randn([c.N, c.C, c.H, c.W], c.W, 2);
    const fn = (a: any) => relaxedLoss(a, lab, { ignoreIndex: c.ignore, border: o.border, strict: o.strict, bound: o.bound, off: o.off, batchBug: o.batchBug });
    const ref = (a: F64Tensor) => relaxedLossRef(a, y, o);
    await checkForward(fn, ref, [x], { rtol: 1e-5, atol: 1e-6 });
    await checkGrad(fn, ref, [x], GR);
    lab.dispose();
  });
}

t('relaxed loss: the batch-bug form is larger than the per-image one at batch 2 (it sums the other image\'s 1/n_pix)', async () => {
  const y = blockLabels(2, 8, 8, 5, 255, 7), lab = tensor(y, [2, 8, 8]);
  const x = upload(randn([2, 5, 8, 8], 8, 2));
  const a = await noGrad(() => relaxedLoss(x, lab, { ignoreIndex: 255 })).read();
  const b = await noGrad(() => relaxedLoss(x, lab, { ignoreIndex: 255, batchBug: true })).read();
  assert.ok(b[0] > 1.5 * a[0], `${b[0]} vs ${a[0]}`);
  x.dispose(); lab.dispose();
});

t('relaxed loss stays finite where a probability underflows (the reference\'s float32 log max(p, …) is −inf · 0)', async () => {
  const y = blockLabels(1, 5, 6, 4, 255, 9), lab = tensor(y, [1, 5, 6]);
  const data = randn([1, 4, 5, 6], 10, 1).data.map((v, i) => (i % 4 === 0 ? v + 200 : v - 200));
  const x = tensor(Float32Array.from(data), [1, 4, 5, 6], { requiresGrad: true });
  const v = (await noGrad(() => relaxedLoss(x, lab, { ignoreIndex: 255 })).read())[0];
  assert.ok(Number.isFinite(v), `loss ${v}`);
  x.dispose(); lab.dispose();
});

t('image-weighted cross-entropy vs the reference (per-image histogram weights, summed over images)', async () => {
  for (const [ignore, bound] of [[255, 1], [4, 6]]) {
    const y = blockLabels(3, 5, 7, 5, ignore, 11 + bound), lab = tensor(y, [3, 5, 7]);
    const x = randn([3, 5, 5, 7], 12, 2);
    const fn = (a: any) => imageWeightedLoss(a, lab, { ignoreIndex: ignore, bound });
    const ref = (a: F64Tensor) => imageWeightedLossRef(a, y, ignore, bound);
    await checkForward(fn, ref, [x], { rtol: 1e-5, atol: 1e-6 });
    await checkGrad(fn, ref, [x], GR);
    lab.dispose();
  }
});

t('relaxed loss names bad inputs', () => {
  const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
  const bad = tensor(new Int32Array(2 * 4 * 5), [2, 4, 5]);
  assert.throws(() => relaxedLoss(x, bad, { ignoreIndex: 255 }), /relaxed_loss: labels \[2,4,5\] do not match logits \[2,3,4,4\]/);
  const lab = tensor(new Int32Array(2 * 16), [2, 4, 4]);
  assert.throws(() => relaxedLoss(x, lab, { ignoreIndex: 255, strict: [7] }), /strict border class 7 is not one of the 3 classes/);
  for (const v of [x, bad, lab]) v.dispose();
});
t.run();
