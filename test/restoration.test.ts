import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backward, noGrad } from '../src/engine/autograd.js';
import { getEngine } from '../src/engine/engine.js';
import { Rng } from '../src/engine/rng.js';
import { keep, scope } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { l1Loss } from '../src/kernels/losses.js';
import { sliceChannels } from '../src/kernels/slice.js';
import { RestorationUNet, feedbackInput } from '../src/models/restoration-unet.js';
import { Adam } from '../src/optim/adam.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { type F64Tensor, f64, randn } from './reference/core.js';
import { warpRef } from './reference/image.js';

const t = suite('restoration');
const GR = { rtol: 1e-3, atol: 1e-4 };

t('reference configuration: 31,632,198 parameters (31,043,586 without the feedback branch), U-Net state-dict names', () => {
  const net = new RestorationUNet({ rng: new Rng(1) });
  assert.is(net.numParameters(), 31_632_198);
  assert.is(net.numParameters() - net.feedback.numParameters(), 31_043_586);
  const sd = net.stateDict();
  assert.equal(sd.get('down_path.0.block.0.weight')!.shape, [64, 3, 3, 3]);
  assert.equal(sd.get('down_path.4.block.5.running_var')!.shape, [1024]);
  assert.equal(sd.get('up_path.0.up.weight')!.shape, [1024, 512, 2, 2]);
  assert.equal(sd.get('up_path.3.conv_block.block.3.weight')!.shape, [64, 64, 3, 3]);
  assert.equal(sd.get('last.weight')!.shape, [2, 64, 1, 1]);
  assert.equal(sd.get('feedback.conv2.weight')!.shape, [1024, 60, 3, 3]);
  net.dispose();
});

function feedbackRef(d: F64Tensor, r: F64Tensor): F64Tensor {
  const [N, C, H, W] = d.shape;
  const y = f64([N, 3 * C, H, W]);
  for (let n = 0; n < N; n++) for (let k = 0; k < 3; k++) for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) {
    y.data[((n * 3 * C) + k * C + c) * H * W + p] = d.data[(n * C + c) * H * W + p] * r.data[(n * 3 + k) * H * W + p];
  }
  return y;
}
t('feedback input [Δ·R_r | Δ·R_g | Δ·R_b]: forward and gradients (vec4 and scalar planes, short and long)', async () => {
  // planes of 12 (vec4, several planes per workgroup), 15 (scalar), 560 (vec4, chunks of a plane), 90 (scalar, chunks)
  for (const [n, k, h, w, seed] of [[2, 5, 3, 4, 1], [1, 4, 3, 5, 3], [1, 2, 20, 28, 5], [2, 3, 9, 10, 7]]) {
    const d = randn([n, k, h, w], seed), r = randn([n, 3, h, w], seed + 1);
    await checkForward(feedbackInput, feedbackRef, [d, r], { rtol: 1e-6, atol: 1e-7 });
    await checkGrad(feedbackInput, feedbackRef, [d, r], GR);
  }
  assert.throws(() => feedbackInput(tensor(new Float32Array(8), [1, 2, 2, 2]), tensor(new Float32Array(8), [1, 2, 2, 2])), /do not match/);
});
t('sliceChannels forward and gradient', async () => {
  const x = randn([2, 5, 3, 3], 3);
  const ref = (a: F64Tensor) => f64([2, 2, 3, 3], Array.from({ length: 36 }, (_, i) => a.data[Math.floor(i / 18) * 45 + 2 * 9 + (i % 18)]));
  await checkForward((a) => sliceChannels(a, 2, 2), ref, [x], { rtol: 1e-7, atol: 0 });
  await checkGrad((a) => sliceChannels(a, 2, 2), ref, [x], GR);
  assert.throws(() => sliceChannels(tensor(new Float32Array(45), [1, 5, 3, 3]), 4, 2), /channels \[4, 6\) are outside/);
});

t('restored image = warp(input, tanh(·)·10); zero last layer → identity; feedback changes the output', async () => {
  const net = new RestorationUNet({ depth: 3, wf: 2, numClasses: 4, rng: new Rng(2) });
  const xh = randn([2, 3, 8, 12], 4);
  const x = tensor(Float32Array.from(xh.data), xh.shape);
  const [flow, restored] = scope(() => noGrad(() => { const o = net.forward(x); return [keep(o.flow), keep(o.restored)]; }));
  const f = Float64Array.from(await flow.read());
  assert.ok(f.every((v) => Math.abs(v) <= 10));
  const want = warpRef(xh, f64([2, 2, 8, 12], f));
  const got = await restored.read();
  assert.ok(want.data.every((v, i) => Math.abs(v - got[i]) < 1e-4));
  net.last.weight.write(new Float32Array(net.last.weight.size));
  net.last.bias!.write(new Float32Array(2));
  const same = scope(() => noGrad(() => keep(net.forward(x).restored)));
  const s = await same.read();
  assert.ok(xh.data.every((v, i) => Math.abs(v - s[i]) < 1e-6), 'zero flow is the identity');
  const fresh = new RestorationUNet({ depth: 3, wf: 2, numClasses: 4, feedbackScale: 1, rng: new Rng(3) });
  const fb = tensor(Float32Array.from(randn([2, 12, 8, 12], 5).data), [2, 12, 8, 12]);
  const [a, b] = scope(() => noGrad(() => [keep(fresh.forward(x).flow), keep(fresh.forward(x, fb).flow)]));
  fresh.dispose();
  const [av, bv] = [await a.read(), await b.read()];
  assert.ok(av.some((v, i) => Math.abs(v - bv[i]) > 1e-6), 'the feedback branch reaches the output');
  for (const v of [x, flow, restored, same, fb, a, b]) v.dispose();
  net.dispose();
});

t('a small U-Net learns to undo a known shift with L1; pool live bytes constant', async () => {
  const e = getEngine();
  // smooth images (street scenes): on white noise a shifted copy carries no gradient signal
  const { syntheticScene } = await import('../src/data/synthetic.js');
  const clean = f64([2, 3, 16, 32], [0, 1].flatMap((i) => [...syntheticScene(9, i, 32, 16).image]));
  const shift = f64([2, 2, 16, 32], Array.from({ length: 2048 }, (_, i) => (Math.floor(i / 512) % 2 === 1 ? 1.5 : 0)));
  const turb = warpRef(clean, shift);
  const x = tensor(Float32Array.from(turb.data), turb.shape), y = tensor(Float32Array.from(clean.data), clean.shape);
  const net = new RestorationUNet({ depth: 2, wf: 2, numClasses: 1, rng: new Rng(7) });
  const opt = new Adam(net.parameters(), { lr: 1e-2 });
  const losses: number[] = [];
  let live = -1;
  for (let s = 0; s < 40; s++) {
    const l = scope(() => {
      const loss = keep(l1Loss(net.forward(x).restored, y));
      backward(loss); opt.step(); opt.zeroGrad();
      return loss;
    });
    if (s % 13 === 0 || s === 39) losses.push(await l.item());
    l.dispose();
    if (s === 0) live = e.pool.bytesLive; else assert.is(e.pool.bytesLive, live, `leak at step ${s}`);
  }
  if (process.env.MIRAGE_VERBOSE) console.log(`\n    L1: ${losses.map((v) => v.toFixed(4)).join(" ")}`);
  assert.ok(losses[losses.length - 1] < 0.8 * losses[0], `L1 ${losses.map((v) => v.toFixed(4)).join(' ')}`);
  opt.dispose(); net.dispose(); x.dispose(); y.dispose();
});
t.run();
