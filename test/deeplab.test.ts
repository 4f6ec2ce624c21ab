import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { noGrad } from '../src/engine/autograd.js';
import type { HostTensor } from '../src/engine/module.js';
import { scope } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { readWeights } from '../src/io/checkpoint.js';
import { writeSafetensors } from '../src/io/safetensors-file.js';
import { getModel, resolveOptions } from '../src/models/registry.js';
import { DeepLabV3Plus } from '../src/models/deeplabv3plus.js';
import { loadModel } from '../src/train/load.js';

const t = suite('deeplabv3plus');
const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mirage-deeplab-'));

/** The reference's state-dict key count: parameters and BN buffers, plus one num_batches_tracked per BN (seed-specs §4.6). */
const keysOf = (m: DeepLabV3Plus) => [...m.stateDict().keys()];
const bnCount = (keys: string[]) => keys.filter((k) => k.endsWith('running_var')).length;

t('state-dict names and counts: R50 (363 tensors with 60 num_batches_tracked), WRN-38 (268 with 43)', () => {
  const r50 = new DeepLabV3Plus({ trunk: 'resnet50', numClasses: 19 });
  const k = keysOf(r50);
  assert.is(k.length + bnCount(k), 363);
  assert.is(bnCount(k), 60);
  for (const key of ['layer0.0.weight', 'layer0.1.running_mean', 'layer1.0.conv1.weight', 'layer1.0.downsample.0.weight', 'layer1.0.downsample.1.bias',
    'layer4.2.bn3.weight', 'aspp.img_conv.0.weight', 'aspp.img_conv.1.running_var', 'aspp.features.0.0.weight', 'aspp.features.3.1.bias',
    'bot_fine.weight', 'bot_aspp.weight', 'final.0.weight', 'final.1.weight', 'final.3.weight', 'final.4.running_mean', 'final.6.weight']) {
    assert.ok(k.includes(key), key);
  }
  assert.equal(r50.stateDict().get('aspp.features.3.0.weight')!.shape, [256, 2048, 3, 3]);
  assert.equal(r50.stateDict().get('final.6.weight')!.shape, [19, 256, 1, 1]);
  r50.dispose();
  const wrn = new DeepLabV3Plus({ trunk: 'wrn38', numClasses: 19 });
  const w = keysOf(wrn);
  assert.is(w.length + bnCount(w), 268);
  assert.is(bnCount(w), 43);
  for (const key of ['mod1.conv1.weight', 'mod2.block1.bn1.0.weight', 'mod2.block1.convs.conv1.weight', 'mod2.block1.convs.bn2.0.running_var',
    'mod2.block1.proj_conv.weight', 'mod4.block6.convs.conv2.weight', 'mod6.block1.convs.bn3.0.weight', 'mod7.block1.convs.conv3.weight', 'bot_fine.weight']) {
    assert.ok(w.includes(key), key);
  }
  assert.ok(!w.some((x) => x.startsWith('bn_out') || x.startsWith('classifier')), 'no bn_out, no classifier');
  assert.equal(wrn.stateDict().get('bot_fine.weight')!.shape, [48, 128, 1, 1]);
  wrn.dispose();
});

t('forward: logits at the input size, with the constant ignore channel appended (NVIDIA layout)', async () => {
  const spec = getModel('deeplabv3plus-r50');
  const o = resolveOptions(spec, { 'output-stride': 16 });
  const sys = spec.build(o, { numClasses: 6, ignoreIndex: 5, weight: null, seed: 3, init: false });
  sys.train(false);
  const x = tensor(Float32Array.from({ length: 2 * 3 * 48 * 40 }, (_, i) => (i % 7) / 7), [2, 3, 48, 40]);
  const out = scope(() => sys.evalStep(x, null, null).logits[0]);
  assert.equal(out.shape, [2, 6, 48, 40]);
  const v = await out.read();
  assert.ok(v.slice(5 * 48 * 40, 6 * 48 * 40).every((q) => q === -1e4), 'ignore channel');
  assert.ok(v.slice(0, 5 * 48 * 40).every(Number.isFinite));
  for (const q of [x, out]) q.dispose();
  sys.dispose();
  assert.throws(() => spec.build(o, { numClasses: 6, ignoreIndex: 0, weight: null, seed: 3, init: false }), /ignore class must be the last/);
});

