// The settings of a training run: the model's recipe, then what the user gave. A new run resolves
// them once; a resumed run takes them from its checkpoint, and a flag that would change one of
// them is an error naming both values (only --epochs may change: training longer or shorter).
import { type ModelSpec, type OptionValue, type TrainingPlan, getModel, resolveOptions } from '../models/registry.js';
import { type TurbulenceParams, resolveTurbulence, storedTurbulence } from '../sim/turbulence.js';
import { OPTIMIZERS, SCHEDULES, formatSpec, parseSpec, withOption } from './recipe.js';

/** The recipe's plan as this run resolved it (optimizer and schedule specs in canonical form), and the rest. */
export interface RunConfig extends TrainingPlan {
  model: string;
  recipe: string;
  /** Model options (registry entry's), init-only ones included. */
  options: Record<string, OptionValue>;
  data: string;
  trainSize: number;
  valSize: number;
  seed: number;
  /** Simulator settings when inputs are heat-distorted (the simulator's defaults fill the rest), else null. */
  distortion: TurbulenceParams | null;
  iouTrain: boolean;
  /** 'f16': the GEMMs take f16 operands, with dynamic loss scaling (--precision f16); absent: f32. */
  precision?: 'f16';
}

/** What a user gave (undefined: not given, so the recipe or the checkpoint decides). */
export interface TrainFlags extends TurbulenceParams {
  model?: string;
  recipe?: string;
  /** Model options by flag name. */
  options?: Record<string, OptionValue | undefined>;
  data?: string;
  trainSize?: number;
  valSize?: number;
  seed?: number;
  height?: number;
  width?: number;
  epochs?: number;
  batchSize?: number;
  /** Optimizer / schedule of the main group (spec strings), its lr, weight decay and momentum. */
  optimizer?: string;
  schedule?: string;
  lr?: number;
  weightDecay?: number;
  momentum?: number;
  /** Learning rates of the other groups, by group (from the entry's groupLr flags). */
  groupLr?: Record<string, number | undefined>;
  classWeights?: string;
  flip?: boolean;
  translate?: number;
  scaleCrop?: string;
  cropSize?: string;
  colorAug?: number;
  gblur?: boolean;
  classUniformPct?: number;
  classUniformTile?: number;
  vflip?: boolean;
  rotate?: string;
  distort?: boolean;
  iouTrain?: boolean;
  precision?: 'f32' | 'f16';
}

const SIM_KEYS = ['sigma', 'corrLength', 'anisotropy', 'blur', 'cn2', 'pathLength', 'focalLength', 'aperture', 'pixelPitch', 'wavelength',
  'correlation', 'outerScale', 'keepMean', 'frames', 'frameCorrelation', 'fusion', 'egoMotion'] as const;
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function checkNumbers(c: RunConfig): void {
  const bad = (flag: string, v: unknown, want: string) => new Error(`--${flag} ${v}: must be ${want}`);
  if (!(Number.isInteger(c.epochs) && c.epochs >= 1)) throw bad('epochs', c.epochs, 'an integer ≥ 1');
  if (!(Number.isInteger(c.batchSize) && c.batchSize >= 1)) throw bad('batch-size', c.batchSize, 'an integer ≥ 1');
  // the feedback model's restoration pre-training takes epochs from the run; the segmenter needs some left
  const pre = Number(c.options?.['restore-pretrain'] ?? 0);
  if (pre > 0 && pre >= c.epochs) throw new Error(`--restore-pretrain ${pre}: must be fewer than --epochs ${c.epochs}, or the segmenter never trains`);
  if (!(Number.isInteger(c.trainSize) && c.trainSize >= 1)) throw bad('train-size', c.trainSize, 'an integer ≥ 1');
  if (!(Number.isInteger(c.valSize) && c.valSize >= 1)) throw bad('val-size', c.valSize, 'an integer ≥ 1');
  if (!(Number.isInteger(c.seed) && c.seed >= 0)) throw bad('seed', c.seed, 'an integer ≥ 0');
  if (!(c.translate >= 0)) throw bad('translate', c.translate, '≥ 0 pixels');
  if (c.scaleCrop !== undefined) {
    const s = c.scaleCrop.split(',').map(Number);
    if (s.length !== 2 || !s.every((v) => v > 0) || s[0] > s[1]) {
      throw new Error(`--scale-crop ${c.scaleCrop}: expected "lo,hi" with 0 < lo ≤ hi, e.g. 0.75,1.5`);
    }
  }
  if (c.cropSize !== undefined) parseCropSize(c.cropSize);
  if (c.colorAug !== undefined && !(c.colorAug >= 0 && c.colorAug <= 0.5)) throw bad('color-aug', c.colorAug, 'in [0, 0.5] (reference 0.25; the hue shift is at most half the circle)');
  if (c.classUniformPct !== undefined && !(c.classUniformPct >= 0 && c.classUniformPct <= 1)) throw bad('class-uniform-pct', c.classUniformPct, 'a fraction in [0, 1] (reference 0.5)');
  if (c.classUniformTile !== undefined && !(Number.isInteger(c.classUniformTile) && c.classUniformTile >= 1)) throw bad('class-uniform-tile', c.classUniformTile, 'an integer ≥ 1 pixel');
}

