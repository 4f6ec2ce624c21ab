import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backward } from '../src/engine/autograd.js';
import { getEngine } from '../src/engine/engine.js';
import { scope } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { add, mul, tanh } from '../src/kernels/elementwise.js';
import { sum } from '../src/kernels/reduce.js';
import { batchNorm2d } from '../src/kernels/batchnorm.js';
import { concat } from '../src/kernels/concat.js';
import { layerNorm } from '../src/kernels/layernorm.js';
import { dropKeep, dropout2d } from '../src/kernels/dropout.js';
import { avgPool2d, maxPool2d } from '../src/kernels/pool.js';
import { close } from './helpers/check.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { kernelFamilies, runGpu, splitting, upload, using } from './helpers/gpu.js';
import { type F64Tensor, f64, randn, rand } from './reference/core.js';
import { binary, map } from './reference/elementwise.js';
import { avgPoolRef, batchNormRef, concatRef, layerNormRef, maxPoolRef } from './reference/nn.js';

const t = suite('nn');
const GR = { rtol: 1e-3, atol: 1e-4 };

// H·W = 21: the f32 kernels; H·W = 20: the vec4 kernels. 23×29 (f32, 667 values) and 24×45
// (vec4, 270 quads) span several 256-element chunks of a plane in the elementwise kernels.
// The reductions come as subgroupAdd (subgroup family) and as a workgroup tree (the others; the
// tiled family runs the same batch-norm kernels as the portable one, so it is left out).
const bnFamilies = () => kernelFamilies().filter((f) => f !== 'tiled');
for (const fam of bnFamilies()) for (const [h, w] of [[7, 3], [4, 5], [23, 29], [24, 45]]) t(`batch_norm2d training ${fam} ${h}x${w}: output, running stats (momentum, unbiased var) and gradients`, using(fam, async () => {
  const x = randn([3, 5, h, w], 1, 2), g = randn([5], 2), b = randn([5], 3);
  const rm0 = randn([5], 4), rv0 = rand([5], 5, 0.5, 2);
  const rm = upload(rm0), rv = upload(rv0);
  const got = await runGpu((xx, gg, bb) => batchNorm2d(xx, gg, bb, rm, rv, { training: true, momentum: 0.1, eps: 1e-3 }), [x, g, b]);
  const want = batchNormRef(x, g, b, 1e-3);
  close(got, want.data, { rtol: 1e-4, atol: 1e-4 }, 'y');
  const M = 3 * h * w;
  close(await rm.read(), want.mean.map((m, c) => 0.9 * rm0.data[c] + 0.1 * m), { rtol: 1e-5, atol: 1e-6 }, 'running_mean');
  close(await rv.read(), want.var.map((v, c) => 0.9 * rv0.data[c] + 0.1 * v * M / (M - 1)), { rtol: 1e-5, atol: 1e-6 }, 'running_var');
  await checkGrad((xx, gg, bb) => batchNorm2d(xx, gg, bb, rm, rv, { training: true, eps: 1e-3 }),
    (xx, gg, bb) => batchNormRef(xx, gg, bb, 1e-3), [x, g, b], { ...GR, samples: 64 });
  rm.dispose(); rv.dispose();
}));

const reluOf = (y: F64Tensor) => Object.assign(f64(y.shape), { data: y.data.map((v) => Math.max(v, 0)) });

