// Data sets: built-in synthetic scenes, Cityscapes, CamVid (SegNet and Kaggle/Suite layouts) and a
// generic folder. Every sample comes back as CHW float RGB + a trainId label map in which the
// data set's ignore label is `ignoreIndex` (the last class, as ERFNet's class 19).
// Labels are read in the form the data set declares: class indices (grey PNGs, palette PNGs by
// their palette index, or RGB PNGs whose three channels are equal) or colours through a colour
// table (several colours per class allowed). A label file in the other form is an error naming it.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, LABEL_TO_TRAIN, type RGB, makePalette } from './classes.js';
import { toChwFloat } from './image.js';
import { type LabelPixels, pngHeader, readLabelPng, readPng } from './png.js';
import { type Sample, syntheticScene } from './synthetic.js';

export interface Size { width: number; height: number }

export interface SegDataset {
  readonly name: string;
  readonly length: number;
  /** Number of network outputs, ignore class included. */
  readonly numClasses: number;
  readonly ignoreIndex: number;
  readonly classNames: string[];
  readonly palette: RGB[];
  load(i: number): Sample;
  /** Each image's size, from its file header (no decoding). */
  sizes(): Size[];
  /**
   * Checks every pair before training: both files are PNGs of the same size and the label is in
   * the declared form; with `values`, also every label pixel (decoding every label). Throws naming
   * the file.
   */
  validate?(values: boolean, onProgress?: (done: number, total: number) => void): void;
  /** What a user should know about the files (e.g. labels without an image). */
  readonly notes: string[];
}

export type Split = 'train' | 'val' | 'test';

export class SyntheticDataset implements SegDataset {
  readonly numClasses = 20;
  readonly ignoreIndex = 19;
  readonly classNames = CITYSCAPES_CLASSES;
  readonly palette = CITYSCAPES_PALETTE;
  readonly name: string;
  readonly notes: string[] = [];
  constructor(readonly seed: number, readonly length: number, readonly height: number, readonly width: number) {
    this.name = `synthetic(seed ${seed})`;
  }
  load(i: number): Sample { return syntheticScene(this.seed, i, this.width, this.height); }
  sizes(): Size[] { return Array.from({ length: this.length }, () => ({ width: this.width, height: this.height })); }
}

function listPngs(dir: string, what: string, required = true): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    if (!required) return [];
    throw new Error(`${what}: folder ${dir} does not exist`);
  }
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.toLowerCase().endsWith('.png')) out.push(join(d, e.name));
    }
  };
  walk(dir);
  if (!out.length && required) throw new Error(`${what}: no PNG images in ${dir}`);
  return out;
}

/** "N labels in DIR have no image (e.g. …); they are not used", or nothing. */
function orphanNote(what: string, labels: string[], used: Set<string>, dir: string): string[] {
  const orphans = labels.filter((l) => !used.has(l));
  return orphans.length ? [`${what}: ${orphans.length} label${orphans.length > 1 ? 's' : ''} in ${dir} ha${orphans.length > 1 ? 've' : 's'} no image ` +
    `(e.g. ${relative(dir, orphans[0])}); not used`] : [];
}

/**
 * How a data set reads its label files: `index` maps a class index (grey, palette index or equal-
 * channel RGB) to a class, -1 for values that are none; `colour` maps 0xRRGGBB to a class.
 */
type LabelForm = { kind: 'index'; map: (v: number) => number; table: string } | { kind: 'colour'; colours: Map<number, number>; table: string };

const hex = (k: number) => `(${k >> 16},${(k >> 8) & 255},${k & 255})`;

