// What a run folder holds besides its checkpoints, all rewritten from the checkpoint's history
// after it is in place (so a kill at any moment leaves them consistent after --resume): log.csv,
// curves.png (Vega-Lite, src/report/charts.ts), the TensorBoard event file, and report.html with
// the curves, learning rates, per-class IoU, the confusion matrix and validation samples.
import { appendFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RGB } from '../data/classes.js';
import { blend, colourise, fromChwFloat } from '../data/image.js';
import type { Loader } from '../data/loader.js';
import { Rng } from '../engine/rng.js';
import { writeFileAtomic } from '../io/atomic.js';
import { type SummaryEvent, eventFile, eventRecord } from '../io/tfevents.js';
import { pngBytes } from '../data/png.js';
import { classIouSpec, confusionSpec, curvesSpec, lrSpec } from '../report/charts.js';
import { writeChartPng } from '../report/render.js';
import { type Block, type Section, writeReport } from '../report/report.js';
import type { TurbulenceSimulator } from '../sim/turbulence.js';
import { segmentImage } from './segment.js';
import type { System } from './system.js';

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  trainLoss: number;
  valLoss: number | null;
  trainMiou: number | null;
  /** The last output's val mIoU (the prediction). */
  valMiou: number;
  /** Val mIoU of every output (feedback iterations). */
  valMious: number[];
  trainExtras: Record<string, number>;
  valExtras: Record<string, number>;
  /** Learning rate of each group during the epoch. */
  lr: Record<string, number>;
  seconds: number;
  imagesPerSecond: number;
  /** Unix time (s) at the end of the epoch (absent in runs from before it was recorded). */
  time?: number;
  /** Validation IoU per class of the prediction, the ignore class left out. */
  valClassIou?: number[];
  /** Peak bytes of the GPU buffer pool so far. */
  poolPeakBytes?: number;
}

/** The savedir's files as a run's: log.csv from the history (columns from what the records hold). */
export function logCsv(history: EpochRecord[]): string {
  const first = history[0];
  if (!first) return 'epoch\n';
  const groups = Object.keys(first.lr);
  const tx = Object.keys(first.trainExtras), vx = Object.keys(first.valExtras);
  const its = first.valMious.length > 1 ? first.valMious.map((_, k) => `val_miou_it${k + 1}`) : [];
  const head = ['epoch', 'train_loss', 'val_loss', ...tx.map((x) => `train_${x}`), ...vx.map((x) => `val_${x}`), 'train_miou', 'val_miou',
    ...its, ...groups.map((g, i) => (i === 0 ? 'lr' : `lr_${g}`)), 'train_seconds', 'train_images_per_s'];
  const rows = history.map((h) => [h.epoch, h.trainLoss, h.valLoss ?? '', ...tx.map((x) => h.trainExtras[x]), ...vx.map((x) => h.valExtras[x]),
    h.trainMiou ?? '', h.valMiou, ...(its.length ? h.valMious : []), ...groups.map((g) => h.lr[g]), h.seconds.toFixed(1),
    h.imagesPerSecond.toFixed(3)].join(','));
  return [head.join(','), ...rows].join('\n') + '\n';
}

/**
 * TensorBoard scalars of every epoch (step = epoch): losses, mIoU (per iteration too), the extras,
 * learning rates, images/s, pool bytes and per-class IoU. Wall times: the records', or, for runs
 * from before they were recorded, the epochs' durations summed from 0.
 */
export function tensorboardEvents(history: EpochRecord[], classNames: string[]): { events: SummaryEvent[]; start: number } {
  const events: SummaryEvent[] = [];
  let clock = 0;
  const start = history[0]?.time !== undefined ? Math.floor(history[0].time - history[0].seconds) : 0;
  for (const h of history) {
    clock += h.seconds;
    const wallTime = h.time ?? clock, step = h.epoch;
    const add = (tag: string, value: number | null | undefined) => {
      if (value !== null && value !== undefined && Number.isFinite(value)) events.push({ kind: 'scalar', tag, step, value, wallTime });
    };
    add('loss/train', h.trainLoss); add('loss/val', h.valLoss);
    add('miou/train', h.trainMiou); add('miou/val', h.valMiou);
    if (h.valMious.length > 1) h.valMious.forEach((v, k) => add(`miou/val_iteration_${k + 1}`, v));
    for (const [k, v] of Object.entries(h.trainExtras)) add(`train/${k}`, v);
    for (const [k, v] of Object.entries(h.valExtras)) add(`val/${k}`, v);
    for (const [g, v] of Object.entries(h.lr)) add(`lr/${g}`, v);
    add('speed/train_images_per_s', h.imagesPerSecond);
    add('memory/gpu_pool_peak_bytes', h.poolPeakBytes);
    h.valClassIou?.forEach((v, k) => add(`iou_per_class/${classNames[k] ?? `class_${k}`}`, v));
  }
  return { events, start };
}

