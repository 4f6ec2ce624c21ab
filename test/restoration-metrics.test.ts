import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor } from '../src/engine/tensor.js';
import { flowEpeSum, imageErrors } from '../src/kernels/restoration-metrics.js';
import { inverseField } from '../src/sim/inverse.js';
import { TurbulenceSimulator } from '../src/sim/turbulence.js';
import { warp } from '../src/kernels/warp.js';
import { Module } from '../src/engine/module.js';
import { type Tensor, zeros } from '../src/engine/tensor.js';
import { sliceChannels } from '../src/kernels/slice.js';
import { SyntheticDataset } from '../src/data/datasets.js';
import { Loader } from '../src/data/loader.js';
import { evalDistortSeed, evaluateSystem } from '../src/train/evaluator.js';
import type { System } from '../src/train/system.js';
import { checkForward } from './helpers/check.js';
import { rand, randn } from './reference/core.js';
import { flowEpeRef, imageErrorsRef, inverseFieldRef } from './reference/restoration.js';

const t = suite('restoration-metrics');

t('imageErrors (Σ squared, Σ absolute per image) and flowEpeSum (Σ end-point error per image and frame) match float64', async () => {
  for (const [n, c, h, w] of [[3, 3, 7, 13], [1, 3, 1, 1], [2, 1, 9, 31]]) {
    const a = rand([n, c, h, w], 1), b = rand([n, c, h, w], 2);
    await checkForward((x: any, y: any) => imageErrors(x, y), imageErrorsRef, [a, b], { rtol: 1e-5, atol: 1e-5 });
  }
  for (const [n, k, h, w] of [[2, 1, 11, 17], [1, 3, 5, 70]]) {
    const f = randn([n, 2 * k, h, w], 3, 2), g = randn([n, 2 * k, h, w], 4, 2);
    await checkForward((x: any, y: any) => flowEpeSum(x, y), flowEpeRef, [f, g], { rtol: 1e-5, atol: 1e-4 });
  }
  const x = tensor(new Float32Array(24), [2, 3, 2, 2]), y = tensor(new Float32Array(18), [2, 3, 3, 1]);
  assert.throws(() => imageErrors(x, y), /must have one shape/);
  assert.throws(() => flowEpeSum(x, x), /must be one shape \[N, 2K, H, W\]/);
  x.dispose(); y.dispose();
});

t('inverseField: the fixed point matches float64 and undoes a smooth distortion (warp by it ≈ identity)', async () => {
  // smooth field: small random values blurred by construction (sums of low sines)
  const [n, c, h, w] = [2, 4, 13, 19];
  const d = randn([n, c, h, w], 5, 0);
  for (let p = 0; p < n * c; p++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    d.data[(p * h + y) * w + x] = 1.5 * Math.sin(0.3 * x + p) + Math.cos(0.25 * y - 0.7 * p);
  }
  await checkForward((a: any) => inverseField(a, 12), (a) => inverseFieldRef(a, 12), [d], { rtol: 1e-4, atol: 1e-4 });
  // with a simulated field: warping the distorted image by u restores the clean one far better than no warp
  const sim = new TurbulenceSimulator(32, 48, { sigma: 1.2, corrLength: 8 });
  const img = tensor(Float32Array.from({ length: 3 * 32 * 48 }, (_, i) => 0.5 + 0.5 * Math.sin(0.37 * (i % 48)) * Math.cos(0.23 * Math.floor(i / 48))), [1, 3, 32, 48]);
  const { image, field } = sim.distort(img, 11);
  const u = inverseField(field), back = warp(image, u);
  const errs = async (a: any) => { const e = imageErrors(a, img); const v = await e.read(); e.dispose(); return v[1]; };
  const [before, after] = [await errs(image), await errs(back)];
  assert.ok(after < 0.25 * before, `L1 after the inverse warp ${after}, before ${before}`);
  for (const z of [img, image, field, u, back]) z.dispose();
  sim.dispose();
  assert.throws(() => inverseField(tensor(new Float32Array(12), [1, 3, 2, 2])), /fields must be \[N, 2K, H, W\]/);
});

t('evaluation measures restoration: an identity output scores the input, the exact inverse scores the ceiling; K frames, fused or not', async () => {
  const [H, W] = [32, 64];
  const ds = new SyntheticDataset(5, 6, H, W);
  for (const frames of [1, 3]) {
    const sim = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 8, frames });
    const loader = new Loader(ds, { batchSize: 4, height: H, width: W });
    let k = 0;
    const fake: System = {
      module: new Module(), groups: {}, outputs: ['identity', 'exact'], labelDownscale: 1, multiple: 8, frames,
      train() {}, dispose() {},
      trainStep() { throw new Error('not trained'); },
      evalStep(input: Tensor) {
        const n = input.shape[0], field = sim.distort(zeros([n, 3, H, W]), evalDistortSeed(3, k++)).field, u = inverseField(field);
        const frame0 = sliceChannels(input, 0, 3), u0 = sliceChannels(u, 0, 2);
        const logits = zeros([n, 20, H, W]);
        return { logits: [logits, logits], restoration: [{ restored: frame0, flow: zeros(u.shape) }, { restored: warp(frame0, u0), flow: u }] };
      },
    };
    const r = await evaluateSystem(fake, loader, { sim, seed: 3, label: 'eval' });
    const x = r.extras;
    for (const key of ['psnr_input', 'l1_input', 'psnr_ceiling', 'l1_ceiling', 'epe_ceiling', 'epe_zero', 'psnr_restored_1', 'epe_1', 'psnr_restored_2', 'epe_2']) {
      assert.ok(Number.isFinite(x[key]), `${frames} frames: ${key} = ${x[key]}`);
    }
    assert.ok(Math.abs(x.psnr_restored_1 - x.psnr_input) < 1e-3 && Math.abs(x.epe_1 - x.epe_zero) < 1e-4, `identity: ${JSON.stringify(x)}`);
    assert.ok(x.psnr_ceiling > x.psnr_input + 3 && x.epe_ceiling < 0.1 * x.epe_zero, `ceiling: ${JSON.stringify(x)}`);
    assert.ok(Math.abs(x.psnr_restored_2 - x.psnr_ceiling) < 1e-3 && x.epe_2 < 1e-6, `exact inverse: ${JSON.stringify(x)}`);
    assert.ok(x.epe_zero > 0.8 && x.epe_zero < 3, `mean |u| ${x.epe_zero} for σ 1.5`);
    sim.dispose();
  }
  // fused frames: the input is the per-pixel median, closer to the clean image than one frame
  const one = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 8 }), med = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 8, frames: 5, fusion: 'median' });
  const plain: System = { module: new Module(), groups: {}, outputs: ['logits'], labelDownscale: 1, multiple: 8, train() {}, dispose() {},
    trainStep() { throw new Error('not trained'); }, evalStep: (input: Tensor) => ({ logits: [zeros([input.shape[0], 20, H, W])] }) };
  const a = await evaluateSystem(plain, new Loader(ds, { batchSize: 4, height: H, width: W }), { sim: one, seed: 3, label: 'eval' });
  const b = await evaluateSystem(plain, new Loader(ds, { batchSize: 4, height: H, width: W }), { sim: med, seed: 3, label: 'eval' });
  assert.ok(b.extras.psnr_input > a.extras.psnr_input + 0.5, `median of 5 frames ${b.extras.psnr_input} dB vs one frame ${a.extras.psnr_input} dB`);
  assert.is(a.extras.psnr_ceiling, b.extras.psnr_ceiling, 'the ceiling is frame 0\'s, the same field');
  one.dispose(); med.dispose();
});

t.run();
