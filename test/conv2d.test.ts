import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backward, noGrad } from '../src/engine/autograd.js';
import { scope } from '../src/engine/scope.js';
import { countMacs } from '../src/engine/flops.js';
import { matmul } from '../src/kernels/matmul.js';
import { add, mul } from '../src/kernels/elementwise.js';
import { sum } from '../src/kernels/reduce.js';
import { getEngine } from '../src/engine/engine.js';
import { tensor } from '../src/engine/tensor.js';
import { type Conv2dOptions, conv2d, conv2dGeometry, convBwdInput, convTranspose2d } from '../src/kernels/conv2d.js';
import { convBwdInputTiled } from '../src/kernels/conv2d-tiled.js';
import { checkForward, checkGrad, close } from './helpers/check.js';
import { kernelFamilies, upload, using } from './helpers/gpu.js';
import { LARGE, chooseSplits, splitChunk, tileBytes } from '../src/kernels/tiled.js';
import { type ConvRefOpts, conv2dRef, convTranspose2dRef } from './reference/conv.js';
import { randn } from './reference/core.js';
import { binary, map } from './reference/elementwise.js';

const t = suite('conv2d');
const GR = { rtol: 1e-3, atol: 1e-4 };

const cases: { x: number[]; w: number[]; o: ConvRefOpts; bias: boolean }[] = [
  { x: [2, 3, 7, 5], w: [4, 3, 3, 1], o: { padding: [1, 0] }, bias: true },                        // ERFNet 3×1
  { x: [1, 2, 9, 9], w: [3, 2, 1, 3], o: { padding: [0, 4], dilation: [1, 4] }, bias: true },       // 1×3 dilated
  { x: [1, 2, 19, 17], w: [2, 2, 3, 1], o: { padding: [16, 0], dilation: [16, 1] }, bias: false },  // dilation 16
  { x: [1, 3, 9, 8], w: [5, 3, 3, 3], o: { stride: [2, 2], padding: [1, 1] }, bias: true },         // downsampler 3×3 s2
  { x: [2, 5, 6, 7], w: [3, 5, 1, 1], o: {}, bias: true },                                           // 1×1
  { x: [1, 3, 1, 9], w: [2, 3, 1, 3], o: { padding: [0, 8], dilation: [1, 8] }, bias: true },       // H = 1, dilation 8
  { x: [2, 2, 10, 3], w: [3, 2, 3, 1], o: { padding: [2, 0], dilation: [2, 1] }, bias: true },      // dilation 2
  { x: [1, 10, 6, 7], w: [11, 10, 3, 1], o: { padding: [1, 0] }, bias: true },                      // >8 channels, not ×8
  { x: [2, 13, 5, 9], w: [17, 13, 1, 3], o: { padding: [0, 2], dilation: [1, 2], stride: [1, 2] }, bias: true },
  { x: [1, 2, 11, 10], w: [2, 2, 5, 5], o: { padding: [2, 2] }, bias: false },                      // 5×5
  // widths that are multiples of 4 with stride 1: the forward reads rows as vec4 quads (every shift, both edges)
  { x: [1, 5, 3, 12], w: [6, 5, 1, 3], o: { padding: [0, 4], dilation: [1, 4] }, bias: true },
  { x: [2, 17, 5, 8], w: [18, 17, 3, 3], o: { padding: [1, 1] }, bias: true },
  { x: [1, 3, 4, 20], w: [4, 3, 1, 5], o: { padding: [0, 3] }, bias: false },                       // shifts 1–3 and −3
  { x: [2, 18, 4, 9], w: [19, 18, 1, 3], o: { padding: [0, 1] }, bias: true },                       // 2 blocks of 16 in k and c
  { x: [1, 9, 5, 6], w: [10, 9, 3, 3], o: { padding: [1, 1] }, bias: true },                          // 3×3, 8-channel k blocks
  { x: [1, 64, 4, 5], w: [64, 64, 3, 1], o: { padding: [1, 0] }, bias: false },                      // 64 channels in and out
  { x: [1, 36, 7, 9], w: [40, 36, 3, 3], o: { stride: [2, 2], padding: [1, 1] }, bias: true },        // 32-channel blocks, the last partial
  // first columns multiples of 4: rows read as two aligned quads (3×1, and 1×3 with dilation 4), edges zeroed
  { x: [2, 20, 6, 12], w: [24, 20, 3, 1], o: { padding: [2, 0], dilation: [2, 1] }, bias: true },
  { x: [1, 33, 3, 8], w: [17, 33, 1, 3], o: { padding: [0, 4], dilation: [1, 4] }, bias: false },
  // stride 2 with output rows of 8: the input gradient reads dy as quads in each phase (phases of 8 and
  // 7 columns), in blocks of 4 channels (c ≤ 4)
  { x: [2, 3, 9, 15], w: [5, 3, 3, 3], o: { stride: [2, 2], padding: [1, 1] }, bias: true },
  { x: [1, 4, 6, 16], w: [6, 4, 3, 3], o: { stride: [2, 2], padding: [1, 1] }, bias: false },
];
// grouped convolutions (ResNeXt's 32 groups; depthwise as the limit): x [N, C, …], w [K, C/G, …]
const grouped: { x: number[]; w: number[]; o: ConvRefOpts; bias: boolean }[] = [
  { x: [2, 8, 7, 9], w: [8, 2, 3, 3], o: { padding: [1, 1], groups: 4 }, bias: false },
  { x: [1, 12, 9, 11], w: [12, 4, 3, 3], o: { stride: [2, 2], padding: [2, 2], dilation: [2, 2], groups: 3 }, bias: true },
  { x: [2, 5, 6, 7], w: [5, 1, 3, 3], o: { padding: [1, 1], groups: 5 }, bias: true },                  // depthwise
  { x: [1, 16, 5, 8], w: [16, 4, 3, 3], o: { padding: [1, 1], groups: 4 }, bias: false },               // ResNeXt stage 1: 4 a group
  { x: [1, 40, 4, 8], w: [40, 20, 3, 3], o: { padding: [2, 2], dilation: [2, 2], groups: 2 }, bias: true },  // 32-blocks, channel lanes
  { x: [2, 6, 5, 5], w: [12, 2, 1, 1], o: { groups: 3 }, bias: true },                                   // channel multiplier 2
  { x: [1, 18, 6, 5], w: [9, 6, 3, 3], o: { stride: [2, 2], padding: [1, 1], groups: 3 }, bias: false },
  { x: [2, 24, 7, 9], w: [24, 8, 3, 3], o: { stride: [2, 2], padding: [1, 1], groups: 3 }, bias: true },   // ResNeXt stage 2: 8 a group (8-blocks)
  { x: [1, 21, 5, 11], w: [21, 7, 3, 3], o: { padding: [1, 1], groups: 3 }, bias: true },                  // 7 a group: partial 8-blocks, per-tap dw
  // rows ×4, stride 1, three taps at dilation 1, blocks of ≤ 8: the 3-tap window forward (NOTES §49)
  { x: [2, 16, 6, 12], w: [16, 8, 3, 3], o: { padding: [1, 1], groups: 2 }, bias: true },
  { x: [1, 6, 5, 16], w: [6, 3, 1, 3], o: { padding: [0, 1], groups: 2 }, bias: false },
  { x: [1, 8, 6, 8], w: [8, 2, 3, 3], o: { groups: 4 }, bias: true },
  { x: [1, 8, 7, 20], w: [8, 4, 3, 3], o: { padding: [2, 3], groups: 2 }, bias: false },
  { x: [2, 16, 7, 12], w: [16, 8, 3, 3], o: { stride: [2, 2], padding: [1, 1], groups: 2 }, bias: true },   // and at stride 2
  { x: [1, 12, 9, 16], w: [12, 4, 3, 3], o: { stride: [2, 2], groups: 3 }, bias: false },
  { x: [1, 4, 5, 8], w: [6, 2, 1, 3], o: { stride: [1, 2], padding: [0, 2], groups: 2 }, bias: true },
  // stride 2 across, 3 taps, padding 1, rows ×16, ≤ 8 channels: the two-phase input gradient (NOTES §49)
  { x: [2, 16, 7, 32], w: [16, 8, 3, 3], o: { stride: [2, 2], padding: [1, 1], groups: 2 }, bias: true },
  { x: [1, 12, 5, 16], w: [9, 4, 1, 3], o: { stride: [1, 2], padding: [0, 1], groups: 3 }, bias: false },
];
cases.push(...grouped);
const families = kernelFamilies();
t('the subgroup kernels are in use on CPU adapters that offer subgroups of 8+ lanes; each family runs its own kernel', async () => {
  const e = getEngine();
  const lanes = (e.device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo?.subgroupMinSize ?? 0;
  assert.is(e.subgroups, e.deviceClass === 'cpu' && e.device.features.has('subgroups') && lanes >= 8);
  if (!e.device.features.has('timestamp-query')) return;
  const names = async (outC = 5) => {
    e.startProfiling();
    const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]), w = tensor(new Float32Array(outC * 3 * 3 * 3), [outC, 3, 3, 3]);
    const y = noGrad(() => conv2d(x, w));
    const got = (await e.stopProfiling()).map((k) => k.name);
    for (const v of [x, w, y]) v.dispose();
    return got;
  };
  await using('portable', async () => assert.ok((await names()).includes('conv2d_fwd')))();
  await using('tiled', async () => assert.ok((await names()).includes('conv2d_fwd_tiled')))();
  if (!e.subgroups) return;
  assert.ok((await names(12)).includes('conv2d_fwd_sg_quads'));       // width 4: rows read as vec4 quads
  assert.ok((await names(5)).includes('conv2d_fwd_sg_win3_k8'));      // 8 channels or fewer: blocks of 8, three taps from one row read (NOTES §49)
  assert.ok((await names(24)).includes('conv2d_fwd_sg_quads_k32'));   // more than 16 channels: blocks of 32
  const x = tensor(new Float32Array(20 * 3 * 8), [1, 20, 3, 8]), w = tensor(new Float32Array(24 * 20 * 3), [24, 20, 3, 1]);
  e.startProfiling();
  noGrad(() => conv2d(x, w, null, { padding: [1, 0] })).dispose();
  assert.ok((await e.stopProfiling()).some((k) => k.name === 'conv2d_fwd_sg_aligned_k32'), '3×1 rows of 8 read as aligned quads');
  x.dispose(); w.dispose();
});