// Split reductions (engine.splitReductions, on by default on GPUs), on planes of several pieces:
// 67×63 = 4221 values (f32, 2 pieces of ≤ 4096 per plane) and 130×128 = 4160 quads (vec4, 2 pieces
// of ≤ 4096 quads), 3 batches, with and without the fused relu; the unsplit kernels alongside.
for (const split of [true, false]) for (const [h, w, relu] of [[67, 63, false], [130, 128, true]] as const) {
  t(`batch_norm2d training ${h}x${w}${relu ? ' + relu' : ''}, reductions ${split ? 'split into pieces' : 'one workgroup per channel'}`, splitting(split, async () => {
    const x = randn([3, 2, h, w], 31, 2), g = randn([2], 32), b = randn([2], 33);
    const rm0 = randn([2], 34), rv0 = rand([2], 35, 0.5, 2);
    const rm = upload(rm0), rv = upload(rv0);
    const fn = (xx: any, gg: any, bb: any) => batchNorm2d(xx, gg, bb, rm, rv, { training: true, momentum: 0.1, eps: 1e-3, relu });
    const ref = (xx: F64Tensor, gg: F64Tensor, bb: F64Tensor) => {
      const y = batchNormRef(xx, gg, bb, 1e-3);
      return relu ? reluOf(y) : y;
    };
    const got = await runGpu(fn, [x, g, b]);
    const want = batchNormRef(x, g, b, 1e-3);
    close(got, ref(x, g, b).data, { rtol: 1e-4, atol: 1e-4 }, 'y');
    const M = 3 * h * w;
    close(await rm.read(), want.mean.map((m, c) => 0.9 * rm0.data[c] + 0.1 * m), { rtol: 1e-5, atol: 1e-6 }, 'running_mean');
    close(await rv.read(), want.var.map((v, c) => 0.9 * rv0.data[c] + 0.1 * v * M / (M - 1)), { rtol: 1e-5, atol: 1e-6 }, 'running_var');
    await checkGrad(fn, ref, [x, g, b], { ...GR, samples: 24 });
    rm.dispose(); rv.dispose();
  }));
}

// relu(bn(x)) in the batch-norm kernels: forward clamps, backward masks where the recomputed z ≤ 0.
for (const fam of bnFamilies()) for (const [h, w, training] of [[7, 3, true], [24, 45, true], [4, 6, false]] as const) {
  t(`batch_norm2d + relu ${training ? 'training' : 'eval'} ${fam} ${h}x${w}: output and gradients`, using(fam, async () => {
    const x = randn([2, 5, h, w], 21), g = randn([5], 22), b = randn([5], 23);
    const rm0 = randn([5], 24), rv0 = rand([5], 25, 0.5, 2);
    const rm = upload(rm0), rv = upload(rv0);
    const fn = (xx: any, gg: any, bb: any) => batchNorm2d(xx, gg, bb, rm, rv, { training, eps: 1e-3, momentum: 0, relu: true });
    const ref = (xx: F64Tensor, gg: F64Tensor, bb: F64Tensor) =>
      reluOf(batchNormRef(xx, gg, bb, 1e-3, training ? undefined : { mean: rm0, var: rv0 }));
    const want = ref(x, g, b);
    assert.ok(want.data.some((v) => v === 0) && want.data.some((v) => v > 0), 'both sides of the kink are covered');
    await checkForward(fn, ref, [x, g, b], { rtol: 1e-4, atol: 1e-4 });
    await checkGrad(fn, ref, [x, g, b], { ...GR, samples: 64 });
    rm.dispose(); rv.dispose();
  }));
}

