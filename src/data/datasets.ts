// Data sets: built-in synthetic scenes, Cityscapes, CamVid (SegNet and Kaggle/Suite layouts) and a
// generic folder. Every sample comes back as CHW float RGB + a trainId label map in which the
// data set's ignore label is `ignoreIndex` (the last class, as ERFNet's class 19).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, LABEL_TO_TRAIN, type RGB, makePalette } from './classes.js';
import { readPng, toChwFloat } from './png.js';
import { type Sample, syntheticScene } from './synthetic.js';

export interface SegDataset {
  readonly name: string;
  readonly length: number;
  /** Number of network outputs, ignore class included. */
  readonly numClasses: number;
  readonly ignoreIndex: number;
  readonly classNames: string[];
  readonly palette: RGB[];
  load(i: number): Sample;
}

export type Split = 'train' | 'val' | 'test';

export class SyntheticDataset implements SegDataset {
  readonly numClasses = 20;
  readonly ignoreIndex = 19;
  readonly classNames = CITYSCAPES_CLASSES;
  readonly palette = CITYSCAPES_PALETTE;
  readonly name: string;
  constructor(readonly seed: number, readonly length: number, readonly height: number, readonly width: number) {
    this.name = `synthetic(seed ${seed})`;
  }
  load(i: number): Sample { return syntheticScene(this.seed, i, this.width, this.height); }
}

