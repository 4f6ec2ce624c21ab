// Shared CLI helper: a Node WebGPU engine for commands that are not the trainer (which starts its own).
import { seedGlobal } from '../engine/rng.js';
import { createNodeEngine } from '../node/device.js';

export async function startEngine(seed: number) {
  seedGlobal(seed);
  const { engine, gpu } = await createNodeEngine({ seed });
  return { engine, close: () => { engine.destroy(); gpu.destroy(); } };
}
