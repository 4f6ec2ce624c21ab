// mirage/train: what drives a model without files — its System (loss and optimizer steps), live
// training on procedural scenes, one-image segmentation, IoU, and optimizers by spec string.
// Runs on any WebGPU host; the CLI's full trainer (trainer.ts, files and data sets) is Node-only.
export { type EvalOut, type StepData, type StepOut, type System, DeepSupervisionSystem, SegmentationSystem } from './system.js';
export { FeedbackSystem, type FeedbackOptions } from './feedback.js';
export { DEFAULT_INFERENCE, InferenceSystem, type InferenceOptions } from './inference.js';
export { LiveTrainer, type LiveOptions } from './live.js';
export { type Segmentation, cropChw, distortImage, padChw, segmentImage } from './segment.js';
export { IouEval, type IouResult, iouFromConfusion, iouTable } from './iou.js';
export { OPTIMIZERS, SCHEDULES, makeOptimizer, makeSchedule, parseSpec } from './recipe.js';
