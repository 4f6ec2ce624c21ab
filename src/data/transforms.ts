// CPU image transforms for data loading: bilinear (image) / nearest (label) resize, flips, rotation,
// translation as in the ERFNet reference, NVIDIA's random size-and-crop via a gl-matrix affine,
// colour jitter (PIL/torchvision semantics) and Gaussian blur (skimage semantics).
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
  /**
   * NVIDIA's RandomSizeAndCrop: scale by U[lo, hi], then crop the input size at a random place
   * (around the centroid when the sample has one); a scaled image smaller than the crop is padded
   * with black / ignore, as the reference, and lands (almost) centred.
   */
  scale?: [number, number];
  /**
   * Output size [width, height] when training on crops of the sized image (NVIDIA's crop_size):
   * with or without scale, a crop of this size is taken at a random place. Default: the sample's size.
   */
  crop?: [number, number];
  /** torchvision/PIL ColorJitter(b, b, b, b): brightness, contrast, saturation factors U[1−b, 1+b], hue U[−b, b], random order (0: off). */
  colorJitter?: number;
  /** NVIDIA's RandomGaussianBlur: σ = 0.15 + U[0,1)·1.15 px on every sample (skimage gaussian: truncate 4, edges 'nearest'). */
  blur?: boolean;
  /** Random vertical flip with p = 0.5 (the TAS500 seed). */
  vflip?: boolean;
  /**
   * The TAS500 seed's rotation: with p = 0.5, by an angle drawn from these (degrees, counter-clockwise,
   * about the image centre, same size). Corners from outside the image get 0 / ignore (the seed's
   * label gets class 0 there; mirage does not teach a class where there is no image).
   */
  rotate?: number[];
}

/** A point of the sample (x, y in pixels) that a random crop must contain (class-uniform sampling). */
export interface Centroid { x: number; y: number }

/**
 * Where a crop of `size` pixels starts in a scaled image of `scaled` pixels (reference RandomCrop,
 * nopad false): padded by ⌊(size − scaled)/2⌋ + 1 on each side when smaller; then an integer start,
 * uniform, or uniform in [⌊c⌋ − size + 1, ⌊c⌋] (clamped) so the crop contains the pixel of the point c
 * (the reference's randint(c − size, c) leaves it out at one end).
 */
function cropStart(scaled: number, size: number, rng: Rng, c?: number): number {
  const pad = scaled < size ? Math.floor((size - scaled) / 2) + 1 : 0;
  const room = Math.floor(scaled + 2 * pad - size);            // the crop's start in padded coordinates: 0 … room
  const start = c === undefined ? rng.int(room + 1) : Math.min(room, Math.max(0, Math.floor(c + pad) - size + 1 + rng.int(size)));
  return start - pad;
}

/**
 * Applies the augmentations: the geometric ones (scale-and-crop, flip, translation) as one
 * affine map (output pixel → source pixel), sampling the image bilinearly and the label by nearest
 * neighbour, pixels from outside getting 0 / ignore; then colour jitter and blur on the image.
 */
