// sliceChannels: y = x[:, start : start+len] along axis 1; backward writes dy into a zero tensor.
import { defineOp } from '../engine/autograd.js';
import { numel } from '../engine/shape.js';
import { type Tensor, assertDType, empty, zeros } from '../engine/tensor.js';
import { stridedCopy } from './strided.js';

interface SliceState { shape: readonly number[]; start: number; len: number; inner: number }

const sliceOp = defineOp<[Tensor, number, number], SliceState>('sliceChannels', {
  forward(ctx, x, start, len) {
    assertDType('slice_channels', x, 'f32');
    if (x.rank < 2 || !Number.isInteger(start) || !Number.isInteger(len) || start < 0 || len < 1 || start + len > x.shape[1]) {
      throw new Error(`slice_channels: channels [${start}, ${start + len}) are outside ${x.describe()}`);
    }
    const inner = numel(x.shape.slice(2)), C = x.shape[1], n = x.shape[0];
    const y = empty([n, len, ...x.shape.slice(2)], 'f32', 'slice');
    stridedCopy(x, y, { shape: [n, len * inner], inStrides: [C * inner, 1], outStrides: [len * inner, 1], inOffset: start * inner });
    ctx.state = { shape: x.shape, start, len, inner };
    return y;
  },
  backward(ctx, dy) {
    const { shape, start, len, inner } = ctx.state;
    const dx = zeros(shape);
    stridedCopy(dy, dx, { shape: [shape[0], len * inner], inStrides: [len * inner, 1], outStrides: [shape[1] * inner, 1], outOffset: start * inner });
    return [dx];
  },
});

/** Channels [start, start + len) of x (axis 1). */
export const sliceChannels = (x: Tensor, start: number, len: number): Tensor => sliceOp(x, start, len);
