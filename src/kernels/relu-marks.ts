// Fused ReLUs without a mask pass in backward (bench/NOTES.md §33, §42). An op whose output went
// through a ReLU in its own store marks that output; its backward must zero the incoming gradient
// where the output is 0. A consumer whose input gradient kernel can do that zeroing at its store
// (one more load per output) does so and marks the gradient; the producer's backward then skips
// its mask pass when exactly that gradient arrives (a sum of several consumers' gradients has no
// mark, and is masked as usual).
import type { Storage, Tensor } from '../engine/tensor.js';

const reluOutputs = new WeakSet<Storage>();
const maskedBy = new WeakMap<Tensor, Storage>();

/** Marks y as the output of a ReLU applied inside the op that made it. */
export const markReluOutput = (y: Tensor): void => { reluOutputs.add(y.storage); };

/** Whether x (or a view of the same storage) is a marked ReLU output. */
export const isReluOutput = (x: Tensor): boolean => reluOutputs.has(x.storage);

/** Marks gradient g as already zero wherever the ReLU output y is. */
export const markMasked = (g: Tensor, y: Tensor): void => { maskedBy.set(g, y.storage); };

/** Whether g was marked as masked by y's storage. */
export const isMaskedBy = (g: Tensor, y: Tensor): boolean => maskedBy.get(g) === y.storage;