// dropout2d inside the batch-norm kernels (bench/NOTES.md §46): y = f·relu?(bn(x)), f per (b, c)
// plane from the same draw as dropout2d, in both reductions on one workgroup per channel, and on
// the GPU path (split: pieces, the plane-layout apply and dx) with planes of one and two pieces.
const dropOfRef = (y: F64Tensor, p: number, seed: number) => {
  const hw = y.shape[2] * y.shape[3];
  return Object.assign(f64(y.shape), { data: y.data.map((v, i) => (dropKeep(seed, Math.floor(i / hw), p) ? v / (1 - p) : 0)) });
};
const dropCases: [string, () => unknown, number, number, boolean][] = [
  ...bnFamilies().map((fam) => [fam, () => getEngine().kernelFamily = fam, 7, 3, true] as [string, () => unknown, number, number, boolean]),
  ...bnFamilies().map((fam) => [fam, () => getEngine().kernelFamily = fam, 4, 5, false] as [string, () => unknown, number, number, boolean]),
  ['split', () => getEngine().splitReductions = true, 4, 6, true],
  ['split', () => getEngine().splitReductions = true, 67, 63, false],
];
for (const [name, setUp, h, w, relu] of dropCases) {
  t(`batch_norm2d${relu ? ' + relu' : ''} + dropout2d training ${name} ${h}x${w}: output and gradients`, async () => {
    const e = getEngine(), fam = e.kernelFamily, split = e.splitReductions;
    setUp();
    try {
      const n = h * w > 1000 ? 3 : 4, C = h * w > 1000 ? 2 : 5, p = 0.4, seed = 91;
      const x = randn([n, C, h, w], 41), g = randn([C], 42), b = randn([C], 43);
      const rm = upload(randn([C], 44)), rv = upload(rand([C], 45, 0.5, 2));
      const fn = (xx: any, gg: any, bb: any) => batchNorm2d(xx, gg, bb, rm, rv, { training: true, eps: 1e-3, momentum: 0, relu, dropout: p, dropoutSeed: seed });
      const ref = (xx: F64Tensor, gg: F64Tensor, bb: F64Tensor) => {
        const y = batchNormRef(xx, gg, bb, 1e-3);
        return dropOfRef(relu ? reluOf(y) : y, p, seed);
      };
      const kept = Array.from({ length: n * C }, (_, i) => dropKeep(seed, i, p));
      assert.ok(kept.includes(true) && kept.includes(false), 'some planes dropped, some kept');
      await checkForward(fn, ref, [x, g, b], { rtol: 1e-4, atol: 1e-4 });
      await checkGrad(fn, ref, [x, g, b], { ...GR, samples: 48 });
      rm.dispose(); rv.dispose();
    } finally { e.kernelFamily = fam; e.splitReductions = split; }
  });
}

// relu(bn(x)) feeding two consumers (ERFNet's down- and upsamplers feed a conv and the next
// residual join): the backward kernels add the two gradient parts as they read them (backwardSum,
// bench/NOTES.md §48), in every reduction and on the split path with one- and two-piece planes;
// with dropout inside, and with three parts (the first two summed by autograd first).
const twoCases: [string, () => unknown, number, number, number][] = [
  ...bnFamilies().map((fam) => [fam, () => getEngine().kernelFamily = fam, 7, 3, 0] as [string, () => unknown, number, number, number]),
  ...bnFamilies().map((fam) => [fam, () => getEngine().kernelFamily = fam, 4, 5, 0.4] as [string, () => unknown, number, number, number]),
  ['split', () => getEngine().splitReductions = true, 4, 6, 0.4],
  ['split', () => getEngine().splitReductions = true, 67, 63, 0],
];
for (const [name, setUp, h, w, p] of twoCases) for (const parts of [2, 3]) {
  t(`batch_norm2d + relu${p ? ' + dropout2d' : ''} with ${parts} consumers ${name} ${h}x${w}: gradients`, async () => {
    const e = getEngine(), fam = e.kernelFamily, split = e.splitReductions;
    setUp();
    try {
      const n = h * w > 1000 ? 3 : 4, C = h * w > 1000 ? 2 : 5, seed = 92;
      const x = randn([n, C, h, w], 61), g = randn([C], 62), b = randn([C], 63);
      const rm = upload(randn([C], 64)), rv = upload(rand([C], 65, 0.5, 2));
      // out = y·x + tanh(y) (+ y·y): y's gradient arrives in 2 (3) parts
      const fn = (xx: any, gg: any, bb: any) => {
        const y = batchNorm2d(xx, gg, bb, rm, rv, { training: true, eps: 1e-3, momentum: 0, relu: true, dropout: p, dropoutSeed: seed });
        const o = add(mul(y, xx), tanh(y));
        return parts === 3 ? add(o, mul(y, y)) : o;
      };
      const ref = (xx: F64Tensor, gg: F64Tensor, bb: F64Tensor) => {
        const r = reluOf(batchNormRef(xx, gg, bb, 1e-3));
        const y = p ? dropOfRef(r, p, seed) : r;
        const o = binary(binary(y, xx, (u, v) => u * v), map(y, Math.tanh), (u, v) => u + v);
        return parts === 3 ? binary(o, binary(y, y, (u, v) => u * v), (u, v) => u + v) : o;
      };
      await checkGrad(fn, ref, [x, g, b], { ...GR, samples: 48 });
      rm.dispose(); rv.dispose();
    } finally { e.kernelFamily = fam; e.splitReductions = split; }
  });
}