/** "W" (square) or "WxH" → [width, height], positive multiples of 8. */
export function parseCropSize(v: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v.trim());
  const wh = m ? [Number(m[1]), Number(m[2] ?? m[1])] as [number, number] : null;
  if (!wh || !wh.every((n) => n >= 8 && n % 8 === 0)) {
    throw new Error(`--crop-size ${v}: expected W or WxH in pixels, multiples of 8 (e.g. 896, or 128x64)`);
  }
  return wh;
}

/** Applies the given flags over a configuration (a recipe's, or a checkpoint's). */
function applyFlags(spec: ModelSpec, base: RunConfig, f: TrainFlags): RunConfig {
  const c: RunConfig = { ...base, options: { ...base.options }, optimizer: { ...base.optimizer }, schedule: { ...base.schedule },
    distortion: base.distortion ? { ...base.distortion } : null };
  const set = <K extends keyof RunConfig>(k: K, v: RunConfig[K] | undefined) => { if (v !== undefined) c[k] = v; };
  set('data', f.data); set('trainSize', f.trainSize); set('valSize', f.valSize); set('seed', f.seed);
  set('height', f.height); set('width', f.width); set('epochs', f.epochs); set('batchSize', f.batchSize);
  set('classWeights', f.classWeights); set('flip', f.flip); set('translate', f.translate); set('scaleCrop', f.scaleCrop);
  set('cropSize', f.cropSize); set('colorAug', f.colorAug); set('gblur', f.gblur);
  set('classUniformPct', f.classUniformPct); set('classUniformTile', f.classUniformTile);
  set('vflip', f.vflip); set('rotate', f.rotate);
  if (c.rotate) parseAngles(c.rotate);
  set('iouTrain', f.iouTrain);
  if (f.precision !== undefined && f.precision !== 'f32' && f.precision !== 'f16') throw new Error(`--precision ${f.precision}: expected f32 or f16`);
  if (f.precision === 'f16') c.precision = 'f16';
  else if (f.precision === 'f32') delete c.precision;
  c.options = { ...c.options, ...Object.fromEntries(Object.entries(resolveOptions(spec, f.options ?? {}, c.recipe))
    .filter(([k]) => f.options?.[k] !== undefined)) };
  const groups = Object.keys(c.optimizer), main = groups[0];
  let opt = f.optimizer !== undefined ? parseSpec(f.optimizer, OPTIMIZERS, '--optimizer') : parseSpec(c.optimizer[main], OPTIMIZERS, 'recipe');
  opt = withOption(opt, 'lr', f.lr);
  opt = withOption(opt, 'weight_decay', f.weightDecay);
  if (f.momentum !== undefined && !('momentum' in OPTIMIZERS[opt.name])) {
    throw new Error(`--momentum ${f.momentum}: ${opt.name} has no momentum (sgd and rmsprop do)`);
  }
  opt = withOption(opt, 'momentum', f.momentum);
  c.optimizer[main] = formatSpec(opt, OPTIMIZERS);
  for (const [g, lr] of Object.entries(f.groupLr ?? {})) {
    if (lr === undefined) continue;
    if (!(g in c.optimizer)) throw new Error(`${spec.name} has no parameter group '${g}'`);
    c.optimizer[g] = formatSpec(withOption(parseSpec(c.optimizer[g], OPTIMIZERS, 'recipe'), 'lr', lr), OPTIMIZERS);
  }
  if (f.schedule !== undefined) c.schedule[main] = formatSpec(parseSpec(f.schedule, SCHEDULES, '--schedule'), SCHEDULES);
  const sim = Object.fromEntries(SIM_KEYS.filter((k) => f[k] !== undefined).map((k) => [k, f[k]]));
  const distort = spec.distortion === 'always' || (f.distort ?? base.distortion !== null);
  if (f.distort === false && spec.distortion === 'always') throw new Error(`--no-distort: ${spec.name} always trains on distorted images`);
  if (!distort && Object.keys(sim).length) {
    throw new Error(`--${kebab(Object.keys(sim)[0])}: distortion settings need --distort (or a model trained on distorted images)`);
  }
  // a distortion names its correlation model, so that runs resumed or evaluated later keep it
  c.distortion = distort ? { correlation: 'integral', ...(c.distortion ?? {}), ...sim } : null;
  if (c.distortion) resolveTurbulence(c.distortion);   // bad simulator settings fail here, before anything starts
  checkNumbers(c);
  return c;
}

