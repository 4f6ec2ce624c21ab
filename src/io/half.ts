/** IEEE half-precision bits → number (checkpoint readers). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

/** bfloat16 bits → number. */
export const bf16ToFloat = (h: number): number => new Float32Array(new Uint32Array([h << 16]).buffer)[0];

/** number → IEEE half-precision bits, rounded to nearest, ties to even; beyond ±65504 (after rounding) ±inf, NaN a quiet NaN. */
export function floatToHalf(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const s = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return s | 0x7c00;   // 65520 and above round to infinity
  if (a < 2 ** -14) return s | roundEven(a * 2 ** 24);   // subnormal (1024 units is the smallest normal's bits)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let m = roundEven(a * 2 ** (10 - e));   // 1024 … 2048
  if (m === 2048) { m = 1024; e++; }
  return s | ((e + 15) << 10) | (m - 1024);
}

function roundEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Half bits of every value (a Uint16Array of even length, so it fills whole 4-byte words). */
export function toHalfBits(data: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(data.length + (data.length % 2));
  for (let i = 0; i < data.length; i++) out[i] = floatToHalf(data[i]);
  return out;
}

/** Values of half bits as f32. */
export function fromHalfBits(bits: Uint16Array, n = bits.length): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = halfToFloat(bits[i]);
  return out;
}