t('relaxed loss: the model\'s loss changes to boundary-weighted CE after --rlx-off-epoch', async () => {
  const spec = getModel('deeplabv3plus-r50');
  const o = resolveOptions(spec, { 'output-stride': 16, 'rlx-off-epoch': 2 });
  const sys = spec.build(o, { numClasses: 4, ignoreIndex: 3, weight: null, seed: 3, init: false });
  const x = tensor(Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => (i % 5) / 5), [1, 3, 32, 32]);
  const y = tensor(Int32Array.from({ length: 32 * 32 }, (_, i) => ((i >> 3) + (i >> 8)) % 4), [1, 32, 32]);
  const lossAt = async (e: number) => {
    sys.setEpoch?.(e);
    return (await noGrad(() => scope(() => (sys as unknown as { o: { lossFn: (l: unknown, y: unknown) => { read(): Promise<Float32Array> } } })
      .o.lossFn((sys.module as DeepLabV3Plus).forward(x), y))).read())[0];
  };
  sys.train(false);
  const [a, b, c] = [await lossAt(0), await lossAt(2), await lossAt(3)];
  assert.is(a, b, 'relaxed up to epoch 2');
  assert.ok(Math.abs(c - a) > 1e-3 * Math.abs(a), `epoch 3 switches: ${a} vs ${c}`);
  for (const q of [x, y]) q.dispose();
  sys.dispose();
});

t("an NVIDIA-layout SE-ResNeXt-50 checkpoint (torch 1.1 legacy format, 'module.' keys, num_batches_tracked) loads strictly", () => {
  const ref = new DeepLabV3Plus({ trunk: 'seresnext50', numClasses: 19 });
  const keys: [string, number[]][] = [];
  for (const [k, v] of ref.stateDict()) {
    keys.push([k, [...v.shape]]);
    if (k.endsWith('running_var')) keys.push([k.replace(/running_var$/, 'num_batches_tracked'), []]);
  }
  ref.dispose();
  assert.is(keys.length, 427, 'seed-specs §4.6: 427 state-dict tensors');
  writeFileSync(join(dir, 'keys.json'), JSON.stringify(keys));
  const pth = join(dir, 'cityscapes_cv0_seresnext50_nosdcaug.pth');
  execFileSync('python3', [join(here, '..', '..', 'test', 'fixtures', 'make_nvidia_pth.py'), join(dir, 'keys.json'), pth]);
  const w = readWeights(pth);
  assert.is(w.tensors.size, 367);
  const m = loadModel(pth, 'deeplabv3plus-srnx50', 20, w);
  assert.is(m.numClasses, 20, '19 classes + ignore');
  assert.is(m.options['void-channel'], false);
  const sd = m.system.module.stateDict();
  const idx = keys.findIndex(([k]) => k === 'layer2.1.se_module.fc2.bias');
  return sd.get('layer2.1.se_module.fc2.bias')!.read().then((v) => {
    assert.ok(Math.abs(v[0] - idx / 1000) < 1e-6, `value of tensor ${idx}`);
    // a missing key and a wrong shape are both listed
    const broken = new Map<string, HostTensor>(w.tensors);
    broken.delete('layer3.4.conv2.weight');
    broken.set('final.0.weight', { shape: [256, 300, 3, 3], data: new Float32Array(256 * 300 * 9) });
    assert.throws(() => loadModel(pth, 'deeplabv3plus-srnx50', 20, { tensors: broken, meta: {} }),
      (e: Error) => /missing keys \(1\): layer3\.4\.conv2\.weight/.test(e.message) && /final\.0\.weight: checkpoint \[256,300,3,3\] vs model \[256,304,3,3\]/.test(e.message));
    assert.throws(() => loadModel(pth, 'deeplabv3plus-r50', 20, w), /is not a deeplabv3plus-r50 state dict \(its keys are those of deeplabv3plus-srnx50\)/);
    // without --model, the keys name the trunk
    const found = loadModel(pth, undefined, 20, w);
    assert.is(found.spec.name, 'deeplabv3plus-srnx50');
    found.system.dispose();
    m.system.dispose();
    rmSync(pth);
  });
});

