// mirage experiment hot-weather: the paper's comparison (seed-specs §1.8) and what goes beyond it, on
// one data set and budget: a segmenter on clean images, on distorted images, behind the restoration
// pre-network, the feedback model with CE, iFL and CB-iFL, and from K frames of the scene (K ∈
// --frame-counts): fused by the per-pixel median or mean (no learning) or restored by the K-frame U-Net.
// Same data, seed, epochs, class weights and segmentation recipe for all, so only the input and
// model differ between rows. Restoration is measured too (PSNR, flow error, their ceilings).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { TrainFlags } from '../train/config.js';
import { seedBarsSpec } from '../report/charts.js';
import { writeChartPng } from '../report/render.js';
import { type Section, writeReport } from '../report/report.js';
import { type TrainSummary, train } from '../train/trainer.js';
import { getModel, listModels } from '../models/registry.js';

/** Budget flags left undefined come from each model's demo recipe (mirage models). */
export interface ExperimentArgs {
  /** Default runs/NAME. */
  savedir?: string;
  name: string; data: string; height?: number; width?: number; epochs?: number; batchSize?: number; trainSize: number;
  valSize: number; seeds: string; sigma: number; corrLength: number; unetDepth?: number; unetWidth?: number;
  lr?: number; variants?: string; feedbackScale: number; endToEnd: boolean;
  /** Restoration and feedback rows: flow supervision weight and the learnable feedback gate (beyond the paper; default off). */
  flowLoss?: number; feedbackGate?: boolean;
  /** Restoration and feedback rows: epochs of U-Net pre-training at the start (beyond the paper; default 0). */
  restorePretrain?: number;
  /** Segmentation network of every variant; the restoration and feedback rows put it behind the U-Net (default erfnet). */
  segmenter?: string;
  /** Frame counts of the multi-frame variants (default 3,5,8). */
  frameCounts?: string;
  /** Correlation of consecutive frames' fields (default 0). */
  frameCorrelation?: number;
  /** Pixels per frame the scene moves in the multi-frame rows (default 0: static). */
  egoMotion?: number;
  /** Continue each variant from its checkpoint (those without one start); --overwrite replaces earlier runs. */
  resume?: boolean; overwrite?: boolean;
  /** hot-weather: merge these results.json files (comma list) into one table instead of training. */
  merge?: string;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));

const SINGLE = ['clean', 'distorted', 'restoration', 'feedback-ce', 'feedback-ifl', 'feedback-cbifl'] as const;
/** Multi-frame variants, one per K: name-K. */
const MULTI = ['median', 'mean', 'restoration', 'feedback-cbifl'] as const;

/**
 * What a restoration or feedback row ran with beyond the reference (scale ×0.001, photometric L1,
 * fixed branch, separate steps), e.g. ['flow loss ×1', 'learnable gate']; it is part of the row's
 * name, so studies merged from commands with different options keep their rows apart.
 */
function beyondReference(base: string, o: { feedbackScale?: number; endToEnd?: boolean; feedbackGate?: boolean; flowLoss?: number; restorePretrain?: number }): string[] {
  if (base !== 'restoration' && !base.startsWith('feedback')) return [];
  const fb = base !== 'restoration';
  return [fb && o.feedbackScale !== undefined && o.feedbackScale !== 0.001 ? `feedback ×${o.feedbackScale}` : '', o.endToEnd ? 'end-to-end' : '',
    fb && o.feedbackGate ? 'learnable gate' : '', o.flowLoss ? `flow loss ×${o.flowLoss}` : '',
    o.restorePretrain ? `U-Net pre-trained ${o.restorePretrain} epoch${o.restorePretrain > 1 ? 's' : ''}` : ''].filter(Boolean);
}

/** A row's name: the variant, with its options beyond the reference in brackets. */
const rowName = (v: string, opts: string[]) => (opts.length ? `${v} (${opts.join(', ')})` : v);

