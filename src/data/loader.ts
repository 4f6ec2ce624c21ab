// Batches of resized (and optionally augmented) samples as host arrays ready for upload. The next
// batch is prepared while the GPU runs the current step (the GPU works asynchronously; loading
// happens when the training loop awaits it).
import { Rng } from '../engine/rng.js';
import type { SegDataset } from './datasets.js';
import type { Sample } from './synthetic.js';
import { type AugmentOptions, augment, resizeImage, resizeLabel } from './transforms.js';
import { type CentroidItem, type EpochItem, buildEpoch, classCentroids } from './uniform.js';

export interface LoaderOptions {
  batchSize: number;
  /**
   * Network input height (multiple of 8 for ERFNet). Width: `width`, or the height times the data
   * set's median aspect ratio, to a multiple of 8. Each image is scaled to cover height × width
   * (keeping its aspect) and centre-cropped, so images of other sizes and shapes fit without
   * distortion; when they all share the input's aspect this is a plain resize.
   */
  height: number;
  width?: number;
  shuffle?: boolean;
  augment?: AugmentOptions;
  /**
   * Class-uniform sampling (src/data/uniform.ts): the share `pct` of each epoch's items are crops
   * around class centroids found in tiles of `tile` pixels of the sized labels (default: the input
   * height). With augment.scale the item's random crop is placed around its centroid; without,
   * the item is the whole image (still drawn for the class it holds).
   */
  classUniform?: { pct: number; tile?: number };
  seed?: number;
  /** Labels at 1/labelDownscale of the input (ERFNet encoder stage: 8). */
  labelDownscale?: number;
  /** Keep the resized RGB and names (predict, panels). */
  keepSamples?: boolean;
}

export interface Batch {
  x: Float32Array;      // [n, 3, height, width]
  y: Int32Array;        // [n, height/ds, width/ds]
  n: number;
  height: number;
  width: number;
  labelHeight: number;
  labelWidth: number;
  names: string[];
  samples?: Sample[];
}

export class Loader {
  /** The size each image is scaled and cropped to (covering it, keeping its aspect). */
  readonly width: number;
  readonly height: number;
  /** The batches' size: augment.crop when training on random crops of the sized images, else width × height. */
  readonly inputWidth: number;
  readonly inputHeight: number;
  /** What differs between the data and the input size (e.g. images of several sizes), for the user. */
  readonly notes: string[] = [];
  constructor(readonly ds: SegDataset, readonly o: LoaderOptions) {
    if (ds.length === 0) throw new Error(`${ds.name}: the data set is empty`);
    if (!(o.batchSize >= 1)) throw new Error(`--batch-size must be ≥ 1, got ${o.batchSize}`);
    if (!(o.height >= 8 && o.height % 8 === 0)) throw new Error(`--height must be a positive multiple of 8, got ${o.height}`);
    if (o.width !== undefined && !(o.width >= 8 && o.width % 8 === 0)) throw new Error(`--width must be a positive multiple of 8, got ${o.width}`);
    this.height = o.height;
    const sizes = ds.sizes();
    const aspects = sizes.map((s) => s.width / s.height).sort((a, b) => a - b);
    const median = aspects[Math.floor(aspects.length / 2)];
    this.width = o.width ?? Math.max(8, Math.round((o.height * median) / 8) * 8);
    [this.inputWidth, this.inputHeight] = o.augment?.crop ?? [this.width, this.height];
    if (!(this.inputWidth >= 8 && this.inputWidth % 8 === 0 && this.inputHeight >= 8 && this.inputHeight % 8 === 0)) {
      throw new Error(`--crop-size ${this.inputWidth}x${this.inputHeight}: both sides must be positive multiples of 8`);
    }
    const counts = new Map<string, number>();
    for (const s of sizes) counts.set(`${s.width}x${s.height}`, (counts.get(`${s.width}x${s.height}`) ?? 0) + 1);
    if (counts.size > 1) {
      const top = [...counts].sort((a, b) => b[1] - a[1]);
      this.notes.push(`${ds.name}: images come in ${counts.size} sizes (${top.slice(0, 3).map(([k, n]) => `${n} at ${k}`).join(', ')}` +
        `${counts.size > 3 ? ', …' : ''}); each is scaled to cover ${this.width}x${this.height} and centre-cropped (--height/--width set the size)`);
    }
  }

  batches(): number { return Math.ceil(this.ds.length / this.o.batchSize); }

