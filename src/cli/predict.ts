// mirage predict: image(s) → colourised prediction, overlay and (with ground truth) a diff image in
// the folder layout of the NVIDIA seed (rgb/ pred/ compose/ diff/), and optionally raw logits (.npy).
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { noGrad } from '../engine/autograd.js';
import { keep, scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { CITYSCAPES_PALETTE, type RGB } from '../data/classes.js';
import { type Split, openDataset, parseDataSpec } from '../data/datasets.js';
import { fromChwFloat, readPng, toChwFloat, writePng } from '../data/png.js';
import type { Sample } from '../data/synthetic.js';
import { resizeImage, resizeLabel } from '../data/transforms.js';
import { writeNpy } from '../io/npy.js';
import { argmaxConfusion } from '../kernels/metrics.js';
import { startEngine } from './common.js';
import { loadErfnet, loadFeedback } from './model-io.js';
import { readWeights } from './common.js';
import { TurbulenceSimulator, sampleSeed } from '../sim/turbulence.js';
import { Progress } from './progress.js';

export interface PredictArgs { model: string; weights: string; image?: string; data?: string; split: Split; height?: number;
  out: string; saveLogits?: string; seed: number; limit?: number }

function inputs(a: PredictArgs): { count: number; get: (i: number) => Sample; palette?: RGB[]; ignore?: number } {
  if (a.image && a.data) throw new Error('predict: give --image or --data, not both');
  if (a.image) {
    if (!existsSync(a.image)) throw new Error(`--image ${a.image} does not exist`);
    const files = statSync(a.image).isDirectory()
      ? readdirSync(a.image).filter((f) => f.toLowerCase().endsWith('.png')).sort().map((f) => join(a.image!, f)) : [a.image];
    if (!files.length) throw new Error(`--image ${a.image}: no PNG files`);
    return { count: files.length, get: (i) => {
      const im = readPng(files[i]);
      return { image: toChwFloat(im), label: new Uint8Array(0), width: im.width, height: im.height, name: basename(files[i], '.png') };
    } };
  }
  if (!a.data) throw new Error('predict: give --image FILE|DIR or --data SPEC');
  const ds = openDataset(parseDataSpec(a.data), { split: a.split, syntheticCount: a.limit ?? 8, seed: a.seed, height: a.height });
  return { count: Math.min(ds.length, a.limit ?? ds.length), get: (i) => ds.load(i), palette: ds.palette, ignore: ds.ignoreIndex };
}

export async function predict(a: PredictArgs): Promise<void> {
  if (readWeights(a.weights).meta.model === 'feedback') return predictFeedback(a);
  const { close } = await startEngine(a.seed);
  try {
    const src = inputs(a);
    const { net, encoderOnly, numClasses, meta } = loadErfnet(a.model, a.weights);
    if (encoderOnly) throw new Error(`${a.weights} is an encoder-only checkpoint; predict needs a full ERFNet`);
    const palette = src.palette ?? (numClasses === 20 ? CITYSCAPES_PALETTE : undefined);
    if (!palette) throw new Error(`${a.weights}: ${numClasses} classes and no data set palette; pass --data`);
    const dirs = ['rgb', 'pred', 'compose', ...(src.palette ? ['diff'] : [])];
    for (const d of dirs) mkdirSync(join(a.out, d), { recursive: true });
    const logits: Float32Array[] = [];
    let shape: number[] | null = null;
    const bar = new Progress('predict', src.count);
    for (let i = 0; i < src.count; i++) {
      let s = src.get(i);
      if (a.height && a.height !== s.height) {                   // resample only when asked to
        const w = Math.round((s.width * a.height) / s.height);
        s = { ...s, image: resizeImage(s.image, s.width, s.height, w, a.height),
          label: s.label.length ? resizeLabel(s.label, s.width, s.height, w, a.height) : s.label, width: w, height: a.height };
      }
      // ERFNet needs sizes divisible by 8: pad right/bottom with zeros, crop the output back
      const [H, W] = [s.height, s.width], [PH, PW] = [Math.ceil(H / 8) * 8, Math.ceil(W / 8) * 8];
      const x = new Float32Array(3 * PH * PW);
      for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) x.set(s.image.subarray(c * H * W + y * W, c * H * W + (y + 1) * W), c * PH * PW + y * PW);
      const [out, pred] = scope(() => noGrad(() => {
        const lg = net.forward(tensor(x, [1, 3, PH, PW]));
        return [keep(lg), keep(argmaxConfusion(lg, null, null))];
      }));
      const lp = await out.readF32(), pp = await pred.read();
      out.dispose(); pred.dispose();
      const cls = new Uint8Array(H * W);
      for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) cls[y * W + xx] = pp[y * PW + xx];
      if (a.saveLogits) {
        const crop = new Float32Array(numClasses * H * W);
        for (let c = 0; c < numClasses; c++) for (let y = 0; y < H; y++) crop.set(lp.subarray(c * PH * PW + y * PW, c * PH * PW + y * PW + W), c * H * W + y * W);
        if (shape && (shape[2] !== H || shape[3] !== W)) throw new Error(`--save-logits: images differ in size (${W}x${H} vs ${shape[3]}x${shape[2]}); use --height`);
        shape = [0, numClasses, H, W];
        logits.push(crop);
      }
      const rgb = fromChwFloat(s.image, W, H), col = new Uint8Array(3 * H * W), comp = new Uint8Array(3 * H * W);
      for (let p = 0; p < H * W; p++) for (let c = 0; c < 3; c++) {
        col[3 * p + c] = palette[cls[p]][c];
        comp[3 * p + c] = Math.round(0.5 * rgb[3 * p + c] + 0.5 * col[3 * p + c]);
      }
      writePng(join(a.out, 'rgb', `${s.name}.png`), W, H, rgb, 3);
      writePng(join(a.out, 'pred', `${s.name}.png`), W, H, col, 3);
      writePng(join(a.out, 'compose', `${s.name}.png`), W, H, comp, 3);
      if (src.palette && s.label.length) {
        const diff = new Uint8Array(3 * H * W);   // white: wrong, black: right, grey: ignored ground truth
        for (let p = 0; p < H * W; p++) diff.fill(s.label[p] === src.ignore ? 128 : s.label[p] === cls[p] ? 0 : 255, 3 * p, 3 * p + 3);
        writePng(join(a.out, 'diff', `${s.name}.png`), W, H, diff, 3);
      }
      bar.update(i + 1, i + 1);
    }
    bar.done(`→ ${a.out}/{${dirs.join(',')}}`);
    if (a.saveLogits && shape) {
      shape[0] = logits.length;
      const all = new Float32Array(logits.reduce((n, l) => n + l.length, 0));
      logits.reduce((off, l) => { all.set(l, off); return off + l.length; }, 0);
      writeNpy(a.saveLogits, all, shape);
      console.log(`logits ${JSON.stringify(shape)} float32 → ${a.saveLogits}`);
    }
    if (meta.height) console.log(`(model trained at ${meta.width}x${meta.height})`);
    net.dispose();
  } finally {
    close();
  }
}