for (const fam of families) for (const c of cases) {
  const name = `${fam} ${JSON.stringify(c.w)} ${JSON.stringify(c.o)}`;
  const xs = [randn(c.x, 1), randn(c.w, 2, 0.5), ...(c.bias ? [randn([c.w[0]], 3)] : [])];
  const fn = (x: any, w: any, b: any) => conv2d(x, w, b ?? null, c.o);
  const ref = (x: any, w: any, b: any) => conv2dRef(x, w, b ?? null, c.o);
  const tol = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.w[1] * c.w[2] * c.w[3]) };
  t(`conv2d forward ${name}`, using(fam, () => checkForward(fn, ref, xs, tol)));
  t(`conv2d backward ${name}`, using(fam, () => checkGrad(fn, ref, xs, GR)));
}

// The tiled family's opt-in settings (each off by default until a GPU measures it), each run on conv
// cases forward and backward against float64, and a check that the setting's kernels are the ones run.
type TiledFlag = 'narrowTiles' | 'largeTiles' | 'vecTiles' | 'atomicSplits';
type Case = { x: number[]; w: number[]; o: ConvRefOpts; bias: boolean };
/** A test body on the tiled family with one setting on. */
const tiledWith = (flag: TiledFlag, f: () => unknown) => using('tiled', async () => {
  const e = getEngine();
  e[flag] = true;
  try { await f(); } finally { e[flag] = false; }
});
const caseName = (c: Case) => `${JSON.stringify(c.w)} ${JSON.stringify(c.o)}`;
const caseData = (c: Case) => ({
  xs: [randn(c.x, 1), randn(c.w, 2, 0.5), ...(c.bias ? [randn([c.w[0]], 3)] : [])],
  fn: (x: any, w: any, b: any) => conv2d(x, w, b ?? null, c.o),
  ref: (x: any, w: any, b: any) => conv2dRef(x, w, b ?? null, c.o),
  tol: { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.w[1] * c.w[2] * c.w[3]) },
});
/** conv2d forward and backward of each case with the setting on. */
function tiledCases(what: string, flag: TiledFlag, cs: Case[]): void {
  for (const c of cs) {
    const { xs, fn, ref, tol } = caseData(c);
    t(`conv2d forward, tiled family on ${what} ${caseName(c)}`, tiledWith(flag, () => checkForward(fn, ref, xs, tol)));
    t(`conv2d backward, tiled family on ${what} ${caseName(c)}`, tiledWith(flag, () => checkGrad(fn, ref, xs, GR)));
  }
}
/** The kernels one conv2d forward launches: a 3×1 of 2 input and k output channels on 5×6. */
async function forwardKernels(k: number): Promise<string[]> {
  const e = getEngine();
  const x = tensor(new Float32Array(2 * 5 * 6), [1, 2, 5, 6]), w = tensor(new Float32Array(k * 2 * 3), [k, 2, 3, 1]);
  e.startProfiling();
  noGrad(() => conv2d(x, w, null, { padding: [1, 0] })).dispose();
  const names = (await e.stopProfiling()).map((q) => q.name);
  x.dispose(); w.dispose();
  return names;
}

