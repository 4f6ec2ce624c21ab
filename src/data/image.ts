// Image layouts and colouring without files (the CLI's PNGs and browser canvases both use them):
// RGBA or RGB bytes ↔ CHW float RGB in [0,1], classes → palette colours, blends.
import type { RGB } from './classes.js';

/** RGBA bytes (a PNG's pixels, a canvas's ImageData) → CHW float RGB in [0,1]. */
export function toChwFloat(img: { width: number; height: number; data: ArrayLike<number> }): Float32Array {
  const n = img.width * img.height, out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = img.data[4 * i + c] / 255;
  return out;
}

/** CHW float RGB in [0,1] → RGB bytes. */
export function fromChwFloat(chw: Float32Array, width: number, height: number): Uint8Array {
  const n = width * height, out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[3 * i + c] = Math.round(255 * Math.min(1, Math.max(0, chw[c * n + i])));
  return out;
}

/** Class per pixel → RGB bytes in the palette's colours (a class outside it: white). */
export function colourise(classes: ArrayLike<number>, palette: readonly RGB[]): Uint8Array {
  const out = new Uint8Array(3 * classes.length);
  for (let p = 0; p < classes.length; p++) for (let c = 0; c < 3; c++) out[3 * p + c] = palette[classes[p]]?.[c] ?? 255;
  return out;
}

/** (1 − t)·a + t·b per byte, rounded: the overlay of a segmentation on its image at t = 0.5. */
export function blend(a: Uint8Array, b: Uint8Array, t = 0.5): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Math.round((1 - t) * a[i] + t * b[i]);
  return out;
}

/** RGB bytes → RGBA bytes with opaque alpha (canvas ImageData). */
export function rgbToRgba(rgb: Uint8Array): Uint8ClampedArray {
  const n = rgb.length / 3, out = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) { out[4 * i] = rgb[3 * i]; out[4 * i + 1] = rgb[3 * i + 1]; out[4 * i + 2] = rgb[3 * i + 2]; out[4 * i + 3] = 255; }
  return out;
}