/** A label file's classes in the declared form; throws naming the file, the pixel and the value. */
function decodeLabel(lab: string, px: LabelPixels, form: LabelForm, ds: SegDataset): Uint8Array {
  const n = px.width * px.height, out = new Uint8Array(n);
  const at = (p: number) => `pixel (${p % px.width}, ${Math.floor(p / px.width)})`;
  if (form.kind === 'index') {
    if (!px.index) {
      throw new Error(`${ds.name}: label ${lab} is a colour image, but ${form.table} declares class-index labels ` +
        '(grey or palette PNGs); for colour labels give each class its colours there (see mirage train --help, --data)');
    }
    for (let p = 0; p < n; p++) {
      const v = form.map(px.index[p]);
      if (!(v >= 0 && v < ds.numClasses)) {
        throw new Error(`${ds.name}: label ${lab} has value ${px.index[p]} at ${at(p)}, outside the ${ds.numClasses - 1} classes ` +
          `(and ignore ${ds.ignoreIndex})`);
      }
      out[p] = v;
    }
    return out;
  }
  if (px.form === 'grey') {
    throw new Error(`${ds.name}: label ${lab} is a grey image, but ${form.table} declares colour labels`);
  }
  for (let p = 0; p < n; p++) {
    const v = form.colours.get(px.rgb[p]);
    if (v === undefined) throw new Error(`${ds.name}: label ${lab} has colour ${hex(px.rgb[p])} at ${at(p)}, which is not in ${form.table}`);
    out[p] = v;
  }
  return out;
}

/** Image/label pairs read in a declared form: the common part of the file-based data sets. */
abstract class PairDataset implements SegDataset {
  abstract readonly numClasses: number;
  abstract readonly ignoreIndex: number;
  abstract readonly classNames: string[];
  abstract readonly palette: RGB[];
  abstract readonly name: string;
  protected abstract readonly form: LabelForm;
  protected readonly pairs: [string, string][] = [];
  /** The form of pair i's label (Cityscapes mixes trainIds and labelIds files). */
  protected formOf(_i: number): LabelForm { return this.form; }
  readonly notes: string[] = [];
  private sized: Size[] | null = null;

  get length(): number { return this.pairs.length; }

  load(i: number): Sample {
    const [img, lab] = this.pairs[i];
    const im = readPng(img);
    const px = readLabelPng(lab);
    if (im.width !== px.width || im.height !== px.height) {
      throw new Error(`${this.name}: image ${img} is ${im.width}x${im.height} but its label ${lab} is ${px.width}x${px.height}`);
    }
    return { image: toChwFloat(im), label: decodeLabel(lab, px, this.formOf(i), this), width: im.width, height: im.height, name: basename(img, '.png') };
  }

  sizes(): Size[] {
    this.sized ??= this.pairs.map(([img]) => { const h = pngHeader(img); return { width: h.width, height: h.height }; });
    return this.sized;
  }

  validate(values: boolean, onProgress?: (done: number, total: number) => void): void {
    this.pairs.forEach(([img, lab], i) => {
      const a = pngHeader(img), b = pngHeader(lab);
      if (a.width !== b.width || a.height !== b.height) {
        throw new Error(`${this.name}: image ${img} is ${a.width}x${a.height} but its label ${lab} is ${b.width}x${b.height}`);
      }
      const grey = b.colorType === 0 || b.colorType === 4, rgb = b.colorType === 2 || b.colorType === 6, form = this.formOf(i);
      if (form.kind === 'colour' && grey) throw new Error(`${this.name}: label ${lab} is a grey image, but ${form.table} declares colour labels`);
      // an RGB label in an index data set is fine only if its three channels agree: decode it to know
      if (values || (form.kind === 'index' && rgb)) decodeLabel(lab, readLabelPng(lab), form, this);
      onProgress?.(i + 1, this.pairs.length);
    });
  }
}

/** Cityscapes: leftImg8bit/{split}/{city}/*_leftImg8bit.png + gtFine/…/*_gtFine_labelTrainIds.png (or _labelIds.png). */
export class CityscapesDataset extends PairDataset {
  readonly numClasses = 20;
  readonly ignoreIndex = 19;
  readonly classNames = CITYSCAPES_CLASSES;
  readonly palette = CITYSCAPES_PALETTE;
  readonly name: string;
  private readonly trainIds: boolean[] = [];
  constructor(readonly root: string, split: Split) {
    super();
    this.name = `cityscapes ${split} (${root})`;
    const images = listPngs(join(root, 'leftImg8bit', split), this.name).filter((f) => f.endsWith('_leftImg8bit.png'));
    for (const img of images) {
      const base = img.replace(join(root, 'leftImg8bit'), join(root, 'gtFine')).replace(/_leftImg8bit\.png$/, '_gtFine_');
      const train = `${base}labelTrainIds.png`, ids = `${base}labelIds.png`;
      if (existsSync(train)) { this.pairs.push([img, train]); this.trainIds.push(true); }
      else if (existsSync(ids)) { this.pairs.push([img, ids]); this.trainIds.push(false); }
      else throw new Error(`${this.name}: image ${img} has no label (looked for ${train} and ${ids})`);
    }
    const labels = listPngs(join(root, 'gtFine', split), this.name, false).filter((f) => /_gtFine_label(Train)?Ids\.png$/.test(f));
    const used = new Set(this.pairs.map(([, l]) => l));
    // a label file is an orphan when neither kind of its image's label is used
    this.notes.push(...orphanNote(this.name, labels.filter((l) => !used.has(l.replace(/labelIds\.png$/, 'labelTrainIds.png')) &&
      !used.has(l.replace(/labelTrainIds\.png$/, 'labelIds.png'))), used, join(root, 'gtFine', split)));
  }
  protected readonly form: LabelForm = { kind: 'index', table: 'Cityscapes trainIds', map: (v) => (v === 255 ? 19 : v > 18 ? -1 : v) };
  private readonly idsForm: LabelForm = { kind: 'index', table: 'Cityscapes labelIds', map: (v) => {
    const t = LABEL_TO_TRAIN[v] ?? 255;
    return t === 255 ? 19 : t > 18 ? -1 : t;
  } };
  protected override formOf(i: number): LabelForm { return this.trainIds[i] ? this.form : this.idsForm; }
}