/** Feedback model: panels [distorted | restored | segmentation] per image (distortion as in training). */
async function predictFeedback(a: PredictArgs): Promise<void> {
  const { close } = await startEngine(a.seed);
  try {
    const src = inputs(a);
    const fb = loadFeedback(a.weights);
    const palette = src.palette ?? (fb.numClasses === 20 ? CITYSCAPES_PALETTE : undefined);
    if (!palette) throw new Error(`${a.weights}: ${fb.numClasses} classes and no data set palette; pass --data`);
    mkdirSync(join(a.out, 'panels'), { recursive: true });
    const sims = new Map<string, TurbulenceSimulator>();
    const m = 2 ** (fb.unet.depth - 1);
    const bar = new Progress('predict', src.count);
    for (let i = 0; i < src.count; i++) {
      let s = src.get(i);
      const H = Math.max(m, Math.round((a.height ?? s.height) / m) * m);
      const W = Math.max(m, Math.round((s.width * H) / s.height / m) * m);
      if (H !== s.height || W !== s.width) s = { ...s, image: resizeImage(s.image, s.width, s.height, W, H), width: W, height: H };
      let sim = sims.get(`${W}x${H}`);
      if (!sim) { sim = new TurbulenceSimulator(H, W, { sigma: Number(fb.meta.sigma ?? 2), corrLength: Number(fb.meta.corr_length ?? 8), blur: Number(fb.meta.blur ?? 0) }); sims.set(`${W}x${H}`, sim); }
      const [turb, rest, pred] = scope(() => {
        const t = sim!.distort(tensor(s.image, [1, 3, H, W]), sampleSeed(a.seed + 7777, i)).image;
        const o = fb.sys.run(t, null, null, null);
        const r = o.restored[o.restored.length - 1];
        return [keep(t), keep(r), keep(noGrad(() => argmaxConfusion(o.logits[o.logits.length - 1], null, null)))];
      });
      const [tv, rv, pv] = [await turb.readF32(), await rest.readF32(), await pred.read()];
      turb.dispose(); rest.dispose(); pred.dispose();
      const panel = new Uint8Array(3 * H * 3 * W);
      const put = (col: number, rgb: (p: number) => ArrayLike<number>) => {
        for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) panel.set(rgb(y * W + x) as Uint8Array, 3 * (y * 3 * W + col * W + x));
      };
      const t8 = fromChwFloat(tv, W, H), r8 = fromChwFloat(rv, W, H);
      put(0, (p) => t8.subarray(3 * p, 3 * p + 3));
      put(1, (p) => r8.subarray(3 * p, 3 * p + 3));
      put(2, (p) => palette[pv[p]] ?? [255, 255, 255]);
      writePng(join(a.out, 'panels', `${s.name}.png`), 3 * W, H, panel, 3);
      bar.update(i + 1, i + 1);
    }
    bar.done(`→ ${a.out}/panels (distorted | restored | segmentation)`);
    for (const sm of sims.values()) sm.dispose();
    fb.dispose();
  } finally {
    close();
  }
}
