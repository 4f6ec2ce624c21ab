// f16 GEMM operands (engine.precision 'f16', the CLI's --precision f16): every conv pass and the
// matmul stage both operands as f16 and sum in f32, like tensor cores. On operands that are exact
// in f16 the result must match the float64 reference as tightly as the f32 kernels do (this checks
// the f16 kernels' indexing, bounds and padding); on arbitrary operands it must be as close as f16
// rounding allows and not equal to the f32 result (so the f16 path really ran). Where the engine
// has a subgroup-matrix shape (tensor cores, a GPU), each check runs on that variant as well.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad } from '../src/engine/autograd.js';
import { type Engine, getEngine } from '../src/engine/engine.js';
import { tensor } from '../src/engine/tensor.js';
import { conv2d, convTranspose2d } from '../src/kernels/conv2d.js';
import { matmul } from '../src/kernels/matmul.js';
import { backward } from '../src/engine/autograd.js';
import { Rng } from '../src/engine/rng.js';
import { keep, scope } from '../src/engine/scope.js';
import { ERFNet } from '../src/models/erfnet.js';
import { zeros } from '../src/engine/tensor.js';
import { Adam } from '../src/optim/adam.js';
import { ARENA_MAX_ELEMENTS } from '../src/optim/arena.js';
import { LossScaler } from '../src/optim/loss-scaler.js';
import { MMA_WORKGROUP_BYTES, matrixFits } from '../src/kernels/tiled.js';
import { pickMatrixShape } from '../src/node/device.js';
import { checkForward, checkGrad, close } from './helpers/check.js';
import { argmaxAgreement, gradErrors, relL2, runNet, sceneBatch } from './helpers/erfnet-compare.js';
import { runGpu } from './helpers/gpu.js';
import { type ConvRefOpts, conv2dRef, convTranspose2dRef } from './reference/conv.js';
import { type F64Tensor, randn } from './reference/core.js';

const t = suite('precision');

/** v rounded to the nearest f16 (ties away from zero: random doubles never tie). */
export function f16round(v: number): number {
  const a = Math.abs(v);
  if (a >= 65520) return v > 0 ? Infinity : -Infinity;
  const ulp = a < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(a)) - 10);
  return Math.sign(v) * Math.round(a / ulp) * ulp;
}
const toF16 = (x: F64Tensor): F64Tensor => ({ shape: x.shape, data: x.data.map(f16round) });

const hasF16 = () => getEngine().device.features.has('shader-f16');
/** The f16 variants this device runs: the scalar core, and the subgroup-matrix one where the engine has a shape. */
const variants = () => [null, ...(getEngine().matrix ? [getEngine().matrix] : [])];
// (activations stay f32 here: these tests check the GEMMs' f16 operands; test/half-storage.test.ts
// checks f16 activations, engine.halfStorage)
const withF16 = (matrix: Engine['matrix'], f: () => unknown) => async () => {
  if (!hasF16()) { console.log('  (no shader-f16 on this device: f16 checks skipped)'); return; }
  const e = getEngine(), was = [e.precision, e.matrix, e.halfStorage] as const;
  e.precision = 'f16'; e.matrix = matrix; e.halfStorage = false;
  try { await f(); } finally { e.precision = was[0]; e.matrix = was[1]; e.halfStorage = was[2]; }
};
const label = (m: Engine['matrix']) => (m ? `subgroup matrix ${m.M}×${m.N}×${m.K}` : 'scalar f16');

// the ERFNet shapes (3×1, dilated 1×3, downsampler 3×3 stride 2), a 1×1, grouped and depthwise, and
// sizes off the 64×64×16 tile (m, n and t all partial); the 19×17 case's weight gradient runs split-K
const cases: { x: number[]; w: number[]; o: ConvRefOpts; bias: boolean }[] = [
  { x: [2, 3, 7, 5], w: [4, 3, 3, 1], o: { padding: [1, 0] }, bias: true },
  { x: [1, 2, 9, 9], w: [3, 2, 1, 3], o: { padding: [0, 4], dilation: [1, 4] }, bias: true },
  { x: [1, 2, 19, 17], w: [2, 2, 3, 1], o: { padding: [16, 0], dilation: [16, 1] }, bias: false },
  { x: [1, 3, 9, 8], w: [5, 3, 3, 3], o: { stride: [2, 2], padding: [1, 1] }, bias: true },
  { x: [2, 17, 5, 8], w: [18, 17, 3, 3], o: { padding: [1, 1] }, bias: true },
  { x: [1, 70, 4, 5], w: [67, 70, 1, 1], o: {}, bias: true },
  { x: [1, 12, 9, 11], w: [12, 4, 3, 3], o: { stride: [2, 2], padding: [2, 2], dilation: [2, 2], groups: 3 }, bias: true },
  { x: [2, 5, 6, 7], w: [5, 1, 3, 3], o: { padding: [1, 1], groups: 5 }, bias: true },
];

