import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { add, addRelu, collapseBroadcast, leakyRelu, mul, relu, scale, sigmoid, sub, tanh } from '../src/kernels/elementwise.js';
import { broadcastStrides } from '../src/engine/shape.js';
import { CHANNEL_SUM_SPAN, channelSum, mean, reshape, sum } from '../src/kernels/reduce.js';
import { backward } from '../src/engine/autograd.js';
import { getEngine } from '../src/engine/engine.js';
import { scope } from '../src/engine/scope.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { upload } from './helpers/gpu.js';
import { randn } from './reference/core.js';
import { binary, map, sumAxes } from './reference/elementwise.js';

const t = suite('elementwise');
const EW = { rtol: 1e-6, atol: 1e-6 };
const GR = { rtol: 1e-3, atol: 1e-4 };

const unary: [string, (x: any) => any, (v: number) => number][] = [
  ['relu', relu, (v) => Math.max(v, 0)],
  ['leakyRelu', (x) => leakyRelu(x, 0.1), (v) => (v > 0 ? v : 0.1 * v)],
  ['tanh', tanh, Math.tanh],
  ['sigmoid', sigmoid, (v) => 1 / (1 + Math.exp(-v))],
  ['scale', (x) => scale(x, -2.5), (v) => -2.5 * v],
];
// 315 elements: the scalar kernels, not a multiple of 64; 420: the vec4 kernels, 105 quads
for (const [name, fn, f] of unary) for (const shape of [[3, 5, 7, 3], [3, 5, 7, 4]]) {
  const x = randn(shape, 7, 2);
  t(`${name} forward and backward ${JSON.stringify(shape)}`, async () => {
    await checkForward(fn, (a) => map(a, f), [x], EW);
    await checkGrad(fn, (a) => map(a, f), [x], GR);
  });
}
// conv bias gradients, both layouts: one workgroup per channel; and (GPUs) pieces of a plane, here
// 1 piece, then 2 batches × 2 blocks of a 4270-value plane whose partial sums sum_splits adds
for (const shape of [[1, 7, 3, 5], [2, 3, 61, 70]]) for (const split of [false, true]) {
  t(`channelSum ${JSON.stringify(shape)}${split ? ' split' : ''}`, async () => {
    assert.ok(shape[2] * shape[3] < CHANNEL_SUM_SPAN || shape[2] * shape[3] > CHANNEL_SUM_SPAN + 64);
    await checkForward((x) => channelSum(x, split), (a) => sumAxes(a, [0, 2, 3]), [randn(shape, 11, 1)], { rtol: 1e-5, atol: 1e-4 });
  });
}

t('tanh saturates without NaN at ±100', async () => {
  for (const n of [70, 72]) await checkForward(tanh, (a) => map(a, Math.tanh), [randn([n], 3, 100)], EW);
});

const shapes: [number[], number[]][] = [
  [[2, 3, 5, 7], [2, 3, 5, 7]],
  [[2, 3, 5, 8], [2, 3, 5, 8]],   // same shape, multiple of 4: the vec4 kernel
  [[2, 3, 5, 7], [1, 3, 1, 1]],   // channel bias on NCHW
  [[4, 13], [13]],                 // row bias
  [[1, 3, 1, 7], [2, 1, 5, 1]],    // both sides broadcast: rank 4 after collapsing, the generic kernel
  [[2, 3, 300], [2, 1, 300]],      // rows of 300 (two chunks of a workgroup) times a plane broadcast over channels
  [[3, 1, 70], [1, 4, 1]],         // both sides broadcast, rank 3: the rows kernel with a zero stride on each side
];
const binaries: [string, (a: any, b: any) => any, (x: number, y: number) => number][] = [
  ['add', add, (x, y) => x + y], ['sub', sub, (x, y) => x - y], ['mul', mul, (x, y) => x * y],
];
for (const [name, fn, f] of binaries) {
  for (const [sa, sb] of shapes) {
    t(`${name} ${JSON.stringify(sa)} ∘ ${JSON.stringify(sb)}`, async () => {
      const a = randn(sa, 11), b = randn(sb, 12);
      await checkForward(fn, (p, q) => binary(p, q, f), [a, b], EW);
      await checkGrad(fn, (p, q) => binary(p, q, f), [a, b], GR);
    });
  }
}

t('gradients of a tensor used twice accumulate (scalar and vec4 accumulation)', async () => {
  for (const shape of [[5, 3], [2, 4, 6]]) {
    const x = randn(shape, 21);
    await checkGrad((a: any) => add(mul(a, a), a), (p: any) => binary(binary(p, p, (u, v) => u * v), p, (u, v) => u + v), [x], GR);
  }
});

// relu(a + b): fused for same shapes of a multiple-of-4 size (105 quads), else relu(add) with broadcasting
for (const [sa, sb] of [[[3, 4, 5, 7], [3, 4, 5, 7]], [[2, 3, 5], [5]]]) {
  t(`addRelu ${JSON.stringify(sa)} ∘ ${JSON.stringify(sb)}`, async () => {
    const a = randn(sa, 31), b = randn(sb, 32);
    const ref = (p: any, q: any) => binary(p, q, (x, y) => Math.max(x + y, 0));
    await checkForward(addRelu, ref, [a, b], EW);
    await checkGrad(addRelu, ref, [a, b], GR);
    await checkGrad((x: any) => addRelu(x, x), (p: any) => ref(p, p), [a], GR);   // one tensor on both sides
  });
}