/** The options of an older results.json (before runs named them), read from its setting line ('…, feedback ×0.001, end-to-end, …'). */
function optionsOfSetting(setting: string): { feedbackScale?: number; endToEnd?: boolean; feedbackGate?: boolean; flowLoss?: number } {
  const scale = /feedback ×([\d.e-]+)/.exec(setting), flow = /flow loss ×([\d.e-]+)/.exec(setting);
  return { feedbackScale: scale ? Number(scale[1]) : undefined, endToEnd: /, end-to-end/.test(setting), feedbackGate: /learnable gate/.test(setting),
    flowLoss: flow ? Number(flow[1]) : undefined };
}

/** The restoration numbers of a run's best epoch (validation), from its history. */
function restorationOf(r: TrainSummary): Record<string, number> {
  const best = r.history.find((h) => h.epoch === r.bestEpoch) ?? r.history[r.history.length - 1];
  return Object.fromEntries(Object.entries(best?.valExtras ?? {}).filter(([k]) => /^(psnr|l1_|epe)/.test(k)));
}

/** The last output's restored PSNR and flow error (per iteration: the highest index). */
function lastOutput(x: Record<string, number>, what: 'psnr_restored' | 'epe'): number | undefined {
  const own = new RegExp(`^${what}(_\\d+)?$`);
  const keys = Object.keys(x).filter((k) => own.test(k)).sort((p, q) => Number(p.split('_').pop()) - Number(q.split('_').pop()));
  return keys.length ? x[keys[keys.length - 1]] : undefined;
}

export async function experiment(a: ExperimentArgs): Promise<void> {
  if (a.name === 'tas') return tasExperiment(a);
  if (a.name !== 'hot-weather') throw new Error(`experiment ${a.name}: choose hot-weather or tas`);
  if (a.merge) return mergeHotWeather(a);
  const ks = String(a.frameCounts ?? '3,5,8').split(',').map((x) => Number(x.trim()));
  if (ks.some((k) => !(Number.isInteger(k) && k >= 2 && k <= 16))) throw new Error(`--frame-counts '${a.frameCounts}': give frame counts from 2 to 16 separated by commas`);
  const all = [...SINGLE, ...MULTI.flatMap((v) => ks.map((k) => `${v}-${k}`))];
  const { chosen, seeds, savedir: root } = plan(a, all, [...SINGLE, ...ks.map((k) => `median-${k}`)]);
  const segmenter = a.segmenter ?? 'erfnet';
  const seg = getModel(segmenter);
  if (seg.distortion === 'always') {
    throw new Error(`--segmenter ${segmenter}: restores by itself; choose a segmentation network (${listModels().filter((m) => m.distortion !== 'always').map((m) => m.name).join(', ')})`);
  }
  // every variant starts from its model's demo recipe (same size, epochs, batch, segmentation lr, class
  // weights and augmentation), so only the input and the model differ between rows
  const common: TrainFlags = { recipe: 'demo', data: a.data, height: a.height, width: a.width, epochs: a.epochs, batchSize: a.batchSize,
    trainSize: a.trainSize, valSize: a.valSize, lr: a.lr, sigma: a.sigma, corrLength: a.corrLength };
  const runs: HotRun[] = [];
  let first: TrainSummary['config'] | null = null;
  for (const seed of seeds) {
    for (const v of chosen) {
      const m = /^(.*)-(\d+)$/.exec(v), base = m ? m[1] : v, k = m ? Number(m[2]) : 1;
      const opts = beyondReference(base, a);
      console.log(`\n=== ${rowName(v, opts)} (seed ${seed}) ===`);
      const savedir = seeds.length > 1 ? join(root, `${v}-seed${seed}`) : join(root, v);
      const session = { savedir, overwrite: a.overwrite, resume: a.resume && existsSync(join(savedir, 'checkpoint.safetensors')) };
      const frames = k > 1 ? { frames: k, frameCorrelation: a.frameCorrelation, egoMotion: a.egoMotion } : {};
      let r: TrainSummary;
      if (base === 'clean') r = await train({ ...common, seed, model: segmenter, sigma: undefined, corrLength: undefined }, session);
      else if (base === 'distorted') r = await train({ ...common, seed, model: segmenter, distort: true }, session);
      else if (base === 'median' || base === 'mean') r = await train({ ...common, ...frames, fusion: base, seed, model: segmenter, distort: true }, session);
      else {
        const loss = base === 'restoration' || base === 'feedback-ce' ? 'ce' : base === 'feedback-ifl' ? 'ifl' : 'cbifl';
        r = await train({ ...common, ...frames, seed, model: 'feedback', options: { loss, feedback: base !== 'restoration',
          'end-to-end': a.endToEnd, iterations: 3, 'unet-depth': a.unetDepth, 'unet-width': a.unetWidth, 'feedback-scale': a.feedbackScale,
          'flow-loss': a.flowLoss ?? 0, 'feedback-gate': a.feedbackGate ?? false, 'restore-pretrain': a.restorePretrain ?? 0, segmenter } }, session);
      }
      first ??= r.config;
      runs.push({ variant: rowName(v, opts), options: opts, seed, miou: r.bestMiou, perIteration: r.perIteration.length > 1 ? r.perIteration : undefined,
        restoration: restorationOf(r), minutes: r.seconds / 60 });
    }
  }
  const setting = `${a.data} at ${first!.height} px, ${first!.epochs} epochs, distortion σ ${a.sigma} px / ${a.corrLength} px` +
    `${a.frameCorrelation ? `, frame correlation ${a.frameCorrelation}` : ''}${a.egoMotion ? `, scene moving ${a.egoMotion} px per frame` : ''}, segmenter ${segmenter}`;
  await hotWeatherResults(root, setting, a, runs);
}

