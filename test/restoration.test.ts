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
import { ERFNet } from '../src/models/erfnet.js';
import { buildForTraining, getModel } from '../src/models/registry.js';
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

t('K frames: 3K inputs and 2K flows; restored = mean of the frames warped by their flows (float64), gradients reach every frame; counts as the registry says', async () => {
  const net = new RestorationUNet({ depth: 3, wf: 1, numClasses: 5, frames: 3, rng: new Rng(2) });
  assert.equal(net.stateDict().get('down_path.0.block.0.weight')!.shape, [2, 9, 3, 3]);
  assert.equal(net.stateDict().get('last.weight')!.shape, [6, 2, 1, 1]);
  const spec = getModel('feedback'), o = { 'unet-depth': 3, 'unet-width': 1 };
  assert.is(net.numParameters() + new ERFNet({ numClasses: 5, encoderOutputConv: false }).numParameters(), spec.parameterCount(o, 5, 3));
  net.train(false);
  const x = randn([2, 9, 12, 20], 7, 0.5);
  const out = scope(() => { const r = net.forward(tensor(Float32Array.from(x.data), x.shape)); return { flow: keep(r.flow), restored: keep(r.restored) }; });
  const flow = f64([...out.flow.shape], await out.flow.read()), got = await out.restored.read();
  // reference: mean over k of warpRef(frame k, flow k)
  const want = new Float64Array(2 * 3 * 12 * 20), hw = 12 * 20;
  for (let k = 0; k < 3; k++) {
    const fr = f64([2, 3, 12, 20]), fl = f64([2, 2, 12, 20]);
    for (let n = 0; n < 2; n++) {
      fr.data.set(x.data.subarray((n * 9 + 3 * k) * hw, (n * 9 + 3 * k + 3) * hw), n * 3 * hw);
      fl.data.set(flow.data.subarray((n * 6 + 2 * k) * hw, (n * 6 + 2 * k + 2) * hw), n * 2 * hw);
    }
    warpRef(fr, fl).data.forEach((v, i) => { want[i] += v / 3; });
  }
  const err = Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i])));
  assert.ok(err < 1e-5, `restored vs float64: ${err}`);
  out.flow.dispose(); out.restored.dispose();
  // every frame receives gradient through its own warp
  net.train(true);
  const xin = tensor(Float32Array.from(x.data), x.shape, { requiresGrad: true });
  scope(() => backward(l1Loss(net.forward(xin).restored, tensor(new Float32Array(2 * 3 * hw).fill(0.5), [2, 3, 12, 20]))));
  const g = await xin.grad!.read();
  for (let k = 0; k < 3; k++) assert.ok(g.slice(3 * k * hw, (3 * k + 3) * hw).some((v) => v !== 0), `frame ${k} gradient`);
  xin.dispose(); net.dispose();
  assert.throws(() => new RestorationUNet({ depth: 3, wf: 1, frames: 0 }), /frames 0 must be an integer from 1 to 16/);
  // a model that takes one image is refused K frames, naming the way out
  assert.throws(() => buildForTraining(getModel('erfnet'), {}, { numClasses: 5, ignoreIndex: 4, weight: null, seed: 1, init: true, inputSize: [16, 32], frames: 3 }),
    /--frames 3: erfnet takes 1 image per sample; fuse the frames first \(--fusion median or mean\)/);
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