const CAMVID11 = ['Building', 'Tree', 'Sky', 'Car', 'SignSymbol', 'Road', 'Pedestrian', 'Fence', 'Column_Pole', 'Sidewalk', 'Bicyclist'];
const SEGNET_CLASSES = ['sky', 'building', 'pole', 'road_marking', 'road', 'pavement', 'tree', 'sign_symbol', 'fence', 'car',
  'pedestrian', 'bicyclist'];

/** Rows "name,r,g,b" of a CamVid-style class_dict.csv (header line first); a name may repeat (several colours, one class). */
function readClassDict(path: string): { name: string; colour: number }[] {
  const rows = readFileSync(path, 'utf8').split(/\r?\n/).slice(1).filter((l) => l.trim());
  return rows.map((row, k) => {
    const f = row.split(',').map((s) => s.trim());
    const [r, g, b] = [Number(f[1]), Number(f[2]), Number(f[3])];
    if (f.length < 4 || !f[0] || ![r, g, b].every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
      throw new Error(`${path}: line ${k + 2} is not "name,r,g,b": ${row}`);
    }
    return { name: f[0], colour: (r << 16) | (g << 8) | b };
  });
}

/**
 * CamVid in either layout: SegNet (train/ + trainannot/ index PNGs, 0–11 and 11 = unlabelled)
 * or Kaggle / Semantic-Segmentation-Suite (train/ + train_labels/*_L.png RGB + class_dict.csv,
 * reduced to the usual 11 classes, everything else void). With `allClasses` (`--data camvid32:DIR`),
 * the Suite layout as the MSSA seed's code reads it: every row of class_dict.csv is a class, in file
 * order, its Void included (32 for the Kaggle CamVid); one more index, which no pixel carries, is the
 * ignore class.
 */
export class CamVidDataset extends PairDataset {
  readonly numClasses: number;
  readonly ignoreIndex: number;
  readonly classNames: string[];
  readonly palette: RGB[];
  readonly name: string;
  readonly layout: 'segnet' | 'suite';
  protected readonly form: LabelForm;