t('batch_norm2d with two consumers: its backward adds the parts, no separate sum pass', async () => {
  const e = getEngine();
  if (!e.device.features.has('timestamp-query')) return;
  const x = upload(randn([2, 3, 4, 5], 66), true), g = upload(randn([3], 67), true), b = upload(randn([3], 68), true);
  const rm = upload(randn([3], 69)), rv = upload(rand([3], 70, 0.5, 2)), k = upload(randn([2, 3, 4, 5], 71));
  e.startProfiling();
  scope(() => {
    const y = batchNorm2d(x, g, b, rm, rv, { training: true, relu: true });
    backward(sum(add(mul(y, k), tanh(y))));
  });
  const names = (await e.stopProfiling()).map((k) => k.name);
  assert.ok(names.some((k) => k.startsWith('batchnorm_bwd')), names.join(', '));
  assert.not.ok(names.some((k) => k.startsWith('add_same')), 'no separate sum: ' + names.join(', '));
  for (const t of [x, g, b, rm, rv, k]) t.dispose();
});

t('batch_norm2d dropout: eval ignores it; the default seed is drawn as dropout2d draws it', async () => {
  const x = randn([2, 3, 4, 5], 51), g = randn([3], 52), b = randn([3], 53);
  const rm0 = randn([3], 54), rv0 = rand([3], 55, 0.5, 2);
  const rm = upload(rm0), rv = upload(rv0);
  const e = getEngine(), next = e.nextSeed;
  let draws = 0;
  e.nextSeed = () => { draws++; return 1234; };
  try {
    const evalOut = await runGpu((xx, gg, bb) => batchNorm2d(xx, gg, bb, rm, rv, { training: false, eps: 1e-3, dropout: 0.5 }), [x, g, b]);
    close(evalOut, batchNormRef(x, g, b, 1e-3, { mean: rm0, var: rv0 }).data, { rtol: 1e-5, atol: 1e-5 }, 'eval');
    assert.is(draws, 0, 'no seed drawn in eval');
    const got = await runGpu((xx, gg, bb) => batchNorm2d(xx, gg, bb, rm, rv, { training: true, eps: 1e-3, momentum: 0, dropout: 0.5 }), [x, g, b]);
    assert.is(draws, 1, 'one seed drawn in training');
    close(got, dropOfRef(batchNormRef(x, g, b, 1e-3), 0.5, 1234).data, { rtol: 1e-4, atol: 1e-4 }, 'training, default seed');
  } finally { e.nextSeed = next; }
  assert.throws(() => batchNorm2d(upload(x), upload(g), upload(b), rm, rv, { training: true, dropout: 1.5 }), /dropout must be in \[0, 1\], got 1.5/);
  rm.dispose(); rv.dispose();
});

// split: the GPU path (statistics kernel without its apply, then the plane-layout apply and dx)
for (const [h, w, split] of [[5, 5, false], [4, 6, false], [4, 6, true]] as const) t(`batch_norm2d eval ${h}x${w}${split ? ' (GPU path)' : ''} uses running stats; gradients`, splitting(split, async () => {
  const x = randn([2, 3, h, w], 6), g = randn([3], 7), b = randn([3], 8);
  const rm0 = randn([3], 9), rv0 = rand([3], 10, 0.5, 2);
  const rm = upload(rm0), rv = upload(rv0);
  const fn = (xx: any, gg: any, bb: any) => batchNorm2d(xx, gg, bb, rm, rv, { training: false, eps: 1e-5 });
  const ref = (xx: any, gg: any, bb: any) => batchNormRef(xx, gg, bb, 1e-5, { mean: rm0, var: rv0 });
  await checkForward(fn, ref, [x, g, b], { rtol: 1e-5, atol: 1e-5 });
  await checkGrad(fn, ref, [x, g, b], GR);
  close(await rm.read(), rm0.data, { rtol: 1e-7, atol: 0 }, 'running_mean untouched');
  rm.dispose(); rv.dispose();
}));

