// The TAS500 seed's networks (seed-specs §5): parameter and state-dict counts against §5.8, the
// reference's key names, forward shapes, input-size errors, and the Block vs float64.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad } from '../src/engine/autograd.js';
import { Rng } from '../src/engine/rng.js';
import { scope } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { Iterative, type IterativeVersion, iterativeParameters } from '../src/models/iterative.js';
import { HOURGLASS_KINDS, type HourglassKind, StackedHourglass, hourglassParameters } from '../src/models/hourglass.js';
import { HourglassBlock, Prenet, TAS_NORMS, TasBlock, tasBlockParameters } from '../src/models/tas-base.js';
import type { LayerNorm } from '../src/models/layers.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { host } from './helpers/layers.js';
import { type F64Tensor, f64, randn } from './reference/core.js';
import { conv2dRef, convTranspose2dRef } from './reference/conv.js';
import { concatRef, layerNormRef, maxPoolRef } from './reference/nn.js';

const t = suite('tas');
const FINAL = { numClasses: 10, inputSize: [384, 768] as const, f: 60, increaseRatio: 1.5, levels: 4, norm: 'layerHW' as const };

const VERSIONS = [1, 2, 3, 4, 5, 6] as const;
const REF: Record<IterativeVersion, [number, number]> = { 1: [12_895_969, 341], 2: [7_467_648, 189], 3: [12_895_970, 342], 4: [7_467_649, 190],
  5: [12_879_494, 338], 6: [7_458_433, 188] };

t('IterativeV1–V6 at the final config with the x8 pre-net: parameters and state-dict tensors as seed-specs §5.8; V6 with x2 8,016,373 / 172', () => {
  for (const v of VERSIONS) {
    assert.is(iterativeParameters(v, { ...FINAL, prenet: 'x8' }), REF[v][0], `V${v}`);
    const net = new Iterative(v, { ...FINAL, prenet: 'x8', steps: 3 });
    assert.is(net.numParameters(), REF[v][0], `V${v} built`);
    assert.is(net.stateDict().size, REF[v][1], `V${v} state-dict tensors`);
    net.dispose();
  }
  assert.is(iterativeParameters(6, { ...FINAL, prenet: 'x2' }), 8_016_373);
  const x2 = new Iterative(6, { ...FINAL, prenet: 'x2', steps: 3 });
  assert.is(x2.numParameters(), 8_016_373);
  assert.is(x2.stateDict().size, 172);
  x2.dispose();
});

const HG_REF: Record<HourglassKind, [number, number]> = { 'hourglass': [18_307_815, 489], 'hourglass-iter': [18_324_291, 493],
  'hourglass-iter-ex': [18_349_983, 499], 'res-hourglass': [18_307_817, 490], 'res-hourglass-iter': [18_324_293, 494], 'res-hourglass-iter-ex': [18_349_985, 500] };

t('the hourglass family at the final config (x8, S 3): parameters and state-dict tensors as seed-specs §5.8; names hgs.<i>.0.…', () => {
  for (const k of HOURGLASS_KINDS) {
    assert.is(hourglassParameters(k, { ...FINAL, prenet: 'x8', steps: 3 }), HG_REF[k][0], k);
    const net = new StackedHourglass(k, { ...FINAL, prenet: 'x8', steps: 3 });
    assert.is(net.numParameters(), HG_REF[k][0], `${k} built`);
    const keys = [...net.stateDict().keys()];
    assert.is(keys.length, HG_REF[k][1], `${k} state-dict tensors`);
    for (const key of ['alpha', 'hgs.2.0.net.down.conv1.weight', 'hgs.0.0.conv.bias', 'classifier.weight', 'bn2.weight']) assert.ok(keys.includes(key), `${k}: ${key}`);
    if (k.endsWith('-ex')) assert.ok(keys.includes('extractor.1.weight') && keys.includes('bn1.2.weight'), `${k}: per-stack extractors, S norms`);
    net.dispose();
  }
});