// narrow tiles (16×256, engine.narrowTiles) for GEMMs of at most 16 rows: the forward of ≤ 16 output
// channels, the input gradient of ≤ 16 input channels, the weight gradient of ≤ 16 output channels
// (split-K too: the 19×17 case); grouped, depthwise and strided among them
tiledCases('narrow tiles', 'narrowTiles', [cases[0], cases[2], cases[3], cases[7], cases[14], grouped[2], grouped[6]]);
t('narrow tiles: the GEMMs of at most 16 rows run them, larger ones the square tiles', tiledWith('narrowTiles', async () => {
  assert.ok((await forwardKernels(16)).includes('conv2d_fwd_tiled_16x256'));
  assert.ok((await forwardKernels(17)).includes('conv2d_fwd_tiled'));
}));

// large tiles (128×128, 8×8 outputs an invocation, engine.largeTiles) for GEMMs of at least 128 rows:
// 130 output channels (forward, weight gradient), 129 input channels (input gradient), and a grouped
// case with 129 channels a group; every size off the tile
const largeCases: Case[] = [
  { x: [1, 129, 4, 5], w: [130, 129, 3, 3], o: { padding: [1, 1] }, bias: true },
  { x: [2, 258, 3, 3], w: [258, 129, 1, 1], o: { groups: 2 }, bias: false },
];
tiledCases('large tiles', 'largeTiles', largeCases);
t('large tiles: the GEMMs of at least 128 rows run them (where the device has the workgroup memory), smaller ones the square tiles', tiledWith('largeTiles', async () => {
  if (getEngine().limits.maxComputeWorkgroupStorageSize < tileBytes(LARGE)) { console.log('  (workgroup memory below the large tile: skipped)'); return; }
  assert.ok((await forwardKernels(128)).includes('conv2d_fwd_tiled_128x128'));
  assert.ok((await forwardKernels(127)).includes('conv2d_fwd_tiled'));
  assert.not.ok((await forwardKernels(127)).includes('conv2d_fwd_tiled_128x128'));
}));

