// Sliding-window, multi-scale and flipped inference as NVIDIA's eval.py (seed-specs §4.5), as a
// System wrapper, so `eval`, `predict` and the trainer's evaluator use it unchanged.
//   sliding: for each scale s the image is resized (bilinear) to s·H × s·W (to multiples of the
//     model's input multiple), cut into tiles of crop·max(s, 1) with `overlap` (stride
//     ceil(tile·(1 − overlap)); the last tile of a row or column is shifted inward to end at the
//     border); the raw logits of overlapping tiles are summed and divided by the per-pixel count,
//     resized back to H × W, un-flipped; then the mean over flips and scales.
//   pooling: the whole image per scale and flip; the output at scale 2 is average-pooled 2×2, any
//     other scale resized back bilinearly (the reference supports only 0.5, 1, 2).
// A tile larger than the (scaled) image is clipped to it, so with one scale, no flip and a tile that
// covers the image, both modes give the plain forward's logits. Losses are not computed here.
import { scope } from '../engine/scope.js';
import { type Tensor, tensor, zeros } from '../engine/tensor.js';
import { add, mul, scale } from '../kernels/elementwise.js';
import { avgPool2d } from '../kernels/pool.js';
import { resizeBilinear } from '../kernels/resize.js';
import { addRegion, cropRegion, flipW } from '../kernels/tiles.js';
import type { EvalOut, StepData, StepOut, System } from './system.js';
import type { Optimizer } from '../optim/optimizer.js';

export interface InferenceOptions {
  mode: 'whole' | 'sliding' | 'pooling';
  scales: number[];
  flip: boolean;
  /** Sliding tile side at scale 1 (reference 1024). */
  crop: number;
  /** Sliding overlap (reference 1/3). */
  overlap: number;
}

export const DEFAULT_INFERENCE: InferenceOptions = { mode: 'whole', scales: [1], flip: false, crop: 1024, overlap: 1 / 3 };

/** Tile origins along one axis: stride ceil(tile·(1 − overlap)), the last shifted to end at the border. */
export function tileStarts(size: number, tile: number, overlap: number): number[] {
  if (tile >= size) return [0];
  const stride = Math.max(1, Math.ceil(tile * (1 - overlap)));
  const out: number[] = [];
  for (let p = 0; ; p += stride) {
    if (p + tile >= size) { out.push(size - tile); break; }
    out.push(p);
  }
  return out;
}

const roundTo = (v: number, m: number) => Math.max(m, Math.round(v / m) * m);
const floorTo = (v: number, m: number) => Math.max(m, Math.floor(v / m) * m);

export function describeInference(o: InferenceOptions): string {
  if (o.mode === 'whole' && o.scales.length === 1 && o.scales[0] === 1 && !o.flip) return 'whole image';
  return `${o.mode}${o.mode === 'sliding' ? ` (tile ${o.crop}, overlap ${+o.overlap.toFixed(3)})` : ''}, scales ${o.scales.join(',')}${o.flip ? ', flip' : ''}`;
}

export class InferenceSystem implements System {
  constructor(readonly inner: System, readonly o: InferenceOptions) {
    if (!o.scales.length || o.scales.some((s) => !(s > 0 && s <= 4))) throw new Error(`--scales ${o.scales.join(',')}: each scale must be in (0, 4]`);
    if (!(o.overlap >= 0 && o.overlap < 1)) throw new Error(`--overlap ${o.overlap}: must be in [0, 1)`);
    if (!(o.crop >= 8)) throw new Error(`--crop-size ${o.crop}: must be at least 8`);
  }
  get module() { return this.inner.module; }
  get groups() { return this.inner.groups; }
  get outputs() { return this.inner.outputs; }
  get labelDownscale() { return this.inner.labelDownscale; }
  get multiple() { return this.inner.multiple; }
  train(mode: boolean): void { this.inner.train(mode); }
  trainStep(d: StepData, opt: Record<string, Optimizer>): StepOut { return this.inner.trainStep(d, opt); }
  dispose(): void { this.inner.dispose(); }

  /** Logits of every output for one (already scaled) image, over tiles when sliding. */
  private tiled(x: Tensor, tileSide: number): Tensor[] {
    const [, , H, W] = x.shape, m = this.inner.multiple;
    const th = Math.min(floorTo(tileSide, m), H), tw = Math.min(floorTo(tileSide, m), W);
    const ys = tileStarts(H, th, this.o.overlap), xs = tileStarts(W, tw, this.o.overlap);
    if (ys.length === 1 && xs.length === 1 && th === H && tw === W) return this.inner.evalStep(x, null, null).logits;
    let acc: Tensor[] | null = null;
    const count = new Float32Array(H * W);
    for (const y0 of ys) for (const x0 of xs) {
      const out = scope(() => this.inner.evalStep(cropRegion(x, y0, x0, th, tw), null, null).logits);
      acc ??= out.map((l) => zeros([l.shape[0], l.shape[1], H, W]));
      out.forEach((l, i) => { addRegion(acc![i], l, y0, x0); l.dispose(); });
      for (let y = y0; y < y0 + th; y++) for (let q = x0; q < x0 + tw; q++) count[y * W + q]++;
    }
    const inv = tensor(count.map((c) => 1 / c), [1, 1, H, W]);
    try { return acc!.map((a) => { try { return mul(a, inv); } finally { a.dispose(); } }); } finally { inv.dispose(); }
  }

  evalStep(input: Tensor, labels: Tensor | null, clean: Tensor | null): EvalOut {
    const o = this.o;
    if (o.mode === 'whole' && o.scales.length === 1 && o.scales[0] === 1 && !o.flip) return this.inner.evalStep(input, labels, clean);
    const [, , H, W] = input.shape, m = this.inner.multiple;
    let sums: Tensor[] | null = null;
    const flips = o.flip ? [false, true] : [false];
    for (const s of o.scales) for (const f of flips) {
      const prev = sums as Tensor[] | null;
      sums = scope(() => {
        const h = roundTo(H * s, m), w = roundTo(W * s, m);
        let x = h === H && w === W ? input : resizeBilinear(input, h, w);
        if (f) x = flipW(x);
        let logits = o.mode === 'sliding' ? this.tiled(x, o.crop * Math.max(s, 1)) : this.inner.evalStep(x, null, null).logits;
        logits = logits.map((l) => {
          if (f) l = flipW(l);
          if (l.shape[2] === H && l.shape[3] === W) return l;
          return o.mode === 'pooling' && l.shape[2] === 2 * H && l.shape[3] === 2 * W ? avgPool2d(l, 2) : resizeBilinear(l, H, W);
        });
        return prev ? prev.map((acc, i) => add(acc, logits[i])) : logits.map((l) => scale(l, 1));
      });
      for (const t of prev ?? []) t.dispose();
    }
    const k = 1 / (o.scales.length * flips.length);
    const out = (sums as Tensor[] | null)!;
    try { return { logits: out.map((t) => scale(t, k)) }; } finally { for (const t of out) t.dispose(); }
  }
}
