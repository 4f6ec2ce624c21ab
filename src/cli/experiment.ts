// mirage experiment hot-weather: the paper's comparison (seed-specs §1.8) on one data set and budget:
// ERFNet on clean images, ERFNet on distorted images, restoration pre-network + ERFNet, and the
// feedback model with CE, iFL and CB-iFL. Same data, seed, epochs, class weights and segmentation
// recipe for all (Adam, weight decay 1e-4, poly 0.9), so only the model differs between rows.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { TrainFlags } from '../train/config.js';
import { plotBars } from '../train/plot.js';
import { type TrainSummary, train } from '../train/trainer.js';

/** Budget flags left undefined come from each model's demo recipe (mirage models). */
export interface ExperimentArgs {
  name: string; data: string; height?: number; width?: number; epochs?: number; batchSize?: number; trainSize: number;
  valSize: number; seeds: string; savedir: string; sigma: number; corrLength: number; unetDepth?: number; unetWidth?: number;
  lr?: number; variants?: string; feedbackScale: number; endToEnd: boolean;
  /** Continue each variant from its checkpoint (those without one start); --overwrite replaces earlier runs. */
  resume?: boolean; overwrite?: boolean;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));

const ALL = ['clean', 'distorted', 'restoration', 'feedback-ce', 'feedback-ifl', 'feedback-cbifl'] as const;

export async function experiment(a: ExperimentArgs): Promise<void> {
  if (a.name !== 'hot-weather') throw new Error(`experiment ${a.name}: only 'hot-weather' exists`);
  const chosen = a.variants ? a.variants.split(',').map((s) => s.trim()) : [...ALL];
  for (const v of chosen) if (!(ALL as readonly string[]).includes(v)) throw new Error(`--variants: unknown '${v}' (choose from ${ALL.join(', ')})`);
  const seeds = String(a.seeds).split(',').map((x) => Number(x.trim()));
  if (!seeds.length || seeds.some((x) => !Number.isInteger(x))) throw new Error(`--seeds '${a.seeds}': give integers separated by commas`);
  mkdirSync(a.savedir, { recursive: true });
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
      const savedir = seeds.length > 1 ? join(a.savedir, `${v}-seed${seed}`) : join(a.savedir, v);
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
  writeFileAtomic(join(a.savedir, 'results.json'), JSON.stringify({ experiment: 'hot-weather', args: a, date: new Date().toISOString(), rows, runs }, null, 1));
  plotBars(join(a.savedir, 'results.png'), rows.map((r) => ({ name: r.variant.replace('feedback-', 'FB ').replace('restoration', 'RESTORE'), value: 100 * r.miou })),
    'VAL MIOU (PERCENT)');
  console.log(`results → ${join(a.savedir, 'results.json')}, ${join(a.savedir, 'results.png')}`);
}
