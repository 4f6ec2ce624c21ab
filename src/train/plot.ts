// Renders training curves (loss on the left axis, mIoU on the right) to a PNG, with a 5×7 font.
import { writePng } from '../data/png.js';

const FONT: Record<string, string> = {   // 5×7 glyphs, rows top to bottom, 5 bits each
  '0': '0e11131519110e', '1': '040c040404040e', '2': '0e11010204081f', '3': '1f02040201110e', '4': '02060a121f0202',
  '5': '1f101e0101110e', '6': '0608101e11110e', '7': '1f010204080808', '8': '0e11110e11110e', '9': '0e11110f01020c',
  '.': '00000000000c0c', '-': '0000001f000000', ' ': '00000000000000', 'A': '0e11111f111111', 'C': '0e11101010110e',
  'E': '1f10101e10101f', 'H': '1111111f111111', 'I': '0e04040404040e', 'L': '1010101010101f', 'M': '111b1515111111',
  'N': '11111915131111', 'O': '0e11111111110e', 'P': '1e11111e101010', 'R': '1e11111e141211', 'S': '0f10100e01011e',
  'T': '1f040404040404', 'D': '1e11111111111e', 'F': '1f10101e101010', 'B': '1e11111e11111e', 'G': '0e11101711110f',
  'X': '11110a040a1111', '%': '18190204081313', '/': '01010204081010', 'Y': '11110a04040404', 'K': '11121418141211', '+': '0004041f040400', '(': '02040808080402', ')': '08040202020408', 'U': '1111111111110e', 'V': '11111111110a04', 'W': '11111115151b11', ':': '000c0c000c0c00',
};

export interface Series { name: string; values: number[]; color: [number, number, number]; axis: 'left' | 'right' }

/** A round tick step (1, 2, 2.5 or 5 × 10^k) giving about `n` intervals up to `hi`. */
export function niceStep(hi: number, n = 4): number {
  const raw = hi / n, p = 10 ** Math.floor(Math.log10(raw)), m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * p;
}

/** Tick label without float noise (0.30000000000000004 → 0.3). */
const tickText = (v: number) => String(Number(v.toPrecision(6)));