/** An image panel of the report: caption and RGB bytes. */
export interface Panel { caption: string; width: number; height: number; rgb: Uint8Array }

/** What the run files show beyond the history: names, colours, and the latest epoch's confusion and samples. */
export interface RunView {
  title: string;
  subtitle: string;
  /** Settings of the run as rows (name, value). */
  settings: [string, string][];
  classNames: string[];
  ignoreIndex: number;
  /** Names of the system's outputs (feedback iterations). */
  outputs: string[];
  tensorboard: boolean;
  /** The last epoch's validation confusion matrix of the prediction, [truth][predicted]. */
  confusion?: ArrayLike<number>[];
  /** Validation samples of the last epoch, one row of panels each. */
  samples?: Panel[][];
  /** Append the samples to the TensorBoard image file at this step (the epoch just saved). */
  imagesStep?: number;
}

/** A row of panels side by side with 2-pixel white gaps, as one RGB image. */
export function panelStrip(row: Panel[]): { width: number; height: number; rgb: Uint8Array } {
  const H = Math.max(...row.map((p) => p.height)), gap = 2, W = row.reduce((n, p) => n + p.width, 0) + gap * (row.length - 1);
  const rgb = new Uint8Array(3 * W * H).fill(255);
  let x0 = 0;
  for (const p of row) {
    for (let y = 0; y < p.height; y++) rgb.set(p.rgb.subarray(3 * y * p.width, 3 * (y + 1) * p.width), 3 * (y * W + x0));
    x0 += p.width + gap;
  }
  return { width: W, height: H, rgb };
}

/** Writes log.csv, curves.png, report.html and (unless off) the TensorBoard event file of every epoch in the history. */
export async function writeRunFiles(savedir: string, history: EpochRecord[], v: RunView): Promise<void> {
  writeFileAtomic(join(savedir, 'log.csv'), logCsv(history));
  const names = v.classNames.filter((_, i) => i !== v.ignoreIndex);
  if (v.tensorboard) {
    // one file, rewritten whole from the history (its name from the run's start), so it always
    // agrees with log.csv, also after a kill and --resume
    const { events, start } = tensorboardEvents(history, names);
    const name = `events.out.tfevents.${start}.mirage`;
    for (const f of readdirSync(savedir)) if (f.startsWith('events.out.tfevents.') && !f.startsWith(name) && !f.includes('.tmp-')) rmSync(join(savedir, f));
    writeFileAtomic(join(savedir, name), eventFile(events, start));
    // sample panels go to a second, append-only file (images are not in the history); appended
    // after the checkpoint, so a resumed run adds no epoch twice (a kill just before loses one epoch's images)
    if (v.samples?.length && v.imagesStep !== undefined) {
      const images = join(savedir, `events.out.tfevents.${start}.mirage-images`);
      const recs = v.samples.map((row, k) => {
        const s = panelStrip(row);
        return eventRecord({ kind: 'image', tag: `samples/validation_${k + 1}`, step: v.imagesStep!, png: pngBytes(s.width, s.height, s.rgb, 3),
          height: s.height, width: s.width, wallTime: Date.now() / 1000 });
      });
      const bytes = new Uint8Array(recs.reduce((n, r) => n + r.length, 0));
      recs.reduce((o, r) => { bytes.set(r, o); return o + r.length; }, 0);
      appendFileSync(images, bytes);
    }
  }
  if (!history.length) return;
  const curves = curvesSpec(history, v.outputs);
  await writeChartPng(join(savedir, 'curves.png'), curves);
  const lastRec = history[history.length - 1];
  const best = history.reduce((a, b) => (b.valMiou > a.valMiou ? b : a));
  const sections: Section[] = [
    { title: 'Run', blocks: [{ kind: 'table', head: ['setting', 'value'], rows: [
      ['epochs done', String(lastRec.epoch)], ['best validation mIoU', `${(100 * best.valMiou).toFixed(2)} % (epoch ${best.epoch})`],
      ['last validation mIoU', `${(100 * lastRec.valMiou).toFixed(2)} %`], ...v.settings] }] },
    { title: 'Training curves', blocks: [{ kind: 'chart', spec: curves }, { kind: 'chart', spec: lrSpec(history) }] },
  ];
  const val: Block[] = lastRec.valClassIou ? perClassBlocks(v.classNames, v.ignoreIndex, lastRec.valClassIou, v.confusion, `validation, epoch ${lastRec.epoch}`) : [];
  if (lastRec.valMious.length > 1) {
    val.push({ kind: 'table', caption: 'Validation mIoU of each output, per epoch', head: ['epoch', ...v.outputs],
      rows: history.map((h) => [h.epoch, ...h.valMious.map((m) => `${(100 * m).toFixed(2)} %`)]) });
  }
  if (val.length) sections.push({ title: `Validation after epoch ${lastRec.epoch}`, blocks: val });
  if (v.samples?.length) {
    sections.push({ title: 'Validation samples', blocks: v.samples.map((row, k) => ({ kind: 'images' as const, caption: `sample ${k + 1}`, items: row })) });
  }
  await writeReport(join(savedir, 'report.html'), v.title, v.subtitle, sections);
}