function listPngs(dir: string, what: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${what}: folder ${dir} does not exist`);
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.toLowerCase().endsWith('.png')) out.push(join(d, e.name));
    }
  };
  walk(dir);
  if (!out.length) throw new Error(`${what}: no PNG images in ${dir}`);
  return out;
}

/** Reads an image and its label, checks sizes and label range, maps labels through `map`. */
function loadPair(img: string, lab: string, map: (rgba: Uint8Array, i: number) => number, ds: SegDataset): Sample {
  const im = readPng(img);
  const lb = readPng(lab);
  if (im.width !== lb.width || im.height !== lb.height) {
    throw new Error(`${ds.name}: image ${img} is ${im.width}x${im.height} but its label ${lab} is ${lb.width}x${lb.height}`);
  }
  const n = im.width * im.height, label = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = map(lb.data, i);
    if (!(v >= 0 && v < ds.numClasses)) {
      throw new Error(`${ds.name}: label ${lab} has value ${lb.data[4 * i]} at pixel (${i % im.width}, ${Math.floor(i / im.width)}), ` +
        `outside the ${ds.numClasses - 1} classes (and ignore ${ds.ignoreIndex})`);
    }
    label[i] = v;
  }
  return { image: toChwFloat(im), label, width: im.width, height: im.height, name: basename(img, '.png') };
}

/** Cityscapes: leftImg8bit/{split}/{city}/*_leftImg8bit.png + gtFine/…/*_gtFine_labelTrainIds.png (or _labelIds.png). */
export class CityscapesDataset implements SegDataset {
  readonly numClasses = 20;
  readonly ignoreIndex = 19;
  readonly classNames = CITYSCAPES_CLASSES;
  readonly palette = CITYSCAPES_PALETTE;
  readonly name: string;
  private readonly pairs: [string, string, boolean][] = [];
  constructor(readonly root: string, split: Split) {
    this.name = `cityscapes ${split} (${root})`;
    const images = listPngs(join(root, 'leftImg8bit', split), this.name).filter((f) => f.endsWith('_leftImg8bit.png'));
    for (const img of images) {
      const base = img.replace(join(root, 'leftImg8bit'), join(root, 'gtFine')).replace(/_leftImg8bit\.png$/, '_gtFine_');
      const train = `${base}labelTrainIds.png`, ids = `${base}labelIds.png`;
      if (existsSync(train)) this.pairs.push([img, train, true]);
      else if (existsSync(ids)) this.pairs.push([img, ids, false]);
      else throw new Error(`${this.name}: image ${img} has no label (looked for ${train} and ${ids})`);
    }
  }
  get length(): number { return this.pairs.length; }
  load(i: number): Sample {
    const [img, lab, trainIds] = this.pairs[i];
    return loadPair(img, lab, (d, p) => {
      const v = d[4 * p];
      const t = trainIds ? v : (LABEL_TO_TRAIN[v] ?? 255);
      return t === 255 ? 19 : t > 18 ? -1 : t;
    }, this);
  }
}

const CAMVID11 = ['Building', 'Tree', 'Sky', 'Car', 'SignSymbol', 'Road', 'Pedestrian', 'Fence', 'Column_Pole', 'Sidewalk', 'Bicyclist'];
const SEGNET_CLASSES = ['sky', 'building', 'pole', 'road_marking', 'road', 'pavement', 'tree', 'sign_symbol', 'fence', 'car',
  'pedestrian', 'bicyclist'];

/**
 * CamVid in either layout: SegNet (train/ + trainannot/ index PNGs, 0–11 and 11 = unlabelled)
 * or Kaggle / Semantic-Segmentation-Suite (train/ + train_labels/*_L.png RGB + class_dict.csv,
 * reduced to the usual 11 classes, everything else void).
 */
export class CamVidDataset implements SegDataset {
  readonly numClasses: number;
  readonly ignoreIndex: number;
  readonly classNames: string[];
  readonly palette: RGB[];
  readonly name: string;
  readonly layout: 'segnet' | 'suite';
  private readonly pairs: [string, string][] = [];
  private readonly colour = new Map<number, number>();

  constructor(readonly root: string, split: Split) {
    this.name = `camvid ${split} (${root})`;
    if (existsSync(join(root, `${split}annot`))) {
      this.layout = 'segnet';
      this.classNames = [...SEGNET_CLASSES.slice(0, 11), 'void'];
      this.numClasses = 12; this.ignoreIndex = 11;
      this.palette = [[128, 128, 128], [128, 0, 0], [192, 192, 128], [255, 69, 0], [128, 64, 128], [60, 40, 222], [128, 128, 0],
        [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0], [0, 0, 0]];
      for (const img of listPngs(join(root, split), this.name)) {
        const lab = join(root, `${split}annot`, basename(img));
        if (!existsSync(lab)) throw new Error(`${this.name}: image ${img} has no label ${lab}`);
        this.pairs.push([img, lab]);
      }
    } else if (existsSync(join(root, `${split}_labels`))) {
      this.layout = 'suite';
      const dictPath = join(root, 'class_dict.csv');
      if (!existsSync(dictPath)) throw new Error(`${this.name}: ${dictPath} is missing (needed for RGB labels)`);
      const rows = readFileSync(dictPath, 'utf8').split(/\r?\n/).slice(1).filter((l) => l.trim());
      this.classNames = [...CAMVID11, 'void'];
      this.numClasses = 12; this.ignoreIndex = 11;
      this.palette = new Array<RGB>(12).fill([0, 0, 0]);
      rows.forEach((row, k) => {
        const f = row.split(',').map((s) => s.trim());
        const [name, r, g, b] = [f[0], Number(f[1]), Number(f[2]), Number(f[3])];
        if (f.length < 4 || ![r, g, b].every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
          throw new Error(`${dictPath}: line ${k + 2} is not "name,r,g,b": ${row}`);
        }
        const id = CAMVID11.indexOf(name);
        this.colour.set((r << 16) | (g << 8) | b, id < 0 ? 11 : id);
        if (id >= 0) this.palette[id] = [r, g, b];
      });
      for (const img of listPngs(join(root, split), this.name)) {
        const lab = join(root, `${split}_labels`, basename(img, '.png') + '_L.png');
        if (!existsSync(lab)) throw new Error(`${this.name}: image ${img} has no label ${lab}`);
        this.pairs.push([img, lab]);
      }
    } else {
      throw new Error(`camvid: ${root} has neither ${split}annot/ (SegNet layout) nor ${split}_labels/ (Kaggle/Suite layout)`);
    }
  }
  get length(): number { return this.pairs.length; }
  load(i: number): Sample {
    const [img, lab] = this.pairs[i];
    if (this.layout === 'segnet') return loadPair(img, lab, (d, p) => (d[4 * p] > 11 ? -1 : d[4 * p]), this);
    return loadPair(img, lab, (d, p) => {
      const key = (d[4 * p] << 16) | (d[4 * p + 1] << 8) | d[4 * p + 2];
      const v = this.colour.get(key);
      if (v === undefined) throw new Error(`${this.name}: label ${lab} has colour (${d[4 * p]},${d[4 * p + 1]},${d[4 * p + 2]}) not in class_dict.csv`);
      return v;
    }, this);
  }
}

/**
 * A generic folder: DIR/classes.txt (one class name per line), DIR/{split}/images/*.png and
 * DIR/{split}/labels/*.png with the same names, labels holding class indices; 255 = ignore.
 */
export class FolderDataset implements SegDataset {
  readonly numClasses: number;
  readonly ignoreIndex: number;
  readonly classNames: string[];
  readonly palette: RGB[];
  readonly name: string;
  private readonly pairs: [string, string][] = [];
  constructor(readonly root: string, split: Split) {
    this.name = `folder ${split} (${root})`;
    const cls = join(root, 'classes.txt');
    if (!existsSync(cls)) throw new Error(`${this.name}: ${cls} is missing (one class name per line)`);
    const names = readFileSync(cls, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    if (!names.length || names.length > 254) throw new Error(`${cls}: expected 1–254 class names, found ${names.length}`);
    this.classNames = [...names, 'ignore'];
    this.numClasses = names.length + 1;
    this.ignoreIndex = names.length;
    this.palette = makePalette(this.numClasses, this.ignoreIndex);
    const imgDir = join(root, split, 'images'), labDir = join(root, split, 'labels');
    for (const img of listPngs(imgDir, this.name)) {
      const lab = join(labDir, img.slice(imgDir.length + 1));
      if (!existsSync(lab)) throw new Error(`${this.name}: image ${img} has no label ${lab}`);
      this.pairs.push([img, lab]);
    }
  }
  get length(): number { return this.pairs.length; }
  load(i: number): Sample {
    const [img, lab] = this.pairs[i];
    return loadPair(img, lab, (d, p) => (d[4 * p] === 255 ? this.ignoreIndex : d[4 * p] >= this.ignoreIndex ? -1 : d[4 * p]), this);
  }
}

export interface DataSpec { kind: 'synthetic' | 'cityscapes' | 'camvid' | 'folder'; dir?: string }

/** Parses `synthetic`, `cityscapes:DIR`, `camvid:DIR` or `folder:DIR`. */
export function parseDataSpec(spec: string): DataSpec {
  if (spec === 'synthetic') return { kind: 'synthetic' };
  const m = /^(cityscapes|camvid|folder):(.+)$/.exec(spec);
  if (!m) throw new Error(`--data ${spec}: expected synthetic, cityscapes:DIR, camvid:DIR or folder:DIR`);
  if (!existsSync(m[2])) throw new Error(`--data ${spec}: folder ${m[2]} does not exist`);
  return { kind: m[1] as DataSpec['kind'], dir: m[2] };
}

export interface OpenOptions { split: Split; syntheticCount?: number; seed?: number; height?: number; width?: number }

export function openDataset(spec: DataSpec, o: OpenOptions): SegDataset {
  switch (spec.kind) {
    case 'synthetic': {
      const h = o.height ?? 128, w = o.width ?? 2 * h;
      // train and val are disjoint scene streams of the same generator
      return new SyntheticDataset((o.seed ?? 0) * 2 + (o.split === 'train' ? 0 : 1), o.syntheticCount ?? 200, h, w);
    }
    case 'cityscapes': return new CityscapesDataset(spec.dir!, o.split);
    case 'camvid': return new CamVidDataset(spec.dir!, o.split);
    case 'folder': return new FolderDataset(spec.dir!, o.split);
  }
}
