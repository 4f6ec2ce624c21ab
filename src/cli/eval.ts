// mirage eval: confusion matrix over a whole split, per-class IoU, mIoU, pixel and class accuracy.
import { writeFileSync } from 'node:fs';
import { noGrad } from '../engine/autograd.js';
import { scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { type Split, openDataset, parseDataSpec } from '../data/datasets.js';
import { Loader } from '../data/loader.js';
import { IouEval } from '../train/iou.js';
import { iouTable, startEngine } from './common.js';
import { loadErfnet } from './model-io.js';
import { Progress } from './progress.js';

export interface EvalArgs { model: string; weights: string; data: string; split: Split; height: number; width?: number;
  batchSize: number; seed: number; valSize: number; json?: string }

export async function evaluate(a: EvalArgs): Promise<void> {
  const spec = parseDataSpec(a.data);
  const { close } = await startEngine(a.seed);
  try {
    const ds = openDataset(spec, { split: a.split, syntheticCount: a.valSize, seed: a.seed, height: a.height, width: a.width ?? 2 * a.height });
    const { net, encoderOnly } = loadErfnet(a.model, a.weights, ds.numClasses);
    const loader = new Loader(ds, { batchSize: a.batchSize, height: a.height, width: a.width, labelDownscale: encoderOnly ? 8 : 1 });
    console.log(`${ds.name}: ${ds.length} images at ${loader.width}x${loader.height}${encoderOnly ? ' (encoder-only: 1/8 labels)' : ''}`);
    const meter = new IouEval(ds.numClasses, ds.ignoreIndex);
    const bar = new Progress('eval', ds.length);
    let n = 0;
    for await (const b of loader.epoch(0)) {
      scope(() => noGrad(() => {
        const x = tensor(b.x, [b.n, 3, b.height, b.width]);
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
    meter.dispose(); net.dispose();
  } finally {
    close();
  }
}