for (const split of [false, true]) t(`batch_norm2d weight and bias gradients when x needs none (${split ? 'split' : 'one workgroup per channel'})`, splitting(split, async () => {
  // the same dγ, dβ as when x needs a gradient too; the kernels skip dx
  const x0 = randn([2, 3, 70, 65], 14), g0 = randn([3], 15), b0 = randn([3], 16);
  const grads = async (xGrad: boolean) => {
    const rm = upload(f64([3])), rv = upload(f64([3], [1, 1, 1]));
    const x = upload(x0, xGrad), g = upload(g0, true), b = upload(b0, true);
    scope(() => backward(sum(mul(batchNorm2d(x, g, b, rm, rv, { training: true, relu: true }), x.view(x.shape)))));
    assert.is(x.grad === null, !xGrad);
    const out = [await g.grad!.read(), await b.grad!.read()];
    for (const v of [rm, rv, x, g, b]) v.dispose();
    return out;
  };
  const [a, c] = [await grads(false), await grads(true)];
  close(a[0], c[0], { rtol: 1e-6, atol: 1e-6 }, 'dgamma');
  close(a[1], c[1], { rtol: 1e-6, atol: 1e-6 }, 'dbeta');
}));

t('batch_norm2d rejects one value per channel in training', () => {
  const x = tensor(new Float32Array(3), [1, 3, 1, 1]), g = tensor(new Float32Array(3), [3]);
  assert.throws(() => batchNorm2d(x, g, g, g, g, { training: true }), /more than 1 value per channel/);
  x.dispose(); g.dispose();
});

for (const [k, s, p] of [[2, 2, 0], [3, 2, 1], [3, 1, 1]]) {
  t(`max_pool2d k${k} s${s} p${p}`, async () => {
    const x = randn([2, 3, 9, 7], 11);
    await checkForward((a) => maxPool2d(a, k, s, p), (a) => maxPoolRef(a, k, s, p), [x], { rtol: 1e-7, atol: 0 });
    await checkGrad((a) => maxPool2d(a, k, s, p), (a) => maxPoolRef(a, k, s, p), [x], { ...GR, samples: 126 });
  });
}
// ceil_mode (SE-ResNeXt's stem: 3, stride 2, no padding): 9 → 4 windows, 7 → 3, the last partial
for (const [k, s, p, H, W] of [[3, 2, 0, 9, 8], [3, 2, 0, 10, 7], [2, 2, 0, 5, 5], [3, 2, 1, 6, 9]]) {
  t(`max_pool2d ceil_mode k${k} s${s} p${p} on ${H}x${W}`, async () => {
    const x = randn([2, 3, H, W], 13);
    await checkForward((a) => maxPool2d(a, k, s, p, true), (a) => maxPoolRef(a, k, s, p, true), [x], { rtol: 1e-7, atol: 0 });
    await checkGrad((a) => maxPool2d(a, k, s, p, true), (a) => maxPoolRef(a, k, s, p, true), [x], { ...GR, samples: 126 });
  });
}
t('max_pool2d ceil_mode sizes match PyTorch', () => {
  const x = tensor(new Float32Array(112 * 112), [1, 1, 112, 112]);
  const y = maxPool2d(x, 3, 2, 0, true), z = maxPool2d(x, 3, 2, 0, false);
  assert.equal([y.shape[2], z.shape[2]], [56, 55]);   // torch: ceil 56, floor 55
  for (const v of [x, y, z]) v.dispose();
});
for (const [k, s] of [[4, 4], [3, 2]]) {
  t(`avg_pool2d k${k} s${s}`, async () => {
    const x = randn([2, 3, 13, 9], 12);
    await checkForward((a) => avgPool2d(a, k, s), (a) => avgPoolRef(a, k, s), [x], { rtol: 1e-5, atol: 1e-6 });
    await checkGrad((a) => avgPool2d(a, k, s), (a) => avgPoolRef(a, k, s), [x], GR);
  });
}