t('the hourglass family: closed form equals the built net (every norm, S 2 and 4); S outputs, gates open', async () => {
  for (const k of HOURGLASS_KINDS) {
    for (const [norm, S] of [['layerHW', 4], ['layerCHW', 2], ['batch', 3]] as const) {
      const o = { numClasses: 5, inputSize: [32, 64] as const, f: 4, increaseRatio: 1.5, levels: 2, norm, prenet: 'x2' as const, steps: S };
      const net = new StackedHourglass(k, o);
      assert.is(net.numParameters(), hourglassParameters(k, o), `${k} ${norm} S ${S}`);
      net.alpha.write(Float32Array.from({ length: S - 1 }, (_, i) => 0.5 + 0.1 * i)); net.beta?.write(Float32Array.from({ length: S - 1 }, (_, i) => 0.3 + 0.1 * i));
      net.train(norm === 'batch');
      const x = tensor(Float32Array.from({ length: 2 * 3 * 32 * 64 }, (_, i) => Math.cos(i * 0.29)), [2, 3, 32, 64]);
      const ys = scope(() => noGrad(() => net.forward(x)));
      assert.is(ys.length, S);
      for (const y of ys) { assert.equal(y.shape, [2, 5, 16, 32]); assert.ok((await y.read()).every(Number.isFinite), `${k} ${norm} finite`); }
      for (const y of [...ys, x]) y.dispose();
      net.dispose();
    }
  }
  assert.throws(() => new StackedHourglass('hourglass', { numClasses: 3, inputSize: [32, 64], f: 4, increaseRatio: 1.5, levels: 2, norm: 'layerHW', prenet: 'x2', steps: 1 }),
    /hourglass: stacks 1 must be an integer ≥ 2/);
});

t('Iterative: the reference\'s key names; closed form equals the built net for every version, norm and pre-net; S outputs at the pre-net\'s scale', async () => {
  for (const v of VERSIONS) {
    for (const norm of TAS_NORMS) {
      for (const prenet of ['x1', 'x2', 'x4', 'x8'] as const) {
        const o = { numClasses: 5, inputSize: [64, 96] as const, f: 4, increaseRatio: 1.5, levels: 2, norm, prenet };
        const net = new Iterative(v, { ...o, steps: 2 });
        assert.is(net.numParameters(), iterativeParameters(v, o), `V${v} ${norm} ${prenet}`);
        net.dispose();
      }
    }
    // every version runs with its gates open, S outputs, and later steps differ from the first; all three norms
    for (const norm of TAS_NORMS) {
      const net = new Iterative(v, { numClasses: 5, inputSize: [32, 64], f: 4, increaseRatio: 1.5, levels: 2, norm, prenet: 'x2', steps: 3 });
      net.alpha.write(Float32Array.of(0.7)); net.beta?.write(Float32Array.of(0.4));
      net.train(norm === 'batch');   // batch norm in training mode: the fresh running statistics are not the data's
      const x = tensor(Float32Array.from({ length: 2 * 3 * 32 * 64 }, (_, i) => Math.sin(i * 0.37)), [2, 3, 32, 64]);
      const ys = scope(() => noGrad(() => net.forward(x)));
      assert.is(ys.length, 3, `V${v} ${norm}`);
      for (const y of ys) { assert.equal(y.shape, [2, 5, 16, 32]); assert.ok((await y.read()).every(Number.isFinite), `V${v} ${norm} finite`); }
      const [a, b] = [await ys[0].read(), await ys[2].read()];
      assert.ok(a.some((q, i) => q !== b[i]), `V${v} ${norm}: later steps refine the first`);
      for (const y of [...ys, x]) y.dispose();
      net.dispose();
    }
  }
  assert.throws(() => new Iterative(1, { numClasses: 3, inputSize: [32, 64], f: 4, increaseRatio: 1.5, levels: 2, norm: 'layerHW', prenet: 'x2', steps: 1 }),
    /iterative-v1: steps 1 must be an integer ≥ 2/);
  const net = new Iterative(6, { numClasses: 5, inputSize: [32, 64], f: 4, increaseRatio: 1.5, levels: 2, norm: 'layerHW', prenet: 'x2', steps: 3 });
  const keys = [...net.stateDict().keys()];
  for (const k of ['alpha', 'beta', 'prenet.conv1.weight', 'prenet.bn2.bias', 'iter_net.net.alpha', 'iter_net.net.down.conv3.weight',
    'iter_net.net.down.skip_conv.weight', 'iter_net.net.inner.high.bn1.weight', 'iter_net.net.inner.up.weight', 'iter_net.net.high.alpha',
    'iter_net.conv.bias', 'iter_net.bn.weight', 'extractor.weight', 'classifier.bias', 'declassifier.weight', 'bn1.weight', 'bn2.bias']) {
    assert.ok(keys.includes(k), k);
  }
  assert.not.ok(keys.some((k) => k.startsWith('iter_net.net.inner.inner')), 'M = 2 levels');
  assert.equal((net.prenet as unknown as { bn1: LayerNorm }).bn1.normalizedShape, [32, 64]);
  // the gates open: α, β non-zero so every step sees the image
  net.alpha.write(Float32Array.of(0.7)); net.beta!.write(Float32Array.of(0.4));
  const x = tensor(Float32Array.from({ length: 2 * 3 * 32 * 64 }, (_, i) => Math.sin(i * 0.37)), [2, 3, 32, 64]);
  const ys = scope(() => noGrad(() => net.forward(x)));
  assert.is(ys.length, 3);
  for (const y of ys) { assert.equal(y.shape, [2, 5, 16, 32]); assert.ok((await y.read()).every(Number.isFinite)); }
  const [a, b] = [await ys[0].read(), await ys[2].read()];
  assert.ok(a.some((v, i) => v !== b[i]), 'later steps refine the first');
  for (const y of ys) y.dispose();
  const bad = tensor(new Float32Array(3 * 32 * 32), [1, 3, 32, 32]);
  assert.throws(() => scope(() => noGrad(() => net.forward(bad))), /iterative: input 32x32, but the network was built for 32x64/);
  for (const v of [x, bad]) v.dispose();
  net.dispose();
  assert.throws(() => new Iterative(6, { numClasses: 3, inputSize: [36, 64], f: 4, increaseRatio: 1.5, levels: 2, norm: 'layerHW', prenet: 'x8', steps: 2 }),
    /tas: input 36x64 must be divisible by 8 for the x8 pre-net/);
  assert.throws(() => new Iterative(6, { numClasses: 3, inputSize: [24, 64], f: 4, increaseRatio: 1.5, levels: 3, norm: 'layerHW', prenet: 'x2', steps: 2 }),
    /tas: hidden size 12x32 must be divisible by 2\^3/);
});

