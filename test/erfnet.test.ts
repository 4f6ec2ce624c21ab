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