t('--pretrained-backbone: torchvision ResNet-50 names load into the backbone, the head stays; mismatches are listed', async () => {
  const spec = getModel('deeplabv3plus-r50');
  const src = new DeepLabV3Plus({ trunk: 'resnet50', numClasses: 19, seed: 7 });
  const host = await src.stateDictHost();
  src.dispose();
  const file = new Map<string, HostTensor>();
  for (const [k, v] of host) {
    if (/^(aspp|bot_aspp|bot_fine|final)\./.test(k)) continue;
    file.set(k.replace(/^layer0\.0\./, 'conv1.').replace(/^layer0\.1\./, 'bn1.'), v);
  }
  file.set('fc.weight', { shape: [1000, 2048], data: new Float32Array(2048000) });
  file.set('fc.bias', { shape: [1000], data: new Float32Array(1000) });
  assert.ok(file.has('conv1.weight') && file.has('bn1.running_var') && file.has('layer4.2.bn3.bias'));
  const path = join(dir, 'resnet50-imagenet.safetensors');
  writeSafetensors(path, file);
  const logs: string[] = [];
  const ctx = { numClasses: 20, ignoreIndex: 19, weight: null, seed: 1, init: true, readWeights, log: (l: string) => logs.push(l) };
  const sys = spec.build(resolveOptions(spec, { 'pretrained-backbone': path }), ctx);
  assert.match(logs.join(), /backbone initialised from .*resnet50-imagenet.safetensors \(\d+ tensors\)/);
  const sd = sys.module.stateDict();
  const got = await sd.get('layer3.4.conv2.weight')!.read(), want = host.get('layer3.4.conv2.weight')!.data;
  assert.ok(got.every((v, i) => v === want[i]), 'backbone tensor from the file');
  const stem = await sd.get('layer0.0.weight')!.read();
  assert.ok(stem.every((v, i) => v === host.get('layer0.0.weight')!.data[i]), 'conv1 → layer0.0');
  const head = await sd.get('final.6.weight')!.read();
  assert.ok(head.some((v, i) => v !== host.get('final.6.weight')!.data[i]), 'the head is not from the file');
  sys.dispose();
  // a missing, an unexpected and a mis-shaped key are all named
  file.delete('layer2.1.bn2.running_mean');
  file.set('layer5.0.conv1.weight', { shape: [1], data: new Float32Array(1) });
  file.set('layer1.0.conv1.weight', { shape: [64, 64, 3, 3], data: new Float32Array(64 * 64 * 9) });
  writeSafetensors(path, file);
  assert.throws(() => spec.build(resolveOptions(spec, { 'pretrained-backbone': path }), ctx), (e: Error) =>
    /--pretrained-backbone .*: not resnet50 ImageNet weights/.test(e.message) && /missing keys \(1\): layer2\.1\.bn2\.running_mean/.test(e.message) &&
    /unexpected keys \(1\): layer5\.0\.conv1\.weight/.test(e.message) && /layer1\.0\.conv1\.weight: file \[64,64,3,3\] vs model \[64,64,1,1\]/.test(e.message));
  rmSync(path);
});

t.after(() => rmSync(dir, { recursive: true, force: true }));
t.run();