/** IoU per class (bars) and, when given, the confusion matrix (heatmap), for reports; `what` names the data in the title. */
export function perClassBlocks(classNames: string[], ignore: number, iou: number[], confusion: ArrayLike<number>[] | undefined, what: string): Block[] {
  return [{ kind: 'chart', spec: classIouSpec(classNames.filter((_, i) => i !== ignore), iou, `IoU per class (${what})`) },
    ...(confusion ? [{ kind: 'chart' as const, spec: confusionSpec(classNames, confusion, ignore) }] : [])];
}

/**
 * Panels of the first `n` validation samples at the loader's size: input (distorted, when the run
 * distorts), the system's extra images (restored), prediction of each output, ground truth and
 * errors (white wrong, black right, grey ignored). None for models predicting below full resolution.
 */
export async function validationPanels(system: System, loader: Loader, n: number, palette: RGB[], ignore: number,
  sim: TurbulenceSimulator | null, seed: number, multiple: number): Promise<Panel[][]> {
  if (system.labelDownscale > 1) return [];
  const out: Panel[][] = [];
  const W = loader.width, H = loader.height;
  for (let i = 0; i < Math.min(n, loader.ds.length); i++) {
    const s = loader.prepare(i, new Rng(seed));
    const seg = await segmentImage(system, s.image, H, W, multiple, sim, seed + i);
    const panel = (caption: string, rgb: Uint8Array): Panel => ({ caption, width: W, height: H, rgb });
    const row: Panel[] = [panel(sim ? 'input (heat-distorted)' : 'input', fromChwFloat(seg.images.input ?? s.image, W, H))];
    for (const [k, img] of Object.entries(seg.images)) if (k !== 'input' && k !== 'distorted') row.push(panel(k, fromChwFloat(img, W, H)));
    const many = seg.perOutput.length > 1;
    seg.perOutput.forEach((cls, k) => row.push(panel(many ? `prediction, ${system.outputs[k] ?? `output ${k + 1}`}` : 'prediction', colourise(cls, palette))));
    row.push(panel('ground truth', colourise(s.label, palette)));
    const err = new Uint8Array(3 * W * H), pred = seg.classes;
    for (let p = 0; p < W * H; p++) err.fill(s.label[p] === ignore ? 128 : s.label[p] === pred[p] ? 0 : 255, 3 * p, 3 * p + 3);
    row.push(panel('errors (white)', err));
    row.push(panel('overlay', blend(fromChwFloat(s.image, W, H), colourise(pred, palette))));
    out.push(row);
  }
  return out;
}
