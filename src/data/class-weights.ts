// Class weights: ENet's w_c = 1/ln(c + p_c) from the training labels' histogram (c = 1.10 for the
// decoder stage, 1.2 for the encoder at 1/8), ERFNet's hard-coded Cityscapes tables, or a file.
import { existsSync, readFileSync } from 'node:fs';
import { ERFNET_WEIGHTS } from './classes.js';
import type { Loader } from './loader.js';

export function enetWeights(hist: Float64Array, c: number, ignore: number): Float32Array {
  const total = hist.reduce((a, v, i) => a + (i === ignore ? 0 : v), 0);
  return Float32Array.from(hist, (v, i) => (i === ignore || total === 0 ? 0 : 1 / Math.log(c + v / total)));
}

/** Pixel counts per class over the loader's (resized, un-augmented) labels. */
export async function labelHistogram(loader: Loader, onProgress?: (done: number, total: number) => void): Promise<Float64Array> {
  const hist = new Float64Array(loader.ds.numClasses);
  let k = 0;
  for await (const b of loader.epoch(0)) {
    for (const v of b.y) hist[v]++;
    onProgress?.(++k, loader.batches());
  }
  return hist;
}

/** `--class-weights`: 'enet' (histogram), 'erfnet' (reference tables), 'none', or a file of numbers. */
export async function classWeights(spec: string, loader: Loader, encoder: boolean,
  onProgress?: (done: number, total: number) => void): Promise<Float32Array | null> {
  const n = loader.ds.numClasses, ignore = loader.ds.ignoreIndex;
  if (spec === 'none') return null;
  if (spec === 'erfnet') {
    if (n !== 20) throw new Error(`--class-weights erfnet: the reference tables are for 20 Cityscapes classes, the data has ${n}`);
    return Float32Array.from(encoder ? ERFNET_WEIGHTS.encoder : ERFNET_WEIGHTS.decoder);
  }
  if (spec === 'enet') return enetWeights(await labelHistogram(loader, onProgress), encoder ? 1.2 : 1.1, ignore);
  if (!existsSync(spec)) throw new Error(`--class-weights ${spec}: expected enet, erfnet, none or an existing file`);
  const vals = readFileSync(spec, 'utf8').split(/[\s,[\]]+/).filter(Boolean).map(Number);
  if (vals.length !== n || vals.some((v) => !Number.isFinite(v) || v < 0)) {
    throw new Error(`--class-weights ${spec}: expected ${n} non-negative numbers, found ${vals.length}`);
  }
  return Float32Array.from(vals);
}