// square tiles with vec4 workgroup reads (engine.vecTiles, f32): contiguous 4×4 blocks per
// invocation, one vec4 of A and of B staged per invocation: 3×1, dilated (split-K weight gradient),
// strided, 17 → 18 and 64 → 64 channels, 36 → 40 strided, grouped, depthwise, and a grouped 1×1 of 129 a group
tiledCases('vec4 tiles', 'vecTiles', [cases[0], cases[2], cases[3], cases[11], cases[15], cases[16], grouped[2], grouped[6], largeCases[1]]);
t('vec4 tiles: f32 GEMMs run them', tiledWith('vecTiles', async () => {
  const names = await forwardKernels(20);
  assert.ok(names.includes('conv2d_fwd_tiled_vec4'), names.join(', '));
}));

// split-K weight gradients summed in place by f32 atomics (engine.atomicSplits): no partial tiles, no
// sum_splits pass; the cases whose weight gradient splits (t = N·OH·OW ≥ 128), grouped among them
for (const c of [cases[2], cases[17], { x: [2, 6, 9, 10], w: [6, 2, 3, 3], o: { padding: [1, 1], groups: 3 }, bias: true }]) {
  const { xs, fn, ref } = caseData(c);
  t(`conv2d backward, split-K weight gradient summed by atomics ${caseName(c)}`, tiledWith('atomicSplits', () => checkGrad(fn, ref, xs, { ...GR, which: [false, true, ...(c.bias ? [false] : [])] })));
}
t('atomic split-K: the weight gradient runs the atomic kernel and no sum_splits pass', tiledWith('atomicSplits', async () => {
  const e = getEngine();
  const c = cases[2];
  const x = upload(randn(c.x, 1)), w = upload(randn(c.w, 2, 0.5), true);
  e.startProfiling();
  scope(() => backward(sum(conv2d(x, w, null, c.o))));
  const names = (await e.stopProfiling()).map((q) => q.name);
  x.dispose(); w.dispose();
  assert.ok(names.includes('conv2d_bwd_weight_tiled_atomic'), names.join(', '));
  assert.not.ok(names.includes('sum_splits'), names.join(', '));
}));