// addRelu's output feeding two consumers: the two gradient parts are added in its mask pass
// (backwardSum, NOTES §47); with four parts the first three are summed first; a residual chain of
// two joins as in ERFNet. 105 quads: more than one workgroup, not a multiple of it.
{
  const A = [3, 4, 5, 7];
  const ref2 = (p: any, q: any) => {
    const y = binary(p, q, (u, v) => Math.max(u + v, 0));
    return binary(binary(y, p, (u, v) => u * v), map(y, Math.tanh), (u, v) => u + v);
  };
  const cases: [string, (a: any, b: any) => any, (p: any, q: any) => any][] = [
    ['two consumers', (a, b) => { const y = addRelu(a, b); return add(mul(y, a), tanh(y)); }, ref2],
    ['four parts', (a, b) => { const y = addRelu(a, b); return add(add(mul(y, a), tanh(y)), mul(y, y)); },
      (p, q) => { const y = binary(p, q, (u, v) => Math.max(u + v, 0)); return binary(ref2(p, q), binary(y, y, (u, v) => u * v), (u, v) => u + v); }],
    ['a chain of two joins', (a, b) => { const y = addRelu(a, b); return tanh(addRelu(mul(y, a), y)); },
      (p, q) => { const y = binary(p, q, (u, v) => Math.max(u + v, 0)); return map(binary(binary(y, p, (u, v) => u * v), y, (u, v) => Math.max(u + v, 0)), Math.tanh); }],
  ];
  for (const [name, fn, ref] of cases) t(`addRelu gradient from several consumers: ${name}`, () => checkGrad(fn, ref, [randn(A, 33), randn(A, 34)], GR));
  t('addRelu with two consumers: one pass adds and masks, no separate sum', async () => {
    const e = getEngine();
    if (!e.device.features.has('timestamp-query')) return;
    const a = upload(randn(A, 35), true), b = upload(randn(A, 36), true);
    e.startProfiling();
    scope(() => { const y = addRelu(a, b); backward(sum(add(mul(y, a), tanh(y)))); });
    const names = (await e.stopProfiling()).map((k) => k.name);
    assert.is(names.filter((n) => n === 'add_relu_bwd_vec4').length, 1, names.join(', '));
    assert.is(names.filter((n) => n.startsWith('unary_bwd')).length, 1, 'tanh only: ' + names.join(', '));
    a.dispose(); b.dispose();
  });
}

t('broadcast shapes collapse: size-1 dims dropped, neighbours merged where both inputs step through them as one', () => {
  const c = (sh: number[], a: number[], b: number[]) => collapseBroadcast(sh, broadcastStrides(a, sh), broadcastStrides(b, sh));
  assert.equal(c([2, 3, 5, 7], [2, 3, 5, 7], [1, 3, 1, 1]), { shape: [2, 3, 35], sa: [105, 35, 1], sb: [0, 1, 0] });
  assert.equal(c([2, 20, 64, 128], [2, 20, 64, 128], [2, 1, 64, 128]), { shape: [2, 20, 8192], sa: [163840, 8192, 1], sb: [8192, 0, 1] });
  assert.equal(c([2, 3, 5, 7], [1, 3, 1, 7], [2, 1, 5, 1]).shape, [2, 3, 5, 7]);
  assert.equal(c([1, 6, 1], [1, 6, 1], [1, 6, 1]), { shape: [6], sa: [1], sb: [1] });
  assert.equal(c([], [], []), { shape: [], sa: [], sb: [] });
});

t('add rejects shapes that do not broadcast', async () => {
  const { tensor } = await import('../src/engine/tensor.js');
  const a = tensor(new Float32Array(6), [2, 3]), b = tensor(new Float32Array(4), [4]);
  assert.throws(() => add(a, b), /add: shapes \[2,3\] and \[4\] cannot be broadcast/);
  a.dispose(); b.dispose();
});

const reductions: number[][] = [[0, 2, 3], [1], [0, 1, 2, 3], [3]];
for (const axes of reductions) {
  t(`sum/mean over ${JSON.stringify(axes)}`, async () => {
    const x = randn([3, 5, 9, 67], 5);   // 67 > WG-aligned, 9045 elements
    const n = axes.reduce((p, a) => p * x.shape[a], 1);
    await checkForward((a) => sum(a, axes), (a) => sumAxes(a, axes), [x], { rtol: 1e-4, atol: 1e-4 });
    await checkForward((a) => mean(a, axes), (a) => sumAxes(a, axes, 1 / n), [x], { rtol: 1e-4, atol: 1e-5 });
    const small = randn([2, 3, 4, 5], 6);
    await checkGrad((a) => mean(a, axes), (a) => sumAxes(a, axes, 1 / axes.reduce((p, k) => p * small.shape[k], 1)),
      [small], GR);
  });
}
t('reshape keeps data and gradient', async () => {
  const x = randn([2, 3, 4], 8);
  await checkGrad((a) => reshape(mul(reshape(a, [6, -1]), reshape(a, [6, 4])), [2, 3, 4]), (a) => map(a, (v) => v * v), [x], GR);
});
t.run();