for (const c of cases) {
  const name = `${JSON.stringify(c.w)} ${JSON.stringify(c.o)}`;
  const exact = [toF16(randn(c.x, 1)), toF16(randn(c.w, 2, 0.5)), ...(c.bias ? [randn([c.w[0]], 3)] : [])];
  const fn = (x: any, w: any, b: any) => conv2d(x, w, b ?? null, c.o);
  const ref = (x: any, w: any, b: any) => conv2dRef(x, w, b ?? null, c.o);
  const terms = (c.w[1] * c.w[2] * c.w[3]);
  const tight = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(terms) };
  for (const m of variants()) {
    t(`conv2d forward, f16-exact operands, ${label(m)}: as exact as f32 ${name}`, withF16(m, () => checkForward(fn, ref, exact, tight)));
    // the probe (output gradient) rounded too: the input and weight gradients then have f16-exact operands as well
    t(`conv2d backward, f16-exact operands, ${label(m)}: as exact as f32 ${name}`, withF16(m, () => checkGrad(fn, ref, exact, { rtol: 1e-3, atol: 1e-4, probe: toF16 })));
  }
}

// f16 operands on the narrow tiles (engine.narrowTiles: GEMMs of at most 16 rows on 16×256 tiles)
for (const c of [cases[0], cases[3], cases[7]]) {
  const name = `${JSON.stringify(c.w)} ${JSON.stringify(c.o)}`;
  const exact = [toF16(randn(c.x, 1)), toF16(randn(c.w, 2, 0.5)), ...(c.bias ? [randn([c.w[0]], 3)] : [])];
  const fn = (x: any, w: any, b: any) => conv2d(x, w, b ?? null, c.o);
  const ref = (x: any, w: any, b: any) => conv2dRef(x, w, b ?? null, c.o);
  const narrowF16 = (f: () => unknown) => withF16(null, async () => {
    const e = getEngine();
    e.narrowTiles = true;
    try { await f(); } finally { e.narrowTiles = false; }
  });
  t(`conv2d forward, f16-exact operands, scalar f16 on narrow tiles ${name}`, narrowF16(() => checkForward(fn, ref, exact, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.w[1] * c.w[2] * c.w[3]) })));
  t(`conv2d backward, f16-exact operands, scalar f16 on narrow tiles ${name}`, narrowF16(() => checkGrad(fn, ref, exact, { rtol: 1e-3, atol: 1e-4, probe: toF16 })));
}

// f16 operands on the large tiles (engine.largeTiles: GEMMs of at least 128 rows on 128×128 tiles)
{
  const c = { x: [1, 129, 4, 5], w: [130, 129, 3, 3], o: { padding: [1, 1] } };
  const exact = [toF16(randn(c.x, 1)), toF16(randn(c.w, 2, 0.5)), randn([c.w[0]], 3)];
  const fn = (x: any, w: any, b: any) => conv2d(x, w, b, c.o);
  const ref = (x: any, w: any, b: any) => conv2dRef(x, w, b, c.o);
  const largeF16 = (f: () => unknown) => withF16(null, async () => {
    const e = getEngine();
    e.largeTiles = true;
    try { await f(); } finally { e.largeTiles = false; }
  });
  t('conv2d forward, f16-exact operands, scalar f16 on large tiles', largeF16(() => checkForward(fn, ref, exact, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(129 * 9) })));
  t('conv2d backward, f16-exact operands, scalar f16 on large tiles', largeF16(() => checkGrad(fn, ref, exact, { rtol: 1e-3, atol: 1e-4, probe: toF16 })));
}