// conv2d with the ReLU fused into its store: forward and backward (the mask comes from the saved output)
const reluCases = [cases[0], cases[3], cases[17], grouped[1]];   // 3×1 with bias, 3×3 stride 2, aligned-quad rows, grouped
for (const fam of families) for (const c of reluCases) {
  const name = `${fam} ${JSON.stringify(c.w)} ${JSON.stringify(c.o)}`;
  const xs = [randn(c.x, 11), randn(c.w, 12, 0.5), randn([c.w[0]], 13)];
  const fn = (x: any, w: any, b: any) => conv2d(x, w, b, { ...c.o, relu: true });
  const ref = (x: any, w: any, b: any) => map(conv2dRef(x, w, b, c.o), (v) => Math.max(v, 0));
  const tol = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.w[1] * c.w[2] * c.w[3]) };
  t(`conv2d + fused relu forward ${name}`, using(fam, () => checkForward(fn, ref, xs, tol)));
  t(`conv2d + fused relu backward ${name}`, using(fam, () => checkGrad(fn, ref, xs, GR)));
}

// A conv consuming a fused ReLU's output zeroes its input gradient at the store (subgroup family),
// and the producer then skips its mask pass (NOTES §42). With `residual`, y also feeds an add, so
// y's gradient is a sum of a masked and an unmasked part, which the producer must still mask.
const chains: { x: number[]; w1: number[]; o1: ConvRefOpts; w2: number[]; o2: ConvRefOpts; residual?: boolean }[] = [
  { x: [2, 3, 7, 5], w1: [4, 3, 3, 1], o1: { padding: [1, 0] }, w2: [3, 4, 1, 3], o2: { padding: [0, 1] } },   // scalar rows
  { x: [1, 5, 6, 12], w1: [20, 5, 3, 1], o1: { padding: [1, 0] }, w2: [6, 20, 1, 3], o2: { padding: [0, 4], dilation: [1, 4] } },  // aligned quads, 32-blocks
  { x: [1, 3, 9, 8], w1: [5, 3, 3, 3], o1: { padding: [1, 1] }, w2: [4, 5, 3, 3], o2: { stride: [2, 2], padding: [1, 1] } },       // strided consumer
  { x: [2, 3, 7, 8], w1: [6, 3, 3, 1], o1: { padding: [1, 0] }, w2: [6, 6, 1, 3], o2: { padding: [0, 1] }, residual: true },
  { x: [1, 3, 5, 16], w1: [8, 3, 3, 3], o1: { padding: [1, 1] }, w2: [8, 4, 3, 3], o2: { stride: [2, 2], padding: [1, 1], groups: 2 } },  // two-phase dx, masked
];
for (const fam of families) for (const c of chains) {
  const name = `${fam} ${JSON.stringify(c.w1)} then ${JSON.stringify(c.w2)} ${JSON.stringify(c.o2)}${c.residual ? ' + residual' : ''}`;
  const xs = [randn(c.x, 21), randn(c.w1, 22, 0.5), randn([c.w1[0]], 23), randn(c.w2, 24, 0.5)];
  const fn = (x: any, w1: any, b1: any, w2: any) => {
    const y = conv2d(x, w1, b1, { ...c.o1, relu: true });
    const z = conv2d(y, w2, null, c.o2);
    return c.residual ? add(z, y) : z;
  };
  const ref = (x: any, w1: any, b1: any, w2: any) => {
    const y = map(conv2dRef(x, w1, b1, c.o1), (v) => Math.max(v, 0));
    const z = conv2dRef(y, w2, null, c.o2);
    return c.residual ? binary(z, y, (p, q) => p + q) : z;
  };
  t(`fused relu, then a conv: gradients ${name}`, using(fam, () => checkGrad(fn, ref, xs, GR)));
}
t('fused relu, then a conv: the subgroup family masks in the consumer\'s store, with no mask pass', async () => {
  const e = getEngine();
  if (!e.subgroups || !e.device.features.has('timestamp-query')) return;
  const c = chains[0];
  const [x, w1, b1, w2] = [randn(c.x, 21), randn(c.w1, 22, 0.5), randn([c.w1[0]], 23), randn(c.w2, 24, 0.5)].map((v) => upload(v, true));
  const kernels = async (residual: boolean) => {
    e.startProfiling();
    scope(() => {
      const y = conv2d(x, w1, b1, { ...c.o1, relu: true });
      const z = conv2d(y, w2, null, c.o2);
      backward(sum(residual ? add(sum(z), sum(mul(y, y))) : z));
    });
    const masks = (await e.stopProfiling()).filter((k) => k.name.startsWith('unary_bwd')).length;
    for (const p of [x, w1, b1, w2]) p.clearGrad();
    return masks;
  };
  assert.is(await kernels(false), 0, 'no mask pass');
  assert.is(await kernels(true), 1, 'a second consumer: the summed gradient is masked by the producer');
  for (const p of [x, w1, b1, w2]) p.dispose();
});