export function augment(s: Sample, o: AugmentOptions, rng: Rng, ignore: number, centroid?: Centroid): Sample {
  const { width: W, height: H } = s;
  const [cw, ch] = o.crop ?? [W, H];
  const flip = o.flip && rng.next() < 0.5;
  const sc = o.scale ? rng.uniform(o.scale[0], o.scale[1]) : 1;
  const crops = !!(o.scale || o.crop);
  const ox = crops ? cropStart(W * sc, cw, rng, centroid && (centroid.x + 0.5) * sc) : 0;
  const oy = crops ? cropStart(H * sc, ch, rng, centroid && (centroid.y + 0.5) * sc) : 0;
  const t = o.translate ?? 0;
  const tx = t ? rng.int(2 * t + 1) - t : 0, ty = t ? rng.int(2 * t + 1) - t : 0;
  const vflip = o.vflip && rng.next() < 0.5;
  const angle = o.rotate?.length && rng.next() < 0.5 ? o.rotate[rng.int(o.rotate.length)] : 0;
  let out = s;
  if (flip || vflip || angle || sc !== 1 || ox !== 0 || oy !== 0 || tx !== 0 || ty !== 0 || cw !== W || ch !== H) {
    // source = S⁻¹·(O + F(dst) − T): flip the output, translate, offset into the scaled image, unscale
    const m = mat2d.create();
    mat2d.scale(m, m, [1 / sc, 1 / sc]);
    mat2d.translate(m, m, [ox - tx, oy - ty]);
    if (flip) { mat2d.translate(m, m, [cw, 0]); mat2d.scale(m, m, [-1, 1]); }
    // the seed's order: flip, vertical flip, then rotation; undone in reverse from the output pixel
    if (vflip) { mat2d.translate(m, m, [0, ch]); mat2d.scale(m, m, [1, -1]); }
    if (angle) { mat2d.translate(m, m, [cw / 2, ch / 2]); mat2d.rotate(m, m, (angle * Math.PI) / 180); mat2d.translate(m, m, [-cw / 2, -ch / 2]); }
    out = { ...s, ...warpAffine(s, m, ignore, cw, ch), width: cw, height: ch };
  }
  if (o.colorJitter) out = { ...out, image: colorJitter(out.image, cw, ch, o.colorJitter, rng) };
  if (o.blur) out = { ...out, image: gaussianBlur(out.image, cw, ch, 0.15 + rng.next() * 1.15) };
  return out;
}

/** The sample resampled through m (output pixel centre → source position) to ow×oh: image bilinear, label nearest, outside 0 / ignore. */
function warpAffine(s: Sample, m: mat2d, ignore: number, ow: number, oh: number): { image: Float32Array; label: Uint8Array } {
  const { width: W, height: H } = s;
  const image = new Float32Array(3 * ow * oh), label = new Uint8Array(ow * oh).fill(ignore);
  const p = vec2.create();
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    vec2.transformMat2d(p, [x + 0.5, y + 0.5], m);
    const fx = p[0] - 0.5, fy = p[1] - 0.5;
    const nx = Math.round(fx), ny = Math.round(fy);
    if (nx < 0 || ny < 0 || nx >= W || ny >= H) continue;
    label[y * ow + x] = s.label[ny * W + nx];
    const x0 = Math.max(0, Math.floor(fx)), y0 = Math.max(0, Math.floor(fy));
    const x1 = Math.min(W - 1, x0 + 1), y1 = Math.min(H - 1, y0 + 1), lx = Math.min(1, Math.max(0, fx - x0)), ly = Math.min(1, Math.max(0, fy - y0));
    for (let c = 0; c < 3; c++) {
      const q = s.image.subarray(c * W * H);
      image[c * ow * oh + y * ow + x] = (1 - ly) * ((1 - lx) * q[y0 * W + x0] + lx * q[y0 * W + x1]) + ly * ((1 - lx) * q[y1 * W + x0] + lx * q[y1 * W + x1]);
    }
  }
  return { image, label };
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
/** ITU-R 601-2 luma, as PIL's convert('L'). */
const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

/** PIL ImageEnhance.Brightness: blend with black. */
export function adjustBrightness(img: Float32Array, f: number): Float32Array { return img.map((v) => clamp01(v * f)); }

/** PIL ImageEnhance.Contrast: blend with the image's mean luma. */
export function adjustContrast(img: Float32Array, W: number, H: number, f: number): Float32Array {
  const P = W * H;
  let mean = 0;
  for (let i = 0; i < P; i++) mean += luma(img[i], img[P + i], img[2 * P + i]);
  mean /= P;
  return img.map((v) => clamp01(mean + f * (v - mean)));
}