/** Random gate and per-position affines in a Block; its float64 forward. */
async function blockRef(blk: TasBlock, seed: number): Promise<(x: F64Tensor) => F64Tensor> {
  const alpha = 0.5 + (seed % 7) / 10;
  blk.alpha.write(Float32Array.of(alpha));
  const norms = [blk.bn1, blk.bn2, blk.bn3] as LayerNorm[];
  for (const [k, n] of norms.entries()) {   // per-position affine, not the identity
    const shape = n.normalizedShape;
    n.weight.write(Float32Array.from(randn(shape, seed + 10 * k, 0.3).data.map((v) => 1 + v)));
    n.bias.write(Float32Array.from(randn(shape, seed + 10 * k + 1, 0.3).data));
  }
  const [w1, b1, w2, b2, w3, b3] = await Promise.all([blk.conv1.weight, blk.conv1.bias!, blk.conv2.weight, blk.conv2.bias!, blk.conv3.weight,
    blk.conv3.bias!].map(host));
  const skip = blk.skip_conv ? [await host(blk.skip_conv.weight), await host(blk.skip_conv.bias!)] : null;
  const nw = await Promise.all(norms.map(async (n) => [await host(n.weight), await host(n.bias)] as const));
  const act = (x: F64Tensor, k: number) => lreluRef(layerNormRef(x, nw[k][0], nw[k][1], 1e-5));
  return (x) => {
    const x3 = act(conv2dRef(act(conv2dRef(act(conv2dRef(x, w1, b1, { padding: [1, 1] }), 0), w2, b2, { padding: [1, 1] }), 1), w3, b3, {}), 2);
    const s = skip ? conv2dRef(x, skip[0], skip[1], {}) : f64(x.shape, x.data);
    s.data.forEach((v, i) => { s.data[i] = v + alpha * x3.data[i]; });
    return s;
  };
}
const lreluRef = (y: F64Tensor): F64Tensor => { y.data.forEach((v, i) => { y.data[i] = v > 0 ? v : 0.01 * v; }); return y; };

