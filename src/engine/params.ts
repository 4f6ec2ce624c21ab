/** Uniform values: a bare number is a u32, `f32(x)` and `i32(x)` tag the other WGSL scalar types. */
export type Param = number | { f: number } | { i: number };
export const f32 = (f: number): Param => ({ f });
export const i32 = (i: number): Param => ({ i });

/** Bytes of a uniform block of `n` scalars: 4 each, padded to a multiple of 16 (at least 16). */
export const paramBytes = (n: number): number => Math.max(16, Math.ceil((n * 4) / 16) * 16);

/** Writes scalars in declaration order (4 bytes each) at `offset` of `view`. */
export function writeParams(view: DataView, offset: number, vals: readonly Param[]): void {
  for (let k = 0; k < vals.length; k++) {
    const v = vals[k];
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`uniform #${k}: ${v} is not a u32`);
      view.setUint32(offset + k * 4, v, true);
    } else if ('f' in v) view.setFloat32(offset + k * 4, v.f, true);
    else view.setInt32(offset + k * 4, v.i, true);
  }
}

/** Shape/stride arrays for kernels of rank ≤ 6, laid out as `array<vec4u, 2>` (8 slots). */
export function slots8(xs: readonly number[], fill = 0): number[] {
  if (xs.length > 8) throw new Error(`rank ${xs.length} is above the supported 6`);
  return [...xs, ...new Array(8 - xs.length).fill(fill)];
}