// transposed convolutions (ERFNet's upsamplers and output layer, the U-Net's up path): their forward
// is an input-gradient GEMM with stride, which f16 keeps in the tiled kernel too
const tcases: { x: number[]; w: number[]; o: ConvRefOpts }[] = [
  { x: [2, 3, 5, 4], w: [3, 2, 3, 3], o: { stride: [2, 2], padding: [1, 1], outputPadding: [1, 1] } },
  { x: [1, 4, 3, 5], w: [4, 3, 2, 2], o: { stride: [2, 2] } },
  { x: [1, 10, 3, 4], w: [10, 9, 3, 3], o: { stride: [2, 2], padding: [1, 1], outputPadding: [1, 1] } },
];
for (const c of tcases) {
  const name = `${JSON.stringify(c.w)} ${JSON.stringify(c.o)}`;
  const exact = [toF16(randn(c.x, 4)), toF16(randn(c.w, 5, 0.5)), randn([c.w[1]], 6)];
  const fn = (x: any, w: any, b: any) => convTranspose2d(x, w, b, c.o);
  const ref = (x: any, w: any, b: any) => convTranspose2dRef(x, w, b, c.o);
  for (const m of variants()) {
    t(`convTranspose2d forward, f16-exact operands, ${label(m)} ${name}`, withF16(m, () => checkForward(fn, ref, exact, { rtol: 1e-4, atol: 1e-4 })));
    t(`convTranspose2d backward, f16-exact operands, ${label(m)} ${name}`, withF16(m, () => checkGrad(fn, ref, exact, { rtol: 1e-3, atol: 1e-4, probe: toF16 })));
  }
}

t('conv2d with arbitrary operands: f16 rounding error only, and not the f32 result', async () => {
  const c = cases[4], fn = (x: any, w: any, b: any) => conv2d(x, w, b, c.o);
  const xs = [randn(c.x, 4), randn(c.w, 5, 0.5), randn([c.w[0]], 6)];
  const f32 = await runGpu(fn, xs);
  for (const m of variants()) await withF16(m, async () => {
    const got = await runGpu(fn, xs);
    const want = conv2dRef(xs[0], xs[1], xs[2], c.o).data;
    // each product's operands carry ≤ 2⁻¹¹ relative error each; 153 terms of size ~0.5
    let worst = 0, differs = 0;
    for (let i = 0; i < want.length; i++) { worst = Math.max(worst, Math.abs(got[i] - want[i])); if (got[i] !== f32[i]) differs++; }
    assert.ok(worst < 0.02, `${label(m)}: worst error ${worst}`);
    assert.ok(worst > 1e-5 && differs > want.length / 2, `${label(m)}: ${differs} of ${want.length} values differ from f32 (worst error ${worst}): the f16 kernels did not run`);
  })();
});

t('f16 operands beyond f16 range give a non-finite result (loss scaling sees the overflow)', withF16(null, async () => {
  const x = randn([1, 2, 5, 6], 7), w = randn([3, 2, 3, 3], 8, 0.5);
  x.data[13] = 1e5;
  const got = await runGpu((a, b) => conv2d(a, b, null, { padding: [1, 1] }), [x, w]);
  assert.ok(got.some((v) => !Number.isFinite(v)), 'an operand of 1e5 overflows f16');
  x.data[13] = 6e4;
  const ok = await runGpu((a, b) => conv2d(a, b, null, { padding: [1, 1] }), [x, w]);
  assert.ok(ok.every((v) => Number.isFinite(v)), '6e4 is in range');
}));

for (const m of variants()) {
  t(`matmul, f16-exact operands, ${label(m)}: as exact as f32 (sizes off the tile)`, withF16(m, async () => {
    const a = toF16(randn([70, 37], 9)), b = toF16(randn([37, 65], 10));
    const want = new Float64Array(70 * 65);
    for (let i = 0; i < 70; i++) for (let j = 0; j < 65; j++) { let s = 0; for (let k = 0; k < 37; k++) s += a.data[i * 37 + k] * b.data[k * 65 + j]; want[i * 65 + j] = s; }
    await checkForward((x, y) => matmul(x, y), () => ({ shape: [70, 65], data: want }), [a, b], { rtol: 1e-4, atol: 1e-4 });
  }));
}

