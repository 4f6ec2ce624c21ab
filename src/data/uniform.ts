// Class-uniform sampling (NVIDIA semantic-segmentation, datasets/uniform.py; seed-specs §4.4).
// Every label map is cut into square tiles; for each class present in a tile, the class's centre
// of mass inside it (truncated to integers, in image coordinates) is a centroid. Each epoch then
// holds N items: k = ⌊N·pct / C⌋ centroid items for every class that has centroids, and whole
// images drawn without repetition for the rest, whose random crop is placed to contain the centroid
// (src/data/transforms.ts). Rare classes are thus seen in about pct/C of the crops each.
//
// Tiles: the reference uses 1024-px tiles on 2048×1024 Cityscapes (two per image) and only full
// tiles, so an image smaller than a tile gives no centroid. Here centroids are taken on the label
// as the loader sizes it, and a tile larger than the image is clamped to it (one tile), so small
// inputs still get class-uniform crops; the default tile is the input height (two per 2:1 image,
// as the reference on Cityscapes). The reference's epoch is N − k·(classes without centroids)
// items long; here it is always N (the random share takes up the rest), so an epoch's length does
// not depend on the data's classes.
import type { Rng } from '../engine/rng.js';

export interface CentroidItem { index: number; x: number; y: number; cls: number }
/** One epoch item: an image, and for class-uniform items the centroid its crop must contain. */
export interface EpochItem { index: number; centroid?: { x: number; y: number }; cls?: number }

/** The centroids of one label map (W×H): per full tile, per class present (0 ≤ class < numClasses, the ignore index excluded). */
export function tileCentroids(label: Uint8Array, W: number, H: number, tile: number, numClasses: number, ignore: number): { cls: number; x: number; y: number }[] {
  if (!(tile >= 1)) throw new Error(`--class-uniform-tile ${tile}: must be ≥ 1 pixel`);
  const th = Math.min(tile, H), tw = Math.min(tile, W);
  const out: { cls: number; x: number; y: number }[] = [];
  const n = new Float64Array(numClasses), sx = new Float64Array(numClasses), sy = new Float64Array(numClasses);
  for (let ty = 0; ty + th <= H; ty += th) for (let tx = 0; tx + tw <= W; tx += tw) {
    n.fill(0); sx.fill(0); sy.fill(0);
    for (let y = ty; y < ty + th; y++) for (let x = tx; x < tx + tw; x++) {
      const c = label[y * W + x];
      if (c >= numClasses || c === ignore) continue;
      n[c]++; sx[c] += x - tx; sy[c] += y - ty;
    }
    for (let c = 0; c < numClasses; c++) {
      if (n[c] > 0) out.push({ cls: c, x: Math.floor(sx[c] / n[c]) + tx, y: Math.floor(sy[c] / n[c]) + ty });
    }
  }
  return out;
}

/** Centroids of every image, grouped by class (index = class id). */
export function classCentroids(count: number, label: (i: number) => Uint8Array, W: number, H: number, tile: number,
  numClasses: number, ignore: number, onProgress?: (done: number) => void): CentroidItem[][] {
  const byClass: CentroidItem[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < count; i++) {
    for (const c of tileCentroids(label(i), W, H, tile, numClasses, ignore)) byClass[c.cls].push({ index: i, ...c });
    onProgress?.(i + 1);
  }
  return byClass;
}

/** `num` items of `list` in a random order, wrapping around when num exceeds its length (reference random_sampling). */
function randomSampling<T>(list: T[], num: number, rng: Rng): T[] {
  const idx = Array.from({ length: list.length }, (_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) { const j = rng.int(i + 1); [idx[i], idx[j]] = [idx[j], idx[i]]; }
  return Array.from({ length: num }, (_, i) => list[idx[i % idx.length]]);
}

/** Centroid items per class and epoch: ⌊N·pct / C⌋. */
export const itemsPerClass = (count: number, pct: number, classes: number): number => Math.floor((count * pct) / classes);

/**
 * One epoch's N items (reference build_epoch): ⌊N·pct / C⌋ centroid items per class that has
 * centroids (C = the number of classes, ignore excluded), random whole images for the rest; shuffled
 * (the reference's DataLoader shuffles).
 */
export function buildEpoch(count: number, centroids: CentroidItem[][], pct: number, rng: Rng): EpochItem[] {
  if (!(pct >= 0 && pct <= 1)) throw new Error(`--class-uniform ${pct}: must be a fraction in [0, 1] (reference 0.5)`);
  const C = centroids.length, perClass = itemsPerClass(count, pct, C);
  const present = centroids.filter((l) => l.length > 0).length;
  const items: EpochItem[] = randomSampling(Array.from({ length: count }, (_, i) => i), count - perClass * present, rng).map((index) => ({ index }));
  for (const list of centroids) {
    if (list.length === 0) continue;
    for (const c of randomSampling(list, perClass, rng)) items.push({ index: c.index, centroid: { x: c.x, y: c.y }, cls: c.cls });
  }
  for (let i = items.length - 1; i > 0; i--) { const j = rng.int(i + 1); [items[i], items[j]] = [items[j], items[i]]; }
  return items;
}
