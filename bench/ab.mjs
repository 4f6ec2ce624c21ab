// Paired A/B of a training step between two builds of mirage in one process: each build gets its
// own engine on the same GPU device, and their steps alternate, so both see the same phases of a
// noisy machine (lavapipe on a 2-core VM: bench/NOTES.md §22, §43).
// usage: node bench/ab.mjs DIR_A DIR_B [erfnet|feedback] [pairs] [HxW] [batch]
//   DIR_*: a checkout with a compiled dist/ (e.g. a git worktree of the base commit, then npx tsc)
import { resolve } from 'node:path';

const [dirA, dirB, model = 'erfnet', pairsArg = '15', hw = '64x128', batchArg = '2'] = process.argv.slice(2);
if (!dirA || !dirB) { console.error('usage: node bench/ab.mjs DIR_A DIR_B [erfnet|feedback] [pairs] [HxW] [batch]'); process.exit(2); }
const [h, w] = hw.split('x').map(Number);
const bn = Number(batchArg), pairs = Number(pairsArg);

async function build(dir, device) {
  const m = (p) => import(resolve(dir, 'dist/src', p));
  const [eng, auto, scope, tensor, rng, losses, erf, unetM, fb, adam, dev] = await Promise.all(['engine/engine.js', 'engine/autograd.js',
    'engine/scope.js', 'engine/tensor.js', 'engine/rng.js', 'kernels/losses.js', 'models/erfnet.js', 'models/restoration-unet.js',
    'train/feedback.js', 'optim/adam.js', 'node/device.js'].map(m));
  const e = eng.initEngine(device, { ...dev.engineDefaults, seed: 1 });
  const r = new rng.Rng(9);
  const img = () => tensor.tensor(Float32Array.from({ length: bn * 3 * h * w }, () => 0.5 + 0.2 * r.normal()), [bn, 3, h, w]);
  const y = tensor.tensor(Int32Array.from({ length: bn * h * w }, () => r.int(20)), [bn, h, w], { dtype: 'i32' });
  let step;
  if (model === 'erfnet') {
    const net = new erf.ERFNet({ rng: new rng.Rng(1) });
    net.train();
    const x = img();
    const opt = new adam.Adam(net.parameters(), { lr: 5e-4, weightDecay: 1e-4 });
    step = () => scope.scope(() => { auto.backward(losses.crossEntropy(net.forward(x), y)); opt.step(); opt.zeroGrad(); });
  } else {
    const unet = new unetM.RestorationUNet({ depth: 5, wf: 3, rng: new rng.Rng(2) });
    const seg = new erf.ERFNet({ encoderOutputConv: false, rng: new rng.Rng(3) });
    const sys = new fb.FeedbackSystem(unet, seg, { ignoreIndex: 19, loss: 'cbifl' });
    const opt = { restore: new adam.Adam(unet.parameters(), { lr: 2e-4 }), seg: new adam.Adam(seg.parameters(), { lr: 5e-4, weightDecay: 2e-4 }) };
    const clean = img(), turb = img();
    step = () => scope.scope(() => { sys.run(turb, clean, y, null, opt); });
  }
  return { e, eng, step };
}

const { createNodeDevice } = await import(resolve(dirA, 'dist/src/node/device.js'));
const nd = await createNodeDevice();
const A = await build(dirA, nd.device), B = await build(dirB, nd.device);
const time = async (b) => {
  b.eng.setEngine(b.e);
  const d0 = b.e.dispatches, t0 = performance.now();
  b.step(); await b.e.fence();
  b.dispatches = b.e.dispatches - d0;
  return performance.now() - t0;
};
for (let k = 0; k < 2; k++) { await time(A); await time(B); }   // pipelines, pools, bind groups
const ta = [], tb = [], ratio = [];
for (let k = 0; k < pairs; k++) {
  let a, b;
  if (k % 2) { b = await time(B); a = await time(A); } else { a = await time(A); b = await time(B); }   // order alternates
  ta.push(a); tb.push(b); ratio.push(b / a);
}
const med = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];
const f = (v) => v.toFixed(1);
console.log(`${model} step ${bn}x3x${h}x${w}, ${pairs} pairs: A ${f(med(ta))} ms, B ${f(med(tb))} ms (medians); ` +
  `B/A per pair: median ${med(ratio).toFixed(3)}, range ${Math.min(...ratio).toFixed(3)}-${Math.max(...ratio).toFixed(3)}; ` +
  `B faster in ${ratio.filter((x) => x < 1).length} of ${pairs}; dispatches per step A ${A.dispatches}, B ${B.dispatches}`);
process.exit(0);