const tcases: { x: number[]; w: number[]; o: ConvRefOpts }[] = [
  { x: [2, 3, 5, 4], w: [3, 2, 3, 3], o: { stride: [2, 2], padding: [1, 1], outputPadding: [1, 1] } }, // ERFNet upsampler
  { x: [1, 4, 3, 5], w: [4, 3, 2, 2], o: { stride: [2, 2] } },                                         // output_conv / U-Net up
  { x: [1, 2, 4, 3], w: [2, 2, 3, 2], o: { stride: [1, 2], padding: [0, 1], dilation: [2, 1] } },
  { x: [1, 10, 3, 4], w: [10, 9, 3, 3], o: { stride: [2, 2], padding: [1, 1], outputPadding: [1, 1] } },  // >8 channels
  { x: [1, 5, 3, 8], w: [5, 6, 3, 3], o: { stride: [2, 2], padding: [1, 1], outputPadding: [1, 1] } },    // two-phase kernel, with bias
];
for (const fam of families) for (const c of tcases) {
  const name = `${fam} ${JSON.stringify(c.w)} ${JSON.stringify(c.o)}`;
  const xs = [randn(c.x, 4), randn(c.w, 5, 0.5), randn([c.w[1]], 6)];
  const fn = (x: any, w: any, b: any) => convTranspose2d(x, w, b, c.o);
  const ref = (x: any, w: any, b: any) => convTranspose2dRef(x, w, b, c.o);
  t(`convTranspose2d forward ${name}`, using(fam, () => checkForward(fn, ref, xs, { rtol: 1e-4, atol: 1e-4 })));
  t(`convTranspose2d backward ${name}`, using(fam, () => checkGrad(fn, ref, xs, GR)));
}