t('the f16 kernels are the ones that run, and the engine refuses a precision it does not know', withF16(null, async () => {
  const e = getEngine();
  const x = tensor(new Float32Array(2 * 3 * 5 * 4), [1, 2, 5, 4 * 3]), w = tensor(new Float32Array(4 * 2 * 3), [4, 2, 3, 1]);
  e.startProfiling();
  noGrad(() => conv2d(x, w, null, { padding: [1, 0] })).dispose();
  const names = (await e.stopProfiling()).map((k) => k.name);
  assert.ok(names.includes('conv2d_fwd_tiled_f16'), names.join(', '));
  x.dispose(); w.dispose();
  assert.throws(() => { e.precision = 'bf16' as 'f16'; }, /precision 'bf16': expected one of f32, f16/);
}));

// Loss scaling (src/optim/loss-scaler.ts, kernels/amp.ts): gradients divided by the scale before the
// update; a non-finite gradient skips the step of its optimizer (parameters and state untouched),
// halves the scale and counts a skip; every `growthInterval` good steps double it.
t('loss scaling: unscaled updates, overflow skips the step untouched and halves the scale, growth after the interval', async () => {
  const scaler = new LossScaler({ initScale: 1024, growthInterval: 2 });
  // seven big parameters (their own step kernels; unscaled 6 a launch, sizes off the workgroup) and two
  // small ones (an arena): all paths obey the skip
  const big = Array.from({ length: 7 }, (_, i) => ARENA_MAX_ELEMENTS + 1 + 13 * i)
    .map((n, i) => tensor(Float32Array.from(randn([n], 20 + i).data), [n], { requiresGrad: true }));
  const small = [5, 7].map((n, i) => tensor(Float32Array.from(randn([n], 2 + i).data), [n], { requiresGrad: true }));
  const ps = [...big, ...small];
  const opt = new Adam(ps, { lr: 0.01 });
  opt.scaler = scaler;
  const before = await Promise.all(ps.map((p) => p.read()));
  const gradsOf = (seed: number, k: number) => randn([...ps[k].shape], seed).data.map((v) => v * 1024);   // scaled gradients
  const setGrads = (seed: number, poison?: number) => ps.forEach((p, k) => {
    const g = Float32Array.from(gradsOf(seed, k));
    if (poison === k) g[3] = Infinity;
    p.grad = tensor(g, p.shape);
  });
  // 1: an overflow in one small parameter's gradient, then in the last big one's (the second unscale
  // launch): nothing moves, the scale halves twice, two skips
  for (const poisoned of [8, 6]) { setGrads(10, poisoned); opt.step(); scaler.update(); opt.zeroGrad(); }
  const after1 = await Promise.all(ps.map((p) => p.read()));
  ps.forEach((_, k) => assert.equal([...after1[k]], [...before[k]], `parameter ${k} untouched by the skipped steps`));
  assert.equal(await scaler.read(), { scale: 256, goodSteps: 0, skipped: 2 });
  scaler.load({ scale: 512, goodSteps: 0, skipped: 1 });
  assert.is(await opt.firstNonFiniteStep(), null, 'a skip is not a divergence');
  // 2: finite gradients at scale 512 (the loss's gradient times 512): the update is Adam's on g = raw/512·1024/1024
  const ref = new Adam(ps.map((p, k) => tensor(before[k], p.shape, { requiresGrad: true })), { lr: 0.01 });
  setGrads(11); opt.step(); scaler.update(); opt.zeroGrad();
  ref.params.forEach((p, k) => { p.grad = tensor(Float32Array.from(gradsOf(11, k).map((v) => v / 512)), p.shape); });
  ref.loadState(new Map(), 2); ref.step();   // the skipped steps still count for the scaled optimizer's bias correction (documented)
  for (const [k, p] of ps.entries()) close(await p.read(), await ref.params[k].read(), { rtol: 1e-6, atol: 1e-7 }, `parameter ${k}`);
  assert.equal(await scaler.read(), { scale: 512, goodSteps: 1, skipped: 1 });
  setGrads(12); opt.step(); scaler.update(); opt.zeroGrad();
  assert.equal(await scaler.read(), { scale: 1024, goodSteps: 0, skipped: 1 }, 'two good steps: the scale doubles');
  const seed = scope(() => keep(scaler.seed(zeros([]))));
  assert.equal([...await seed.read()], [1024], 'backward starts from the scale');
  for (const x of [seed, ...ps, ...ref.params]) x.dispose();
  opt.dispose(); ref.dispose(); scaler.dispose();
  assert.throws(() => new LossScaler({ growthInterval: 0 }), /growth interval must be an integer ≥ 1, got 0/);
});

