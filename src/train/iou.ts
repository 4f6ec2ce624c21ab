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
  /** Means over images of per-image scores, where the evaluation kept one matrix per image (perImageScores). */
  perImage?: PerImageScores;
}

/**
 * Per-image scores averaged over images, as the MSSA seed's code computes them (the
 * Semantic-Segmentation-Suite's utils.evaluate_segmentation, seed-specs §3.3), unlike the
 * confusion-matrix scores above, which pool all pixels first: per image, global accuracy (correct /
 * labelled pixels), class accuracy (a class absent from the image's ground truth scores 1.0, as
 * the Suite's) averaged over classes, and IoU averaged over the classes present in the image's
 * ground truth (compute_mean_iou). Pixels labelled `ignore` are left out (the Suite has no ignore
 * label; its void is a class).
 */
export interface PerImageScores { images: number; globalAccuracy: number; meanClassAccuracy: number; miou: number; classAccuracy: number[] }

export function perImageScores(m: ArrayLike<number>, images: number, C: number, ignore: number): PerImageScores {
  const classes = Array.from({ length: C }, (_, i) => i).filter((c) => c !== ignore);
  let ga = 0, mi = 0, counted = 0;
  const classAccuracy = classes.map(() => 0);
  for (let k = 0; k < images; k++) {
    const at = (g: number, p: number) => m[(k * C + g) * C + p];
    let correct = 0, total = 0;
    const ious: number[] = [], acc: number[] = [];
    for (const c of classes) {
      let row = 0, col = 0;
      for (let p = 0; p < C; p++) row += at(c, p);
      for (const g of classes) col += at(g, c);
      const tp = at(c, c);
      correct += tp; total += row;
      acc.push(row ? tp / row : 1);
      if (row) ious.push(tp / (row + col - tp));
    }
    if (!total) continue;   // an image with no labelled pixel
    counted++;
    acc.forEach((a, j) => { classAccuracy[j] += a; });
    ga += correct / total;
    mi += ious.reduce((a, b) => a + b, 0) / ious.length;
  }
  const n = Math.max(1, counted);
  for (let j = 0; j < classAccuracy.length; j++) classAccuracy[j] /= n;
  const meanClassAccuracy = classAccuracy.reduce((a, b) => a + b, 0) / Math.max(1, classAccuracy.length);
  return { images: counted, globalAccuracy: ga / n, meanClassAccuracy, miou: mi / n, classAccuracy };
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

/**
 * Accumulates the confusion matrix on the GPU over many batches; one read-back at the end. With
 * `images` (the data set's size), one matrix per image, which also gives the per-image scores.
 */
export class IouEval {
  private readonly conf: Tensor;
  private seen = 0;
  constructor(readonly numClasses: number, readonly ignoreIndex: number, readonly images?: number) {
    this.conf = zeros(images ? [images, numClasses, numClasses] : [numClasses, numClasses], 'u32');
  }
  /** Adds a batch; returns the predicted class map (caller disposes). */
  add(logits: Tensor, labels: Tensor): Tensor {
    const n = logits.shape[0];
    if (this.images && this.seen + n > this.images) throw new Error(`IouEval: more than the ${this.images} images it was made for`);
    const pred = noGrad(() => argmaxConfusion(logits, labels, this.conf, this.images ? { first: this.seen } : undefined));
    this.seen += n;
    return pred;
  }
  async result(): Promise<IouResult> {
    const m = await this.conf.read(), C = this.numClasses;
    if (!this.images) return iouFromConfusion(m, C, this.ignoreIndex);
    const sum = new Float64Array(C * C);
    for (let k = 0; k < this.seen; k++) for (let i = 0; i < C * C; i++) sum[i] += m[k * C * C + i];
    return { ...iouFromConfusion(sum, C, this.ignoreIndex), perImage: perImageScores(m, this.seen, C, this.ignoreIndex) };
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
    `  ${'mean class acc'.padEnd(16)} ${(100 * r.meanClassAccuracy).toFixed(2).padStart(6)}  (over the classes present)`,
    ...(r.perImage ? [`  per-image means over ${r.perImage.images} images, as the MSSA seed's code (Semantic-Segmentation-Suite evaluate_segmentation):`,
      `  ${'  mIoU'.padEnd(16)} ${(100 * r.perImage.miou).toFixed(2).padStart(6)}  (each image: classes in its ground truth)`,
      `  ${'  pixel accuracy'.padEnd(16)} ${(100 * r.perImage.globalAccuracy).toFixed(2).padStart(6)}`,
      `  ${'  mean class acc'.padEnd(16)} ${(100 * r.perImage.meanClassAccuracy).toFixed(2).padStart(6)}  (a class absent from an image scores 100)`] : [])].join('\n');
}
