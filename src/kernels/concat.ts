// concat along axis 1 (channels for NCHW): y = [x_0 | x_1 | …]; backward slices dy.
import { defineOp } from '../engine/autograd.js';
import { fmt, numel } from '../engine/shape.js';
import { type Tensor, assertDType, dtypeBytes, empty } from '../engine/tensor.js';
import { stridedCopy } from './strided.js';

// Each input is `outer` contiguous blocks of the output. Up to COPY_BLOCKS of them go as buffer
// copies (no dispatch: bench/NOTES.md §25); more as one strided-copy dispatch.
const COPY_BLOCKS = 16;
/** dst[outer × dstStride, from dstOff] = src[outer × srcStride, from srcOff], len values per block. */
function copyBlocks(src: Tensor, dst: Tensor, outer: number, len: number, srcStride: number, dstStride: number, srcOff: number, dstOff: number): void {
  const eb = dtypeBytes(src.dtype);
  // buffer copies move whole 4-byte words: f16 blocks of odd lengths or offsets go to the kernel
  const words = eb === 4 || [len, srcStride, dstStride, srcOff, dstOff, src.byteOffset / 2, dst.byteOffset / 2].every((v) => v % 2 === 0);
  if (outer > COPY_BLOCKS || !words) {
    stridedCopy(src, dst, { shape: [outer, len], inStrides: [srcStride, 1], outStrides: [dstStride, 1], inOffset: srcOff, outOffset: dstOff });
    return;
  }
  const e = dst.engine;
  for (let b = 0; b < outer; b++) e.copyBuffer(src.buffer, src.byteOffset + eb * (srcOff + b * srcStride), dst.buffer, dst.byteOffset + eb * (dstOff + b * dstStride), eb * len);
}

interface ConcatState { shapes: (readonly number[])[]; outer: number; inner: number; total: number }

const concatOp = defineOp<Tensor[], ConcatState>('concat', {
  half: 'same', activations: Infinity,   // all f16: an f16 result; else all f32
  forward(ctx, ...xs) {
    if (xs.length === 0) throw new Error('concat: no tensors given');
    const ref = xs[0].shape, dtype = xs[0].dtype;
    for (const x of xs) {
      if (x.dtype !== 'f16') assertDType('concat', x, 'f32');
      if (x.dtype !== dtype) throw new Error(`concat: ${x.describe()} is not ${dtype} like ${xs[0].describe()}`);
      if (x.rank < 2 || x.rank !== ref.length || x.shape.some((d, i) => i !== 1 && d !== ref[i])) {
        throw new Error(`concat: shapes ${xs.map((t) => fmt(t.shape)).join(', ')} differ outside axis 1`);
      }
    }
    const outer = ref[0], inner = numel(ref.slice(2));
    const total = xs.reduce((a, x) => a + x.shape[1], 0);
    const y = empty([outer, total, ...ref.slice(2)], dtype, 'concat');
    let off = 0;
    for (const x of xs) {
      const len = x.shape[1] * inner;
      copyBlocks(x, y, outer, len, len, total * inner, 0, off * inner);
      off += x.shape[1];
    }
    ctx.state = { shapes: xs.map((x) => x.shape), outer, inner, total };
    return y;
  },
  backward(ctx, dy) {
    const { shapes, outer, inner, total } = ctx.state;
    let off = 0;
    return shapes.map((s, i) => {
      const len = s[1] * inner;
      const start = off;
      off += s[1];
      if (!ctx.needsGrad[i]) return null;
      const dx = empty(s, dy.dtype, 'concat_grad');
      copyBlocks(dy, dx, outer, len, total * inner, len, start * inner, 0);
      return dx;
    });
  },
});

/** Concatenates tensors along axis 1 (channels). */
export const concat = (xs: Tensor[]): Tensor => concatOp(...xs);