export function plotCurves(path: string, series: Series[], title = 'EPOCH', axisTitles: { left: string; right: string } = { left: 'LOSS', right: 'MIOU %' }): void {
  const W = 640, H = 360, L = 60, R = 60, T = 48, B = 40;
  const img = new Uint8Array(W * H * 3).fill(255);
  const put = (x: number, y: number, c: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const i = 3 * (Math.round(y) * W + Math.round(x));
    img[i] = c[0]; img[i + 1] = c[1]; img[i + 2] = c[2];
  };
  const text = (s: string, x: number, y: number, c: [number, number, number] = [0, 0, 0]) => {
    [...s.toUpperCase()].forEach((ch, k) => {
      const g = (FONT[ch] ?? FONT[' ']).replace(/ /g, '');
      for (let row = 0; row < 7; row++) {
        const bits = parseInt(g.slice(2 * row, 2 * row + 2), 16);
        for (let col = 0; col < 5; col++) if (bits & (16 >> col)) put(x + 6 * k + col, y + row, c);
      }
    });
  };
  const line = (x0: number, y0: number, x1: number, y1: number, c: [number, number, number]) => {
    const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let k = 0; k <= n; k++) put(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n, c);
  };
  const n = Math.max(1, ...series.map((s) => s.values.length));
  // each axis from 0 to a round top, ticks at a round step
  const range = (axis: 'left' | 'right') => {
    const vals = series.filter((s) => s.axis === axis).flatMap((s) => s.values).filter(Number.isFinite);
    const hi = vals.length ? Math.max(...vals) : 1;
    const step = niceStep(hi > 0 ? hi : 1);
    return [0, Math.max(step, Math.ceil((hi > 0 ? hi : 1) / step - 1e-9) * step), step] as const;
  };
  const ranges = { left: range('left'), right: range('right') };
  const px = (i: number) => L + (n === 1 ? 0.5 : i / (n - 1)) * (W - L - R);
  const py = (v: number, axis: 'left' | 'right') => H - B - (v - ranges[axis][0]) / (ranges[axis][1] - ranges[axis][0]) * (H - T - B);
  line(L, H - B, W - R, H - B, [0, 0, 0]); line(L, T, L, H - B, [0, 0, 0]); line(W - R, T, W - R, H - B, [0, 0, 0]);
  for (const side of ['left', 'right'] as const) {
    const [, top, step] = ranges[side];
    for (let v = 0; v <= top + 1e-9 * top; v += step) {
      const y = py(v, side);
      if (side === 'left') { line(L - 3, y, L, y, [0, 0, 0]); for (let x = L + 1; x < W - R; x += 4) put(x, y, [220, 220, 220]); }
      else line(W - R, y, W - R + 3, y, [0, 0, 0]);
      const label = tickText(v);
      text(label, side === 'left' ? L - 6 - 6 * label.length : W - R + 6, y - 3);
    }
  }
  text(axisTitles.left, 4, T - 16);
  text(axisTitles.right, W - 6 * axisTitles.right.length - 4, T - 16);
  for (let i = 0; i < n; i += Math.max(1, Math.ceil(n / 10))) text(String(i + 1), px(i) - 3, H - B + 6);
  text(title, W / 2 - 15, H - 14);
  series.forEach((s, k) => {
    for (let i = 1; i < s.values.length; i++) {
      if (Number.isFinite(s.values[i - 1]) && Number.isFinite(s.values[i])) {
        for (const d of [-0.5, 0, 0.5]) line(px(i - 1), py(s.values[i - 1], s.axis) + d, px(i), py(s.values[i], s.axis) + d, s.color);
      }
    }
    s.values.forEach((v, i) => { if (Number.isFinite(v)) for (let a = -2; a <= 2; a++) for (let b = -2; b <= 2; b++) put(px(i) + a, py(v, s.axis) + b, s.color); });
    const lx = L + 10 + 150 * k;
    for (let a = 0; a < 12; a++) for (let b = 0; b < 7; b++) put(lx + a, 10 + b, s.color);
    text(`${s.name} ${s.axis === 'left' ? '(L)' : '(R)'}`.replace(/[()]/g, ' '), lx + 16, 10);
  });
  writePng(path, W, H, img, 3);
}

/** A bar chart of named values (e.g. mIoU per variant), values labelled above the bars. */
export function plotBars(path: string, bars: { name: string; value: number }[], title: string): void {
  const W = 640, H = 360, L = 40, B = 50, T = 40;
  const img = new Uint8Array(W * H * 3).fill(255);
  const put = (x: number, y: number, c: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const i = 3 * (Math.round(y) * W + Math.round(x));
    img[i] = c[0]; img[i + 1] = c[1]; img[i + 2] = c[2];
  };
  const text = (s: string, x: number, y: number) => [...s.toUpperCase()].forEach((ch, k) => {
    const g = FONT[ch] ?? FONT[' '];
    for (let row = 0; row < 7; row++) {
      const bits = parseInt(g.slice(2 * row, 2 * row + 2), 16);
      for (let col = 0; col < 5; col++) if (bits & (16 >> col)) put(x + 6 * k + col, y + row, [0, 0, 0]);
    }
  });
  const max = Math.max(1e-9, ...bars.map((b) => b.value)) * 1.15;
  const slot = (W - 2 * L) / Math.max(1, bars.length);
  text(title, L, 12);
  for (let x = L; x < W - L; x++) put(x, H - B, [0, 0, 0]);
  bars.forEach((b, i) => {
    const x0 = L + i * slot + slot * 0.15, x1 = L + (i + 1) * slot - slot * 0.15;
    const top = H - B - (b.value / max) * (H - B - T);
    const c: [number, number, number] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75]][i % 6] as [number, number, number];
    for (let y = Math.round(top); y < H - B; y++) for (let x = Math.round(x0); x <= x1; x++) put(x, y, c);
    text(b.value.toFixed(2), x0, top - 10);
    text(b.name, x0 - 4, H - B + 8 + (i % 2) * 12);
  });
  writePng(path, W, H, img, 3);
}
