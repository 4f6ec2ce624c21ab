// NVIDIA's augmentations (seed-specs §4.3–4.4): random size-and-crop (random place, around a
// centroid, padded when smaller, crops of another size), colour jitter with PIL's semantics,
// Gaussian blur with skimage's, and class-uniform sampling (tile centroids, epoch building, the
// loader drawing rare classes more often). CPU code: references are float64 transcriptions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../src/engine/rng.js';
import { Loader } from '../src/data/loader.js';
import type { Sample } from '../src/data/synthetic.js';
import {
  adjustBrightness, adjustContrast, adjustHue, adjustSaturation, augment, colorJitter, gaussianBlur, gaussianKernel,
} from '../src/data/transforms.js';
import { buildEpoch, classCentroids, tileCentroids } from '../src/data/uniform.js';
import { describeAugment, newConfig, parseCropSize } from '../src/train/config.js';

const t = test;
const randImage = (W: number, H: number, seed: number) => { const r = new Rng(seed); return Float32Array.from({ length: 3 * W * H }, () => r.next()); };
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) => {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - b[i]) <= tol)) assert.unreachable(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

t('Gaussian blur: scipy kernel radius int(4σ + 0.5), normalised; equals a float64 2-D convolution with nearest edges', () => {
  for (const s of [0.15, 0.6, 1.3]) {
    const k = gaussianKernel(s);
    assert.is(k.length, 2 * Math.floor(4 * s + 0.5) + 1, `σ ${s}`);
    assert.ok(Math.abs(k.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  }
  const W = 13, H = 9, sigma = 0.9, img = randImage(W, H, 3);
  const out = gaussianBlur(img, W, H, sigma);
  const r = Math.floor(4 * sigma + 0.5), g = (i: number) => Math.exp(-0.5 * (i / sigma) ** 2);
  let norm = 0;
  for (let i = -r; i <= r; i++) for (let j = -r; j <= r; j++) norm += g(i) * g(j);
  const ref = new Float64Array(img.length);
  for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    let a = 0;
    for (let i = -r; i <= r; i++) for (let j = -r; j <= r; j++) {
      const yy = Math.min(H - 1, Math.max(0, y + i)), xx = Math.min(W - 1, Math.max(0, x + j));
      a += g(i) * g(j) * img[c * W * H + yy * W + xx];
    }
    ref[c * W * H + y * W + x] = a / norm;
  }
  close(out, ref, 1e-5, 'blur');
  close(gaussianBlur(new Float32Array(3 * W * H).fill(0.3), W, H, 1.2), new Float32Array(3 * W * H).fill(0.3), 1e-6, 'constant');
});

t('colour jitter: PIL brightness / contrast / saturation blends, hue rotation in HSV, random order, identity at strength 0', () => {
  const W = 7, H = 5, P = W * H, img = randImage(W, H, 9);
  const luma = (i: number, x: ArrayLike<number>) => 0.299 * x[i] + 0.587 * x[P + i] + 0.114 * x[2 * P + i];
  close(adjustBrightness(img, 1.2), Array.from(img, (v) => Math.min(1, v * 1.2)), 1e-6, 'brightness');
  let mean = 0;
  for (let i = 0; i < P; i++) mean += luma(i, img) / P;
  close(adjustContrast(img, W, H, 0.8), Array.from(img, (v) => Math.min(1, Math.max(0, mean + 0.8 * (v - mean)))), 1e-6, 'contrast');
  close(adjustContrast(img, W, H, 0), new Float32Array(3 * P).fill(mean), 1e-6, 'contrast 0: the mean grey');
  const sat = adjustSaturation(img, W, H, 0.7);
  for (let c = 0; c < 3; c++) for (let i = 0; i < P; i++) {
    const want = Math.min(1, Math.max(0, luma(i, img) + 0.7 * (img[c * P + i] - luma(i, img))));
    assert.ok(Math.abs(sat[c * P + i] - want) < 1e-6, `saturation ${c},${i}`);
  }
  // hue: a third of the circle turns red into green, a sixth into yellow; value and chroma kept; ±h undo each other
  const red = Float32Array.from([1, 0, 0]);
  close(adjustHue(red, 1, 1, 1 / 3), [0, 1, 0], 1e-6, 'red → green');
  close(adjustHue(red, 1, 1, 1 / 6), [1, 1, 0], 1e-6, 'red → yellow');
  close(adjustHue(red, 1, 1, -1 / 3), [0, 0, 1], 1e-6, 'red → blue');
  close(adjustHue(img, W, H, 0), img, 1e-6, 'hue 0');
  const h = adjustHue(img, W, H, 0.2);
  close(adjustHue(h, W, H, -0.2), img, 1e-5, 'hue ±0.2');
  for (let i = 0; i < P; i++) {
    const a = [img[i], img[P + i], img[2 * P + i]], b = [h[i], h[P + i], h[2 * P + i]];
    assert.ok(Math.abs(Math.max(...a) - Math.max(...b)) < 1e-6 && Math.abs(Math.min(...a) - Math.min(...b)) < 1e-6, `HSV V and chroma kept at ${i}`);
  }
  close(colorJitter(img, W, H, 0, new Rng(1)), img, 1e-6, 'strength 0');
  const j = colorJitter(img, W, H, 0.25, new Rng(2));
  assert.ok(j.some((v, i) => Math.abs(v - img[i]) > 1e-3) && j.every((v) => v >= 0 && v <= 1), 'jitter changes the image, within [0, 1]');
  // the order is random: two draws with the same factors but different orders differ (b, c, s, h are not commutative)
  const orders = new Set<string>();
  for (let s = 0; s < 30; s++) orders.add(colorJitter(img, W, H, 0.25, new Rng(100 + s))[0].toFixed(6));
  assert.ok(orders.size > 20, 'different draws give different results');
});

/** A W×H sample: image = a ramp, label 0 everywhere but class `cls` on the pixels of `at`. */
function scene(W: number, H: number, at: [number, number][], cls = 5): Sample {
  const label = new Uint8Array(W * H);
  for (const [x, y] of at) label[y * W + x] = cls;
  const image = Float32Array.from({ length: 3 * W * H }, (_, i) => (i % (W * H)) / (W * H));
  return { image, label, width: W, height: H, name: 's' };
}

t('random size-and-crop: random place; around a centroid the crop always holds it; a smaller image is padded about the centre', () => {
  const W = 40, H = 24, s = scene(W, H, [[3, 20]]);
  const has = (o: Sample) => o.label.includes(5);
  const r = new Rng(4);
  let withC = 0, without = 0;
  const places = new Set<string>();
  for (let k = 0; k < 60; k++) {
    if (has(augment(s, { scale: [1.5, 2], flip: true }, r, 19, { x: 3, y: 20 }))) withC++;
    const o = augment(s, { scale: [2, 2] }, r, 19);
    if (has(o)) without++;
    places.add(o.image.slice(0, 4).join());
  }
  assert.is(withC, 60, 'the centroid is always inside the crop');
  assert.ok(without < 40, `without a centroid the corner pixel is mostly cropped away (${without}/60)`);
  assert.ok(places.size > 10, 'crops start at different places');
  // scale 0.5: the 20×12 image is padded by 11 / 7 on each side, then cropped at 0…2 / 0…2: it lands at 9–11 / 5–7
  const lefts = new Set<number>();
  for (let k = 0; k < 20; k++) {
    const o = augment(s, { scale: [0.5, 0.5] }, r, 19);
    lefts.add([...Array(W).keys()].find((x) => o.label[12 * W + x] !== 19) ?? -1);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      if (x < 9 || x >= 32 || y < 5 || y >= 20) assert.is(o.label[y * W + x], 19, `padding at ${x},${y}`);
      if (x >= 12 && x < 28 && y >= 8 && y < 16) assert.is.not(o.label[y * W + x], 19, `image at ${x},${y}`);
    }
  }
  assert.equal([...lefts].sort((a, b) => a - b), [9, 10, 11], 'the image\'s left edge lands at 9, 10 or 11');
});

t('crops of another size: an exact window of the image at scale 1, the crop size at any scale', () => {
  const W = 40, H = 24, s = scene(W, H, []);
  for (let k = 0; k < 10; k++) s.label[k * 37 % (W * H)] = k;
  const r = new Rng(8);
  for (let k = 0; k < 10; k++) {
    const o = augment(s, { crop: [16, 8] }, r, 19);
    assert.equal([o.width, o.height, o.image.length, o.label.length], [16, 8, 3 * 128, 128]);
    let found = false;
    for (let oy = 0; oy <= H - 8 && !found; oy++) for (let ox = 0; ox <= W - 16 && !found; ox++) {
      let same = true;
      for (let y = 0; y < 8 && same; y++) for (let x = 0; x < 16 && same; x++) {
        same = o.label[y * 16 + x] === s.label[(y + oy) * W + x + ox] && Math.abs(o.image[y * 16 + x] - s.image[(y + oy) * W + x + ox]) < 1e-6;
      }
      found = same;
    }
    assert.ok(found, 'the crop is a window of the image');
    const z = augment(s, { crop: [16, 8], scale: [0.5, 2], flip: true, colorJitter: 0.25, blur: true }, r, 19);
    assert.equal([z.width, z.height, z.image.length], [16, 8, 3 * 128]);
  }
  assert.equal(parseCropSize('896'), [896, 896]);
  assert.equal(parseCropSize('128x64'), [128, 64]);
  assert.throws(() => parseCropSize('100'), /--crop-size 100: expected W or WxH in pixels, multiples of 8/);
});

t('the TAS500 seed\'s vertical flip and rotation (p 0.5, angle from a list, counter-clockwise about the centre): exact at 90°, corners ignored at 30°', () => {
  const N = 12, s: Sample = { image: randImage(N, N, 4), label: Uint8Array.from({ length: N * N }, (_, i) => i), width: N, height: N, name: 'sq' };
  const at = (o: Sample, x: number, y: number) => o.label[y * N + x];
  const r = new Rng(11), seen = new Set<string>();
  for (let k = 0; k < 24; k++) {
    const o = augment(s, { rotate: [90] }, r, 200);
    const same = o.label.every((v, i) => v === s.label[i]);
    // counter-clockwise by 90° (numpy rot90): out[y][x] = in[x][N − 1 − y], image and label alike
    let rot = true;
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) {
      rot &&= at(o, x, y) === s.label[x * N + (N - 1 - y)] && Math.abs(o.image[y * N + x] - s.image[x * N + (N - 1 - y)]) < 1e-5;
    }
    assert.ok(same || rot, 'identity or a counter-clockwise quarter turn');
    seen.add(same ? 'same' : 'rot');
    const v = augment(s, { vflip: true }, r, 200);
    const flipped = v.label.every((q, i) => q === s.label[(N - 1 - Math.floor(i / N)) * N + (i % N)]);
    assert.ok(flipped || v.label.every((q, i) => q === s.label[i]), 'identity or upside down');
    seen.add(flipped ? 'vflip' : 'v-same');
  }
  assert.equal([...seen].sort(), ['rot', 'same', 'v-same', 'vflip'], 'each happens with p 0.5');
  for (let k = 0; k < 10; k++) {
    const o = augment(s, { rotate: [30] }, r, 200);
    if (o.label.every((v, i) => v === s.label[i])) continue;
    assert.is(at(o, 0, 0), 200, 'a corner from outside the image is ignored');
    assert.is(at(o, N / 2, N / 2), s.label[(N / 2) * N + N / 2], 'the centre stays');
  }
});

