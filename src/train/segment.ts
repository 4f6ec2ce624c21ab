// One image through a model (any System): padded right/bottom with zeros to the model's multiple,
// optionally heat-distorted first, then logits, classes and the model's extra images (restored
// inputs) cropped back to the image. Shared by `mirage predict` and browser pages.
import { keep, scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { argmaxConfusion } from '../kernels/metrics.js';
import type { TurbulenceSimulator } from '../sim/turbulence.js';
import type { System } from './system.js';

/** CHW image of H×W placed top-left in a zero image of PH×PW. */
export function padChw(img: Float32Array, C: number, H: number, W: number, PH: number, PW: number): Float32Array {
  const x = new Float32Array(C * PH * PW);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) x.set(img.subarray(c * H * W + y * W, c * H * W + (y + 1) * W), c * PH * PW + y * PW);
  return x;
}

/** The top-left H×W of each of C planes of PH×PW. */
export function cropChw(v: ArrayLike<number>, C: number, H: number, W: number, PH: number, PW: number): Float32Array {
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[c * H * W + y * W + x] = v[c * PH * PW + y * PW + x];
  return out;
}

/** A CHW RGB image of H×W (at most the simulator's size) heat-distorted by `sim` with `seed`: padded to the simulator's size, distorted, cropped back. */
export async function distortImage(sim: TurbulenceSimulator, image: Float32Array, H: number, W: number, seed: number): Promise<Float32Array> {
  if (H > sim.height || W > sim.width) throw new Error(`distort: the image ${W}x${H} is larger than the simulator's ${sim.width}x${sim.height}`);
  const out = scope(() => keep(sim.distort(tensor(padChw(image, 3, H, W, sim.height, sim.width), [1, 3, sim.height, sim.width]), seed).image));
  try { return cropChw(await out.readF32(), 3, H, W, sim.height, sim.width); } finally { out.dispose(); }
}

export interface Segmentation {
  /** Class per pixel, H·W. */
  classes: Uint8Array;
  /** The last output's logits, C·H·W. */
  logits: Float32Array;
  numClasses: number;
  /** Class per pixel of every output (feedback iterations), the last = `classes`. */
  perOutput: Uint8Array[];
  /** The system's extra images (e.g. 'restored 1'), 3·H·W each, and 'input' (the distorted image) when a simulator ran. */
  images: Record<string, Float32Array>;
}

/**
 * Segments a CHW RGB image in [0,1] of H×W. `multiple`: the model's input multiple (spec.multiple).
 * With `sim`, the image is distorted first with seed `seed`.
 */
export async function segmentImage(system: System, image: Float32Array, H: number, W: number, multiple: number,
  sim: TurbulenceSimulator | null = null, seed = 0): Promise<Segmentation> {
  if (image.length !== 3 * H * W) throw new Error(`segment: the image has ${image.length} values, not 3·${H}·${W}`);
  const PH = Math.ceil(H / multiple) * multiple, PW = Math.ceil(W / multiple) * multiple;
  if (sim && (sim.height !== PH || sim.width !== PW)) throw new Error(`segment: the simulator is ${sim.width}x${sim.height}, the padded image ${PW}x${PH}`);
  const out = scope(() => {
    const x = tensor(padChw(image, 3, H, W, PH, PW), [1, 3, PH, PW]);
    const input = sim ? sim.distort(x, seed).image : x;
    const o = system.evalStep(input, null, null);
    const images = { ...(sim ? { input } : {}), ...(o.images ?? {}) };
    return { logits: o.logits.map((l) => keep(l)), preds: o.logits.map((l) => keep(argmaxConfusion(l, null, null))),
      images: Object.fromEntries(Object.entries(images).map(([k, v]) => [k, keep(v)])) };
  });
  try {
    const last = out.logits[out.logits.length - 1];
    const C = last.shape[1];
    const logits = cropChw(await last.readF32(), C, H, W, PH, PW);
    const perOutput: Uint8Array[] = [];
    for (const p of out.preds) {
      const v = await p.read(), cls = new Uint8Array(H * W);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) cls[y * W + x] = v[y * PW + x];
      perOutput.push(cls);
    }
    const images: Record<string, Float32Array> = {};
    for (const [k, t] of Object.entries(out.images)) images[k] = cropChw(await t.readF32(), 3, H, W, PH, PW);
    return { classes: perOutput[perOutput.length - 1], logits, numClasses: C, perOutput, images };
  } finally {
    for (const t of [...out.logits, ...out.preds, ...Object.values(out.images)]) t.dispose();
  }
}
