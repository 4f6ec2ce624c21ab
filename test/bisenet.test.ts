// BiSeNet as the MSSA seed's code releases it (seed-specs §3.2, §3.5): parameter counts of the
// torchvision-layout port, ResNet-18's against torchvision, state-dict names, forward shapes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad } from '../src/engine/autograd.js';
import { scope } from '../src/engine/scope.js';
import { type Tensor, tensor } from '../src/engine/tensor.js';
import { BatchNorm2d } from '../src/models/layers.js';
import { BiSeNet, bisenetParameters } from '../src/models/bisenet.js';
import { ResNetBackbone, resnetParameters } from '../src/models/resnet.js';
import { AttentionRefinement, FeatureFusion } from '../src/models/bisenet.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { type F64Tensor, f64, randn } from './reference/core.js';
import { conv2dRef } from './reference/conv.js';
import { concatRef } from './reference/nn.js';

const t = suite('bisenet');

t('parameter counts: seed-specs §3.5 for both trunks and class counts; ResNet-18/34 as torchvision without fc', () => {
  assert.is(bisenetParameters('resnet18', 11), 11_978_786);
  assert.is(bisenetParameters('resnet18', 19), 12_053_274);
  assert.is(bisenetParameters('resnet101', 11), 48_450_338);
  assert.is(bisenetParameters('resnet101', 19), 48_690_714);
  assert.is(resnetParameters('resnet18') + 512 * 1000 + 1000, 11_689_512, 'torchvision resnet18');
  assert.is(resnetParameters('resnet34') + 512 * 1000 + 1000, 21_797_672, 'torchvision resnet34');
  const r18 = new ResNetBackbone({ kind: 'resnet18', outputStride: 32 });
  assert.is(r18.numParameters(), resnetParameters('resnet18'));
  const keys = [...r18.stateDict().keys()];
  for (const k of ['layer0.0.weight', 'layer1.0.conv1.weight', 'layer1.1.bn2.running_var', 'layer2.0.downsample.0.weight', 'layer4.1.conv2.weight']) {
    assert.ok(keys.includes(k), k);
  }
  assert.not.ok(keys.includes('layer1.0.downsample.0.weight'), 'layer1 of a BasicBlock ResNet needs no downsample');
  r18.dispose();
});

t('state-dict names; slim batch norms have no scale; forward gives full-resolution logits; sides must be multiples of 32', async () => {
  const net = new BiSeNet({ trunk: 'resnet18', numClasses: 12, seed: 3 });
  assert.is(net.numParameters(), bisenetParameters('resnet18', 12));
  const keys = [...net.stateDict().keys()];
  for (const k of ['spatial_path.0.conv.weight', 'spatial_path.2.bn.bias', 'context_path.layer3.1.conv2.weight',
    'attention_refinement_module1.conv.weight', 'attention_refinement_module2.bn.running_mean',
    'feature_fusion_module.convblock.conv.bias', 'feature_fusion_module.conv2.weight', 'conv.bias']) assert.ok(keys.includes(k), k);
  assert.not.ok(keys.includes('spatial_path.0.bn.weight'), 'no γ in the head\'s batch norms');
  const bn = new BatchNorm2d(4, { scale: false });
  assert.equal(bn.namedParameters().map(([k]) => k), ['bias']);
  bn.dispose();
  net.train(false);
  const x = tensor(Float32Array.from({ length: 2 * 3 * 64 * 96 }, (_, i) => (i % 17) / 17), [2, 3, 64, 96]);
  const y = scope(() => noGrad(() => net.forward(x)));
  assert.equal(y.shape, [2, 12, 64, 96]);
  assert.ok((await y.read()).every(Number.isFinite));
  y.dispose();
  const bad = tensor(new Float32Array(3 * 48 * 64), [1, 3, 48, 64]);
  assert.throws(() => scope(() => noGrad(() => net.forward(bad))), /bisenet: input 48x64: height and width must be multiples of 32/);
  for (const v of [x, bad]) v.dispose();
  net.dispose();
});