t('class centroids: integer centre of mass per class per full tile, ignore left out; tiles larger than the image are clamped', () => {
  const W = 10, H = 6, label = new Uint8Array(W * H).fill(19);
  const put = (x: number, y: number, c: number) => { label[y * W + x] = c; };
  put(0, 0, 2); put(3, 1, 2); put(2, 2, 2);           // class 2: mean (5/3, 1) → (1, 1)
  put(7, 5, 4); put(8, 5, 4);                         // class 4 in the second tile (offset 5): mean (2.5, 5) → (7, 5)
  const c = tileCentroids(label, W, H, 5, 19, 19);    // 2×1 tiles of 5 (rows 5.. not a full tile: only y 0–4)
  assert.equal(c, [{ cls: 2, x: 1, y: 1 }]);
  const one = tileCentroids(label, W, H, 1024, 19, 19);   // one tile: the whole image
  assert.equal(one.sort((a, b) => a.cls - b.cls), [{ cls: 2, x: 1, y: 1 }, { cls: 4, x: 7, y: 5 }]);
  const halves = tileCentroids(label, W, H, 6, 19, 19);    // tile 6 on a 10×6 map: one full tile (x 0–5)
  assert.equal(halves, [{ cls: 2, x: 1, y: 1 }]);
  const by = classCentroids(3, () => label, W, H, 1024, 19, 19);
  assert.equal(by[2].map((x) => x.index), [0, 1, 2]);
  assert.is(by[4].length, 3);
  assert.is(by[0].length, 0);
});

