// mirage predict: any registered model on image(s) → colourised prediction, overlay and (with ground
// truth) a diff image in the folder layout of the NVIDIA seed (rgb/ pred/ compose/ diff/), raw
// logits (.npy) on request, and for models that show more (the feedback model: distorted and
// restored input) panels/ with those images beside the segmentation.
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LABEL_TO_TRAIN, type RGB, paletteOf } from '../data/classes.js';
import { type Split, openDataset, parseDataSpec } from '../data/datasets.js';
import { blend, colourise, fromChwFloat, toChwFloat } from '../data/image.js';
import { readPng, writePng } from '../data/png.js';
import type { Sample } from '../data/synthetic.js';
import { resizeImage, resizeLabel } from '../data/transforms.js';
import { readWeights } from '../io/checkpoint.js';
import { writeNpy } from '../io/npy.js';
import { evalDistortSeed } from '../train/evaluator.js';
import { type LoadedModel, evalSimulator, loadModel } from '../train/load.js';
import { Progress } from '../train/progress.js';
import type { TurbulenceParams, TurbulenceSimulator } from '../sim/turbulence.js';
import { parseInference, startEngine } from './common.js';
import { InferenceSystem } from '../train/inference.js';
import { segmentImage } from '../train/segment.js';

export interface PredictArgs extends TurbulenceParams { model?: string; weights: string; image?: string; data?: string; split: Split;
  height?: number; out: string; saveLogits?: string; seed: number; limit?: number; distort?: boolean; labelIds?: boolean;
  inference?: string; scales?: string; flip?: boolean; cropSize?: number; overlap?: number }

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
  const weights = readWeights(a.weights);              // a bad file fails before the GPU starts
  const { close } = await startEngine(a.seed);
  let m: LoadedModel | null = null;
  const sims = new Map<string, TurbulenceSimulator>();
  try {
    const src = inputs(a);
    m = loadModel(a.weights, a.model, undefined, weights);
    const { spec, numClasses, meta } = m;
    const inf = parseInference(a);
    const system = new InferenceSystem(m.system, inf);
    if (a.labelIds && numClasses !== 20) throw new Error(`--label-ids: Cityscapes labelIds need the 20-class Cityscapes layout; ${a.weights} predicts ${numClasses} classes`);
    const toLabelId = new Uint8Array(256);        // trainId → labelId; the ignore class → 0 (unlabeled)
    for (const [id, train] of Object.entries(LABEL_TO_TRAIN)) toLabelId[train] = Number(id);
    if ((spec.labelDownscale?.(m.options) ?? 1) > 1) throw new Error(`${a.weights} is an encoder-stage checkpoint (1/8 logits); predict needs a full model`);
    // colours: the data set's, else the ones the model was trained with (checkpoint), else a generated set
    let palette = src.palette;
    if (!palette) {
      const p = paletteOf(meta, numClasses);
      if (p.generated) console.log(`(no colours in the checkpoint for its ${numClasses} classes: using a generated palette, the last class black)`);
      palette = p.palette;
    }
    const multiple = spec.multiple(m.options);
    const dirs = ['rgb', 'pred', 'compose', ...(src.palette ? ['diff'] : [])];
    for (const d of dirs) mkdirSync(join(a.out, d), { recursive: true });
    const logits: Float32Array[] = [];
    let shape: number[] | null = null, panels: string[] = [];
    const bar = new Progress('predict', src.count);
    for (let i = 0; i < src.count; i++) {
      let s = src.get(i);
      if (a.height && a.height !== s.height) {                   // resample only when asked to
        const w = Math.round((s.width * a.height) / s.height);
        s = { ...s, image: resizeImage(s.image, s.width, s.height, w, a.height),
          label: s.label.length ? resizeLabel(s.label, s.width, s.height, w, a.height) : s.label, width: w, height: a.height };
      }
      // sizes must be multiples of the model's: padded right/bottom with zeros, outputs cropped back
      const [H, W] = [s.height, s.width], [PH, PW] = [Math.ceil(H / multiple) * multiple, Math.ceil(W / multiple) * multiple];
      let sim = sims.get(`${PW}x${PH}`) ?? null;
      if (!sim) {
        sim = evalSimulator(m, a, PH, PW)?.sim ?? null;
        if (sim) sims.set(`${PW}x${PH}`, sim);
      }
      const seg = await segmentImage(system, s.image, H, W, multiple, sim, evalDistortSeed(a.seed, i));
      const cls = seg.classes;
      const shown = Object.entries(seg.images).filter(([name]) => name !== 'input');
      if (a.saveLogits) {
        if (shape && (shape[2] !== H || shape[3] !== W)) throw new Error(`--save-logits: images differ in size (${W}x${H} vs ${shape[3]}x${shape[2]}); use --height`);
        shape = [0, numClasses, H, W];
        logits.push(seg.logits);
      }
      const rgb = fromChwFloat(s.image, W, H), col = colourise(cls, palette), comp = blend(rgb, col);
      writePng(join(a.out, 'rgb', `${s.name}.png`), W, H, rgb, 3);
      if (a.labelIds) {
        const ids = new Uint8Array(3 * H * W);
        for (let p = 0; p < H * W; p++) ids.fill(toLabelId[cls[p]], 3 * p, 3 * p + 3);
        writePng(join(a.out, 'pred', `${s.name}.png`), W, H, ids, 3);
      } else writePng(join(a.out, 'pred', `${s.name}.png`), W, H, col, 3);
      writePng(join(a.out, 'compose', `${s.name}.png`), W, H, comp, 3);
      if (src.palette && s.label.length) {
        const diff = new Uint8Array(3 * H * W);   // white: wrong, black: right, grey: ignored ground truth
        for (let p = 0; p < H * W; p++) diff.fill(s.label[p] === src.ignore ? 128 : s.label[p] === cls[p] ? 0 : 255, 3 * p, 3 * p + 3);
        writePng(join(a.out, 'diff', `${s.name}.png`), W, H, diff, 3);
      }
      if (shown.length) {                          // [images… | segmentation]
        panels = shown.map(([name]) => name);
        mkdirSync(join(a.out, 'panels'), { recursive: true });
        const cols = [...shown.map(([, v]) => fromChwFloat(v, W, H)), col], n = cols.length;
        const panel = new Uint8Array(3 * H * n * W);
        cols.forEach((img, k) => { for (let y = 0; y < H; y++) panel.set(img.subarray(3 * y * W, 3 * (y + 1) * W), 3 * (y * n * W + k * W)); });
        writePng(join(a.out, 'panels', `${s.name}.png`), n * W, H, panel, 3);
      }
      bar.update(i + 1, i + 1);
    }
    bar.done(`→ ${a.out}/{${[...dirs, ...(panels.length ? ['panels'] : [])].join(',')}}`);
    if (panels.length) console.log(`panels/: ${[...panels, 'segmentation'].join(' | ')}`);
    if (a.saveLogits && shape) {
      shape[0] = logits.length;
      const all = new Float32Array(logits.reduce((n, l) => n + l.length, 0));
      logits.reduce((off, l) => { all.set(l, off); return off + l.length; }, 0);
      writeNpy(a.saveLogits, all, shape);
      console.log(`logits ${JSON.stringify(shape)} float32 → ${a.saveLogits}`);
    }
    if (meta.height) console.log(`(model trained at ${meta.width}x${meta.height})`);
  } finally {
    for (const sm of sims.values()) sm.dispose();
    m?.system.dispose();
    close();
  }
}
