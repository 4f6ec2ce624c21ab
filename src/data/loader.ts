// Batches of resized (and optionally augmented) samples as host arrays ready for upload. The next
// batch is prepared while the GPU runs the current step (the GPU works asynchronously; loading
// happens when the training loop awaits it).
import { Rng } from '../engine/rng.js';
import type { SegDataset } from './datasets.js';
import type { Sample } from './synthetic.js';
import { type AugmentOptions, augment, resizeImage, resizeLabel } from './transforms.js';

export interface LoaderOptions {
  batchSize: number;
  /** Network input height (multiple of 8 for ERFNet); width follows the data's aspect unless given. */
  height: number;
  width?: number;
  shuffle?: boolean;
  augment?: AugmentOptions;
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
  readonly width: number;
  readonly height: number;
  constructor(readonly ds: SegDataset, readonly o: LoaderOptions) {
    if (ds.length === 0) throw new Error(`${ds.name}: the data set is empty`);
    if (!(o.batchSize >= 1)) throw new Error(`--batch-size must be ≥ 1, got ${o.batchSize}`);
    if (!(o.height >= 8 && o.height % 8 === 0)) throw new Error(`--height must be a positive multiple of 8, got ${o.height}`);
    if (o.width !== undefined && !(o.width >= 8 && o.width % 8 === 0)) throw new Error(`--width must be a positive multiple of 8, got ${o.width}`);
    this.height = o.height;
    if (o.width) this.width = o.width;
    else {
      const first = ds.load(0);
      this.width = Math.max(8, Math.round((o.height * first.width) / first.height / 8) * 8);
    }
  }

  batches(): number { return Math.ceil(this.ds.length / this.o.batchSize); }

  private order(epoch: number): number[] {
    const idx = Array.from({ length: this.ds.length }, (_, i) => i);
    if (this.o.shuffle) {
      const r = new Rng(((this.o.seed ?? 0) * 7919 + epoch) >>> 0);
      for (let i = idx.length - 1; i > 0; i--) { const j = r.int(i + 1); [idx[i], idx[j]] = [idx[j], idx[i]]; }
    }
    return idx;
  }

  /** Loads, resizes and augments one sample to the loader's size. */
  prepare(i: number, rng: Rng): Sample {
    const s = this.ds.load(i);
    const [W, H] = [this.width, this.height];
    let out: Sample = { ...s, image: resizeImage(s.image, s.width, s.height, W, H), label: resizeLabel(s.label, s.width, s.height, W, H), width: W, height: H };
    if (this.o.augment) out = augment(out, this.o.augment, rng, this.ds.ignoreIndex);
    return out;
  }

  private makeBatch(order: number[], k: number, rng: Rng): Batch {
    const ids = order.slice(k * this.o.batchSize, (k + 1) * this.o.batchSize);
    const [W, H] = [this.width, this.height], ds = this.o.labelDownscale ?? 1;
    const [lw, lh] = [W / ds, H / ds];
    const x = new Float32Array(ids.length * 3 * W * H), y = new Int32Array(ids.length * lw * lh);
    const names: string[] = [], samples: Sample[] = [];
    ids.forEach((id, b) => {
      const s = this.prepare(id, rng);
      x.set(s.image, b * 3 * W * H);
      y.set(ds === 1 ? s.label : resizeLabel(s.label, W, H, lw, lh), b * lw * lh);
      names.push(s.name);
      if (this.o.keepSamples) samples.push(s);
    });
    return { x, y, n: ids.length, height: H, width: W, labelHeight: lh, labelWidth: lw, names, samples: this.o.keepSamples ? samples : undefined };
  }

  /** The batches of one epoch, each prepared while the previous one is being used. */
  async *epoch(epoch = 0): AsyncGenerator<Batch> {
    const order = this.order(epoch), n = this.batches();
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
