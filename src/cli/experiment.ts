// mirage experiment hot-weather: the paper's comparison (seed-specs §1.8) on one data set and budget:
// ERFNet on clean images, ERFNet on distorted images, restoration pre-network + ERFNet, and the
// feedback model with CE, iFL and CB-iFL. Same data, seed, epochs, class weights and segmentation
// recipe for all (Adam, weight decay 1e-4, poly 0.9), so only the model differs between rows.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { plotBars } from './plot.js';
import { type TrainSummary, train } from './train.js';
import { trainFeedback } from './train-feedback.js';
import type { SegLoss } from '../train/feedback.js';

export interface ExperimentArgs {
  name: string; data: string; height: number; width?: number; epochs: number; batchSize: number; trainSize: number;
  valSize: number; seed: number; savedir: string; sigma: number; corrLength: number; unetDepth: number; unetWidth: number;
  lr: number; variants?: string;
}

const ALL = ['clean', 'distorted', 'restoration', 'feedback-ce', 'feedback-ifl', 'feedback-cbifl'] as const;

export async function experiment(a: ExperimentArgs): Promise<void> {
  if (a.name !== 'hot-weather') throw new Error(`experiment ${a.name}: only 'hot-weather' exists`);
  const chosen = a.variants ? a.variants.split(',').map((s) => s.trim()) : [...ALL];
  for (const v of chosen) if (!(ALL as readonly string[]).includes(v)) throw new Error(`--variants: unknown '${v}' (choose from ${ALL.join(', ')})`);
  mkdirSync(a.savedir, { recursive: true });
  const common = { data: a.data, height: a.height, width: a.width, epochs: a.epochs, batchSize: a.batchSize, trainSize: a.trainSize,
    valSize: a.valSize, seed: a.seed, resume: false, stepsLoss: 10, classWeights: 'enet', flip: true, translate: 2,
    sigma: a.sigma, corrLength: a.corrLength };
  const rows: { variant: string; miou: number; perIteration?: number[]; minutes: number }[] = [];
  for (const v of chosen) {
    console.log(`\n=== ${v} ===`);
    const savedir = join(a.savedir, v);
    let r: TrainSummary;
    if (v === 'clean' || v === 'distorted') {
      r = await train({ ...common, model: 'erfnet', lr: a.lr, weightDecay: 1e-4, savedir, encoderOnly: false, iouTrain: false,
        distort: v === 'distorted' });
    } else {
      const loss: SegLoss = v === 'restoration' || v === 'feedback-ce' ? 'ce' : v === 'feedback-ifl' ? 'ifl' : 'cbifl';
      r = await trainFeedback({ ...common, savedir, loss, feedback: v !== 'restoration', endToEnd: false, iterations: 3,
        unetDepth: a.unetDepth, unetWidth: a.unetWidth, lrSeg: a.lr, lrRestore: 2e-4, weightDecay: 1e-4, segSchedule: 'poly' });
    }
    rows.push({ variant: v, miou: r.bestMiou, perIteration: r.perIteration, minutes: r.seconds / 60 });
  }
  const table = [`variant            val mIoU   per feedback iteration     minutes`,
    ...rows.map((r) => `${r.variant.padEnd(18)} ${(100 * r.miou).toFixed(2).padStart(8)}   ${(r.perIteration ?? []).map((x) => (100 * x).toFixed(2)).join(' → ').padEnd(24)} ${r.minutes.toFixed(1).padStart(7)}`)];
  console.log(`\nhot-weather experiment on ${a.data} at ${a.height} px, ${a.epochs} epochs, distortion σ ${a.sigma} px / ${a.corrLength} px:\n${table.join('\n')}`);
  writeFileSync(join(a.savedir, 'results.json'), JSON.stringify({ experiment: 'hot-weather', args: a, date: new Date().toISOString(), rows }, null, 1));
  plotBars(join(a.savedir, 'results.png'), rows.map((r) => ({ name: r.variant.replace('feedback-', 'FB ').replace('restoration', 'RESTORE'), value: 100 * r.miou })),
    'VAL MIOU (PERCENT)');
  console.log(`results → ${join(a.savedir, 'results.json')}, ${join(a.savedir, 'results.png')}`);
}