/** PIL ImageEnhance.Color: blend with the pixel's luma. */
export function adjustSaturation(img: Float32Array, W: number, H: number, f: number): Float32Array {
  const P = W * H, out = new Float32Array(img.length);
  for (let i = 0; i < P; i++) {
    const l = luma(img[i], img[P + i], img[2 * P + i]);
    for (let c = 0; c < 3; c++) out[c * P + i] = clamp01(l + f * (img[c * P + i] - l));
  }
  return out;
}

/** torchvision adjust_hue: rotate the HSV hue by h (a fraction of the circle, in [−0.5, 0.5]); S and V kept. */
export function adjustHue(img: Float32Array, W: number, H: number, h: number): Float32Array {
  const P = W * H, out = new Float32Array(img.length);
  for (let i = 0; i < P; i++) {
    const r = img[i], g = img[P + i], b = img[2 * P + i];
    const v = Math.max(r, g, b), d = v - Math.min(r, g, b);
    let hue = 0;
    if (d > 0) hue = (v === r ? (g - b) / d : v === g ? 2 + (b - r) / d : 4 + (r - g) / d) / 6;
    hue = (((hue + h) % 1) + 1) % 1;
    const s = v > 0 ? d / v : 0;
    // HSV → RGB
    const k = (n: number) => (n + hue * 6) % 6;
    const f = (n: number) => v - v * s * Math.max(0, Math.min(k(n), 4 - k(n), 1));
    out[i] = f(5); out[P + i] = f(3); out[2 * P + i] = f(1);
  }
  return out;
}

/** ColorJitter(b, b, b, b) as the reference: the four adjustments with random factors, in random order. */
export function colorJitter(img: Float32Array, W: number, H: number, b: number, rng: Rng): Float32Array {
  const fb = rng.uniform(Math.max(0, 1 - b), 1 + b), fc = rng.uniform(Math.max(0, 1 - b), 1 + b);
  const fs = rng.uniform(Math.max(0, 1 - b), 1 + b), fh = rng.uniform(-Math.min(b, 0.5), Math.min(b, 0.5));
  const ops = [
    (x: Float32Array) => adjustBrightness(x, fb), (x: Float32Array) => adjustContrast(x, W, H, fc),
    (x: Float32Array) => adjustSaturation(x, W, H, fs), (x: Float32Array) => adjustHue(x, W, H, fh),
  ];
  for (let i = ops.length - 1; i > 0; i--) { const j = rng.int(i + 1); [ops[i], ops[j]] = [ops[j], ops[i]]; }
  return ops.reduce((x, op) => op(x), img);
}

/** The normalised 1-D Gaussian of scipy.ndimage (radius int(4σ + 0.5)). */
export function gaussianKernel(sigma: number): Float32Array {
  const r = Math.floor(4 * sigma + 0.5), k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += (k[i + r] = Math.exp(-0.5 * (i / sigma) ** 2));
  return k.map((v) => v / sum);
}

/** Separable Gaussian blur of CHW planes, edges extended ('nearest'), as skimage.filters.gaussian per channel. */
export function gaussianBlur(img: Float32Array, W: number, H: number, sigma: number): Float32Array {
  const k = gaussianKernel(sigma), r = (k.length - 1) / 2, P = W * H;
  const tmp = new Float32Array(img.length), out = new Float32Array(img.length);
  for (let c = 0; c < 3; c++) {
    const src = img.subarray(c * P, (c + 1) * P), mid = tmp.subarray(c * P, (c + 1) * P), dst = out.subarray(c * P, (c + 1) * P);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      let a = 0;
      for (let i = -r; i <= r; i++) a += k[i + r] * src[y * W + Math.min(W - 1, Math.max(0, x + i))];
      mid[y * W + x] = a;
    }
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      let a = 0;
      for (let i = -r; i <= r; i++) a += k[i + r] * mid[Math.min(H - 1, Math.max(0, y + i)) * W + x];
      dst[y * W + x] = a;
    }
  }
  return out;
}
