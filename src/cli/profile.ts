// mirage profile: GPU time per layer (forward and backward) and per kernel of one training step of
// any registered model (its System's step: for the feedback model the U-Net, ERFNet and the
// unrolled iterations).
import { lossScalerFor } from '../train/system.js';
import { getEngine } from '../engine/engine.js';
import type { KernelTiming } from '../engine/profiler.js';
import { keep, scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { syntheticScene } from '../data/synthetic.js';
import { resizeLabel } from '../data/transforms.js';
import { type OptionValue, getModel, resolveOptions } from '../models/registry.js';
import { TurbulenceSimulator } from '../sim/turbulence.js';
import { OPTIMIZERS, formatSpec, makeOptimizers, parseSpec } from '../train/recipe.js';
import { startEngine } from './common.js';

export interface ProfileArgs {
  model: string; height?: number; width?: number; batchSize: number; seed: number; top: number;
  /** Model options given as flags (e.g. unet-width); the model's demo recipe fills the rest. */
  options: Record<string, OptionValue | undefined>;
}

/** Label of dispatches outside any model layer. */
const OUTSIDE = '(loss, optimizer, grads)';

/** One training step of the chosen model on synthetic scenes (its default recipe's optimizers), and how to free it. */
function makeStep(a: ProfileArgs, N: number, H: number, W: number): { title: string; step: () => void; dispose: () => void } {
  const spec = getModel(a.model);
  const given = Object.fromEntries(Object.entries(a.options).filter(([, v]) => v !== undefined));
  const o = resolveOptions(spec, given, 'demo');
  const m = spec.multiple(o), down = spec.labelDownscale?.(o) ?? 1;
  if (H % m || W % m) throw new Error(`${spec.name} needs --height/--width that are multiples of ${m}, got ${H}x${W}`);
  const scenes = Array.from({ length: N }, (_, i) => syntheticScene(a.seed, i, W, H));
  const x = tensor(Float32Array.from(scenes.flatMap((s) => [...s.image])), [N, 3, H, W]);
  const labels = scenes.flatMap((s) => [...(down > 1 ? resizeLabel(s.label, W, H, W / down, H / down) : s.label)]);
  const y = tensor(Int32Array.from(labels), [N, H / down, W / down], { dtype: 'i32' });
  const system = spec.build(o, { numClasses: 20, ignoreIndex: 19, weight: null, seed: a.seed, init: false, inputSize: [H, W] });
  const recipe = spec.recipes.default;
  const opts = makeOptimizers(system.groups, recipe.optimizer, spec.name);
  const scaler = lossScalerFor(system, opts, getEngine().precision, spec.name);   // --precision f16: the step with its loss scaling
  // distorting models get one distorted batch, made before profiling (the simulator is not the model)
  const sim = spec.distortion === 'always' ? new TurbulenceSimulator(H, W, {}) : null;
  const input = sim ? keep(sim.distort(x, 1).image) : x;
  const opt = Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
  return {
    title: `one ${spec.name} training step (${opt || 'defaults'}; ${Object.entries(recipe.optimizer).map(([g, s]) => `${g} ${formatSpec(parseSpec(s, OPTIMIZERS, 'recipe'), OPTIMIZERS)}`).join(', ')}${scaler ? `; f16 ${getEngine().halfStorage ? 'activations and ' : ''}GEMM operands, loss scaling` : ''}), ${N}x3x${H}x${W}`,
    step: () => scope(() => { system.trainStep({ input, clean: x, labels: y, scaler: scaler ?? undefined }, opts); scaler?.update(); }),
    dispose: () => {
      for (const op of Object.values(opts)) op.dispose();
      scaler?.dispose();
      system.dispose(); sim?.dispose();
      for (const t of new Set([x, y, input])) t.dispose();
    },
  };
}

/** The model a layer label belongs to, for the per-model totals. */
const modelOf = (label: string) => (label.startsWith('unet.') ? 'U-Net' : label === OUTSIDE ? OUTSIDE
  : /^(encoder|decoder)\./.test(label) ? 'ERFNet' : label.split('.')[0]);

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
  getModel(a.model);
  const height = a.height ?? getModel(a.model).recipes.demo.height;
  const [N, H, W] = [a.batchSize, height, a.width ?? 2 * height];
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
