import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../src/engine/rng.js';
import { ERFNet } from '../src/models/erfnet.js';

const t = suite('erfnet');

t('ERFNet parameter count and state-dict names match the reference', () => {
  const net = new ERFNet({ rng: new Rng(1) });
  assert.is(net.numParameters(), 2_066_836);
  const keys = [...net.stateDict().keys()];
  assert.is(keys.length, 306);   // 39 BNs × 4 + 75 conv weights and biases
  for (const k of ['encoder.initial_block.conv.weight', 'encoder.initial_block.bn.running_var', 'encoder.layers.0.conv.bias',
    'encoder.layers.7.conv3x1_2.weight', 'encoder.layers.14.bn2.running_mean', 'encoder.output_conv.weight',
    'decoder.layers.0.conv.weight', 'decoder.layers.5.conv1x3_2.bias', 'decoder.output_conv.bias']) {
    assert.ok(keys.includes(k), `missing ${k}`);
  }
  const sd = net.stateDict();
  assert.equal(sd.get('encoder.layers.7.conv3x1_2.weight')!.shape, [128, 128, 3, 1]);
  assert.equal(sd.get('decoder.layers.0.conv.weight')!.shape, [128, 64, 3, 3]);
  assert.equal(sd.get('decoder.output_conv.weight')!.shape, [16, 20, 2, 2]);
  net.dispose();
  const noOut = new ERFNet({ encoderOutputConv: false, rng: new Rng(1) });
  assert.is(noOut.numParameters(), 2_064_256);
  noOut.dispose();
});
t.run();

const t2 = suite('erfnet-train');
t2('a tiny ERFNet configuration learns: cross-entropy falls on a fixed batch', async () => {
  const { backward } = await import('../src/engine/autograd.js');
  const { keep, scope } = await import('../src/engine/scope.js');
  const { tensor } = await import('../src/engine/tensor.js');
  const { crossEntropy } = await import('../src/kernels/losses.js');
  const { Adam } = await import('../src/optim/adam.js');
  const { syntheticScene } = await import('../src/data/synthetic.js');
  const [N, H, W] = [2, 16, 32];
  const scenes = [0, 1].map((i) => syntheticScene(4, i, W, H));
  const x = tensor(Float32Array.from(scenes.flatMap((s) => [...s.image])), [N, 3, H, W]);
  const y = tensor(Int32Array.from(scenes.flatMap((s) => [...s.label])), [N, H, W]);
  const net = new ERFNet({ rng: new Rng(3) });
  const opt = new Adam(net.parameters(), { lr: 2e-3 });
  const losses: number[] = [];
  for (let s = 0; s < 12; s++) {
    const l = scope(() => {
      const loss = keep(crossEntropy(net.forward(x), y, { ignoreIndex: 19 }));
      backward(loss); opt.step(); opt.zeroGrad();
      return loss;
    });
    losses.push(await l.item());
    l.dispose();
  }
  assert.ok(losses[11] < 0.85 * losses[0], `loss ${losses.map((v) => v.toFixed(3)).join(' ')}`);
  opt.dispose(); net.dispose(); x.dispose(); y.dispose();
});
t2.run();
