// mirage eval: confusion matrix over a whole split, per-class IoU, mIoU, pixel and class accuracy.
import { writeFileSync } from 'node:fs';
import { noGrad } from '../engine/autograd.js';
import { scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { type Split, openDataset, parseDataSpec } from '../data/datasets.js';
import { Loader } from '../data/loader.js';
import { IouEval } from '../train/iou.js';
import { iouTable, startEngine } from './common.js';
import { loadErfnet, loadFeedback } from './model-io.js';
import { readWeights } from './common.js';
import { type TurbulenceParams, TurbulenceSimulator, sampleSeed } from '../sim/turbulence.js';
import { Progress } from './progress.js';

export interface EvalArgs extends TurbulenceParams { model: string; weights: string; data: string; split: Split; height: number; width?: number;
  batchSize: number; seed: number; valSize: number; json?: string; distort?: boolean }

export async function evaluate(a: EvalArgs): Promise<void> {
  if (readWeights(a.weights).meta.model === 'feedback') return evaluateFeedback(a);
  const spec = parseDataSpec(a.data);
  const { close } = await startEngine(a.seed);
  try {
    const ds = openDataset(spec, { split: a.split, syntheticCount: a.valSize, seed: a.seed, height: a.height, width: a.width ?? 2 * a.height });
    const { net, encoderOnly } = loadErfnet(a.model, a.weights, ds.numClasses);
    const loader = new Loader(ds, { batchSize: a.batchSize, height: a.height, width: a.width, labelDownscale: encoderOnly ? 8 : 1 });
    console.log(`${ds.name}: ${ds.length} images at ${loader.width}x${loader.height}${encoderOnly ? ' (encoder-only: 1/8 labels)' : ''}`);
    const meter = new IouEval(ds.numClasses, ds.ignoreIndex);
    const bar = new Progress('eval', ds.length);
    const sim = a.distort ? new TurbulenceSimulator(loader.height, loader.width, a) : null;
    if (sim) console.log(`evaluating on heat-distorted images: σ ${sim.params.sigma.toFixed(2)} px, correlation ${sim.params.corrLength.toFixed(1)} px`);
    let n = 0, k = 0;
    for await (const b of loader.epoch(0)) {
      const batch = k++;
      scope(() => noGrad(() => {
        const x0 = tensor(b.x, [b.n, 3, b.height, b.width]);
        const x = sim ? sim.distort(x0, sampleSeed(a.seed + 7777, batch)).image : x0;
        const y = tensor(b.y, [b.n, b.labelHeight, b.labelWidth], { dtype: 'i32' });
        meter.add(net.forward(x, encoderOnly), y);
      }));
      n += b.n;
      bar.update(n, n);
    }
    const r = await meter.result();
    bar.done();
    console.log(`IoU on ${ds.name} at ${loader.width}x${loader.height}:\n${iouTable(r, ds.classNames, ds.ignoreIndex)}`);
    if (a.json) writeFileSync(a.json, JSON.stringify({ data: a.data, split: a.split, height: loader.height, width: loader.width,
      classes: ds.classNames, ...r }, null, 1));
    meter.dispose(); net.dispose(); sim?.dispose();
  } finally {
    close();
  }
}

/** Feedback model: mIoU per feedback iteration on images distorted as in training (or as the flags say). */
async function evaluateFeedback(a: EvalArgs): Promise<void> {
  const spec = parseDataSpec(a.data);
  const { close } = await startEngine(a.seed);
  try {
    const ds = openDataset(spec, { split: a.split, syntheticCount: a.valSize, seed: a.seed, height: a.height, width: a.width ?? 2 * a.height });
    const fb = loadFeedback(a.weights, ds.numClasses);
    const loader = new Loader(ds, { batchSize: a.batchSize, height: a.height, width: a.width });
    const useMeta = a.sigma === undefined && a.cn2 === undefined && fb.meta.sigma !== undefined;
    const sim = new TurbulenceSimulator(loader.height, loader.width,
      useMeta ? { sigma: Number(fb.meta.sigma), corrLength: Number(fb.meta.corr_length), blur: Number(fb.meta.blur ?? 0) } : a);
    console.log(`${ds.name}: ${ds.length} images at ${loader.width}x${loader.height}, distortion σ ${sim.params.sigma.toFixed(2)} px, ` +
      `correlation ${sim.params.corrLength.toFixed(1)} px${sim.params.blur ? `, blur up to σ ${sim.params.blur} px` : ''}${useMeta ? ' (from the checkpoint)' : ''}`);
    const meters = Array.from({ length: fb.sys.iterations }, () => new IouEval(ds.numClasses, ds.ignoreIndex));
    const bar = new Progress('eval', ds.length);
    let n = 0, k = 0;
    for await (const b of loader.epoch(0)) {
      const batch = k++;
      scope(() => {
        const clean = tensor(b.x, [b.n, 3, b.height, b.width]);
        const y = tensor(b.y, [b.n, b.height, b.width], { dtype: 'i32' });
        const o = fb.sys.run(sim.distort(clean, sampleSeed(a.seed + 7777, batch)).image, null, null, null);
        o.logits.forEach((lg, it) => meters[it].add(lg, y));
      });
      n += b.n;
      bar.update(n, n);
    }
    const res = await Promise.all(meters.map((m) => m.result()));
    bar.done();
    console.log(`mIoU per feedback iteration: ${res.map((r) => (100 * r.miou).toFixed(2)).join(' → ')}`);
    console.log(`IoU after the last iteration on ${ds.name} at ${loader.width}x${loader.height}:\n${iouTable(res[res.length - 1], ds.classNames, ds.ignoreIndex)}`);
    if (a.json) writeFileSync(a.json, JSON.stringify({ data: a.data, split: a.split, height: loader.height, width: loader.width,
      sigma: sim.params.sigma, corrLength: sim.params.corrLength, blur: sim.params.blur, classes: ds.classNames, iterations: res }, null, 1));
    meters.forEach((m) => m.dispose()); fb.dispose(); sim.dispose();
  } finally {
    close();
  }
}
