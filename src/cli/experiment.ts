// mirage experiment hot-weather: the paper's comparison (seed-specs §1.8) on one data set and budget:
// ERFNet on clean images, ERFNet on distorted images, restoration pre-network + ERFNet, and the
// feedback model with CE, iFL and CB-iFL. Same data, seed, epochs, class weights and segmentation
// recipe for all (Adam, weight decay 1e-4, poly 0.9), so only the model differs between rows.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { TrainFlags } from '../train/config.js';
import { seedBarsSpec } from '../report/charts.js';
import { writeChartPng } from '../report/render.js';
import { type Section, writeReport } from '../report/report.js';
import { type TrainSummary, train } from '../train/trainer.js';
import { getModel } from '../models/registry.js';

/** Budget flags left undefined come from each model's demo recipe (mirage models). */
export interface ExperimentArgs {
  /** Default runs/NAME. */
  savedir?: string;
  name: string; data: string; height?: number; width?: number; epochs?: number; batchSize?: number; trainSize: number;
  valSize: number; seeds: string; sigma: number; corrLength: number; unetDepth?: number; unetWidth?: number;
  lr?: number; variants?: string; feedbackScale: number; endToEnd: boolean;
  /** Continue each variant from its checkpoint (those without one start); --overwrite replaces earlier runs. */
  resume?: boolean; overwrite?: boolean;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));

const ALL = ['clean', 'distorted', 'restoration', 'feedback-ce', 'feedback-ifl', 'feedback-cbifl'] as const;

export async function experiment(a: ExperimentArgs): Promise<void> {
  if (a.name === 'tas') return tasExperiment(a);
  if (a.name !== 'hot-weather') throw new Error(`experiment ${a.name}: choose hot-weather or tas`);
  const { chosen, seeds, savedir: root } = plan(a, ALL);
  // every variant starts from its model's demo recipe (same size, epochs, batch, ERFNet lr, class
  // weights and augmentation), so only the model differs between rows
  const common: TrainFlags = { recipe: 'demo', data: a.data, height: a.height, width: a.width, epochs: a.epochs, batchSize: a.batchSize,
    trainSize: a.trainSize, valSize: a.valSize, lr: a.lr, sigma: a.sigma, corrLength: a.corrLength };
  const runs: { variant: string; seed: number; miou: number; perIteration?: number[]; minutes: number }[] = [];
  let first: TrainSummary['config'] | null = null;
  const fb = `feedback ×${a.feedbackScale}${a.endToEnd ? ', end-to-end' : ''}`;
  for (const seed of seeds) {
    for (const v of chosen) {
      console.log(`\n=== ${v} (seed ${seed}${v.startsWith('feedback') ? `, ${fb}` : ''}) ===`);
      const savedir = seeds.length > 1 ? join(root, `${v}-seed${seed}`) : join(root, v);
      const session = { savedir, overwrite: a.overwrite, resume: a.resume && existsSync(join(savedir, 'checkpoint.safetensors')) };
      let r: TrainSummary;
      if (v === 'clean' || v === 'distorted') {
        r = await train(v === 'distorted' ? { ...common, seed, model: 'erfnet', distort: true }
          : { ...common, seed, model: 'erfnet', sigma: undefined, corrLength: undefined }, session);
      } else {
        const loss = v === 'restoration' || v === 'feedback-ce' ? 'ce' : v === 'feedback-ifl' ? 'ifl' : 'cbifl';
        r = await train({ ...common, seed, model: 'feedback', options: { loss, feedback: v !== 'restoration',
          'end-to-end': a.endToEnd, iterations: 3, 'unet-depth': a.unetDepth, 'unet-width': a.unetWidth, 'feedback-scale': a.feedbackScale } }, session);
      }
      first ??= r.config;
      runs.push({ variant: v, seed, miou: r.bestMiou, perIteration: r.perIteration.length > 1 ? r.perIteration : undefined, minutes: r.seconds / 60 });
    }
  }
  const pct = (x: number) => (100 * x).toFixed(2);
  const rows = chosen.map((v) => {
    const rs = runs.filter((r) => r.variant === v), m = rs.map((r) => r.miou);
    const its = rs[0].perIteration ? rs[0].perIteration.map((_, k) => mean(rs.map((r) => r.perIteration![k]))) : undefined;
    return { variant: v, miou: mean(m), std: std(m), perSeed: m, perIteration: its, minutes: mean(rs.map((r) => r.minutes)) };
  });
  const table = [`variant            val mIoU ± std (${seeds.length} seed${seeds.length > 1 ? 's' : ''})   per seed              per feedback iteration (mean)   minutes/run`,
    ...rows.map((r) => `${r.variant.padEnd(18)} ${pct(r.miou).padStart(8)} ± ${pct(r.std).padEnd(5)}        ${r.perSeed.map(pct).join(' ').padEnd(21)} ` +
      `${(r.perIteration ?? []).map(pct).join(' → ').padEnd(31)} ${r.minutes.toFixed(1).padStart(6)}`)];
  console.log(`\nhot-weather experiment on ${a.data} at ${first!.height} px, ${first!.epochs} epochs, distortion σ ${a.sigma} px / ${a.corrLength} px, ` +
    `${fb}, seeds ${seeds.join(',')}:\n${table.join('\n')}`);
  writeFileAtomic(join(root, 'results.json'), JSON.stringify({ experiment: 'hot-weather', args: a, date: new Date().toISOString(), rows, runs }, null, 1));
  await writeResults(root, 'Hot-weather experiment', `${a.data} at ${first!.height} px, ${first!.epochs} epochs, distortion σ ${a.sigma} px / ` +
    `${a.corrLength} px, ${fb}, seeds ${seeds.join(',')}`, rows.map((r) => ({ name: r.variant, values: r.perSeed.map((v) => 100 * v) })),
  ['variant', 'val mIoU (%)', '± std', 'per seed', 'per feedback iteration (mean)', 'minutes/run'],
  rows.map((r) => [r.variant, pct(r.miou), pct(r.std), r.perSeed.map(pct).join(' '), (r.perIteration ?? []).map(pct).join(' → '), r.minutes.toFixed(1)]));
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

/** The variants, seeds and folder of an experiment, checked. */
function plan(a: ExperimentArgs, all: readonly string[]): { chosen: string[]; seeds: number[]; savedir: string } {
  const chosen = a.variants ? a.variants.split(',').map((s) => s.trim()) : [...all];
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