t('epoch building: N items, ⌊N·pct/C⌋ around each class that has centroids, whole images for the rest', () => {
  const cents = Array.from({ length: 19 }, (_, c) => c % 3 === 0 ? [{ index: c, x: 1, y: 2, cls: c }] : []);
  const e = buildEpoch(80, cents, 0.5, new Rng(1));
  assert.is(e.length, 80);
  const per = Math.floor(80 * 0.5 / 19);                  // 2
  const around = e.filter((i) => i.centroid);
  assert.is(around.length, per * 7);
  for (let c = 0; c < 19; c += 3) assert.is(around.filter((i) => i.cls === c).length, per, `class ${c}`);
  const whole = e.filter((i) => !i.centroid).map((i) => i.index);
  assert.is(new Set(whole).size, whole.length, 'whole images drawn without repetition');
  const plain = buildEpoch(30, cents, 0, new Rng(2)).map((i) => i.index).sort((a, b) => a - b);
  assert.equal(plain, Array.from({ length: 30 }, (_, i) => i));
  assert.throws(() => buildEpoch(30, cents, 1.5, new Rng(2)), /--class-uniform 1.5: must be a fraction in \[0, 1\]/);
});

t('the loader with class-uniform sampling draws a rare class far more often', async () => {
  const W = 64, H = 32;
  const ds = {
    name: 'rare', length: 20, numClasses: 5, ignoreIndex: 4, classNames: [], palette: [], notes: [],
    load: (i: number) => scene(W, H, i === 0 ? [[2, 2], [3, 2], [2, 3], [3, 3]] : [], 3),
    sizes: () => Array.from({ length: 20 }, () => ({ width: W, height: H })),
  };
  const count = async (pct: number) => {
    const L = new Loader(ds, { batchSize: 4, height: H, width: W, shuffle: true, seed: 5, augment: { scale: [1.5, 2] },
      classUniform: pct ? { pct } : undefined });
    let n = 0, items = 0;
    for (let e = 0; e < 3; e++) {
      for await (const b of L.epoch(e)) {
        for (let i = 0; i < b.n; i++) { items++; if (b.y.subarray(i * W * H, (i + 1) * W * H).includes(3)) n++; }
      }
    }
    return { n, items };
  };
  const off = await count(0), on = await count(1);
  assert.is(off.items, 60);
  assert.is(on.items, 60);
  // pct 1: ⌊20/4⌋ = 5 items per epoch are crops around the rare class's one centroid
  assert.ok(on.n >= 15, `class-uniform: the rare class in ${on.n}/60 crops`);
  assert.ok(off.n <= 3, `uniform over images: the rare class in ${off.n}/60 crops`);
});

