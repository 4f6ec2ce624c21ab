// Times ERFNet training steps on the current adapter (scratch measurement, not the bench).
import { Adam, backward, crossEntropy, initEngine, keep, scope, tensor } from '../src/index.js';
import { ERFNet } from '../src/models/erfnet.js';
import { createNodeDevice } from '../src/node/index.js';

const [N, H, W] = (process.argv[2] ?? '2,64,128').split(',').map(Number);
const { device } = await createNodeDevice();
const engine = initEngine(device);
const net = new ERFNet();
const x = tensor(Float32Array.from({ length: N * 3 * H * W }, () => Math.random()), [N, 3, H, W]);
const y = tensor(Int32Array.from({ length: N * H * W }, () => Math.floor(Math.random() * 19)), [N, H, W]);
const opt = new Adam(net.parameters(), { lr: 5e-4, weightDecay: 1e-4 });
for (let s = 0; s < 4; s++) {
  const t0 = performance.now();
  const loss = scope(() => {
    const l = keep(crossEntropy(net.forward(x), y));
    backward(l); opt.step(); opt.zeroGrad();
    return l;
  });
  const v = await loss.item();
  loss.dispose();
  console.log(`step ${s}: loss ${v.toFixed(4)} ${(performance.now() - t0).toFixed(0)} ms, live ${(engine.pool.bytesLive / 1e6).toFixed(1)} MB, pipelines ${engine.pipelines.size}`);
}
engine.destroy(); device.destroy();