// float64 references of the two layers in eval mode (batch norm with its running statistics)
const host = async (x: Tensor): Promise<F64Tensor> => f64([...x.shape], await x.read());
const meanHw = (x: F64Tensor): F64Tensor => {
  const [N, C, H, W] = x.shape, out = f64([N, C, 1, 1]);
  for (let i = 0; i < N * C; i++) { let a = 0; for (let p = 0; p < H * W; p++) a += x.data[i * H * W + p]; out.data[i] = a / (H * W); }
  return out;
};
const perChannel = (x: F64Tensor, f: (v: number, c: number) => number): F64Tensor => {
  const [, C, H, W] = x.shape, out = f64(x.shape);
  x.data.forEach((v, i) => { out.data[i] = f(v, Math.floor(i / (H * W)) % C); });
  return out;
};
const sig = (v: number) => 1 / (1 + Math.exp(-v));
const relu = (v: number) => Math.max(v, 0);
/** y[n,c,p] = f(x[n,c,p], g[n,c]) for a [N,C,1,1] g. */
const gate = (x: F64Tensor, g: F64Tensor, f: (v: number, g: number) => number): F64Tensor => {
  const [, , H, W] = x.shape, out = f64(x.shape);
  x.data.forEach((v, i) => { out.data[i] = f(v, g.data[Math.floor(i / (H * W))]); });
  return out;
};
/** Random running statistics and shift for a BN, written into the layer; returns (v, c) ↦ bn(v). */
async function randomBn(bn: BatchNorm2d, seed: number): Promise<(v: number, c: number) => number> {
  const C = bn.numFeatures, m = randn([C], seed, 0.3).data, v = randn([C], seed + 1).data.map((q) => 0.5 + q * q), beta = randn([C], seed + 2, 0.5).data;
  bn.running_mean.write(Float32Array.from(m)); bn.running_var.write(Float32Array.from(v)); bn.bias.write(Float32Array.from(beta));
  return (x, c) => (x - m[c]) / Math.sqrt(v[c] + bn.eps) + beta[c];
}

t('attention refinement vs float64: x ⊙ σ(BN(relu(conv1×1(mean_hw x)))), forward and input gradient', async () => {
  const arm = new AttentionRefinement(6);
  arm.train(false);
  const bn = await randomBn(arm.bn, 5);
  const [w, b] = [await host(arm.conv.weight), await host(arm.conv.bias!)];
  const ref = (x: F64Tensor) => {
    const z = conv2dRef(meanHw(x), w, b, {});
    return gate(x, perChannel(z, (v, c) => sig(bn(relu(v), c))), (v, g) => v * g);
  };
  const xs = [randn([2, 6, 5, 7], 11)];
  await checkForward((x) => arm.forward(x), ref, xs, { rtol: 1e-4, atol: 1e-5 });
  await checkGrad((x) => arm.forward(x), ref, xs, { rtol: 2e-3, atol: 2e-4 });
  arm.dispose();
});

t('feature fusion vs float64: f = relu(BN(conv3×3(a ‖ b))), f + f ⊙ σ(relu(conv(relu(conv(mean f))))), forward and input gradients', async () => {
  const ffm = new FeatureFusion(7, 5);
  ffm.train(false);
  const bn = await randomBn(ffm.convblock.bn, 9);
  const [w0, b0, w1, b1, w2, b2] = await Promise.all([ffm.convblock.conv.weight, ffm.convblock.conv.bias!, ffm.conv1.weight, ffm.conv1.bias!,
    ffm.conv2.weight, ffm.conv2.bias!].map(host));
  const ref = (a: F64Tensor, c: F64Tensor) => {
    const f = perChannel(conv2dRef(concatRef([a, c]), w0, b0, { padding: [1, 1] }), (v, ch) => relu(bn(v, ch)));
    const z1 = perChannel(conv2dRef(meanHw(f), w1, b1, {}), relu);
    const g = perChannel(conv2dRef(z1, w2, b2, {}), (v) => sig(relu(v)));
    return gate(f, g, (v, q) => v + v * q);
  };
  const xs = [randn([2, 3, 5, 6], 21), randn([2, 4, 5, 6], 22)];
  await checkForward((a, c) => ffm.forward(a, c), ref, xs, { rtol: 1e-4, atol: 1e-5 });
  await checkGrad((a, c) => ffm.forward(a, c), ref, xs, { rtol: 2e-3, atol: 2e-4 });
  ffm.dispose();
});

t.run();
