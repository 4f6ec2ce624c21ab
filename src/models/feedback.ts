// The hot-weather model of Rai et al. (BMVC 2020; seed-specs §1.2–1.5): the restoration U-Net in
// front of ERFNet (without encoder.output_conv), or of another registered segmenter (--segmenter),
// under one module so that one state dict holds 'restore.*' and 'seg.*'. The unrolled feedback loop that trains them is src/train/feedback.ts.
import { Module } from '../engine/module.js';
import type { RestorationUNet } from './restoration-unet.js';

export class FeedbackModel extends Module {
  constructor(readonly restore: RestorationUNet, readonly seg: Module) { super(); }
}
