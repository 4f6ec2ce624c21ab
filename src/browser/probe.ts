// Kernel family by measurement, for adapters that do not say what they are. A browser's
// compatibility-mode adapter (Chromium on ANGLE, lavapipe underneath) reports blank vendor and
// architecture unless developer features are on, so the engine's guess from the name takes it for
// a GPU and picks the tiled kernels, which ran ERFNet 2× slower there than the portable ones. The
// probe times one ERFNet-shaped convolution (forward and both gradients) with each family the
// device can run and keeps the fastest; a workgroup-tiled winner means a GPU-class device.
import { backward } from '../engine/autograd.js';
import { type Engine, type KernelFamily } from '../engine/engine.js';
import { scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { conv2d } from '../kernels/conv2d.js';
import { sum } from '../kernels/reduce.js';

export interface ProbeResult {
  family: KernelFamily;
  /** Milliseconds per repetition of each family tried (after one warm-up that compiles its pipelines). */
  ms: Partial<Record<KernelFamily, number>>;
}

/** Times each runnable family (`reps` repetitions after a warm-up), sets the engine to the fastest and returns the times. */
export async function probeKernels(engine: Engine, reps = 3): Promise<ProbeResult> {
  const families: KernelFamily[] = [...(engine.canSubgroup ? ['subgroup' as const] : []), 'tiled', 'portable'];
  const [N, C, H, W] = [1, 64, 32, 64];
  const xs = new Float32Array(N * C * H * W), ws = new Float32Array(C * C * 3);
  for (let i = 0; i < xs.length; i++) xs[i] = Math.sin(i * 0.37);
  for (let i = 0; i < ws.length; i++) ws[i] = Math.cos(i * 0.11) * 0.05;
  const was = engine.kernelFamily;
  const ms: Partial<Record<KernelFamily, number>> = {};
  const run = () => scope(() => {
    const x = tensor(xs, [N, C, H, W], { requiresGrad: true }), w = tensor(ws, [C, C, 3, 1], { requiresGrad: true });
    backward(sum(conv2d(x, w, null, { padding: [1, 0] })));
  });
  try {
    for (const f of families) {
      engine.kernelFamily = f;
      run();
      await engine.fence();
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) run();
      await engine.fence();
      ms[f] = (performance.now() - t0) / reps;
    }
  } catch (e) {
    engine.kernelFamily = was;
    throw e;
  }
  const family = families.reduce((a, b) => (ms[b]! < ms[a]! ? b : a));
  engine.kernelFamily = family;
  engine.deviceClass = family === 'tiled' ? 'gpu' : 'cpu';
  engine.splitReductions = engine.deviceClass === 'gpu';
  return { family, ms };
}