  constructor(readonly root: string, split: Split, allClasses = false) {
    super();
    this.name = `camvid${allClasses ? '32' : ''} ${split} (${root})`;
    this.numClasses = 12; this.ignoreIndex = 11;
    const annot = join(root, `${split}annot`), suiteLabels = join(root, `${split}_labels`);
    if (allClasses && !existsSync(suiteLabels)) {
      throw new Error(`camvid32: ${root} has no ${split}_labels/: the class_dict.csv classes need the Kaggle/Suite layout ` +
        `(${split}/ + ${split}_labels/*_L.png + class_dict.csv)${existsSync(annot) ? '; for the SegNet layout found there use --data camvid:DIR (11 classes)' : ''}`);
    }
    if (existsSync(annot) && !allClasses) {
      this.layout = 'segnet';
      this.classNames = [...SEGNET_CLASSES.slice(0, 11), 'void'];
      this.palette = [[128, 128, 128], [128, 0, 0], [192, 192, 128], [255, 69, 0], [128, 64, 128], [60, 40, 222], [128, 128, 0],
        [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0], [0, 0, 0]];
      this.form = { kind: 'index', table: 'the SegNet CamVid layout (0–11)', map: (v) => (v > 11 ? -1 : v) };
      for (const img of listPngs(join(root, split), this.name)) {
        const lab = join(annot, basename(img));
        if (!existsSync(lab)) throw new Error(`${this.name}: image ${img} has no label ${lab}`);
        this.pairs.push([img, lab]);
      }
      this.notes.push(...orphanNote(this.name, listPngs(annot, this.name, false), new Set(this.pairs.map(([, l]) => l)), annot));
    } else if (existsSync(suiteLabels)) {
      this.layout = 'suite';
      const dictPath = join(root, 'class_dict.csv');
      if (!existsSync(dictPath)) throw new Error(`${this.name}: ${dictPath} is missing (needed for RGB labels)`);
      const rows = readClassDict(dictPath), colours = new Map<number, number>();
      if (allClasses) {
        if (rows.length > 254) throw new Error(`${dictPath}: at most 254 classes, found ${rows.length}`);
        this.numClasses = rows.length + 1; this.ignoreIndex = rows.length;
        this.classNames = [...rows.map((r) => r.name), 'ignore'];
        this.palette = [...rows.map(({ colour }): RGB => [colour >> 16, (colour >> 8) & 255, colour & 255]), [0, 0, 0]];
        rows.forEach(({ colour }, k) => {
          if (colours.has(colour)) throw new Error(`${dictPath}: colour ${hex(colour)} is on two rows (${rows[colours.get(colour)!].name}, ${rows[k].name})`);
          colours.set(colour, k);
        });
      } else {
        this.classNames = [...CAMVID11, 'void'];
        this.palette = new Array<RGB>(12).fill([0, 0, 0]);
        for (const { name, colour } of rows) {
          const id = CAMVID11.indexOf(name);
          colours.set(colour, id < 0 ? 11 : id);
          if (id >= 0) this.palette[id] = [colour >> 16, (colour >> 8) & 255, colour & 255];
        }
      }
      this.form = { kind: 'colour', colours, table: dictPath };
      for (const img of listPngs(join(root, split), this.name)) {
        const lab = join(suiteLabels, basename(img, '.png') + '_L.png');
        if (!existsSync(lab)) throw new Error(`${this.name}: image ${img} has no label ${lab}`);
        this.pairs.push([img, lab]);
      }
      this.notes.push(...orphanNote(this.name, listPngs(suiteLabels, this.name, false), new Set(this.pairs.map(([, l]) => l)), suiteLabels));
    } else {
      throw new Error(`camvid: ${root} has neither ${split}annot/ (SegNet layout) nor ${split}_labels/ (Kaggle/Suite layout)`);
    }
  }
}

/** Class names that mark the ignored colours of a colour table instead of a class. */
const IGNORE_NAMES = new Set(['ignore', 'void', 'unlabelled', 'unlabeled']);

/** One colour token: "r,g,b" or "#rrggbb" → 0xRRGGBB, or null. */
function colourToken(t: string): number | null {
  let m = /^(\d{1,3}),(\d{1,3}),(\d{1,3})$/.exec(t);
  if (m) { const v = [m[1], m[2], m[3]].map(Number); return v.every((x) => x <= 255) ? (v[0] << 16) | (v[1] << 8) | v[2] : null; }
  m = /^#([0-9a-fA-F]{6})$/.exec(t);
  return m ? parseInt(m[1], 16) : null;
}

/**
 * A folder's class table. classes.txt: one class per line, "name" (class-index labels) or
 * "name r,g,b [r,g,b …]" / "name #rrggbb …" (colour labels; names may contain spaces; a class named
 * ignore/void/unlabelled gives the ignored colours). Or, without classes.txt, a CamVid-style
 * class_dict.csv (colour labels; a name may repeat for several colours).
 */
