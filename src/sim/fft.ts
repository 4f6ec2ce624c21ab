// 2-D complex FFT on the GPU: radix-2 Stockham passes (ping-pong buffers, no bit reversal), rows
// then columns, power-of-two sizes; data interleaved (re, im) in f32 buffers of [batch, rows, cols, 2].
import { f32 } from '../engine/params.js';
import { type Tensor, empty } from '../engine/tensor.js';
import { MAIN_1D, kernel, run } from '../kernels/wgsl.js';

// One pass for transforms of length L along an axis with element stride `stride`; `ns` = size of the
// sub-transforms already done (1, 2, 4, …). Butterfly j ∈ [0, L/2) of line `line`.
const FFT_PASS = kernel('fft_stockham_pass', /* wgsl */ `
override WG: u32 = 64;
struct P { lines: u32, len: u32, ns: u32, stride: u32, line_stride_inner: u32, inner: u32, line_stride_outer: u32, dir: f32,
           scale: f32 }
@group(0) @binding(0) var<storage, read> src: array<vec2f>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec2f>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  let half = u.len / 2u;
  if (idx >= u.lines * half) { return; }
  let j = idx % half;
  let line = idx / half;                             // line = outer·inner + i
  let base = (line / u.inner) * u.line_stride_outer + (line % u.inner) * u.line_stride_inner;
  let k = j % u.ns;
  let a = src[base + j * u.stride];
  let b0 = src[base + (j + half) * u.stride];
  let ang = u.dir * -3.14159265358979 * f32(k) / f32(u.ns);
  let w = vec2f(cos(ang), sin(ang));
  let b = vec2f(b0.x * w.x - b0.y * w.y, b0.x * w.y + b0.y * w.x);
  let o = (j / u.ns) * u.ns * 2u + k;
  dst[base + o * u.stride] = (a + b) * u.scale;
  dst[base + (o + u.ns) * u.stride] = (a - b) * u.scale;
}`);

const isPow2 = (n: number) => n >= 1 && (n & (n - 1)) === 0;

/**
 * FFT over the last two axes of complex data x: [batch, rows, cols, 2] (interleaved). `inverse`
 * applies the 1/(rows·cols) factor. Returns a new tensor; x is not modified.
 */
export function fft2d(x: Tensor, inverse = false): Tensor {
  const [batch, rows, cols, two] = x.shape;
  if (x.rank !== 4 || two !== 2 || !isPow2(rows) || !isPow2(cols)) {
    throw new Error(`fft2d: expected [batch, rows, cols, 2] with power-of-two rows and cols, got ${x.describe()}`);
  }
  let cur = x, owned: Tensor | null = null;
  const pass = (len: number, stride: number, inner: number, innerStride: number, outer: number, outerStride: number) => {
    for (let ns = 1; ns < len; ns *= 2) {
      const out = empty(x.shape, 'f32', 'fft');
      const last = ns * 2 === len;
      run(FFT_PASS, {
        inputs: [cur], outputs: [out], threads: outer * inner * (len / 2),
        params: [outer * inner, len, ns, stride, innerStride, inner, outerStride, f32(inverse ? -1 : 1), f32(inverse && last ? 1 / len : 1)],
      });
      owned?.dispose();
      owned = out; cur = out;
    }
  };
  pass(cols, 1, rows, cols, batch, rows * cols);        // along each row
  pass(rows, cols, cols, 1, batch, rows * cols);        // along each column
  if (cur === x) return x.view(x.shape);
  return cur;
}
