// Segmentation metrics from a confusion matrix accumulated over a whole data set, with the
// reference iouEval semantics (seed-specs §2.8): for c ≠ ignore, TP_c = M[c][c];
// FP_c = Σ_{g ∉ {c, ignore}} M[g][c]; FN_c = Σ_{p ≠ c} M[c][p] (predicting the ignore class is a miss);
// IoU_c = TP/(TP+FP+FN+1e-15); mIoU = mean over the non-ignore classes.
import { noGrad } from '../engine/autograd.js';
import { type Tensor, zeros } from '../engine/tensor.js';
import { argmaxConfusion } from '../kernels/metrics.js';

export interface IouResult {
  iou: number[];
  miou: number;
  /** Mean IoU over the classes that occur in the ground truth (the reference averages all). */
  miouPresent: number;
  pixelAccuracy: number;
  meanClassAccuracy: number;
  /** Row = ground truth, column = prediction. */
  confusion: number[][];
}

export function iouFromConfusion(m: ArrayLike<number>, C: number, ignore: number): IouResult {
  const at = (g: number, p: number) => m[g * C + p];
  const classes = Array.from({ length: C }, (_, i) => i).filter((c) => c !== ignore);
  const iou: number[] = [], acc: number[] = [], present: number[] = [];
  let tpAll = 0, valid = 0;
  for (const c of classes) {
    const tp = at(c, c);
    let fp = 0, fn = 0;
    for (let g = 0; g < C; g++) if (g !== c && g !== ignore) fp += at(g, c);
    for (let p = 0; p < C; p++) if (p !== c) fn += at(c, p);
    iou.push(tp / (tp + fp + fn + 1e-15));
    if (tp + fn > 0) { acc.push(tp / (tp + fn)); present.push(iou[iou.length - 1]); }
    tpAll += tp; valid += tp + fn;
  }
  const confusion = Array.from({ length: C }, (_, g) => Array.from({ length: C }, (_, p) => at(g, p)));
  return {
    iou, miou: iou.reduce((a, b) => a + b, 0) / Math.max(1, iou.length),
    miouPresent: present.reduce((a, b) => a + b, 0) / Math.max(1, present.length),
    pixelAccuracy: valid ? tpAll / valid : 0,
    meanClassAccuracy: acc.length ? acc.reduce((a, b) => a + b, 0) / acc.length : 0,
    confusion,
  };
}

/** Accumulates the confusion matrix on the GPU over many batches; one read-back at the end. */
export class IouEval {
  private readonly conf: Tensor;
  constructor(readonly numClasses: number, readonly ignoreIndex: number) {
    this.conf = zeros([numClasses, numClasses], 'u32');
  }
  /** Adds a batch; returns the predicted class map (caller disposes). */
  add(logits: Tensor, labels: Tensor): Tensor {
    return noGrad(() => argmaxConfusion(logits, labels, this.conf));
  }
  async result(): Promise<IouResult> {
    return iouFromConfusion(await this.conf.read(), this.numClasses, this.ignoreIndex);
  }
  dispose(): void { this.conf.dispose(); }
}

/** Per-class IoU table with mIoU (all classes, and those present), pixel and mean class accuracy. */
export function iouTable(r: IouResult, names: string[], ignore: number): string {
  const rows = names.filter((_, i) => i !== ignore).map((n, k) => `  ${n.padEnd(16)} ${(100 * r.iou[k]).toFixed(2).padStart(6)}`);
  const present = r.iou.filter((_, k) => r.confusion[k < ignore ? k : k + 1].some((v) => v > 0)).length;
  return [...rows, `  ${'mIoU'.padEnd(16)} ${(100 * r.miou).toFixed(2).padStart(6)}  (all ${r.iou.length} classes, as the reference iouEval)`,
    `  ${'mIoU present'.padEnd(16)} ${(100 * r.miouPresent).toFixed(2).padStart(6)}  (${present} classes that occur in the ground truth)`,
    `  ${'pixel accuracy'.padEnd(16)} ${(100 * r.pixelAccuracy).toFixed(2).padStart(6)}`,
    `  ${'mean class acc'.padEnd(16)} ${(100 * r.meanClassAccuracy).toFixed(2).padStart(6)}`].join('\n');
}