// The engine sends strided input gradients to the portable kernel (phase-aware), but the tiled one
// keeps its stride branch: checked here directly against the portable kernel, which the cases
// above check against the float64 reference.
for (const o of [{ stride: [2, 2], padding: [1, 1] }, { stride: [1, 2], padding: [0, 1], dilation: [2, 1] }] as Conv2dOptions[]) {
  t(`tiled input-gradient kernel with stride ${JSON.stringify(o)} matches the portable one`, async () => {
    const x = [2, 3, 9, 7], w = [4, 3, 3, 3];
    const g = conv2dGeometry(x, w, o);
    const dy = upload(randn([g.n, g.k, g.oh, g.ow], 8)), wt = upload(randn(w, 9, 0.5));
    const got = convBwdInputTiled(g, dy, wt, null);
    const e = getEngine(), was = e.kernelFamily;
    e.kernelFamily = 'portable';
    const want = convBwdInput(g, dy, wt, null);
    e.kernelFamily = was;
    close(await got.read(), await want.read(), { rtol: 1e-5, atol: 1e-5 });
    for (const v of [dy, wt, got, want]) v.dispose();
  });
}

t('tiled weight gradient: split-K is chosen for many positions and few output tiles (the 19×17 case above runs split)', () => {
  assert.is(chooseSplits(2, 6, 19 * 17), 5);
  assert.is(chooseSplits(2, 6, 20), 1);
  assert.equal(splitChunk(323, 5), { chunk: 80, splits: 5 });
  assert.equal(splitChunk(100, 7), { chunk: 16, splits: 7 });
});

t('conv2d names the shapes on a channel mismatch', () => {
  const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
  const w = tensor(new Float32Array(5 * 2 * 3 * 3), [5, 2, 3, 3]);
  assert.throws(() => conv2d(x, w), /conv2d: x \[2,3,4,4\] has 3 channels but weight \[5,2,3,3\] expects 2/);
  const l = tensor(new Int32Array(2 * 2 * 4 * 4), [2, 2, 4, 4]);
  assert.throws(() => conv2d(l, w), /conv2d: x must be f32, got tensor #\d+ i32\[2,2,4,4\]/);
  for (const v of [x, w, l]) v.dispose();
});
t('MAC counting: grouped, strided and transposed convs and products count their nominal multiply-adds, forward only, nested counts add up', () => {
  const x = tensor(new Float32Array(2 * 6 * 9 * 11), [2, 6, 9, 11]);
  const wg = tensor(new Float32Array(4 * 3 * 3 * 3), [4, 3, 3, 3]);          // 2 groups: 6 → 4
  const wt = tensor(new Float32Array(6 * 5 * 3 * 3), [6, 5, 3, 3]);          // transposed 6 → 5
  const a = tensor(new Float32Array(7 * 13), [7, 13]), b = tensor(new Float32Array(13 * 5), [13, 5]);
  const outer = countMacs(() => scope(() => {
    const inner = countMacs(() => { conv2d(x, wg, null, { stride: 2, padding: 1, groups: 2 }); });
    assert.is(inner.macs, 2 * 4 * 5 * 6 * 3 * 3 * 3, 'grouped s2: N·K·OH·OW·(C/G)·R·S');
    convTranspose2d(x, wt, null, { stride: 2, padding: 1, outputPadding: 1 });   // every input pixel meets Cout·R·S taps
    matmul(a, b);
  }));
  assert.is(outer.macs, 2 * 4 * 5 * 6 * 3 * 3 * 3 + 2 * 6 * 9 * 11 * 5 * 3 * 3 + 7 * 13 * 5);
  // backward passes are not counted
  const wp = tensor(new Float32Array(4 * 6 * 3 * 3).fill(0.1), [4, 6, 3, 3]);
  const xp = tensor(new Float32Array(2 * 6 * 9 * 11).fill(1), [2, 6, 9, 11], { requiresGrad: true });
  const g = countMacs(() => scope(() => { backward(sum(conv2d(xp, wp, null, { padding: 1 }))); }));
  assert.is(g.macs, 2 * 4 * 9 * 11 * 6 * 3 * 3);
  assert.is(countMacs(() => 0).macs, 0);
  for (const v of [x, wg, wt, a, b, wp, xp]) v.dispose();
  xp.grad?.dispose();
});

t.run();
