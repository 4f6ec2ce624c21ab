// Shared CLI helper: a Node WebGPU engine for commands that are not the trainer (which starts its own).
import { seedGlobal } from '../engine/rng.js';
import { createNodeEngine } from '../node/device.js';

export async function startEngine(seed: number) {
  seedGlobal(seed);
  const { engine, gpu } = await createNodeEngine({ seed });
  if (engine.precision === 'f16') {
    const m = engine.matrix;
    console.log(`precision: ${engine.halfStorage ? 'f16 activations' : 'f32 activations (MIRAGE_F16_STORAGE=0)'}, f16 GEMM operands, f32 sums (${m ? `tensor cores: subgroup matrices ${m.M}x${m.N}x${m.K}` : 'no subgroup matrices: scalar f16 core'})`);
  }
  return { engine, close: () => { engine.destroy(); gpu.destroy(); } };
}

import type { Argv } from 'yargs';
import { DEFAULT_INFERENCE, type InferenceOptions } from '../train/inference.js';

/** eval/predict: sliding-window, multi-scale and flipped inference (NVIDIA's eval.py, seed-specs §4.5). */
export function inferenceOptions<T>(y: Argv<T>) {
  return y
    .option('inference', { choices: ['whole', 'sliding', 'pooling'] as const, default: 'whole' as const,
      describe: 'whole: one forward per image; sliding: overlapping tiles (--crop-size, --overlap), logits averaged; pooling: whole image per scale' })
    .option('scales', { type: 'string', default: '1', describe: 'comma-separated input scales whose logits are averaged, e.g. 0.5,1.0,2.0 (the Cityscapes test submission)' })
    .option('flip', { type: 'boolean', default: false, describe: 'also run horizontally flipped inputs and average' })
    .option('crop-size', { type: 'number', default: DEFAULT_INFERENCE.crop, describe: 'sliding tile side at scale 1 (×scale above 1); clipped to the image' })
    .option('overlap', { type: 'number', default: DEFAULT_INFERENCE.overlap, describe: 'sliding tile overlap in [0, 1)' });
}

export function parseInference(a: { inference?: string; scales?: string; flip?: boolean; cropSize?: number; overlap?: number }): InferenceOptions {
  const scales = String(a.scales ?? '1').split(',').map((s) => Number(s.trim()));
  if (scales.some((s) => !Number.isFinite(s))) throw new Error(`--scales ${a.scales}: expected numbers like 0.5,1.0,2.0`);
  return { mode: (a.inference ?? 'whole') as InferenceOptions['mode'], scales, flip: a.flip === true,
    crop: a.cropSize ?? DEFAULT_INFERENCE.crop, overlap: a.overlap ?? DEFAULT_INFERENCE.overlap };
}
