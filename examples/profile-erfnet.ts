// Per-kernel GPU time of one ERFNet training step (scratch tool until `mirage profile` exists).
import { Adam, backward, crossEntropy, initEngine, keep, scope, tensor } from '../src/index.js';
import { summarize } from '../src/engine/profiler.js';
import { ERFNet } from '../src/models/erfnet.js';
import { createNodeDevice } from '../src/node/index.js';

const [N, H, W] = (process.argv[2] ?? '2,64,128').split(',').map(Number);
const { device } = await createNodeDevice();
const engine = initEngine(device);
const net = new ERFNet();
const x = tensor(Float32Array.from({ length: N * 3 * H * W }, () => Math.random()), [N, 3, H, W]);
const y = tensor(Int32Array.from({ length: N * H * W }, () => Math.floor(Math.random() * 19)), [N, H, W]);
const opt = new Adam(net.parameters(), { lr: 5e-4, weightDecay: 1e-4 });
const step = () => scope(() => {
  const l = keep(crossEntropy(net.forward(x), y));
  backward(l); opt.step(); opt.zeroGrad();
  return l;
});
(step()).dispose();
await engine.sync();
engine.startProfiling();
step().dispose();
const t = await engine.stopProfiling();
const total = t.reduce((a, b) => a + b.ms, 0);
console.log(`total GPU ${total.toFixed(1)} ms over ${t.length} dispatches`);
for (const r of summarize(t).slice(0, 14)) console.log(`${r.name.padEnd(24)} ${String(r.calls).padStart(5)} ${r.ms.toFixed(1).padStart(9)} ms ${(100 * r.ms / total).toFixed(1).padStart(5)}%`);
engine.destroy(); device.destroy();
