// mirage profile: GPU time per layer (forward and backward) and per kernel of one training step.
import { backward } from '../engine/autograd.js';
import { Rng } from '../engine/rng.js';
import { scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { syntheticScene } from '../data/synthetic.js';
import { crossEntropy } from '../kernels/losses.js';
import { ERFNet } from '../models/erfnet.js';
import { Adam } from '../optim/adam.js';
import { startEngine } from './common.js';

export interface ProfileArgs { model: string; height: number; width?: number; batchSize: number; seed: number; top: number }

export async function profile(a: ProfileArgs): Promise<void> {
  if (a.model !== 'erfnet') throw new Error(`--model ${a.model}: only 'erfnet' is available`);
  const [N, H, W] = [a.batchSize, a.height, a.width ?? 2 * a.height];
  if (H % 8 || W % 8) throw new Error(`--height/--width must be multiples of 8, got ${H}x${W}`);
  const { engine, close } = await startEngine(a.seed);
  try {
    const scenes = Array.from({ length: N }, (_, i) => syntheticScene(a.seed, i, W, H));
    const x = tensor(Float32Array.from(scenes.flatMap((s) => [...s.image])), [N, 3, H, W]);
    const y = tensor(Int32Array.from(scenes.flatMap((s) => [...s.label])), [N, H, W], { dtype: 'i32' });
    const net = new ERFNet({ rng: new Rng(a.seed) });
    const opt = new Adam(net.parameters(), { lr: 5e-4, weightDecay: 1e-4 });
    const step = () => scope(() => { backward(crossEntropy(net.forward(x), y, { ignoreIndex: 19 })); opt.step(); opt.zeroGrad(); });
    step();
    await engine.sync();                       // warm-up: pipelines compiled, optimizer state allocated
    engine.startProfiling();
    step();
    const t = await engine.stopProfiling();
    const total = t.reduce((s, v) => s + v.ms, 0);
    const layers = new Map<string, { fwd: number; bwd: number; n: number }>();
    const kernels = new Map<string, { ms: number; n: number }>();
    for (const { name, ms } of t) {
      const [label, kern] = name.includes('|') ? name.split('|') : ['(loss, optimizer, grads)', name];
      const bwd = label.endsWith(' (backward)');
      const key = bwd ? label.slice(0, -' (backward)'.length) : label;
      const l = layers.get(key) ?? { fwd: 0, bwd: 0, n: 0 };
      if (bwd) l.bwd += ms; else l.fwd += ms;
      l.n++;
      layers.set(key, l);
      const k = kernels.get(kern) ?? { ms: 0, n: 0 };
      k.ms += ms; k.n++;
      kernels.set(kern, k);
    }
    console.log(`one ERFNet training step (Adam), ${N}x3x${H}x${W}: ${total.toFixed(1)} ms GPU time in ${t.length} dispatches\n`);
    console.log(`${'layer'.padEnd(26)} ${'forward ms'.padStart(10)} ${'backward ms'.padStart(11)} ${'total ms'.padStart(9)} ${'share'.padStart(6)}`);
    for (const [name, l] of layers) {
      console.log(`${name.padEnd(26)} ${l.fwd.toFixed(2).padStart(10)} ${l.bwd.toFixed(2).padStart(11)} ${(l.fwd + l.bwd).toFixed(2).padStart(9)} ` +
        `${((100 * (l.fwd + l.bwd)) / total).toFixed(1).padStart(5)}%`);
    }
    console.log(`\n${'kernel'.padEnd(26)} ${'calls'.padStart(6)} ${'ms'.padStart(9)} ${'share'.padStart(6)}`);
    for (const [name, k] of [...kernels].sort((p, q) => q[1].ms - p[1].ms).slice(0, a.top)) {
      console.log(`${name.padEnd(26)} ${String(k.n).padStart(6)} ${k.ms.toFixed(2).padStart(9)} ${((100 * k.ms) / total).toFixed(1).padStart(5)}%`);
    }
    opt.dispose(); net.dispose(); x.dispose(); y.dispose();
  } finally {
    close();
  }
}
