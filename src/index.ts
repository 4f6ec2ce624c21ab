// mirage public API. Runs on any WebGPU host: pass your GPUDevice to initEngine().
// (Node users can get a Dawn device from 'mirage/node'.)
export { Engine, type EngineOptions, getEngine, hasEngine, initEngine, setEngine } from './engine/engine.js';
export { KernelError, type Kernel } from './engine/pipeline-cache.js';
export { type DType, Tensor, empty, full, ones, tensor, zeros } from './engine/tensor.js';
export { keep, scope } from './engine/scope.js';
export { backward, defineOp, isGradEnabled, noGrad, releaseGraph } from './engine/autograd.js';
export { type HostTensor, Module } from './engine/module.js';
export { Rng, seedGlobal } from './engine/rng.js';
export { add, leakyRelu, mul, relu, scale, sigmoid, sub, tanh } from './kernels/elementwise.js';
export { mean, reshape, sum } from './kernels/reduce.js';
export { type Conv2dOptions, type ConvTranspose2dOptions, conv2d, convTranspose2d } from './kernels/conv2d.js';
export { batchNorm2d } from './kernels/batchnorm.js';
export { avgPool2d, maxPool2d } from './kernels/pool.js';
export { concat } from './kernels/concat.js';
export { cast } from './kernels/cast.js';
export { dropout2d } from './kernels/dropout.js';
export { resizeBilinear } from './kernels/resize.js';
export { warp } from './kernels/warp.js';
export { logSoftmax, softmax } from './kernels/softmax.js';
export { crossEntropy, focalLoss, l1Loss } from './kernels/losses.js';
export { linear, matmul } from './kernels/matmul.js';
export { BatchNorm2d, Conv2d, ConvTranspose2d, Dropout2d, Linear } from './models/layers.js';
export { Optimizer } from './optim/optimizer.js';
export { SGD } from './optim/sgd.js';
export { Adam, AdamW } from './optim/adam.js';
export { RMSprop } from './optim/rmsprop.js';
export { ExponentialLR, LRScheduler, PolyLR, StepLR } from './optim/lr-scheduler.js';
