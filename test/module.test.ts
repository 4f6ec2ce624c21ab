import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Module } from '../src/engine/module.js';
import { Rng } from '../src/engine/rng.js';
import type { Tensor } from '../src/engine/tensor.js';
import { BatchNorm2d, Conv2d, ConvTranspose2d, Linear } from '../src/models/layers.js';

const t = suite('module');

class Block extends Module {
  readonly conv3x1_1 = new Conv2d(4, 4, [3, 1], { padding: [1, 0], rng: new Rng(1) });
  readonly bn1 = new BatchNorm2d(4, { eps: 1e-3 });
}
class Net extends Module {
  readonly initial = new Conv2d(3, 4, 3, { stride: 2, padding: 1, rng: new Rng(2) });
  readonly layers = [new Block(), new Block()];
  readonly up = new ConvTranspose2d(4, 2, 2, { stride: 2, rng: new Rng(3) });
  readonly fc = new Linear(5, 3, { bias: false, rng: new Rng(4) });
  forward(x: Tensor) { return x; }
}

t('state-dict names, order and parameter count follow PyTorch', async () => {
  const net = new Net();
  const keys = [...net.stateDict().keys()];
  assert.equal(keys, [
    'initial.weight', 'initial.bias',
    'layers.0.conv3x1_1.weight', 'layers.0.conv3x1_1.bias',
    'layers.0.bn1.weight', 'layers.0.bn1.bias', 'layers.0.bn1.running_mean', 'layers.0.bn1.running_var',
    'layers.1.conv3x1_1.weight', 'layers.1.conv3x1_1.bias',
    'layers.1.bn1.weight', 'layers.1.bn1.bias', 'layers.1.bn1.running_mean', 'layers.1.bn1.running_var',
    'up.weight', 'up.bias', 'fc.weight',
  ]);
  assert.is(net.numParameters(), (3 * 4 * 9 + 4) + 2 * (4 * 4 * 3 + 4 + 8) + (4 * 2 * 4 + 2) + 15);
  assert.equal(net.stateDict().get('up.weight')!.shape, [4, 2, 2, 2]);
  // PyTorch default init bound 1/sqrt(fan_in); ConvTranspose fan_in = out·kh·kw
  const w = await net.stateDict().get('up.weight')!.read();
  assert.ok(Math.max(...w.map(Math.abs)) <= 1 / Math.sqrt(2 * 4) && Math.max(...w.map(Math.abs)) > 0.2);
  net.dispose();
});

t('loadStateDict round-trips and reports every bad key and shape at once', async () => {
  const a = new Net(), b = new Net();
  const host = await a.stateDictHost();
  host.get('initial.bias')!.data.fill(7);
  b.loadStateDict(host);
  assert.equal([...(await b.stateDict().get('initial.bias')!.read())], [7, 7, 7, 7]);
  const bad = new Map(host);
  bad.delete('fc.weight');
  bad.set('extra.weight', { shape: [1], data: new Float32Array(1) });
  bad.set('up.bias', { shape: [3], data: new Float32Array(3) });
  const before = await b.stateDict().get('initial.weight')!.read();
  bad.get('initial.weight')!.data.fill(-1);
  try {
    b.loadStateDict(bad);
    assert.unreachable('should throw');
  } catch (e) {
    const m = String((e as Error).message);
    assert.match(m, /missing keys \(1\): fc.weight/);
    assert.match(m, /unexpected keys \(1\): extra.weight/);
    assert.match(m, /up.bias: checkpoint \[3\] vs model \[2\]/);
  }
  assert.equal([...(await b.stateDict().get('initial.weight')!.read())], [...before], 'nothing written on error');
  a.dispose(); b.dispose();
});

t('train/eval propagates to children', () => {
  const net = new Net();
  net.eval();
  assert.is(net.layers[1].bn1.training, false);
  net.train();
  assert.is(net.layers[1].bn1.training, true);
  net.dispose();
});
t.run();
