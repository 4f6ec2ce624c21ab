/** IEEE half-precision bits → number (checkpoint readers). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

/** bfloat16 bits → number. */
export const bf16ToFloat = (h: number): number => new Float32Array(new Uint32Array([h << 16]).buffer)[0];
