// BiSeNet as the MSSA seed's code releases it (seed-specs §3.2, §3.5): parameter counts of the
// torchvision-layout port, ResNet-18's against torchvision, state-dict names, forward shapes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad } from '../src/engine/autograd.js';
import { scope } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { BatchNorm2d } from '../src/models/layers.js';
import { BiSeNet, bisenetParameters } from '../src/models/bisenet.js';
import { ResNetBackbone, resnetParameters } from '../src/models/resnet.js';

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

t.run();