t('concat along channels: buffer copies (batch ≤ 16) and the strided-copy kernel (batch 17)', async () => {
  const fn = (...a: any[]) => concat(a);
  for (const n of [2, 17]) {
    const xs = [randn([n, 3, 4, 5], 13), randn([n, 1, 4, 5], 14), randn([n, 6, 4, 5], 15)];
    await checkForward(fn, (...a) => concatRef(a), xs, { rtol: 1e-7, atol: 0 });
    await checkGrad(fn, (...a) => concatRef(a), xs, GR);
  }
  assert.throws(() => concat([upload(randn([2, 3, 4, 5], 13)), upload(randn([2, 1, 3, 5], 1))]), /concat: shapes \[2,3,4,5\], \[2,1,3,5\] differ/);
});

// planes of 6 values (f32, 10 planes per workgroup), 20 (vec4, 5 quads) and 23×13 (f32, 299: two chunks)
for (const [N, C, H, W] of [[4, 50, 2, 3], [3, 7, 4, 5], [2, 5, 23, 13]]) {
  t(`dropout2d ${N}x${C}x${H}x${W} drops whole channels with the seeded mask, scales by 1/(1-p), same mask in backward`, async () => {
    const HW = H * W, p = 0.3, seed = 777;
    const x = rand([N, C, H, W], 16, 0.5, 1.5);
    const want = f64(x.shape, x.data.map((v, i) => (dropKeep(seed, Math.floor(i / HW), p) ? v / (1 - p) : 0)));
    assert.ok(want.data.some((v) => v === 0) && want.data.some((v) => v !== 0), 'some planes dropped, some kept');
    await checkForward((a) => dropout2d(a, p, true, seed), () => want, [x], { rtol: 1e-6, atol: 1e-6 });
    if (N * C >= 100) {
      const kept = Array.from({ length: N * C }, (_, i) => dropKeep(seed, i, p)).filter(Boolean).length;
      assert.ok(Math.abs(kept / (N * C) - (1 - p)) < 0.1, `kept fraction ${kept / (N * C)}`);
    }
    await checkGrad((a) => dropout2d(a, p, true, seed), (a) => f64(a.shape, a.data.map((v, i) => want.data[i] === 0 ? 0 : v / (1 - p))),
      [x], { ...GR, samples: 100 });
    const id = await runGpu((a) => dropout2d(a, p, false), [x]);
    close(id, x.data, { rtol: 1e-6, atol: 0 }, 'eval identity');
  });
}
// layer norm over [H, W] (the TAS500 seed's layerHW: one row per (n, c), per-position affine) and over
// [C, H, W] (layerCHW); rows longer and shorter than the workgroup, odd sizes
for (const [name, xs, k] of [['layerHW [2,3,5,7]', [2, 3, 5, 7], 2], ['layerCHW [2,3,5,7]', [2, 3, 5, 7], 3], ['layerHW [1,2,13,11]', [1, 2, 13, 11], 2],
  ['last dim [4,3]', [4, 3], 1]] as const) {
  t(`layer_norm ${name}: forward, gradients of x, weight and bias vs float64`, async () => {
    const ws = xs.slice(xs.length - k);
    const x = randn([...xs], 91, 2).data.map((v, i) => v + (i % 5) - 1);   // offsets: a non-zero mean per row
    const inputs = [f64([...xs], x), randn([...ws], 92, 0.5), randn([...ws], 93)];
    inputs[1].data.forEach((v, i) => { inputs[1].data[i] = 1 + v; });
    const ref = (a: F64Tensor, w: F64Tensor, b: F64Tensor) => layerNormRef(a, w, b, 1e-5);
    await checkForward((a, w, b) => layerNorm(a, w, b), ref, inputs, { rtol: 1e-4, atol: 1e-5 });
    await checkGrad((a, w, b) => layerNorm(a, w, b), ref, inputs, { rtol: 2e-3, atol: 2e-4, eps: 1e-5 });
  });
}

t('layer_norm names a weight that is not the trailing shape of x', () => {
  const x = tensor(new Float32Array(2 * 3 * 4), [2, 3, 4]), w = tensor(new Float32Array(3), [3]), b = tensor(new Float32Array(3), [3]);
  assert.throws(() => layerNorm(x, w, b), /layer_norm: weight \[3\] and bias \[3\] must both be the trailing shape of x \[2,3,4\]/);
  for (const v of [x, w, b]) v.dispose();
});

t.run();