export function readClassTable(root: string): { names: string[]; form: 'index' } | { names: string[]; form: 'colour'; colours: Map<number, number | 'ignore'>; table: string } {
  const txt = join(root, 'classes.txt'), csv = join(root, 'class_dict.csv');
  const colours = new Map<number, number | 'ignore'>();
  const names: string[] = [];
  const add = (name: string, cs: number[], where: string) => {
    const ignore = IGNORE_NAMES.has(name.toLowerCase());
    let k = names.indexOf(name);
    if (!ignore && k < 0) { names.push(name); k = names.length - 1; }
    for (const c of cs) {
      const prev = colours.get(c);
      if (prev !== undefined && prev !== (ignore ? 'ignore' : k)) throw new Error(`${where}: colour ${hex(c)} is given to two classes`);
      colours.set(c, ignore ? 'ignore' : k);
    }
  };
  if (existsSync(txt)) {
    const lines = readFileSync(txt, 'utf8').split(/\r?\n/).map((s) => s.trim());
    let withColour: boolean | null = null;
    lines.forEach((line, i) => {
      if (!line || line.startsWith('#')) return;
      const tokens = line.split(/\s+/);
      const cs: number[] = [];
      while (tokens.length > 1 && colourToken(tokens[tokens.length - 1]) !== null) cs.unshift(colourToken(tokens.pop()!)!);
      const name = tokens.join(' ');
      if (withColour !== null && withColour !== cs.length > 0) {
        throw new Error(`${txt}: line ${i + 1} ('${line}') ${cs.length ? 'has' : 'has no'} colours but earlier lines ${withColour ? 'do' : 'do not'}; ` +
          'give every class its colours (colour labels) or none (class-index labels)');
      }
      withColour = cs.length > 0;
      if (!withColour && names.includes(name)) throw new Error(`${txt}: line ${i + 1}: class '${name}' is listed twice`);
      if (withColour) add(name, cs, `${txt} line ${i + 1}`); else names.push(name);
    });
    if (!names.length) throw new Error(`${txt}: no class names`);
    return withColour ? { names, form: 'colour', colours, table: txt } : { names, form: 'index' };
  }
  if (existsSync(csv)) {
    readClassDict(csv).forEach(({ name, colour }, i) => add(name, [colour], `${csv} line ${i + 2}`));
    if (!names.length) throw new Error(`${csv}: no classes`);
    return { names, form: 'colour', colours, table: csv };
  }
  throw new Error(`folder ${root}: classes.txt is missing (one class name per line, with its colours for colour labels: "road 128,64,128")`);
}

/**
 * A generic folder: DIR/classes.txt (or class_dict.csv), DIR/{split}/images/*.png and
 * DIR/{split}/labels/*.png with the same names. Index labels hold class numbers (255 = ignore);
 * colour labels are read through the table.
 */
export class FolderDataset extends PairDataset {
  readonly numClasses: number;
  readonly ignoreIndex: number;
  readonly classNames: string[];
  readonly palette: RGB[];
  readonly name: string;
  protected readonly form: LabelForm;
  constructor(readonly root: string, split: Split) {
    super();
    this.name = `folder ${split} (${root})`;
    const t = readClassTable(root);
    if (t.names.length > 254) throw new Error(`folder ${root}: at most 254 classes, found ${t.names.length}`);
    this.classNames = [...t.names, 'ignore'];
    this.numClasses = t.names.length + 1;
    this.ignoreIndex = t.names.length;
    this.palette = makePalette(this.numClasses, this.ignoreIndex);
    const ig = this.ignoreIndex;
    if (t.form === 'index') {
      this.form = { kind: 'index', table: join(root, 'classes.txt'), map: (v) => (v === 255 ? ig : v >= ig ? -1 : v) };
    } else {
      const colours = new Map<number, number>(), shown = new Set<number>();
      for (const [c, k] of t.colours) {
        colours.set(c, k === 'ignore' ? ig : k);
        // predictions are drawn in each class's first colour, as its labels are
        if (k !== 'ignore' && !shown.has(k)) { shown.add(k); this.palette[k] = [c >> 16, (c >> 8) & 255, c & 255]; }
      }
      this.form = { kind: 'colour', colours, table: t.table };
    }
    const imgDir = join(root, split, 'images'), labDir = join(root, split, 'labels');
    for (const img of listPngs(imgDir, this.name)) {
      const lab = join(labDir, img.slice(imgDir.length + 1));
      if (!existsSync(lab)) throw new Error(`${this.name}: image ${img} has no label ${lab}`);
      this.pairs.push([img, lab]);
    }
    this.notes.push(...orphanNote(this.name, listPngs(labDir, this.name, false), new Set(this.pairs.map(([, l]) => l)), labDir));
  }
}

