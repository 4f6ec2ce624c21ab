// PNG read/write via pngjs, with errors that name the file.
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { PNG } from 'pngjs';

export interface Rgba { width: number; height: number; data: Uint8Array }

export function readPng(path: string): Rgba {
  let buf: Buffer;
  try { buf = readFileSync(path); } catch (e) { throw new Error(`cannot read image ${path}: ${(e as Error).message}`); }
  try {
    const png = PNG.sync.read(buf);
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
  } catch (e) {
    throw new Error(`${path} is not a valid PNG (${(e as Error).message})`);
  }
}

/** Writes RGBA or RGB (3 values per pixel) atomically: temp file, then rename. */
export function writePng(path: string, width: number, height: number, data: Uint8Array, channels: 3 | 4 = 4): void {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) png.data[4 * i + c] = data[channels * i + c];
    png.data[4 * i + 3] = channels === 4 ? data[4 * i + 3] : 255;
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, PNG.sync.write(png));
  renameSync(tmp, path);
}

/** RGBA bytes → CHW float RGB in [0,1]. */
export function toChwFloat(img: Rgba): Float32Array {
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
