// The evaluation pass over a data set, shared by training-time validation and `mirage eval`:
// every output's confusion matrix accumulated on the GPU (reference iouEval semantics), the mean
// loss and extras when labels allow, and the non-finite watch. Distorted inputs are drawn from
// the simulator with one seed per batch index, so the same checkpoint and seed give the same
// numbers in training logs and in `mirage eval`.
import { keep, scope } from '../engine/scope.js';
import { type Tensor, full, tensor, zeros } from '../engine/tensor.js';
import type { Batch, Loader } from '../data/loader.js';
import { FINITE, accumulateScalar } from '../kernels/finite.js';
import { type TurbulenceSimulator, sampleSeed } from '../sim/turbulence.js';
import { IouEval, type IouResult } from './iou.js';
import { Progress } from './progress.js';
import { RestorationMeter } from './restoration-meter.js';
import type { System } from './system.js';

/** The seed of batch k's distortion in evaluation (training batches use sampleSeed(seed, epoch·100003 + k)). */
export const evalDistortSeed = (seed: number, k: number): number => sampleSeed(seed + 7777, k);

export interface EvalResult {
  /** Mean loss per batch, or null without labels. */
  loss: number | null;
  extras: Record<string, number>;
  /** One per output of the system; the last is the prediction. */
  ious: IouResult[];
  images: number;
  seconds: number;
}

export interface EvalOptions {
  sim?: TurbulenceSimulator | null;
  seed: number;
  label: string;
  /** Show the running loss every N batches (default: only at the end). */
  every?: number;
}

/** Uploads a loader batch as [N,3,H,W] images and i32 labels. */
export function uploadBatch(b: Batch): { x: Tensor; y: Tensor } {
  return { x: tensor(b.x, [b.n, 3, b.height, b.width]), y: tensor(b.y, [b.n, b.labelHeight, b.labelWidth], { dtype: 'i32' }) };
}

/** Thrown when a loss or metric of an evaluation is Inf or NaN. */
export class NonFiniteError extends Error {}

export async function evaluateSystem(system: System, loader: Loader, o: EvalOptions): Promise<EvalResult> {
  const ds = loader.ds;
  const meters = system.outputs.map(() => new IouEval(ds.numClasses, ds.ignoreIndex, ds.length));
  const flag = keep(full([1], FINITE, 'u32'));
  let lossSum: Tensor | null = null;
  const extraSums = new Map<string, Tensor>();
  const bar = new Progress(o.label, ds.length);
  // with a simulator: restoration against the exact inverse field (PSNR, L1, flow error, ceilings) into the extras
  const meter = o.sim ? new RestorationMeter() : null;
  system.train(false);
  let k = 0, n = 0;
  try {
    for await (const b of loader.epoch(0)) {
      const batch = k;
      scope(() => {
        const { x, y } = uploadBatch(b);
        const d = o.sim ? o.sim.distort(x, evalDistortSeed(o.seed, batch)) : null;
        const input = d ? d.image : x;
        const out = system.evalStep(input, y, x);
        if (meter && d) meter.add(input, x, d.field, out);
        out.logits.forEach((lg, i) => meters[i].add(lg, y).dispose());
        if (out.loss) accumulateScalar((lossSum ??= keep(zeros([]))), out.loss, flag, batch);
        for (const [name, v] of Object.entries(out.extras ?? {})) {
          if (!extraSums.has(name)) extraSums.set(name, keep(zeros([])));
          accumulateScalar(extraSums.get(name)!, v, flag, batch);
        }
      });
      await meter?.flush();
      k++; n += b.n;
      const show = o.every && lossSum && (k % o.every === 0 || k === loader.batches());
      bar.update(n, n, show ? `loss ${((await lossSum!.item()) / k).toFixed(4)}` : '');
    }
    const [bad] = await flag.read();
    const ious = await Promise.all(meters.map((m) => m.result()));
    const loss = lossSum ? (await (lossSum as Tensor).item()) / Math.max(1, k) : null;
    const extras: Record<string, number> = {};
    for (const [name, t] of extraSums) extras[name] = (await t.item()) / Math.max(1, k);
    if (meter) Object.assign(extras, meter.result());
    if (bad !== FINITE) throw new NonFiniteError(`${o.label.trim()}: the loss is not finite at batch ${bad + 1} of ${loader.batches()}`);
    const last = ious[ious.length - 1];
    const seconds = bar.done(`${loss !== null ? `loss ${loss.toFixed(4)} ` : ''}mIoU ${(100 * last.miou).toFixed(2)}`);
    return { loss, extras, ious, images: n, seconds };
  } finally {
    for (const m of meters) m.dispose();
    meter?.dispose();
    flag.dispose();
    (lossSum as Tensor | null)?.dispose();
    for (const t of extraSums.values()) t.dispose();
  }
}
