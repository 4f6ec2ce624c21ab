import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backward } from '../src/engine/autograd.js';
import { getEngine } from '../src/engine/engine.js';
import { Module } from '../src/engine/module.js';
import { Rng } from '../src/engine/rng.js';
import { keep, scope } from '../src/engine/scope.js';
import { type Tensor, tensor } from '../src/engine/tensor.js';
import { relu } from '../src/kernels/elementwise.js';
import { crossEntropy } from '../src/kernels/losses.js';
import { BatchNorm2d, Conv2d } from '../src/models/layers.js';
import { Adam } from '../src/optim/adam.js';
import { randn } from './reference/core.js';

const t = suite('train');

class TinyNet extends Module {
  readonly conv1 = new Conv2d(3, 8, 3, { padding: 1, rng: new Rng(1) });
  readonly bn1 = new BatchNorm2d(8);
  readonly conv2 = new Conv2d(8, 3, 1, { rng: new Rng(2) });
  forward(x: Tensor): Tensor { return this.conv2.forward(relu(this.bn1.forward(this.conv1.forward(x)))); }
}

t('conv-BN-ReLU net fits a fixed batch with Adam; pool live bytes constant over 200 steps', async () => {
  const e = getEngine();
  const [N, H, W] = [4, 11, 13];
  const xh = randn([N, 3, H, W], 5);
  const labels = new Int32Array(N * H * W);   // class = argmax over the input's channels
  for (let n = 0; n < N; n++) for (let p = 0; p < H * W; p++) {
    const v = [0, 1, 2].map((c) => xh.data[(n * 3 + c) * H * W + p]);
    labels[n * H * W + p] = v.indexOf(Math.max(...v));
  }
  const x = tensor(Float32Array.from(xh.data), [N, 3, H, W]), y = tensor(labels, [N, H, W]);
  const net = new TinyNet();
  const opt = new Adam(net.parameters(), { lr: 0.03 });
  const losses: number[] = [];
  let live = -1;
  for (let step = 0; step < 200; step++) {
    const loss = scope(() => {
      const l = keep(crossEntropy(net.forward(x), y));
      backward(l);
      opt.step();
      opt.zeroGrad();
      return l;
    });
    if (step % 20 === 0 || step === 199) losses.push(await loss.item());
    loss.dispose();
    if (step === 0) live = e.pool.bytesLive;
    else assert.is(e.pool.bytesLive, live, `live bytes changed at step ${step}`);
  }
  const [first, last] = [losses[0], losses[losses.length - 1]];
  if (process.env.MIRAGE_VERBOSE) console.log(`\n    losses every 20 steps: ${losses.map((l) => l.toFixed(4)).join(" ")}`);
  assert.ok(last < first / 20, `loss ${first.toFixed(4)} → ${last.toFixed(4)} did not fall 20×: ${losses.map((l) => l.toFixed(3))}`);
  opt.dispose(); net.dispose(); x.dispose(); y.dispose();
});
t.run();