// A whole network in f16: ERFNet's logits and the gradients of its loss against its own f32 run, on
// synthetic scenes, in eval mode (batch norm with fixed statistics). In train mode the randomly
// initialised network amplifies any perturbation: f32 with the input perturbed by 2⁻¹¹ relative
// moves the encoder's output by 2% (batch statistics of ReLU outputs with large means), so only
// eval mode separates kernel errors from conditioning.
t('ERFNet in f16: logits and gradients within f16 rounding of f32 (eval mode), predictions agree', async () => {
  const [N, H, W] = [2, 16, 32];
  const { x, y } = sceneBatch(H, W);
  const net = new ERFNet({ rng: new Rng(7) });
  net.train(false);
  const f32 = await runNet(net, x, y);
  for (const m of variants()) await withF16(m, async () => {
    const f16 = await runNet(net, x, y);
    const agree = argmaxAgreement(f16.logits, f32.logits, N, 20, H * W);
    const logitErr = relL2(f16.logits, f32.logits);
    assert.ok(logitErr < 2e-3 && logitErr > 0, `${label(m)}: logits' relative error ${logitErr}`);
    assert.ok(agree >= 0.99 * N * H * W, `${label(m)}: ${agree} of ${N * H * W} predictions agree`);
    // per parameter (L2): typically 2e-3 (median); the 64-channel layers' weight gradients, whose sums over
    // positions cancel to a small fraction of their terms, reach 3% (measured on lavapipe)
    const { median, worst } = gradErrors(f16, f32);
    assert.ok(median < 5e-3 && median > 0, `${label(m)}: median relative gradient error ${median}`);
    assert.ok(worst < 0.06, `${label(m)}: worst relative gradient error ${worst}`);
  })();
  net.dispose(); x.dispose(); y.dispose();
});

t('tensor-core shape: the largest f16→f32 config that fits the 64×64×16 tile, one subgroup size, enough workgroup memory', () => {
  const adapter = (configs: object[], lanes: [number, number], storage = 32768) => ({
    info: { subgroupMatrixConfigs: configs, subgroupMinSize: lanes[0], subgroupMaxSize: lanes[1] },
    limits: { maxComputeWorkgroupStorageSize: storage },
  }) as unknown as GPUAdapter;
  const c = (componentType: string, resultComponentType: string, M: number, N: number, K: number) => ({ componentType, resultComponentType, M, N, K });
  const nvidia = [c('f16', 'f32', 16, 8, 8), c('f16', 'f32', 16, 8, 16), c('f16', 'f32', 16, 16, 16), c('f16', 'f16', 16, 16, 16), c('i8', 'i32', 16, 16, 32)];
  assert.equal(pickMatrixShape(adapter(nvidia, [32, 32])), { M: 16, N: 16, K: 16, lanes: 32 });
  assert.equal(pickMatrixShape(adapter([c('f16', 'f32', 8, 8, 8)], [32, 32])), { M: 8, N: 8, K: 8, lanes: 32 });   // Apple's shape
  assert.equal(pickMatrixShape(adapter(nvidia, [64, 64])), { M: 16, N: 16, K: 16, lanes: 64 });   // 4 subgroups of 64, 4 blocks each
  assert.is(pickMatrixShape(adapter(nvidia, [16, 32])), null, 'subgroup size not fixed: blocks per subgroup unknown');
  assert.is(pickMatrixShape(adapter([c('f16', 'f32', 16, 16, 32)], [32, 32])), null, 'K deeper than a 16-deep slice');
  assert.is(pickMatrixShape(adapter([c('i8', 'i32', 16, 16, 32)], [32, 32])), null, 'integer configs only (NVIDIA without shader-f16)');
  assert.is(pickMatrixShape(adapter(nvidia, [32, 32], 16384)), null, `the variant needs ${MMA_WORKGROUP_BYTES} bytes of workgroup memory`);
  assert.ok(matrixFits({ M: 16, N: 8, K: 16, lanes: 32 }) && !matrixFits({ M: 32, N: 32, K: 16, lanes: 32 }), '4 blocks for 8 subgroups do not share evenly');
});

t.run();
