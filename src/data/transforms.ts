// CPU image transforms for data loading: bilinear (image) / nearest (label) resize, flip,
// translation as in the ERFNet reference, and a random scale-crop via a gl-matrix affine.
import { mat2d, vec2 } from 'gl-matrix';
import type { Rng } from '../engine/rng.js';
import type { Sample } from './synthetic.js';

/** Bilinear resize of CHW float planes (half-pixel centres); box-averages first when shrinking ≥2×. */
export function resizeImage(src: Float32Array, w: number, h: number, ow: number, oh: number): Float32Array {
  let cur = src, cw = w, ch = h;
  while (cw >= 2 * ow && ch >= 2 * oh) {             // anti-alias: halve with a 2×2 box
    const nw = cw >> 1, nh = ch >> 1, next = new Float32Array(3 * nw * nh);
    for (let c = 0; c < 3; c++) for (let y = 0; y < nh; y++) for (let x = 0; x < nw; x++) {
      const b = c * cw * ch + 2 * y * cw + 2 * x;
      next[c * nw * nh + y * nw + x] = 0.25 * (cur[b] + cur[b + 1] + cur[b + cw] + cur[b + cw + 1]);
    }
    cur = next; cw = nw; ch = nh;
  }
  if (cw === ow && ch === oh) return cur === src ? src.slice() : cur;
  const out = new Float32Array(3 * ow * oh), sx = cw / ow, sy = ch / oh;
  for (let y = 0; y < oh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), ch - 1), y0 = Math.floor(fy), y1 = Math.min(y0 + 1, ch - 1), ly = fy - y0;
    for (let x = 0; x < ow; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), cw - 1), x0 = Math.floor(fx), x1 = Math.min(x0 + 1, cw - 1), lx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const p = cur.subarray(c * cw * ch);
        out[c * ow * oh + y * ow + x] = (1 - ly) * ((1 - lx) * p[y0 * cw + x0] + lx * p[y0 * cw + x1]) + ly * ((1 - lx) * p[y1 * cw + x0] + lx * p[y1 * cw + x1]);
      }
    }
  }
  return out;
}

/** Nearest-neighbour resize of a label map (PIL NEAREST: src = floor((dst + ½)·scale)). */
export function resizeLabel(src: Uint8Array, w: number, h: number, ow: number, oh: number): Uint8Array {
  if (w === ow && h === oh) return src.slice();
  const out = new Uint8Array(ow * oh);
  for (let y = 0; y < oh; y++) {
    const sy = Math.min(h - 1, Math.floor((y + 0.5) * h / oh));
    for (let x = 0; x < ow; x++) out[y * ow + x] = src[sy * w + Math.min(w - 1, Math.floor((x + 0.5) * w / ow))];
  }
  return out;
}

export interface AugmentOptions {
  /** Random horizontal flip with p = 0.5 (reference). */
  flip?: boolean;
  /** Random translation by up to this many pixels in x and y (reference: 2), padding 0 / ignore. */
  translate?: number;
  /** Random scale in [lo, hi] around the centre, then crop back (off by default). */
  scale?: [number, number];
}

/**
 * Applies the augmentations with one affine map (output pixel → source pixel), sampling the
 * image bilinearly and the label by nearest neighbour; pixels from outside get 0 / ignore.
 */
export function augment(s: Sample, o: AugmentOptions, rng: Rng, ignore: number): Sample {
  const { width: W, height: H } = s;
  const m = mat2d.create();
  const flip = o.flip && rng.next() < 0.5;
  const sc = o.scale ? rng.uniform(o.scale[0], o.scale[1]) : 1;
  const t = o.translate ?? 0;
  const tx = t ? rng.int(2 * t + 1) - t : 0, ty = t ? rng.int(2 * t + 1) - t : 0;
  if (!flip && sc === 1 && tx === 0 && ty === 0) return s;
  // source = C⁻¹·S⁻¹·F·C·(dst − T): flip and scale about the centre, then translate
  mat2d.translate(m, m, [W / 2, H / 2]);
  mat2d.scale(m, m, [(flip ? -1 : 1) / sc, 1 / sc]);
  mat2d.translate(m, m, [-W / 2 - tx, -H / 2 - ty]);
  const image = new Float32Array(3 * W * H), label = new Uint8Array(W * H).fill(ignore);
  const p = vec2.create();
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    vec2.transformMat2d(p, [x + 0.5, y + 0.5], m);
    const fx = p[0] - 0.5, fy = p[1] - 0.5;
    const nx = Math.round(fx), ny = Math.round(fy);
    if (nx < 0 || ny < 0 || nx >= W || ny >= H) continue;
    label[y * W + x] = s.label[ny * W + nx];
    const x0 = Math.max(0, Math.floor(fx)), y0 = Math.max(0, Math.floor(fy));
    const x1 = Math.min(W - 1, x0 + 1), y1 = Math.min(H - 1, y0 + 1), lx = Math.min(1, Math.max(0, fx - x0)), ly = Math.min(1, Math.max(0, fy - y0));
    for (let c = 0; c < 3; c++) {
      const q = s.image.subarray(c * W * H);
      image[c * W * H + y * W + x] = (1 - ly) * ((1 - lx) * q[y0 * W + x0] + lx * q[y0 * W + x1]) + ly * ((1 - lx) * q[y1 * W + x0] + lx * q[y1 * W + x1]);
    }
  }
  return { ...s, image, label };
}