/** A new run's settings: the chosen recipe of the model, then the flags. */
export function newConfig(f: TrainFlags): { spec: ModelSpec; config: RunConfig } {
  const spec = getModel(f.model ?? 'erfnet');
  const recipe = f.recipe ?? 'default';
  const r = spec.recipes[recipe];
  if (!r) throw new Error(`--recipe ${recipe}: ${spec.name} has recipes ${Object.keys(spec.recipes).join(', ')} (see mirage models)`);
  const norm = (m: Record<string, string>, table: typeof OPTIMIZERS, what: string) =>
    Object.fromEntries(Object.entries(m).map(([g, s]) => [g, formatSpec(parseSpec(s, table, what), table)]));
  const base: RunConfig = {
    model: spec.name, recipe, options: resolveOptions(spec, {}, recipe), data: 'synthetic', trainSize: 400, valSize: 50, seed: 1,
    height: r.height, width: r.width, epochs: r.epochs, batchSize: r.batchSize,
    optimizer: norm(r.optimizer, OPTIMIZERS, `${spec.name} recipe optimizer`), schedule: norm(r.schedule, SCHEDULES, `${spec.name} recipe schedule`),
    classWeights: r.classWeights, flip: r.flip, translate: r.translate, scaleCrop: r.scaleCrop,
    cropSize: r.cropSize, colorAug: r.colorAug, gblur: r.gblur, classUniformPct: r.classUniformPct, classUniformTile: r.classUniformTile,
    vflip: r.vflip, rotate: r.rotate, distortion: spec.distortion === 'always' ? {} : null, iouTrain: false,
  };
  return { spec, config: applyFlags(spec, base, f) };
}

/** Differences between two configurations, as "what: a vs b" by flag name. */
export function configDiff(a: RunConfig, b: RunConfig): { key: string; was: string; now: string }[] {
  const flat = (c: RunConfig): Map<string, string> => {
    const m = new Map<string, string>();
    const put = (k: string, v: unknown) => { if (v !== undefined) m.set(k, typeof v === 'string' ? v : JSON.stringify(v)); };
    for (const [k, v] of Object.entries(c)) {
      if (k === 'options') for (const [ok, ov] of Object.entries(v as object)) put(`--${ok}`, ov);
      else if (k === 'optimizer' || k === 'schedule') for (const [g, s] of Object.entries(v as object)) put(`${k} of ${g}`, s);
      else if (k === 'distortion') {
        if (v === null) put('--distort', false);
        // resolved values, without those derived from others (fθ_D from the correlation length, γ from the outer scale)
        else for (const [sk, sv] of Object.entries(resolveTurbulence(v as TurbulenceParams))) if (sk !== 'pixelsPerBeta' && sk !== 'gamma') put(`--${kebab(sk)}`, sv);
      } else put(`--${kebab(k)}`, v);
    }
    return m;
  };
  const fa = flat(a), fb = flat(b);
  return [...new Set([...fa.keys(), ...fb.keys()])].filter((k) => fa.get(k) !== fb.get(k))
    .map((k) => ({ key: k, was: fa.get(k) ?? '(unset)', now: fb.get(k) ?? '(unset)' }));
}

