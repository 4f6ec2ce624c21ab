// mirage eval: any registered model's checkpoint over a whole split — per-class IoU, mIoU, pixel and
// class accuracy (per iteration for iterative models), through the trainer's own evaluation pass.
import { type Split, openDataset, parseDataSpec } from '../data/datasets.js';
import { Loader } from '../data/loader.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readWeights } from '../io/checkpoint.js';
import { evaluateSystem } from '../train/evaluator.js';
import { iouTable } from '../train/iou.js';
import { evalSimulator, loadModel } from '../train/load.js';
import { type TurbulenceParams, describeTurbulence } from '../sim/turbulence.js';
import { parseInference, startEngine } from './common.js';
import { InferenceSystem, describeInference } from '../train/inference.js';
import { paletteOf } from '../data/classes.js';
import { type Section, writeReport } from '../report/report.js';
import { perClassBlocks, validationPanels } from '../train/run-files.js';

export interface EvalArgs extends TurbulenceParams { model?: string; weights: string; data: string; split: Split; height?: number; width?: number;
  batchSize: number; seed: number; valSize: number; json?: string; report?: string; distort?: boolean;
  inference?: string; scales?: string; flip?: boolean; cropSize?: number; overlap?: number }

/** The restoration numbers of an evaluation on distorted images (restoration-meter.ts), as [what, value] rows. */
function restorationLines(x: Record<string, number>): [string, string][] {
  if (x.psnr_input === undefined) return [];
  const outs = Object.keys(x).filter((k) => /^psnr_restored(_\d+)?$/.test(k)).map((k) => k.slice('psnr_restored'.length));
  return [
    ['PSNR of the input (dB)', x.psnr_input.toFixed(2)],
    ...outs.map((t): [string, string] => [`PSNR restored${t ? `, output ${t.slice(1)}` : ''} (dB)`, x[`psnr_restored${t}`].toFixed(2)]),
    ['PSNR ceiling, exact inverse warp (dB)', x.psnr_ceiling.toFixed(2)],
    ['flow error without a warp (px)', x.epe_zero.toFixed(3)],
    ...outs.filter((t) => x[`epe${t}`] !== undefined).map((t): [string, string] => [`flow error${t ? `, output ${t.slice(1)}` : ''} (px)`, x[`epe${t}`].toFixed(3)]),
    ['flow error of the exact inverse (px)', x.epe_ceiling.toFixed(3)],
  ];
}

export async function evaluate(a: EvalArgs): Promise<void> {
  const data = parseDataSpec(a.data);
  const weights = readWeights(a.weights);                         // fails before the GPU starts on a bad file
  const meta = weights.meta;
  const height = a.height ?? (meta.height ? Number(meta.height) : 128);
  const inf = parseInference(a);
  const { close } = await startEngine(a.seed);
  try {
    const ds = openDataset(data, { split: a.split, syntheticCount: a.valSize, seed: a.seed, height, width: a.width ?? 2 * height });
    const m = loadModel(a.weights, a.model, ds.numClasses, weights);
    const down = m.spec.labelDownscale?.(m.options) ?? 1;
    const loader = new Loader(ds, { batchSize: a.batchSize, height, width: a.width, labelDownscale: down });
    const multiple = m.spec.multiple(m.options);
    if (loader.height % multiple || loader.width % multiple) {
      throw new Error(`${m.spec.name} needs sizes that are multiples of ${multiple}; got ${loader.width}x${loader.height} (set --height/--width)`);
    }
    const ev = evalSimulator(m, a, loader.height, loader.width);
    const system = new InferenceSystem(m.system, inf);
    console.log(`${m.spec.name} (${m.system.module.numParameters().toLocaleString('en')} parameters) on ${ds.name}: ${ds.length} images at ` +
      `${loader.width}x${loader.height}${down > 1 ? ` (labels at 1/${down})` : ''}` +
      `, inference: ${describeInference(inf)}` + (ev ? `, distortion ${describeTurbulence(ev.sim.params)}${ev.fromCheckpoint ? ' (from the checkpoint)' : ''}` : ''));
    try {
      const r = await evaluateSystem(system, loader, { sim: ev?.sim, seed: a.seed, label: 'eval' });
      if (r.ious.length > 1) {
        const per = m.system.outputs[0].split(' ')[0];
        console.log(`mIoU per ${per}: ${r.ious.map((x) => (100 * x.miou).toFixed(2)).join(' → ')}`);
        console.log(`pixel accuracy per ${per}: ${r.ious.map((x) => (100 * x.pixelAccuracy).toFixed(2)).join(' → ')}`);
      }
      console.log(`IoU${r.ious.length > 1 ? ' after the last iteration' : ''} on ${ds.name} at ${loader.width}x${loader.height} (${describeInference(inf)}):\n` +
        iouTable(r.ious[r.ious.length - 1], ds.classNames, ds.ignoreIndex));
      const restoration = restorationLines(r.extras);
      if (restoration.length) console.log(`restoration against the clean images:\n${restoration.map(([k, v]) => `  ${k.padEnd(34)} ${v}`).join('\n')}`);
      if (a.json) {
        writeFileAtomic(a.json, JSON.stringify({ model: m.spec.name, weights: a.weights, data: a.data, split: a.split, height: loader.height,
          width: loader.width, inference: inf, classes: ds.classNames, distortion: ev?.sim.params ?? null, loss: r.loss, ...r.ious[r.ious.length - 1],
          ...(r.ious.length > 1 ? { iterations: r.ious } : {}) }, null, 1));
      }
      if (a.report) {
        const last = r.ious[r.ious.length - 1];
        const palette = ds.palette ?? paletteOf(meta, m.numClasses).palette;
        const sections: Section[] = [
          { title: 'Scores', blocks: [{ kind: 'table', head: ['score', ...(r.ious.length > 1 ? m.system.outputs : ['value'])], rows: [
            ['mIoU (%)', ...r.ious.map((x) => (100 * x.miou).toFixed(2))], ['mIoU over present classes (%)', ...r.ious.map((x) => (100 * x.miouPresent).toFixed(2))],
            ['pixel accuracy (%)', ...r.ious.map((x) => (100 * x.pixelAccuracy).toFixed(2))], ['mean class accuracy (%)', ...r.ious.map((x) => (100 * x.meanClassAccuracy).toFixed(2))]] },
          { kind: 'table', head: ['setting', 'value'], rows: [['weights', a.weights], ['model', `${m.spec.name} (${m.system.module.numParameters().toLocaleString('en')} parameters)`],
            ['data', `${ds.name}, split ${a.split}, ${ds.length} images at ${loader.width}×${loader.height}`], ['inference', describeInference(inf)],
            ['heat distortion', ev ? describeTurbulence(ev.sim.params) : 'none'], ...restoration] }] },
          { title: 'Per class', blocks: perClassBlocks(ds.classNames, ds.ignoreIndex, last.iou, last.confusion, ds.name) },
        ];
        const panels = await validationPanels(system, loader, 4, palette, ds.ignoreIndex, ev?.sim ?? null, a.seed, multiple);
        if (panels.length) sections.push({ title: 'Samples', blocks: panels.map((row, k) => ({ kind: 'images' as const, caption: `image ${k + 1}`, items: row })) });
        await writeReport(a.report, `mirage eval: ${m.spec.name} on ${ds.name}`, `${a.weights} · ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`, sections);
        console.log(`report → ${a.report}`);
      }
    } finally {
      ev?.sim.dispose();
      m.system.dispose();
    }
  } finally {
    close();
  }
}