t('recipes and flags: the default recipe holds NVIDIA\'s augmentations; flags override; bad values are refused', () => {
  const { config } = newConfig({ model: 'deeplabv3plus-r50' });
  assert.equal([config.colorAug, config.gblur, config.classUniformPct, config.scaleCrop], [0.25, true, 0.5, '0.5,2']);
  assert.match(describeAugment(config), /scale 0.5,2, colour jitter 0.25, Gaussian blur, class-uniform 0.5/);
  const ref = newConfig({ model: 'deeplabv3plus-r50', recipe: 'reference' }).config;
  assert.equal([ref.height, ref.width, ref.cropSize, ref.classUniformTile], [1024, 2048, '896', 1024]);
  const off = newConfig({ model: 'deeplabv3plus-r50', colorAug: 0, gblur: false, classUniformPct: 0 }).config;
  assert.equal(describeAugment(off), 'flip on, translate 0, scale 0.5,2');
  assert.throws(() => newConfig({ model: 'erfnet', colorAug: 0.7 }), /--color-aug 0.7: must be in \[0, 0.5\]/);
  assert.throws(() => newConfig({ model: 'erfnet', classUniformPct: 2 }), /--class-uniform-pct 2: must be a fraction in \[0, 1\]/);
  assert.throws(() => newConfig({ model: 'erfnet', cropSize: '12x8' }), /--crop-size 12x8: expected W or WxH/);
});

t.run();