  private centroids?: CentroidItem[][];
  /**
   * The class centroids of every training label (class-uniform sampling), found once: each label is
   * loaded and sized as for training. Called by the first epoch if not before (the trainer calls it
   * with a progress bar).
   */
  classCentroids(onProgress?: (done: number, total: number) => void): CentroidItem[][] {
    const cu = this.o.classUniform;
    if (!cu) throw new Error('class centroids: this loader has no class-uniform sampling');
    const [W, H] = [this.width, this.height], ds = this.ds, n = ds.length;
    this.centroids ??= classCentroids(n, (i) => coverCrop(ds.load(i), W, H).label, W, H, cu.tile ?? H,
      ds.numClasses - 1, ds.ignoreIndex, (d) => onProgress?.(d, n));
    return this.centroids;
  }

  private items(epoch: number): EpochItem[] {
    const r = new Rng(((this.o.seed ?? 0) * 7919 + epoch) >>> 0);
    if (this.o.classUniform && this.o.classUniform.pct > 0) return buildEpoch(this.ds.length, this.classCentroids(), this.o.classUniform.pct, r);
    const idx = Array.from({ length: this.ds.length }, (_, i) => i);
    if (this.o.shuffle) for (let i = idx.length - 1; i > 0; i--) { const j = r.int(i + 1); [idx[i], idx[j]] = [idx[j], idx[i]]; }
    return idx.map((index) => ({ index }));
  }

  /** Loads, scales to cover the loader's size (keeping the aspect), centre-crops and augments one sample (its crop around `centroid` if given). */
  prepare(i: number, rng: Rng, centroid?: { x: number; y: number }): Sample {
    const s = this.ds.load(i);
    const [W, H] = [this.width, this.height];
    let out: Sample = { ...s, ...coverCrop(s, W, H), width: W, height: H };
    if (this.o.augment) out = augment(out, this.o.augment, rng, this.ds.ignoreIndex, centroid);
    return out;
  }

  private makeBatch(order: EpochItem[], k: number, rng: Rng): Batch {
    const ids = order.slice(k * this.o.batchSize, (k + 1) * this.o.batchSize);
    const [W, H] = [this.inputWidth, this.inputHeight], ds = this.o.labelDownscale ?? 1;
    const [lw, lh] = [W / ds, H / ds];
    const x = new Float32Array(ids.length * 3 * W * H), y = new Int32Array(ids.length * lw * lh);
    const names: string[] = [], samples: Sample[] = [];
    ids.forEach((it, b) => {
      const s = this.prepare(it.index, rng, it.centroid);
      x.set(s.image, b * 3 * W * H);
      y.set(ds === 1 ? s.label : resizeLabel(s.label, W, H, lw, lh), b * lw * lh);
      names.push(s.name);
      if (this.o.keepSamples) samples.push(s);
    });
    return { x, y, n: ids.length, height: H, width: W, labelHeight: lh, labelWidth: lw, names, samples: this.o.keepSamples ? samples : undefined };
  }

  /** The batches of one epoch, each prepared while the previous one is being used. */
  async *epoch(epoch = 0): AsyncGenerator<Batch> {
    const order = this.items(epoch), n = this.batches();
    const rng = new Rng(((this.o.seed ?? 0) * 104729 + epoch * 31 + 7) >>> 0);
    const load = (k: number) => new Promise<Batch>((res, rej) => setImmediate(() => {
      try { res(this.makeBatch(order, k, rng)); } catch (e) { rej(e); }
    }));
    let next = load(0);
    for (let k = 0; k < n; k++) {
      const b = await next;
      if (k + 1 < n) { next = load(k + 1); next.catch(() => undefined); }
      yield b;
    }
  }
}

/** The sample scaled to cover W×H keeping its aspect, then centre-cropped to W×H (a plain resize when the aspects agree). */
export function coverCrop(s: Sample, W: number, H: number): { image: Float32Array; label: Uint8Array } {
  const scale = Math.max(W / s.width, H / s.height);
  let [rw, rh] = [Math.round(s.width * scale), Math.round(s.height * scale)];
  if (Math.abs(rw - W) <= 1 && Math.abs(rh - H) <= 1) [rw, rh] = [W, H];   // same aspect up to rounding: no crop
  rw = Math.max(rw, W); rh = Math.max(rh, H);
  const image = resizeImage(s.image, s.width, s.height, rw, rh), label = resizeLabel(s.label, s.width, s.height, rw, rh);
  if (rw === W && rh === H) return { image, label };
  const [x0, y0] = [(rw - W) >> 1, (rh - H) >> 1];
  const outI = new Float32Array(3 * W * H), outL = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    outL.set(label.subarray((y + y0) * rw + x0, (y + y0) * rw + x0 + W), y * W);
    for (let c = 0; c < 3; c++) outI.set(image.subarray(c * rw * rh + (y + y0) * rw + x0, c * rw * rh + (y + y0) * rw + x0 + W), c * W * H + y * W);
  }
  return { image: outI, label: outL };
}
