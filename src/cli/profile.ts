// mirage profile: GPU time per layer (forward and backward) and per kernel of one training step,
// of ERFNet or of the feedback system (restoration U-Net + ERFNet, unrolled iterations).
import { backward } from '../engine/autograd.js';
import type { KernelTiming } from '../engine/profiler.js';
import { Rng } from '../engine/rng.js';
import { scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { syntheticScene } from '../data/synthetic.js';
import { crossEntropy } from '../kernels/losses.js';
import { ERFNet } from '../models/erfnet.js';
import { RestorationUNet } from '../models/restoration-unet.js';
import { Adam } from '../optim/adam.js';
import { FeedbackSystem } from '../train/feedback.js';
import { startEngine } from './common.js';

export interface ProfileArgs {
  model: string; height: number; width?: number; batchSize: number; seed: number; top: number;
  unetWidth: number; unetDepth: number; iterations: number;
}

const PROFILED = ['erfnet', 'feedback'];
/** Label of dispatches outside any model layer. */
const OUTSIDE = '(loss, optimizer, grads)';

/** One training step of the chosen model on synthetic scenes, and how to free it. */
function makeStep(a: ProfileArgs, N: number, H: number, W: number): { title: string; step: () => void; dispose: () => void } {
  const scenes = Array.from({ length: N }, (_, i) => syntheticScene(a.seed, i, W, H));
  const x = tensor(Float32Array.from(scenes.flatMap((s) => [...s.image])), [N, 3, H, W]);
  const y = tensor(Int32Array.from(scenes.flatMap((s) => [...s.label])), [N, H, W], { dtype: 'i32' });
  if (a.model === 'erfnet') {
    const net = new ERFNet({ rng: new Rng(a.seed) });
    const opt = new Adam(net.parameters(), { lr: 5e-4, weightDecay: 1e-4 });
    return {
      title: `one ERFNet training step (Adam), ${N}x3x${H}x${W}`,
      step: () => scope(() => { backward(crossEntropy(net.forward(x), y, { ignoreIndex: 19 })); opt.step(); opt.zeroGrad(); }),
      dispose: () => { opt.dispose(); net.dispose(); x.dispose(); y.dispose(); },
    };
  }
  // feedback: the clean scene is the target; the input is the same scene shifted by a pixel, a
  // stand-in for distortion (the profile measures time, not what is learnt)
  const turb = tensor(Float32Array.from(scenes.flatMap((s) => [...s.image].map((_, i, im) => im[i - (i % W ? 1 : 0)]))), [N, 3, H, W]);
  const unet = new RestorationUNet({ depth: a.unetDepth, wf: a.unetWidth, rng: new Rng(a.seed) });
  const seg = new ERFNet({ encoderOutputConv: false, rng: new Rng(a.seed + 1) });
  const sys = new FeedbackSystem(unet, seg, { ignoreIndex: 19, loss: 'cbifl', iterations: a.iterations });
  const opt = { restore: new Adam(unet.parameters(), { lr: 2e-4 }), seg: new Adam(seg.parameters(), { lr: 5e-4, weightDecay: 2e-4 }) };
  return {
    title: `one feedback training step (U-Net depth ${a.unetDepth}, width ${2 ** a.unetWidth}, + ERFNet, ${a.iterations} iterations, CB-iFL), ${N}x3x${H}x${W}`,
    step: () => scope(() => { sys.run(turb, x, y, null, opt); }),
    dispose: () => { opt.restore.dispose(); opt.seg.dispose(); unet.dispose(); seg.dispose(); for (const t of [x, y, turb]) t.dispose(); },
  };
}

/** The model a layer label belongs to, for the per-model totals. */
const modelOf = (label: string) => (label.startsWith('unet.') ? 'U-Net' : label === OUTSIDE ? OUTSIDE : 'ERFNet');

/** Prints the per-layer, per-model and per-kernel tables of a profiled step. */
function printProfile(title: string, t: KernelTiming[], top: number): void {
  const total = t.reduce((s, v) => s + v.ms, 0);
  const layers = new Map<string, { fwd: number; bwd: number }>();
  const kernels = new Map<string, { ms: number; n: number }>();
  for (const { name, ms } of t) {
    const [label, kern] = name.includes('|') ? name.split('|') : [OUTSIDE, name];
    const bwd = label.endsWith(' (backward)');
    const key = bwd ? label.slice(0, -' (backward)'.length) : label;
    const l = layers.get(key) ?? { fwd: 0, bwd: 0 };
    if (bwd) l.bwd += ms; else l.fwd += ms;
    layers.set(key, l);
    const k = kernels.get(kern) ?? { ms: 0, n: 0 };
    k.ms += ms; k.n++;
    kernels.set(kern, k);
  }
  const row = (name: string, l: { fwd: number; bwd: number }) => `${name.padEnd(26)} ${l.fwd.toFixed(2).padStart(10)} ` +
    `${l.bwd.toFixed(2).padStart(11)} ${(l.fwd + l.bwd).toFixed(2).padStart(9)} ${((100 * (l.fwd + l.bwd)) / total).toFixed(1).padStart(5)}%`;
  const head = `${'layer'.padEnd(26)} ${'forward ms'.padStart(10)} ${'backward ms'.padStart(11)} ${'total ms'.padStart(9)} ${'share'.padStart(6)}`;
  console.log(`${title}: ${total.toFixed(1)} ms GPU time in ${t.length} dispatches\n\n${head}`);
  const outside = layers.get(OUTSIDE);
  layers.delete(OUTSIDE);
  if (outside) layers.set(OUTSIDE, outside);     // last: after the model's layers in their order
  for (const [name, l] of layers) console.log(row(name, l));
  const models = new Map<string, { fwd: number; bwd: number }>();
  for (const [name, l] of layers) {
    const m = models.get(modelOf(name)) ?? { fwd: 0, bwd: 0 };
    m.fwd += l.fwd; m.bwd += l.bwd;
    models.set(modelOf(name), m);
  }
  if (models.size > 2) {
    console.log(`\n${head.replace('layer', 'model')}`);
    for (const [name, m] of models) console.log(row(name, m));
  }
  console.log(`\n${'kernel'.padEnd(26)} ${'calls'.padStart(6)} ${'ms'.padStart(9)} ${'share'.padStart(6)}`);
  for (const [name, k] of [...kernels].sort((p, q) => q[1].ms - p[1].ms).slice(0, top)) {
    console.log(`${name.padEnd(26)} ${String(k.n).padStart(6)} ${k.ms.toFixed(2).padStart(9)} ${((100 * k.ms) / total).toFixed(1).padStart(5)}%`);
  }
}

export async function profile(a: ProfileArgs): Promise<void> {
  if (!PROFILED.includes(a.model)) throw new Error(`--model ${a.model}: profile knows ${PROFILED.join(' and ')}`);
  const [N, H, W] = [a.batchSize, a.height, a.width ?? 2 * a.height];
  if (H % 8 || W % 8) throw new Error(`--height/--width must be multiples of 8, got ${H}x${W}`);
  const { engine, close } = await startEngine(a.seed);
  try {
    const m = makeStep(a, N, H, W);
    m.step();
    await engine.sync();                       // warm-up: pipelines compiled, optimizer state allocated
    m.step();
    await engine.sync();                       // second step: the pool and the bind-group cache are warm
    engine.startProfiling(16384);
    m.step();
    printProfile(m.title, await engine.stopProfiling(), a.top);
    m.dispose();
  } finally {
    close();
  }
}