t('Block vs float64 (layerHW): three conv → LayerNorm[H,W] → LReLU, skip conv, out = skip + α·x₃; forward and input gradient', async () => {
  for (const [fin, fout] of [[3, 4], [4, 4]]) {
    const blk = new TasBlock(fin, fout, [5, 7], 'layerHW', new Rng(3));
    assert.is(blk.numParameters(), tasBlockParameters(fin, fout, [5, 7], 'layerHW'));
    const ref = await blockRef(blk, 70);
    const xs = [randn([2, fin, 5, 7], 71)];
    await checkForward((x) => blk.forward(x), ref, xs, { rtol: 1e-4, atol: 1e-5 });
    await checkGrad((x) => blk.forward(x), ref, xs, { rtol: 3e-3, atol: 3e-4 });
    blk.dispose();
  }
});

t('HourglassBlock (one level) vs float64: Block down, max-pool, Block high, transposed 2×2 up; LReLU(LN(conv1×1 x)) + α·(x ‖ up)', async () => {
  const hb = new HourglassBlock(3, 4, [6, 8], 1, { f: 3, increaseRatio: 1.5, levels: 1, norm: 'layerHW', dim: [6, 8] }, new Rng(5));
  const [down, high] = [await blockRef(hb.down, 80), await blockRef(hb.high, 90)];
  hb.alpha.write(Float32Array.of(0.6));
  const bn = hb.bn as LayerNorm;
  bn.weight.write(Float32Array.from(randn([6, 8], 95, 0.3).data.map((v) => 1 + v)));
  bn.bias.write(Float32Array.from(randn([6, 8], 96, 0.3).data));
  const [wu, bu, wc, bc, gw, gb] = await Promise.all([hb.up.weight, hb.up.bias!, hb.conv.weight, hb.conv.bias!, bn.weight, bn.bias].map(host));
  const ref = (x: F64Tensor) => {
    const up = convTranspose2dRef(high(maxPoolRef(down(x), 2, 2, 0)), wu, bu, { stride: [2, 2] });
    const res = lreluRef(layerNormRef(conv2dRef(x, wc, bc, {}), gw, gb, 1e-5));
    const cat = concatRef([x, up]);
    res.data.forEach((v, i) => { res.data[i] = v + 0.6 * cat.data[i]; });
    return res;
  };
  const xs = [randn([2, 3, 6, 8], 97)];
  await checkForward((x) => hb.forward(x), ref, xs, { rtol: 1e-4, atol: 1e-5 });
  await checkGrad((x) => hb.forward(x), ref, xs, { rtol: 3e-3, atol: 3e-4 });
  hb.dispose();
});

t('the pre-net\'s ImageNet normalisation (the seed\'s loader, in the model): prenet(x) = bare prenet((x − mean)/std)', async () => {
  const a = new Prenet('x2', 4, [8, 12], 'layerHW', new Rng(9), true), b = new Prenet('x2', 4, [8, 12], 'layerHW', new Rng(9), false);
  const xs = randn([1, 3, 8, 12], 5).data.map((v) => 0.5 + 0.2 * v);
  const mean = [0.485, 0.456, 0.406], sd = [0.229, 0.224, 0.225];
  const x = tensor(Float32Array.from(xs), [1, 3, 8, 12]), z = tensor(Float32Array.from(xs, (v, i) => (v - mean[Math.floor(i / 96)]) / sd[Math.floor(i / 96)]), [1, 3, 8, 12]);
  const [ya, yb] = scope(() => noGrad(() => [a.forward(x), b.forward(z)]));
  const [va, vb] = [await ya.read(), await yb.read()];
  assert.ok(va.every((v, i) => Math.abs(v - vb[i]) < 1e-5), 'normalised inside = normalised before');
  for (const t of [a, b]) t.dispose();
  for (const t of [x, z, ya, yb]) t.dispose();
});

t.run();