/** A hot-weather run's numbers, as results.json keeps them. */
interface HotRun {
  /** The row: variant and its options beyond the reference, e.g. 'restoration-5 (flow loss ×1)'. */
  variant: string;
  /** Those options (absent in files written before rows named them; --merge reads them from the setting line). */
  options?: string[];
  seed: number; miou: number; perIteration?: number[]; restoration: Record<string, number>; minutes: number }

/**
 * `mirage experiment hot-weather --merge A.json,B.json …`: one table and chart over the runs of
 * several results.json files (a study split over commands, machines or seeds), written to --savedir.
 */
async function mergeHotWeather(a: ExperimentArgs): Promise<void> {
  const files = a.merge!.split(',').map((f) => f.trim()).filter(Boolean);
  const found = files.filter((f) => existsSync(f));
  if (!found.length) throw new Error(`--merge: none of ${files.join(', ')} exists`);
  const runs: HotRun[] = [];
  let setting = '';
  for (const f of found) {
    let j: { experiment?: string; setting?: string; runs?: HotRun[] };
    try { j = JSON.parse(readFileSync(f, 'utf8')); } catch (e) { throw new Error(`--merge: ${f} is not JSON (${(e as Error).message})`); }
    if (j.experiment !== 'hot-weather' || !Array.isArray(j.runs)) throw new Error(`--merge: ${f} is not a hot-weather results.json`);
    // the setting without the feedback options (files before 2026-12-03 kept them there; rows name them now)
    setting ||= (j.setting ?? '').replace(/, feedback ×.*$/, '');
    const older = optionsOfSetting(j.setting ?? '');
    for (const r0 of j.runs) {
      const opts = r0.options ?? beyondReference(r0.variant.replace(/-\d+$/, ''), older);
      const r = r0.options ? r0 : { ...r0, variant: rowName(r0.variant, opts), options: opts };
      if (runs.some((x) => x.variant === r.variant && x.seed === r.seed)) throw new Error(`--merge: ${r.variant} seed ${r.seed} appears twice (again in ${f})`);
      runs.push({ ...r, restoration: r.restoration ?? {} });
    }
  }
  const root = a.savedir ?? join('runs', 'hot-weather-merged');
  mkdirSync(root, { recursive: true });
  if (found.length < files.length) console.log(`--merge: ${files.filter((f) => !found.includes(f)).join(', ')} missing; merged ${found.length} file(s)`);
  await hotWeatherResults(root, `${setting} (merged from ${found.length} file${found.length > 1 ? 's' : ''})`, a, runs);
}

