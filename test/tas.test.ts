// The TAS500 seed's networks (seed-specs §5): parameter and state-dict counts against §5.8, the
// reference's key names, forward shapes, input-size errors, and the Block vs float64.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad } from '../src/engine/autograd.js';
import { Rng } from '../src/engine/rng.js';
import { scope } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { IterativeV6, iterativeV6Parameters } from '../src/models/iterative.js';
import { TAS_NORMS, TasBlock, tasBlockParameters } from '../src/models/tas-base.js';
import type { LayerNorm } from '../src/models/layers.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { host } from './helpers/layers.js';
import { type F64Tensor, randn } from './reference/core.js';
import { conv2dRef } from './reference/conv.js';
import { layerNormRef } from './reference/nn.js';

const t = suite('tas');
const FINAL = { numClasses: 10, inputSize: [384, 768] as const, f: 60, increaseRatio: 1.5, levels: 4, norm: 'layerHW' as const };

t('IterativeV6 at the final config: 7,458,433 parameters with the x8 pre-net, 8,016,373 with x2 (seed-specs §5.8), 188 / 172 tensors', () => {
  assert.is(iterativeV6Parameters({ ...FINAL, prenet: 'x8' }), 7_458_433);
  assert.is(iterativeV6Parameters({ ...FINAL, prenet: 'x2' }), 8_016_373);
  for (const [prenet, tensors] of [['x8', 188], ['x2', 172]] as const) {
    const net = new IterativeV6({ ...FINAL, prenet, steps: 3 });
    assert.is(net.numParameters(), iterativeV6Parameters({ ...FINAL, prenet }), prenet);
    assert.is(net.stateDict().size, tensors, `${prenet} state-dict tensors`);
    net.dispose();
  }
});

t('IterativeV6: the reference\'s key names; closed form equals the built net for every norm and pre-net; S outputs at the pre-net\'s scale', async () => {
  for (const norm of TAS_NORMS) {
    for (const prenet of ['x1', 'x2', 'x4', 'x8'] as const) {
      const o = { numClasses: 5, inputSize: [64, 96] as const, f: 4, increaseRatio: 1.5, levels: 2, norm, prenet };
      const net = new IterativeV6({ ...o, steps: 2 });
      assert.is(net.numParameters(), iterativeV6Parameters(o), `${norm} ${prenet}`);
      net.dispose();
    }
  }
  const net = new IterativeV6({ numClasses: 5, inputSize: [32, 64], f: 4, increaseRatio: 1.5, levels: 2, norm: 'layerHW', prenet: 'x2', steps: 3 });
  const keys = [...net.stateDict().keys()];
  for (const k of ['alpha', 'beta', 'prenet.conv1.weight', 'prenet.bn2.bias', 'iter_net.net.alpha', 'iter_net.net.down.conv3.weight',
    'iter_net.net.down.skip_conv.weight', 'iter_net.net.inner.high.bn1.weight', 'iter_net.net.inner.up.weight', 'iter_net.net.high.alpha',
    'iter_net.conv.bias', 'iter_net.bn.weight', 'extractor.weight', 'classifier.bias', 'declassifier.weight', 'bn1.weight', 'bn2.bias']) {
    assert.ok(keys.includes(k), k);
  }
  assert.not.ok(keys.some((k) => k.startsWith('iter_net.net.inner.inner')), 'M = 2 levels');
  assert.equal((net.prenet as unknown as { bn1: LayerNorm }).bn1.normalizedShape, [32, 64]);
  // the gates open: α, β non-zero so every step sees the image
  net.alpha.write(Float32Array.of(0.7)); net.beta.write(Float32Array.of(0.4));
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
  assert.throws(() => new IterativeV6({ numClasses: 3, inputSize: [36, 64], f: 4, increaseRatio: 1.5, levels: 2, norm: 'layerHW', prenet: 'x8', steps: 2 }),
    /tas: input 36x64 must be divisible by 8 for the x8 pre-net/);
  assert.throws(() => new IterativeV6({ numClasses: 3, inputSize: [24, 64], f: 4, increaseRatio: 1.5, levels: 3, norm: 'layerHW', prenet: 'x2', steps: 2 }),
    /tas: hidden size 12x32 must be divisible by 2\^3/);
});

t('Block vs float64 (layerHW): three conv → LayerNorm[H,W] → LReLU, skip conv, out = skip + α·x₃; forward and input gradient', async () => {
  const blk = new TasBlock(3, 4, [5, 7], 'layerHW', new Rng(3));
  assert.is(blk.numParameters(), tasBlockParameters(3, 4, [5, 7], 'layerHW'));
  blk.alpha.write(Float32Array.of(0.8));
  const norms = [blk.bn1, blk.bn2, blk.bn3] as LayerNorm[];
  for (const [k, n] of norms.entries()) {   // per-position affine, not the identity
    n.weight.write(Float32Array.from(randn([5, 7], 70 + k, 0.3).data.map((v) => 1 + v)));
    n.bias.write(Float32Array.from(randn([5, 7], 80 + k, 0.3).data));
  }
  const [w1, b1, w2, b2, w3, b3, ws, bs] = await Promise.all([blk.conv1.weight, blk.conv1.bias!, blk.conv2.weight, blk.conv2.bias!, blk.conv3.weight,
    blk.conv3.bias!, blk.skip_conv!.weight, blk.skip_conv!.bias!].map(host));
  const nw = await Promise.all(norms.map(async (n) => [await host(n.weight), await host(n.bias)] as const));
  const lrelu = (x: F64Tensor, k: number): F64Tensor => {
    const y = layerNormRef(x, nw[k][0], nw[k][1], 1e-5);
    y.data.forEach((v, i) => { y.data[i] = v > 0 ? v : 0.01 * v; });
    return y;
  };
  const ref = (x: F64Tensor) => {
    const x1 = lrelu(conv2dRef(x, w1, b1, { padding: [1, 1] }), 0);
    const x2 = lrelu(conv2dRef(x1, w2, b2, { padding: [1, 1] }), 1);
    const x3 = lrelu(conv2dRef(x2, w3, b3, {}), 2);
    const s = conv2dRef(x, ws, bs, {});
    s.data.forEach((v, i) => { s.data[i] = v + 0.8 * x3.data[i]; });
    return s;
  };
  const xs = [randn([2, 3, 5, 7], 71)];
  await checkForward((x) => blk.forward(x), ref, xs, { rtol: 1e-4, atol: 1e-5 });
  await checkGrad((x) => blk.forward(x), ref, xs, { rtol: 3e-3, atol: 3e-4 });
  blk.dispose();
});

t.run();