/** TAS500 v1.1 colours → the seed's 10 classes (tas500v11/dataloader.py; seed-specs §5.1); several colours per class. */
const TAS500_CLASSES: [string, [number, number, number][]][] = [
  ['terrain', [[192, 192, 192], [105, 105, 105], [160, 82, 45], [244, 164, 96]]],
  ['vegetation', [[60, 179, 113], [34, 139, 34], [154, 205, 50], [0, 128, 0], [0, 100, 0], [0, 250, 154], [139, 69, 19]]],
  ['construction', [[1, 51, 73], [190, 153, 153], [0, 132, 111]]],
  ['vehicle', [[0, 0, 142], [0, 60, 100]]],
  ['sky', [[135, 206, 250]]],
  ['object', [[128, 0, 128], [153, 153, 153], [255, 255, 0]]],
  ['human', [[220, 20, 60]]],
  ['animal', [[255, 182, 193]]],
  ['void', [[220, 220, 220]]],
  ['undefined', [[0, 0, 0]]],
];
/** Files the seed drops for their invalid labels. */
export const TAS500_INVALID = ['1537962190852671077.png', '1539600515553691119.png', '1539600738459369245.png', '1539600829359771415.png', '1567611260762673589.png'];
/** Images of val/ that form the validation split (the rest is test). */
export const TAS500_VAL_COUNT = 50;

/**
 * TAS500 v1.1 (the TAS500 seed, §5.1): DIR/{train,train_labels,val,val_labels}/NAME.png, RGB labels
 * in the seed's 10 classes (a colour outside the table is an error). The 5 files with invalid labels
 * are dropped. val/ gives the validation split (its first 50 files) and the test split (the rest),
 * in sorted name order: the seed takes them in os.listdir order after a set difference, which
 * differs between machines, so this split is the deterministic stand-in. Class 9 (undefined) is the
 * ignore class of the metrics, as the seed scores classes 0–8; its loss still sees it.
 */
export class Tas500Dataset extends PairDataset {
  readonly numClasses = 10;
  readonly ignoreIndex = 9;
  readonly classNames = TAS500_CLASSES.map(([n]) => n);
  readonly palette: RGB[] = TAS500_CLASSES.map(([, cs]) => cs[0]);
  readonly name: string;
  protected readonly form: LabelForm;
  constructor(readonly root: string, split: Split) {
    super();
    this.name = `tas500 ${split} (${root})`;
    const colours = new Map<number, number>();
    TAS500_CLASSES.forEach(([, cs], k) => { for (const [r, g, b] of cs) colours.set((r << 16) | (g << 8) | b, k); });
    this.form = { kind: 'colour', colours, table: 'the TAS500 colour table (seed-specs §5.1)' };
    const dir = split === 'train' ? 'train' : 'val', labDir = join(root, `${dir}_labels`);
    const imgs = listPngs(join(root, dir), this.name).filter((p) => !TAS500_INVALID.includes(basename(p))).sort();
    const chosen = split === 'train' ? imgs : split === 'val' ? imgs.slice(0, TAS500_VAL_COUNT) : imgs.slice(TAS500_VAL_COUNT);
    for (const img of chosen) {
      const lab = join(labDir, basename(img));
      if (!existsSync(lab)) throw new Error(`${this.name}: image ${img} has no label ${lab}`);
      this.pairs.push([img, lab]);
    }
  }
}

export interface DataSpec { kind: 'synthetic' | 'cityscapes' | 'camvid' | 'camvid32' | 'tas500' | 'folder'; dir?: string }

/** Parses `synthetic`, `cityscapes:DIR`, `camvid:DIR`, `camvid32:DIR`, `tas500:DIR` or `folder:DIR`. */
export function parseDataSpec(spec: string): DataSpec {
  if (spec === 'synthetic') return { kind: 'synthetic' };
  const m = /^(cityscapes|camvid|camvid32|tas500|folder):(.+)$/.exec(spec);
  if (!m) throw new Error(`--data ${spec}: expected synthetic, cityscapes:DIR, camvid:DIR, camvid32:DIR, tas500:DIR or folder:DIR`);
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
    case 'camvid32': return new CamVidDataset(spec.dir!, o.split, true);
    case 'tas500': return new Tas500Dataset(spec.dir!, o.split);
    case 'folder': return new FolderDataset(spec.dir!, o.split);
  }
}
