// The MSSA paper's network (seed-specs §3.1; choices in src/models/mssa.ts): parameter counts from
// the closed form and the built network, state-dict names, forward shapes, option errors, and its
// encoder / decoder blocks and residual channel attention vs float64 (forward and input gradients).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad } from '../src/engine/autograd.js';
import { scope } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { AtrConv, DilConv, MSSA, mssaParameters } from '../src/models/mssa.js';
import { Rng } from '../src/engine/rng.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { host, perChannel, randomBn, relu } from './helpers/layers.js';
import { type F64Tensor, randn } from './reference/core.js';
import { conv2dRef, convTranspose2dRef } from './reference/conv.js';
import { concatRef } from './reference/nn.js';

const t = suite('mssa');

t('parameter counts: closed form equals the built network (defaults and other options); defaults 1,808,163 at 19 classes', () => {
  assert.is(mssaParameters({}, 19), 1_808_163);
  assert.is(mssaParameters({}, 11), 1_808_091);
  for (const [o, c] of [[{}, 19], [{ widths: [4, 8, 12, 16], dilations: [1, 1, 2, 3], kernel: 5, resBlocks: 2 }, 7], [{ resBlocks: 0, kernel: 1 }, 3]] as const) {
    const net = new MSSA({ ...o, numClasses: c });
    assert.is(net.numParameters(), mssaParameters(o, c), JSON.stringify(o));
    net.dispose();
  }
});

t('state-dict names, full-resolution logits at sides that are multiples of 8 (not 32), clear errors', async () => {
  const net = new MSSA({ numClasses: 5, widths: [4, 6, 8, 10], seed: 2 });
  const keys = [...net.stateDict().keys()];
  for (const k of ['resnet.0.conv.weight', 'resnet.1.conv1.weight', 'resnet.1.bn2.running_var', 'dil_conv.0.conv.conv.weight',
    'dil_conv.1.down.conv.weight', 'dil_conv.3.conv.bn.weight', 'attention1.conv.weight', 'attention2.bn.bias',
    'atr_conv.3.conv.conv.weight', 'atr_conv.0.up.weight', 'atr_conv.2.up_bn.running_mean', 'classifier.bias']) assert.ok(keys.includes(k), k);
  assert.not.ok(keys.includes('dil_conv.0.down.conv.weight'), 'dil-conv1 does not downsample');
  assert.not.ok(keys.includes('atr_conv.3.up.weight'), 'atr-conv4 joins attention2 at 1/8 without upsampling');
  assert.not.ok(keys.includes('dil_conv.1.down.conv.bias'), 'convs before a BN have no bias');
  net.train(false);
  const x = tensor(Float32Array.from({ length: 2 * 3 * 40 * 56 }, (_, i) => ((i * 7) % 23) / 23), [2, 3, 40, 56]);
  const y = scope(() => noGrad(() => net.forward(x)));
  assert.equal(y.shape, [2, 5, 40, 56]);
  assert.ok((await y.read()).every(Number.isFinite));
  y.dispose();
  const bad = tensor(new Float32Array(3 * 44 * 56), [1, 3, 44, 56]);
  assert.throws(() => scope(() => noGrad(() => net.forward(bad))), /mssa: input 44x56: height and width must be multiples of 8/);
  for (const v of [x, bad]) v.dispose();
  net.dispose();
  assert.throws(() => new MSSA({ numClasses: 3, widths: [8, 16, 32] }), /mssa: widths 8,16,32: give 4 positive integers/);
  assert.throws(() => new MSSA({ numClasses: 3, kernel: 4 }), /mssa: kernel 4: must be an odd/);
  assert.throws(() => new MSSA({ numClasses: 3, dilations: [1, 0, 2, 2] }), /mssa: dilations 1,0,2,2/);
});

t('dil-conv vs float64 (eval mode): stride-2 ConvBlock, then a dilated ConvBlock; forward and input gradient', async () => {
  const b = new DilConv(3, 4, 3, 2, true, new Rng(5));
  b.train(false);
  const [bn0, bn1] = [await randomBn(b.down!.bn, 51), await randomBn(b.conv.bn, 52)];
  const [w0, w1] = [await host(b.down!.conv.weight), await host(b.conv.conv.weight)];
  const ref = (x: F64Tensor) => {
    const d = perChannel(conv2dRef(x, w0, null, { stride: [2, 2], padding: [1, 1] }), (v, c) => relu(bn0(v, c)));
    return perChannel(conv2dRef(d, w1, null, { padding: [2, 2], dilation: [2, 2] }), (v, c) => relu(bn1(v, c)));
  };
  const xs = [randn([2, 3, 9, 11], 53)];
  await checkForward((x) => b.forward(x), ref, xs, { rtol: 1e-4, atol: 1e-5 });
  await checkGrad((x) => b.forward(x), ref, xs, { rtol: 2e-3, atol: 2e-4 });
  b.dispose();
});

t('atr-conv vs float64 (eval mode): transposed 3×3 s2 + BN + ReLU, concat with the skip, atrous ConvBlock; gradients of both inputs', async () => {
  const b = new AtrConv(5, 3, 3, 2, true, new Rng(6));
  b.train(false);
  const [bnu, bnc] = [await randomBn(b.up_bn!, 61), await randomBn(b.conv.bn, 62)];
  const [wu, wc] = [await host(b.up!.weight), await host(b.conv.conv.weight)];
  const ref = (x: F64Tensor, skip: F64Tensor) => {
    const u = perChannel(convTranspose2dRef(x, wu, null, { stride: [2, 2], padding: [1, 1], outputPadding: [1, 1] }), (v, c) => relu(bnu(v, c)));
    return perChannel(conv2dRef(concatRef([u, skip]), wc, null, { padding: [2, 2], dilation: [2, 2] }), (v, c) => relu(bnc(v, c)));
  };
  const xs = [randn([2, 5, 3, 5], 63), randn([2, 3, 6, 10], 64)];
  await checkForward((x, s) => b.forward(x, s), ref, xs, { rtol: 1e-4, atol: 1e-5 });
  await checkGrad((x, s) => b.forward(x, s), ref, xs, { rtol: 2e-3, atol: 2e-4 });
  b.dispose();
});

t.run();