/**
 * A resumed run's settings: the checkpoint's. Flags that agree with them are accepted; one that
 * differs is an error naming both values, except --epochs (train longer or shorter).
 */
export function resumeConfig(stored: RunConfig, f: TrainFlags, path: string): { spec: ModelSpec; config: RunConfig; notes: string[] } {
  const spec = getModel(stored.model);
  if (f.model !== undefined && getModel(f.model) !== spec) {
    throw new Error(`--model ${f.model} conflicts with ${path}, which holds a ${stored.model} run; drop --model to resume it`);
  }
  if (f.recipe !== undefined && f.recipe !== stored.recipe) {
    throw new Error(`--recipe ${f.recipe} conflicts with ${path}, whose run uses recipe '${stored.recipe}'; drop --recipe to resume it`);
  }
  if (stored.distortion) stored = { ...stored, distortion: storedTurbulence(stored.distortion) };
  const config = applyFlags(spec, stored, f);
  // --epochs and --precision may change: they change how, not what, the run trains
  const diffs = configDiff({ ...stored, epochs: 0, precision: undefined }, { ...config, epochs: 0, precision: undefined });
  if (diffs.length) {
    throw new Error(`--resume: ${diffs.map((d) => `${d.key} ${d.now} differs from the checkpoint's ${d.was}`).join('; ')} ` +
      `(${path}). Drop these flags to continue with the checkpoint's settings, or start a new run (another --savedir, or --overwrite).`);
  }
  const notes = config.epochs !== stored.epochs
    ? [`--epochs ${config.epochs} (the run was planned for ${stored.epochs}); epoch-based schedules follow the new total`] : [];
  if ((config.precision ?? 'f32') !== (stored.precision ?? 'f32')) notes.push(`--precision ${config.precision ?? 'f32'} (the run so far trained with ${stored.precision ?? 'f32'})`);
  return { spec, config, notes };
}

/** One line per setting, for the start of a run and for `mirage models`. */
export function describeConfig(c: RunConfig): string {
  const opt = Object.entries(c.optimizer).map(([g, s]) => `${g}: ${s} · ${c.schedule[g]}`).join('; ');
  const opts = Object.entries(c.options).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}=${v}`).join(' ');
  return `${c.model} (recipe ${c.recipe}${opts ? `; ${opts}` : ''}) | ${c.epochs} epochs, batch ${c.batchSize} | ${opt} | ` +
    `class weights ${c.classWeights} | ${describeAugment(c)} | seed ${c.seed}${c.precision === 'f16' ? ' | f16 mixed precision, loss scaling' : ''}`;
}

/** The augmentations of a run, in one phrase. */
export function describeAugment(c: TrainingPlan): string {
  return [`flip ${c.flip ? 'on' : 'off'}`, `translate ${c.translate}`, c.scaleCrop && `scale ${c.scaleCrop}`, c.cropSize && `crop ${c.cropSize}`,
    c.colorAug && `colour jitter ${c.colorAug}`, c.gblur && 'Gaussian blur',
    c.classUniformPct && `class-uniform ${c.classUniformPct}${c.classUniformTile ? ` (tile ${c.classUniformTile})` : ''}`,
    c.vflip && 'vertical flip', c.rotate && `rotation ${c.rotate}°`].filter(Boolean).join(', ');
}

/** "-30,-15,0,15,30" → angles in degrees. */
export function parseAngles(v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || Math.abs(x) > 180)) throw new Error(`--rotate '${v}': give angles in degrees, e.g. -30,-15,0,15,30`);
  return xs;
}
