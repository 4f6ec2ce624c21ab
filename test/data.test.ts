import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../src/engine/rng.js';
import { scope } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { enetWeights } from '../src/data/class-weights.js';
import { CamVidDataset, CityscapesDataset, FolderDataset, TAS500_INVALID, TAS500_VAL_COUNT, Tas500Dataset, parseDataSpec } from '../src/data/datasets.js';
import { Loader } from '../src/data/loader.js';
import { writePng } from '../src/data/png.js';
import { syntheticScene } from '../src/data/synthetic.js';
import { augment, resizeImage, resizeLabel } from '../src/data/transforms.js';
import { argmaxConfusion } from '../src/kernels/metrics.js';
import { IouEval, iouFromConfusion } from '../src/train/iou.js';
import { rng } from './reference/core.js';

const t = suite('data');
const tmp = () => mkdtempSync(join(tmpdir(), 'mirage-data-'));
const W = 16, H = 8;

function png(path: string, f: (x: number, y: number) => [number, number, number], w = W, h = H) {
  mkdirSync(join(path, '..'), { recursive: true });
  const d = new Uint8Array(3 * w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.set(f(x, y), 3 * (y * w + x));
  writePng(path, w, h, d, 3);
}
/** A palette-mode (colour type 3) or grey (0) 8-bit PNG, which pngjs cannot write: raw chunks with zlib and CRC-32. */
function palettePng(path: string, idx: (x: number, y: number) => number, pal: [number, number, number][] | null, w = W, h = H) {
  mkdirSync(join(path, '..'), { recursive: true });
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (b: Buffer) => { let c = 0xffffffff; for (const v of b) c = crcTable[(c ^ v) & 255] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0); td.copy(out, 4); out.writeUInt32BE(crc(td), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = pal ? 3 : 0;
  const raw = Buffer.alloc((w + 1) * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[y * (w + 1) + 1 + x] = idx(x, y);
  writeFileSync(path, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    ...(pal ? [chunk('PLTE', Buffer.from(pal.flat()))] : []), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]));
}
const gray = (v: (x: number, y: number) => number) => (x: number, y: number): [number, number, number] => { const g = v(x, y); return [g, g, g]; };

t('synthetic scenes: deterministic by seed, several classes, any size', () => {
  const a = syntheticScene(3, 5, 96, 48), b = syntheticScene(3, 5, 96, 48), c = syntheticScene(3, 6, 96, 48);
  assert.equal(a.label, b.label);
  assert.equal(a.image, b.image);
  assert.not.equal(a.label, c.label);
  const classes = new Set(a.label);
  for (const k of [0, 2, 10]) assert.ok(classes.has(k), `class ${k} (road/building/sky) present`);
  assert.ok(a.image.every((v) => v >= 0 && v <= 1));
  assert.is(syntheticScene(1, 0, 33, 17).label.length, 33 * 17);
});

t('cityscapes layout: labelTrainIds and labelIds (mapped), 255 → ignore 19', () => {
  const root = tmp();
  const img = (city: string, n: string) => join(root, 'leftImg8bit', 'train', city, `${city}_000000_00000${n}_leftImg8bit.png`);
  const gt = (city: string, n: string, kind: string) => join(root, 'gtFine', 'train', city, `${city}_000000_00000${n}_gtFine_${kind}.png`);
  png(img('aachen', '1'), () => [10, 20, 30]);
  png(gt('aachen', '1', 'labelTrainIds'), gray((x) => (x < 8 ? 13 : 255)));
  png(img('bremen', '2'), () => [40, 50, 60]);
  png(gt('bremen', '2', 'labelIds'), gray((x) => (x < 4 ? 7 : x < 8 ? 26 : 0)));   // road, car, unlabeled
  const ds = new CityscapesDataset(root, 'train');
  assert.is(ds.length, 2);
  const a = ds.load(0), b = ds.load(1);
  assert.is(a.label[0], 13); assert.is(a.label[15], 19);
  assert.is(b.label[0], 0); assert.is(b.label[5], 13); assert.is(b.label[9], 19);
  assert.ok(Math.abs(a.image[0] - 10 / 255) < 1e-6);
});

t('cityscapes: missing folder, image without label, size mismatch, out-of-range label, corrupt PNG', () => {
  const root = tmp();
  assert.throws(() => new CityscapesDataset(root, 'val'), /folder .*leftImg8bit\/val does not exist/);
  const img = join(root, 'leftImg8bit', 'train', 'x', 'x_0_0_leftImg8bit.png');
  png(img, () => [0, 0, 0]);
  assert.throws(() => new CityscapesDataset(root, 'train'), /image .*x_0_0_leftImg8bit.png has no label/);
  const lab = join(root, 'gtFine', 'train', 'x', 'x_0_0_gtFine_labelTrainIds.png');
  png(lab, gray(() => 1), 8, 8);
  assert.throws(() => new CityscapesDataset(root, 'train').load(0), /is 16x8 but its label .* is 8x8/);
  png(lab, gray((x) => (x === 3 ? 40 : 1)));
  assert.throws(() => new CityscapesDataset(root, 'train').load(0), /label .* has value 40 at pixel \(3, 0\)/);
  writeFileSync(img, 'not a png');
  assert.throws(() => new CityscapesDataset(root, 'train').load(0), /x_0_0_leftImg8bit.png is not a valid PNG/);
});

t('camvid SegNet layout (index labels) and Kaggle/Suite layout (RGB labels + class_dict.csv)', () => {
  const seg = tmp();
  png(join(seg, 'train', 'a.png'), () => [1, 2, 3]);
  png(join(seg, 'trainannot', 'a.png'), gray((x) => x % 12));
  const s = new CamVidDataset(seg, 'train');
  assert.is(s.layout, 'segnet');
  assert.is(s.load(0).label[11], 11);
  const kag = tmp();
  writeFileSync(join(kag, 'class_dict.csv'), 'name,r,g,b\nRoad, 128, 64,128\nCar,64,0,128\nAnimal,64,128,64\n');
  png(join(kag, 'val', '0001TP_1.png'), () => [9, 9, 9]);
  png(join(kag, 'val_labels', '0001TP_1_L.png'), (x) => (x < 5 ? [128, 64, 128] : x < 10 ? [64, 0, 128] : [64, 128, 64]));
  const k = new CamVidDataset(kag, 'val');
  assert.is(k.layout, 'suite');
  const l = k.load(0).label;
  assert.equal([l[0], l[7], l[12]], [5, 3, 11]);   // Road, Car, other → void
  png(join(kag, 'val_labels', '0001TP_1_L.png'), () => [1, 2, 3]);
  assert.throws(() => k.load(0), /has colour \(1,2,3\) at pixel \(0, 0\), which is not in .*class_dict.csv/);
  assert.throws(() => new CamVidDataset(tmp(), 'train'), /has neither trainannot\/ .* nor train_labels\//);
});

t('camvid32: the Suite layout with every class_dict.csv row a class (the MSSA seed\'s 32 classes), void included; bad colour, SegNet layout refused', () => {
  // the Kaggle CamVid class_dict.csv (32 rows), as the seed's code reads it
  const dict = ['Animal,64,128,64', 'Archway,192,0,128', 'Bicyclist,0,128,192', 'Bridge,0,128,64', 'Building,128,0,0', 'Car,64,0,128',
    'CartLuggagePram,64,0,192', 'Child,192,128,64', 'Column_Pole,192,192,128', 'Fence,64,64,128', 'LaneMkgsDriv,128,0,192',
    'LaneMkgsNonDriv,192,0,64', 'Misc_Text,128,128,64', 'MotorcycleScooter,192,0,192', 'OtherMoving,128,64,64', 'ParkingBlock,64,192,128',
    'Pedestrian,64,64,0', 'Road,128,64,128', 'RoadShoulder,128,128,192', 'Sidewalk,0,0,192', 'SignSymbol,192,128,128', 'Sky,128,128,128',
    'SUVPickupTruck,64,128,192', 'TrafficCone,0,0,64', 'TrafficLight,0,64,64', 'Train,192,64,128', 'Tree,128,128,0', 'Truck_Bus,192,128,192',
    'Tunnel,64,0,64', 'VegetationMisc,192,192,0', 'Void,0,0,0', 'Wall,64,192,0'];
  const root = tmp();
  writeFileSync(join(root, 'class_dict.csv'), `name,r,g,b\n${dict.join('\n')}\n`);
  png(join(root, 'train', '0001TP_006690.png'), () => [9, 9, 9]);
  png(join(root, 'train_labels', '0001TP_006690_L.png'), (x) => (x < 4 ? [128, 64, 128] : x < 8 ? [0, 0, 0] : x < 12 ? [64, 192, 0] : [64, 128, 64]));
  const ds = new CamVidDataset(root, 'train', true);
  assert.is(ds.numClasses, 33); assert.is(ds.ignoreIndex, 32);
  assert.is(ds.classNames[30], 'Void'); assert.is(ds.classNames[32], 'ignore');
  assert.equal(ds.palette[17], [128, 64, 128]);
  const l = ds.load(0).label;
  assert.equal([l[0], l[5], l[9], l[13]], [17, 30, 31, 0]);   // Road, Void (a class here), Wall, Animal
  const eleven = new CamVidDataset(root, 'train').load(0).label;
  assert.equal([eleven[0], eleven[5], eleven[9], eleven[13]], [5, 11, 11, 11]);   // camvid: the 11 classes, the rest void
  assert.equal(parseDataSpec(`camvid32:${root}`), { kind: 'camvid32', dir: root });
  png(join(root, 'train_labels', '0001TP_006690_L.png'), (x) => (x === 2 ? [1, 2, 3] : [0, 0, 0]));
  assert.throws(() => ds.load(0), /camvid32 train .*0001TP_006690_L.png has colour \(1,2,3\) at pixel \(2, 0\), which is not in .*class_dict.csv/);
  const seg = tmp();
  png(join(seg, 'train', 'a.png'), () => [1, 2, 3]);
  png(join(seg, 'trainannot', 'a.png'), gray((x) => x % 12));
  assert.throws(() => new CamVidDataset(seg, 'train', true), /camvid32: .* has no train_labels\/.*use --data camvid:DIR \(11 classes\)/);
  const dup = tmp();
  writeFileSync(join(dup, 'class_dict.csv'), 'name,r,g,b\nRoad,1,2,3\nLane,1,2,3\n');
  png(join(dup, 'train', 'a.png'), () => [1, 2, 3]);
  png(join(dup, 'train_labels', 'a_L.png'), () => [1, 2, 3]);
  assert.throws(() => new CamVidDataset(dup, 'train', true), /colour \(1,2,3\) is on two rows \(Road, Lane\)/);
});

t('generic folder layout with classes.txt; 255 → ignore', () => {
  const root = tmp();
  writeFileSync(join(root, 'classes.txt'), 'background\nroad\ncar\n');
  png(join(root, 'train', 'images', 'p.png'), () => [5, 5, 5]);
  png(join(root, 'train', 'labels', 'p.png'), gray((x) => (x < 3 ? x : 255)));
  const ds = new FolderDataset(root, 'train');
  assert.is(ds.numClasses, 4); assert.is(ds.ignoreIndex, 3);
  assert.equal([...ds.load(0).label.slice(0, 5)], [0, 1, 2, 3, 3]);
  assert.throws(() => parseDataSpec('folder:/no/such/dir'), /--data folder:\/no\/such\/dir: folder \/no\/such\/dir does not exist/);
  assert.throws(() => parseDataSpec('imagenet'), /expected synthetic, cityscapes:DIR, camvid:DIR, camvid32:DIR, tas500:DIR or folder:DIR/);
});

t('folder colour labels: classes.txt colours (several per class, an ignore colour), class_dict.csv; forms checked', () => {
  const root = tmp();
  writeFileSync(join(root, 'classes.txt'), '# name and its colours\nroad 128,64,128 #7f3f7f\ntraffic light 250,170,30\nvoid 0,0,0\n');
  png(join(root, 'train', 'images', 'a.png'), () => [5, 5, 5]);
  png(join(root, 'train', 'labels', 'a.png'), (x) => (x < 4 ? [128, 64, 128] : x < 8 ? [0x7f, 0x3f, 0x7f] : x < 12 ? [250, 170, 30] : [0, 0, 0]));
  const ds = new FolderDataset(root, 'train');
  assert.equal(ds.classNames, ['road', 'traffic light', 'ignore']);
  assert.equal([...ds.load(0).label.slice(0, 16)], [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
  assert.equal(ds.palette[0], [128, 64, 128], 'a class is drawn in its first colour');
  ds.validate(true);
  // a grey label where colours are declared, an unknown colour: errors naming the file
  png(join(root, 'train', 'images', 'b.png'), () => [5, 5, 5]);
  png(join(root, 'train', 'labels', 'b.png'), () => [1, 2, 3]);
  const withB = new FolderDataset(root, 'train');
  assert.throws(() => withB.validate(true), /label .*labels\/b.png has colour \(1,2,3\) at pixel \(0, 0\), which is not in .*classes.txt/);
  palettePng(join(root, 'train', 'labels', 'b.png'), () => 0, [[0, 0, 0]]);   // a palette label: its colours count
  new FolderDataset(root, 'train').validate(true);
  const grey = tmp();
  writeFileSync(join(grey, 'classes.txt'), 'road 128,64,128\n');
  png(join(grey, 'val', 'images', 'g.png'), () => [5, 5, 5]);
  palettePng(join(grey, 'val', 'labels', 'g.png'), () => 0, null);
  assert.throws(() => new FolderDataset(grey, 'val').validate(false), /label .*g.png is a grey image, but .*classes.txt declares colour labels/);
  // mixed lines, a colour given twice
  writeFileSync(join(grey, 'classes.txt'), 'road 128,64,128\ncar\n');
  assert.throws(() => new FolderDataset(grey, 'val'), /classes.txt: line 2 \('car'\) has no colours but earlier lines do/);
  writeFileSync(join(grey, 'classes.txt'), 'road 1,2,3\ncar 1,2,3\n');
  assert.throws(() => new FolderDataset(grey, 'val'), /colour \(1,2,3\) is given to two classes/);
  // class_dict.csv (CamVid form) when there is no classes.txt: repeated names are one class
  const csv = tmp();
  writeFileSync(join(csv, 'class_dict.csv'), 'name,r,g,b\nroad,128,64,128\nroad,100,100,100\ncar,64,0,128\nVoid,0,0,0\n');
  png(join(csv, 'train', 'images', 'a.png'), () => [5, 5, 5]);
  png(join(csv, 'train', 'labels', 'a.png'), (x) => (x < 5 ? [100, 100, 100] : x < 10 ? [64, 0, 128] : [0, 0, 0]));
  const c = new FolderDataset(csv, 'train');
  assert.equal(c.classNames, ['road', 'car', 'ignore']);
  assert.equal([...c.load(0).label.slice(0, 16)], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
});

t('index labels: palette PNGs keep their indices, RGB colour labels are refused naming the file, orphan labels counted', () => {
  const root = tmp();
  writeFileSync(join(root, 'classes.txt'), 'background\nroad\ncar\n');
  png(join(root, 'train', 'images', 'p.png'), () => [5, 5, 5]);
  // palette colours unrelated to the indices: index 2 is drawn red, index 1 green
  palettePng(join(root, 'train', 'labels', 'p.png'), (x) => (x < 4 ? 2 : x < 8 ? 1 : 0), [[0, 0, 0], [0, 255, 0], [255, 0, 0]]);
  png(join(root, 'train', 'labels', 'orphan.png'), gray(() => 1));
  const ds = new FolderDataset(root, 'train');
  assert.equal([...ds.load(0).label.slice(0, 9)], [2, 2, 2, 2, 1, 1, 1, 1, 0]);
  assert.match(ds.notes[0], /1 label in .*labels has no image \(e.g. orphan.png\); not used/);
  png(join(root, 'train', 'labels', 'p.png'), (x) => (x < 8 ? [255, 0, 0] : [0, 0, 0]));
  assert.throws(() => new FolderDataset(root, 'train').validate(false),
    /label .*labels\/p.png is a colour image, but .*classes.txt declares class-index labels/);
});

t('loader: images of several sizes are scaled to cover the input and centre-cropped, with a note; width from the median aspect', () => {
  const root = tmp();
  writeFileSync(join(root, 'classes.txt'), 'a\nb\n');
  for (const n of ['1', '2', '3']) {
    png(join(root, 'train', 'images', `${n}.png`), () => [5, 5, 5], 64, 32);
    png(join(root, 'train', 'labels', `${n}.png`), gray((x) => (x < 32 ? 0 : 1)), 64, 32);
  }
  // sorted first, a square image: the input is still 2:1 (the median), not the first file's 1:1
  png(join(root, 'train', 'images', '0.png'), () => [5, 5, 5], 48, 48);
  png(join(root, 'train', 'labels', '0.png'), gray((x, y) => (y < 24 ? 0 : 1)), 48, 48);
  const L = new Loader(new FolderDataset(root, 'train'), { batchSize: 1, height: 16 });
  assert.is(L.width, 32);
  assert.match(L.notes[0], /images come in 2 sizes \(3 at 64x32, 1 at 48x48\); each is scaled to cover 32x16 and centre-cropped/);
  const sq = L.prepare(0, new Rng(1));
  assert.equal([sq.width, sq.height], [32, 16]);
  // 48×48 → 32×32, rows 8..23 kept: the top half's class 0 above row 16, class 1 below
  assert.is(sq.label[0], 0); assert.is(sq.label[15 * 32], 1);
  const wide = L.prepare(1, new Rng(1));
  assert.is(wide.label[15], 0); assert.is(wide.label[16], 1);
});

t('resize: bilinear image (identity at same size, constant preserved), nearest label', () => {
  const img = Float32Array.from({ length: 3 * 40 * 20 }, (_, i) => (i % 7) / 7);
  assert.equal(resizeImage(img, 40, 20, 40, 20), img);
  const c = resizeImage(new Float32Array(3 * 40 * 20).fill(0.25), 40, 20, 13, 9);
  assert.ok(c.every((v) => Math.abs(v - 0.25) < 1e-6));
  const lab = Uint8Array.from({ length: 8 * 4 }, (_, i) => i % 8);
  assert.equal([...resizeLabel(lab, 8, 4, 4, 2)], [0, 2, 4, 6, 0, 2, 4, 6].map((v) => v + 1));
});

t('augment: flip mirrors image and label together; translation fills with ignore', () => {
  const s = syntheticScene(1, 2, 32, 16);
  let flipped = s;
  const r = new Rng(1);
  for (let k = 0; k < 20 && flipped === s; k++) flipped = augment(s, { flip: true }, r, 19);
  assert.ok(flipped !== s, 'a flip happens within 20 draws');
  for (let y = 0; y < 16; y++) for (let x = 0; x < 32; x++) {
    assert.is(flipped.label[y * 32 + x], s.label[y * 32 + (31 - x)]);
    assert.ok(Math.abs(flipped.image[y * 32 + x] - s.image[y * 32 + 31 - x]) < 1e-5);
  }
  const moved = augment(s, { translate: 2 }, new Rng(5), 19);
  assert.equal(moved.label.length, s.label.length);
});

t('loader: shapes, label downscale for the encoder stage, deterministic shuffling', async () => {
  const ds = { name: 'syn', length: 5, numClasses: 20, ignoreIndex: 19, classNames: [], palette: [], notes: [],
    load: (i: number) => syntheticScene(7, i, 64, 32), sizes: () => Array.from({ length: 5 }, () => ({ width: 64, height: 32 })) };
  const L = new Loader(ds, { batchSize: 2, height: 16, shuffle: true, seed: 3, labelDownscale: 8 });
  assert.is(L.width, 32);
  const batches = [];
  for await (const b of L.epoch(0)) batches.push(b);
  assert.equal(batches.map((b) => b.n), [2, 2, 1]);
  assert.equal([batches[0].labelHeight, batches[0].labelWidth], [2, 4]);
  assert.is(batches[0].x.length, 2 * 3 * 16 * 32);
  const again = [];
  for await (const b of L.epoch(0)) again.push(b.names.join());
  assert.equal(again, batches.map((b) => b.names.join()));
  assert.throws(() => new Loader(ds, { batchSize: 2, height: 12 }), /--height must be a positive multiple of 8, got 12/);
});

t('ENet class weights 1/ln(c + p), ignore class 0', () => {
  const w = enetWeights(Float64Array.from([50, 30, 20, 99]), 1.1, 3);
  assert.ok(Math.abs(w[0] - 1 / Math.log(1.1 + 0.5)) < 1e-6);
  assert.ok(Math.abs(w[2] - 1 / Math.log(1.1 + 0.2)) < 1e-6);
  assert.is(w[3], 0);
});

t('confusion matrix on the GPU and IoU with iouEval semantics', async () => {
  const N = 2, C = 5, P = 37, ignore = 4;
  const r = rng(9);
  const logits = Float32Array.from({ length: N * C * P }, () => r());
  const labels = Int32Array.from({ length: N * P }, () => Math.floor(r() * C));
  const meter = new IouEval(C, ignore);
  scope(() => meter.add(tensor(logits, [N, C, P]), tensor(labels, [N, P])));
  const res = await meter.result();
  // reference: one-hot iouEval over the same pixels
  const tp = new Array(C).fill(0), fp = new Array(C).fill(0), fn = new Array(C).fill(0);
  for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[(n * C + c) * P + p] > logits[(n * C + best) * P + p]) best = c;
    const g = labels[n * P + p];
    for (let c = 0; c < C - 1; c++) {
      const pc = best === c ? 1 : 0, gc = g === c ? 1 : 0, ig = g === ignore ? 1 : 0;
      tp[c] += pc * gc; fp[c] += pc * (1 - gc - ig); fn[c] += (1 - pc) * gc;
    }
  }
  const want = tp.slice(0, C - 1).map((v, c) => v / (v + fp[c] + fn[c] + 1e-15));
  want.forEach((v, c) => assert.ok(Math.abs(res.iou[c] - v) < 1e-12, `class ${c}: ${res.iou[c]} vs ${v}`));
  assert.ok(Math.abs(res.miou - want.reduce((a, b) => a + b) / want.length) < 1e-12);
  meter.dispose();
  const direct = iouFromConfusion([5, 0, 0, 5], 2, 99);
  assert.ok(direct.iou.every((v) => Math.abs(v - 1) < 1e-12));
  const pred = scope(() => argmaxConfusion(tensor(Float32Array.from([1, 2, 1, 1, 0, 3]), [1, 3, 2]), null, null));
  assert.equal([...(await pred.read())], [0, 2]);   // pixel 0 ties classes 0 and 1 → first maximum
  pred.dispose();
});
t('per-image scores as the MSSA seed\'s code computes them (Suite evaluate_segmentation), over two batches; pooled matrix unchanged', async () => {
  const C = 5, P = 41, ignore = 4, sizes = [2, 1];
  const r = rng(12);
  const batches = sizes.map((N, b) => ({
    logits: Float32Array.from({ length: N * C * P }, () => r()),
    // image 2 (the second batch) has no class 3 in its ground truth, so its class accuracy for 3 is 1
    labels: Int32Array.from({ length: N * P }, () => { const v = Math.floor(r() * C); return b === 1 && v === 3 ? 0 : v; }),
  }));
  const per = new IouEval(C, ignore, 3), pooled = new IouEval(C, ignore);
  for (const [b, N] of sizes.entries()) {
    scope(() => {
      const lg = tensor(batches[b].logits, [N, C, P]), lb = tensor(batches[b].labels, [N, P]);
      per.add(lg, lb); pooled.add(lg, lb);
    });
  }
  const [got, want] = [await per.result(), await pooled.result()];
  assert.equal(got.confusion, want.confusion);
  assert.ok(got.perImage && !want.perImage);
  // the Suite's functions on each image's flat pred / label, ignore pixels removed
  const ga: number[] = [], ca: number[][] = [], mi: number[] = [];
  for (const [b, N] of sizes.entries()) for (let n = 0; n < N; n++) {
    const pred: number[] = [], lab: number[] = [];
    for (let p = 0; p < P; p++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (batches[b].logits[(n * C + c) * P + p] > batches[b].logits[(n * C + best) * P + p]) best = c;
      const g = batches[b].labels[n * P + p];
      if (g !== ignore) { pred.push(best); lab.push(g); }
    }
    ga.push(pred.filter((v, i) => v === lab[i]).length / lab.length);
    ca.push([0, 1, 2, 3].map((c) => { const tot = lab.filter((v) => v === c).length; return tot ? pred.filter((v, i) => v === c && lab[i] === c).length / tot : 1; }));
    const uniq = [...new Set(lab)];
    mi.push(uniq.map((c) => { const I = pred.filter((v, i) => v === c && lab[i] === c).length, U = pred.filter((v, i) => v === c || lab[i] === c).length; return I / U; })
      .reduce((a, v) => a + v, 0) / uniq.length);
  }
  assert.is(ca[2][3], 1, 'a class absent from an image scores 1');
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const pi = got.perImage!;
  assert.is(pi.images, 3);
  assert.ok(Math.abs(pi.globalAccuracy - mean(ga)) < 1e-12, `global accuracy ${pi.globalAccuracy} vs ${mean(ga)}`);
  assert.ok(Math.abs(pi.miou - mean(mi)) < 1e-12, `mIoU ${pi.miou} vs ${mean(mi)}`);
  assert.ok(Math.abs(pi.meanClassAccuracy - mean(ca.map(mean))) < 1e-12, `class accuracy ${pi.meanClassAccuracy} vs ${mean(ca.map(mean))}`);
  assert.ok(Math.abs(pi.miou - got.miou) > 1e-3, 'per-image and pooled mIoU differ on these data (the test can tell them apart)');
  const extra = tensor(new Float32Array(C * P), [1, C, P]), el = tensor(new Int32Array(P), [1, P]);
  assert.throws(() => per.add(extra, el), /IouEval: more than the 3 images/);
  for (const v of [extra, el]) v.dispose();
  per.dispose(); pooled.dispose();
});

t('tas500: the seed\'s colour table (several colours a class), invalid files dropped, val/test split in sorted order, bad colour named', () => {
  const root = tmp();
  const lab = (k: number) => (x: number): [number, number, number] => (x < 4 ? [60, 179, 113] : x < 8 ? [139, 69, 19] : x < 12 ? [0, 0, 0] : (k % 2 ? [135, 206, 250] : [1, 51, 73]));
  png(join(root, 'train', '1537962190852671077.png'), () => [1, 1, 1]);      // one of the seed's five invalid files
  png(join(root, 'train_labels', '1537962190852671077.png'), () => [7, 7, 7]);
  png(join(root, 'train', '100.png'), () => [5, 5, 5]);
  png(join(root, 'train_labels', '100.png'), lab(1));
  for (let k = 0; k < TAS500_VAL_COUNT + 2; k++) {
    const n = `${2000 + (k * 37) % (TAS500_VAL_COUNT + 2)}.png`;   // written out of order
    png(join(root, 'val', n), () => [k, k, k]);
    png(join(root, 'val_labels', n), lab(k));
  }
  const tr = new Tas500Dataset(root, 'train');
  assert.is(tr.length, 1, 'the invalid file is dropped');
  assert.is(tr.numClasses, 10); assert.is(tr.ignoreIndex, 9); assert.is(tr.classNames[9], 'undefined');
  const l = tr.load(0).label;
  assert.equal([l[0], l[5], l[9], l[13]], [1, 1, 9, 4]);   // vegetation (two of its colours), undefined, sky
  const val = new Tas500Dataset(root, 'val'), test = new Tas500Dataset(root, 'test');
  assert.is(val.length, TAS500_VAL_COUNT); assert.is(test.length, 2);
  assert.is(val.load(0).name, '2000'); assert.is(val.load(TAS500_VAL_COUNT - 1).name, `${2000 + TAS500_VAL_COUNT - 1}`);
  assert.equal([test.load(0).name, test.load(1).name], [`${2000 + TAS500_VAL_COUNT}`, `${2001 + TAS500_VAL_COUNT}`]);
  assert.equal(parseDataSpec(`tas500:${root}`), { kind: 'tas500', dir: root });
  png(join(root, 'train_labels', '100.png'), (x) => (x === 6 ? [10, 20, 30] : [0, 0, 0]));
  assert.throws(() => tr.load(0), /tas500 train .*100.png has colour \(10,20,30\) at pixel \(6, 0\), which is not in the TAS500 colour table/);
  assert.ok(TAS500_INVALID.length === 5);
});

t.run();