/** The hot-weather table (mIoU, share recovered, per iteration, restoration against its ceiling), results.json, chart and report. */
async function hotWeatherResults(root: string, setting: string, a: ExperimentArgs, runs: HotRun[]): Promise<void> {
  const chosen = [...new Set(runs.map((r) => r.variant))], seeds = [...new Set(runs.map((r) => r.seed))];
  const shown = `${setting}, seeds ${seeds.join(',')}`;
  const pct = (x: number) => (100 * x).toFixed(2), f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '' : x.toFixed(2));
  const avg = (rs: typeof runs, key: string) => { const v = rs.map((r) => r.restoration[key]).filter((x) => x !== undefined); return v.length ? mean(v) : undefined; };
  const avgLast = (rs: typeof runs, what: 'psnr_restored' | 'epe') => { const v = rs.map((r) => lastOutput(r.restoration, what)).filter((x): x is number => x !== undefined); return v.length ? mean(v) : undefined; };
  const rows = chosen.map((v) => {
    const rs = runs.filter((r) => r.variant === v), m = rs.map((r) => r.miou);
    const its = rs[0].perIteration ? rs[0].perIteration.map((_, k) => mean(rs.map((r) => r.perIteration![k]))) : undefined;
    return { variant: v, miou: mean(m), std: std(m), perSeed: m, perIteration: its, minutes: mean(rs.map((r) => r.minutes)),
      psnrInput: avg(rs, 'psnr_input'), psnrRestored: avgLast(rs, 'psnr_restored'), psnrCeiling: avg(rs, 'psnr_ceiling'),
      epeZero: avg(rs, 'epe_zero'), epe: avgLast(rs, 'epe'), epeCeiling: avg(rs, 'epe_ceiling') };
  });
  // share of the distortion's mIoU loss each variant wins back, per seed against that seed's rows
  const perSeed = (v: string, seed: number) => runs.find((r) => r.variant === v && r.seed === seed)?.miou;
  const recovered = (v: string) => {
    const shares = seeds.map((s) => { const [c, d, x] = [perSeed('clean', s), perSeed('distorted', s), perSeed(v, s)]; return c !== undefined && d !== undefined && x !== undefined && c > d ? (x - d) / (c - d) : undefined; })
      .filter((x): x is number => x !== undefined);
    return shares.length ? mean(shares) : undefined;
  };
  const head = ['variant', 'val mIoU (%)', '± std', 'per seed', 'recovered', 'per iteration (mean)', 'PSNR dB: input → restored (ceiling)', 'flow EPE px: none → model (ceiling)', 'minutes/run'];
  const cells = rows.map((r) => {
    const rec = recovered(r.variant);
    return [r.variant, pct(r.miou), pct(r.std), r.perSeed.map(pct).join(' '), r.variant === 'clean' || r.variant === 'distorted' || rec === undefined ? '' : `${(100 * rec).toFixed(0)}%`,
      (r.perIteration ?? []).map(pct).join(' → '),
      r.psnrInput === undefined ? '' : `${f2(r.psnrInput)}${r.psnrRestored !== undefined ? ` → ${f2(r.psnrRestored)}` : ''} (${f2(r.psnrCeiling)})`,
      r.epeZero === undefined ? '' : `${f2(r.epeZero)}${r.epe !== undefined ? ` → ${f2(r.epe)}` : ''} (${f2(r.epeCeiling)})`, r.minutes.toFixed(1)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join('  ');
  console.log(`\nhot-weather experiment on ${shown}:\n${[line(head), ...cells.map(line)].join('\n')}\n` +
    '(recovered: share of the mIoU that distortion costs, won back, mean over seeds; PSNR of the model\'s input (frame 0, or the fused frames) and ' +
    'restored image against the clean one; flow end-point error against the exact inverse field, whose warp is the ceiling)');
  writeFileAtomic(join(root, 'results.json'), JSON.stringify({ experiment: 'hot-weather', setting, args: a, date: new Date().toISOString(), rows, runs }, null, 1));
  await writeResults(root, 'Hot-weather experiment', shown, rows.map((r) => ({ name: r.variant, values: r.perSeed.map((v) => 100 * v) })), head, cells);
}

/** results.png (mean ± std over seeds, each seed a dot) and report.html (the chart and the table) of an experiment. */
async function writeResults(root: string, title: string, subtitle: string, bars: { name: string; values: number[] }[], head: string[], rows: string[][]): Promise<void> {
  const chart = seedBarsSpec(bars, { text: title, subtitle: 'best validation mIoU per variant: mean ± std over seeds, each seed a dot' }, 'validation mIoU (%)');
  await writeChartPng(join(root, 'results.png'), chart);
  const sections: Section[] = [{ title: 'Results', blocks: [{ kind: 'chart', spec: chart }, { kind: 'table', head, rows }] },
    { title: 'Runs', blocks: [{ kind: 'text', text: `Each run's own report is report.html in its folder under ${root} (curves, per-class IoU, confusion matrix, samples).` }] }];
  await writeReport(join(root, 'report.html'), title, subtitle, sections);
  console.log(`results → ${join(root, 'results.json')}, ${join(root, 'results.png')}, ${join(root, 'report.html')}`);
}

/** The variants (default: `defaults`, else all), seeds and folder of an experiment, checked. */
function plan(a: ExperimentArgs, all: readonly string[], defaults: readonly string[] = all): { chosen: string[]; seeds: number[]; savedir: string } {
  const chosen = a.variants ? a.variants.split(',').map((s) => s.trim()) : [...defaults];
  for (const v of chosen) if (!all.includes(v)) throw new Error(`--variants: unknown '${v}' (choose from ${all.join(', ')})`);
  const seeds = String(a.seeds).split(',').map((x) => Number(x.trim()));
  if (!seeds.length || seeds.some((x) => !Number.isInteger(x))) throw new Error(`--seeds '${a.seeds}': give integers separated by commas`);
  const savedir = a.savedir ?? join('runs', a.name);
  mkdirSync(savedir, { recursive: true });
  return { chosen, seeds, savedir };
}

// The TAS500 seed's table (seed-specs §5.7): the twelve networks with the x8 pre-net and IterativeV6
// with x2, each from its demo recipe (same size, epochs, batch, optimiser, augmentation), so only the
// network differs between rows; the seed's own numbers (TAS500, 100 epochs) beside them.
const TAS_ROWS = ['iterative-v1', 'iterative-v2', 'iterative-v3', 'iterative-v4', 'iterative-v5', 'iterative-v6', 'hourglass', 'hourglass-iter',
  'hourglass-iter-ex', 'res-hourglass', 'res-hourglass-iter', 'res-hourglass-iter-ex', 'iterative-v6-x2'] as const;
/** seed-specs §5.7: pixel accuracy and mIoU (%), TAS500 validation, 100 epochs (V6-x2: 250 epochs). */
const TAS_SEED: Record<string, [number, number]> = { 'iterative-v1': [94.2, 63.7], 'iterative-v2': [91.7, 58.7], 'iterative-v3': [93.8, 53.0],
  'iterative-v4': [95.7, 71.6], 'iterative-v5': [97.9, 59.2], 'iterative-v6': [95.7, 74.6], 'hourglass': [91.9, 59.6], 'hourglass-iter': [97.1, 51.2],
  'hourglass-iter-ex': [97.6, 59.4], 'res-hourglass': [97.9, 85.2], 'res-hourglass-iter': [97.7, 58.7], 'res-hourglass-iter-ex': [88.9, 56.7],
  'iterative-v6-x2': [96.8, 88.0] };

async function tasExperiment(a: ExperimentArgs): Promise<void> {
  const { chosen, seeds, savedir: root } = plan(a, TAS_ROWS);
  const runs: { variant: string; seed: number; miou: number; pixelAcc: number; perStep: number[]; params: number; peakMiB: number; minutes: number }[] = [];
  for (const seed of seeds) {
    for (const v of chosen) {
      console.log(`\n=== ${v} (seed ${seed}) ===`);
      const savedir = seeds.length > 1 ? join(root, `${v}-seed${seed}`) : join(root, v);
      const session = { savedir, overwrite: a.overwrite, resume: a.resume && existsSync(join(savedir, 'checkpoint.safetensors')) };
      const model = v === 'iterative-v6-x2' ? 'iterative-v6' : v;
      const r = await train({ recipe: 'demo', model, data: a.data, height: a.height, width: a.width, epochs: a.epochs, batchSize: a.batchSize,
        trainSize: a.trainSize, valSize: a.valSize, lr: a.lr, seed, options: v === 'iterative-v6-x2' ? { prenet: 'x2' } : undefined }, session);
      const best = r.history.find((h) => h.epoch === r.bestEpoch)!;
      const spec = getModel(model);
      runs.push({ variant: v, seed, miou: r.bestMiou, pixelAcc: best.valExtras.pixel_acc ?? NaN, perStep: r.perIteration,
        params: spec.parameterCount(r.config.options, 10), peakMiB: r.peakPoolBytes / 2 ** 20, minutes: r.seconds / 60 });
    }
  }
  const pct = (x: number) => (100 * x).toFixed(2);
  const rows = chosen.map((v) => {
    const rs = runs.filter((r) => r.variant === v), m = rs.map((r) => r.miou);
    return { variant: v, miou: mean(m), std: std(m), pixelAcc: mean(rs.map((r) => r.pixelAcc)), perStep: rs[0].perStep.map((_, k) => mean(rs.map((r) => r.perStep[k]))),
      params: rs[0].params, peakMiB: Math.max(...rs.map((r) => r.peakMiB)), minutes: mean(rs.map((r) => r.minutes)), seed: TAS_SEED[v] };
  });
  const table = [`network                 pixel acc   mIoU ± std (${seeds.length} seed${seeds.length > 1 ? 's' : ''})   per output (mean)        params   peak MiB  min/run   seed: acc / mIoU`,
    ...rows.map((r) => `${r.variant.padEnd(22)} ${pct(r.pixelAcc).padStart(9)}   ${pct(r.miou).padStart(6)} ± ${pct(r.std).padEnd(5)}      ` +
      `${r.perStep.map(pct).join(' → ').padEnd(24)} ${(r.params / 1e6).toFixed(2).padStart(6)} M ${r.peakMiB.toFixed(0).padStart(8)} ${r.minutes.toFixed(1).padStart(8)}   ` +
      `${r.seed[0].toFixed(1)} / ${r.seed[1].toFixed(1)}`)];
  const first = runs.length ? runs[0] : null;
  console.log(`\nTAS500-seed experiment on ${a.data}, each network's demo recipe${a.epochs ? `, ${a.epochs} epochs` : ''}, seeds ${seeds.join(',')} ` +
    `(params at 10 classes and the run's size; the seed's numbers: TAS500 validation, 100 epochs, V6-x2 250):\n${table.join('\n')}`);
  writeFileAtomic(join(root, 'results.json'), JSON.stringify({ experiment: 'tas', args: a, date: new Date().toISOString(), rows, runs }, null, 1));
  if (first) {
    await writeResults(root, 'TAS500-seed experiment', `${a.data}, each network's demo recipe${a.epochs ? `, ${a.epochs} epochs` : ''}, seeds ${seeds.join(',')}`,
      rows.map((r) => ({ name: r.variant, values: runs.filter((x) => x.variant === r.variant).map((x) => 100 * x.miou) })),
      ['network', 'pixel acc (%)', 'mIoU (%)', '± std', 'per output (mean)', 'params (M)', 'peak MiB', 'min/run', 'seed: acc / mIoU'],
      rows.map((r) => [r.variant, pct(r.pixelAcc), pct(r.miou), pct(r.std), r.perStep.map(pct).join(' → '), (r.params / 1e6).toFixed(2),
        r.peakMiB.toFixed(0), r.minutes.toFixed(1), `${r.seed[0].toFixed(1)} / ${r.seed[1].toFixed(1)}`]));
  }
}
