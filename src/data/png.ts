// PNG read/write via pngjs, with errors that name the file.
import { closeSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';

/** PNG colour types: 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
export type ColorType = 0 | 2 | 3 | 4 | 6;

export interface Rgba {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel (palette and grey expanded). */
  data: Uint8Array;
  colorType: ColorType;
  depth: number;
  /** Palette-mode files: the palette's RGBA entries (the index of a pixel is recovered from its colour). */
  palette?: number[][];
}

export function readPng(path: string): Rgba {
  let buf: Buffer;
  try { buf = readFileSync(path); } catch (e) { throw new Error(`cannot read image ${path}: ${(e as Error).message}`); }
  try {
    const png = PNG.sync.read(buf) as unknown as { width: number; height: number; data: Buffer; colorType: ColorType; depth: number; palette: number[][] | false };
    return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length),
      colorType: png.colorType, depth: png.depth, palette: png.colorType === 3 && png.palette ? png.palette : undefined };
  } catch (e) {
    throw new Error(`${path} is not a valid PNG (${(e as Error).message})`);
  }
}

export interface PngHeader { width: number; height: number; depth: number; colorType: ColorType }

/** Width, height, bit depth and colour type from the IHDR chunk, reading 29 bytes (no decoding). */
export function pngHeader(path: string): PngHeader {
  const b = Buffer.alloc(29);
  let fd: number;
  try { fd = openSync(path, 'r'); } catch (e) { throw new Error(`cannot read image ${path}: ${(e as Error).message}`); }
  try { readSync(fd, b, 0, 29, 0); } finally { closeSync(fd); }
  if (b.readUInt32BE(0) !== 0x89504e47 || b.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`${path} is not a PNG file`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), depth: b[24], colorType: b[25] as ColorType };
}

/** A label file's pixels: class indices (grey, palette indices, or RGB with equal channels) and/or 0xRRGGBB colours. */
export interface LabelPixels {
  width: number;
  height: number;
  /** Index per pixel, or null for colour images whose channels differ. */
  index: Uint8Array | null;
  /** 0xRRGGBB per pixel (palette files: the palette colour). */
  rgb: Uint32Array;
  form: 'grey' | 'palette' | 'rgb';
}

/** Reads a label PNG keeping what it holds: palette indices stay indices (pngjs expands them to colours). */
export function readLabelPng(path: string): LabelPixels {
  const png = readPng(path);
  if (png.depth === 16) throw new Error(`label ${path} has 16-bit samples; save labels as 8-bit (grey, palette or RGB) PNGs`);
  const n = png.width * png.height, d = png.data;
  const rgb = new Uint32Array(n);
  for (let p = 0; p < n; p++) rgb[p] = (d[4 * p] << 16) | (d[4 * p + 1] << 8) | d[4 * p + 2];
  if (png.colorType === 0 || png.colorType === 4) {
    return { width: png.width, height: png.height, index: Uint8Array.from({ length: n }, (_, p) => d[4 * p]), rgb, form: 'grey' };
  }
  if (png.colorType === 3 && png.palette) {
    const first = new Map<number, number>();
    png.palette.forEach((c, i) => { const k = (c[0] << 16) | (c[1] << 8) | c[2]; if (!first.has(k)) first.set(k, i); });
    if (first.size < png.palette.length) {
      // two palette entries share a colour: their pixels cannot be told apart after pngjs expands them
      const dup = png.palette.findIndex((c, i) => first.get((c[0] << 16) | (c[1] << 8) | c[2]) !== i);
      const used = new Set(rgb);
      const c = png.palette[dup];
      if (used.has((c[0] << 16) | (c[1] << 8) | c[2])) {
        throw new Error(`label ${path}: palette entries ${first.get((c[0] << 16) | (c[1] << 8) | c[2])} and ${dup} have the same colour (${c.slice(0, 3)}), so their pixels cannot be told apart`);
      }
    }
    return { width: png.width, height: png.height, index: Uint8Array.from(rgb, (k) => first.get(k)!), rgb, form: 'palette' };
  }
  let equal = true;
  for (let p = 0; p < n && equal; p++) equal = d[4 * p] === d[4 * p + 1] && d[4 * p] === d[4 * p + 2];
  return { width: png.width, height: png.height, index: equal ? Uint8Array.from({ length: n }, (_, p) => d[4 * p]) : null, rgb, form: 'rgb' };
}

/** RGBA or RGB (3 values per pixel) as PNG file bytes. */
export function pngBytes(width: number, height: number, data: Uint8Array, channels: 3 | 4 = 4): Buffer {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) png.data[4 * i + c] = data[channels * i + c];
    png.data[4 * i + 3] = channels === 4 ? data[4 * i + 3] : 255;
  }
  return PNG.sync.write(png);
}

/** Writes RGBA or RGB (3 values per pixel) atomically: temp file, then rename. */
export function writePng(path: string, width: number, height: number, data: Uint8Array, channels: 3 | 4 = 4): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, pngBytes(width, height, data, channels));
  renameSync(tmp, path);
}
