import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scope } from '../src/engine/scope.js';
import { tensor } from '../src/engine/tensor.js';
import { Conv2d } from '../src/models/layers.js';
import { getModel, resolveOptions } from '../src/models/registry.js';
import { InferenceSystem, tileStarts } from '../src/train/inference.js';
import { SegmentationSystem } from '../src/train/system.js';
import { close } from './helpers/check.js';
import { addRegion, cropRegion, flipW } from '../src/kernels/tiles.js';
import { randn } from './reference/core.js';

const t = suite('inference');

t('tile origins: NVIDIA\'s 1024 tiles with 1/3 overlap on 2048 columns start at 0, 683, 1024; a tile covering the image is one', () => {
  assert.equal(tileStarts(2048, 1024, 1 / 3), [0, 683, 1024]);
  assert.equal(tileStarts(1024, 1024, 1 / 3), [0]);
  assert.equal(tileStarts(100, 200, 1 / 3), [0]);
  assert.equal(tileStarts(50, 16, 0), [0, 16, 32, 34]);
});

t('crop, add-region and flip kernels vs host loops (odd sizes)', async () => {
  const [N, C, H, W] = [2, 3, 7, 9];
  const xs = randn([N, C, H, W], 1);
  const x = tensor(Float32Array.from(xs.data), [N, C, H, W]);
  const c = cropRegion(x, 2, 3, 4, 5), f = flipW(x);
  const acc = tensor(new Float32Array(N * C * H * W).fill(1), [N, C, H, W]);
  addRegion(acc, c, 1, 4);
  const [cv, fv, av] = [await c.read(), await f.read(), await acc.read()];
  const at = (n: number, ch: number, y: number, q: number) => xs.data[((n * C + ch) * H + y) * W + q];
  for (let n = 0; n < N; n++) for (let ch = 0; ch < C; ch++) for (let y = 0; y < H; y++) for (let q = 0; q < W; q++) {
    const i = ((n * C + ch) * H + y) * W + q;
    assert.ok(Math.abs(fv[i] - at(n, ch, y, W - 1 - q)) < 1e-6);
    const inside = y >= 1 && y < 5 && q >= 4 && q < 9;
    assert.ok(Math.abs(av[i] - (1 + (inside ? at(n, ch, y - 1 + 2, q - 4 + 3) : 0))) < 1e-6, `acc ${n},${ch},${y},${q}`);
    if (y < 4 && q < 5) assert.ok(Math.abs(cv[((n * C + ch) * 4 + y) * 5 + q] - at(n, ch, y + 2, q + 3)) < 1e-6);
  }
  for (const v of [x, c, f, acc]) v.dispose();
});

/** A per-pixel model (1×1 conv): any tiling and any flip must give the whole image's logits. */
function pointwise() {
  const conv = new Conv2d(3, 5, 1);
  return new SegmentationSystem(conv, { forward: (x) => conv.forward(x), weight: null, ignoreIndex: 4, multiple: 8 });
}

t('sliding tiles (overlapping, the last shifted inward) and flips reproduce a per-pixel model\'s whole-image logits', async () => {
  const sys = pointwise();
  const x = tensor(Float32Array.from(randn([2, 3, 40, 56], 2).data), [2, 3, 40, 56]);
  const whole = await scope(() => sys.evalStep(x, null).logits[0]).read();
  for (const o of [{ mode: 'sliding' as const, scales: [1], flip: false, crop: 16, overlap: 1 / 3 },
    { mode: 'sliding' as const, scales: [1], flip: true, crop: 24, overlap: 0.5 },
    { mode: 'pooling' as const, scales: [1, 1], flip: true, crop: 1024, overlap: 1 / 3 }]) {
    const inf = new InferenceSystem(sys, o);
    const got = scope(() => inf.evalStep(x, null, null).logits[0]);
    assert.equal(got.shape, [2, 5, 40, 56]);
    close(await got.read(), whole, { rtol: 1e-5, atol: 1e-6 });
    got.dispose();
  }
  x.dispose(); sys.dispose();
});

t('DeepLabV3+: sliding with a tile that covers the image gives the plain forward\'s logits; multi-scale keeps the size', async () => {
  const spec = getModel('deeplabv3plus-r50');
  const sys = spec.build(resolveOptions(spec, { 'output-stride': 16 }), { numClasses: 5, ignoreIndex: 4, weight: null, seed: 2, init: false });
  sys.train(false);
  const x = tensor(Float32Array.from(randn([1, 3, 32, 48], 3).data.map((v) => 0.5 + 0.2 * v)), [1, 3, 32, 48]);
  const whole = await scope(() => sys.evalStep(x, null, null).logits[0]).read();
  const inf = new InferenceSystem(sys, { mode: 'sliding', scales: [1], flip: false, crop: 64, overlap: 1 / 3 });
  const got = scope(() => inf.evalStep(x, null, null).logits[0]);
  close(await got.read(), whole, { rtol: 1e-6, atol: 1e-6 });
  got.dispose();
  const ms = new InferenceSystem(sys, { mode: 'sliding', scales: [0.5, 1, 2], flip: true, crop: 32, overlap: 1 / 3 });
  const m = scope(() => ms.evalStep(x, null, null).logits[0]);
  assert.equal(m.shape, [1, 5, 32, 48]);
  const mv = await m.read();
  assert.ok(mv.slice(0, 4 * 32 * 48).every(Number.isFinite));
  m.dispose(); x.dispose(); sys.dispose();
  assert.throws(() => new InferenceSystem(pointwise(), { mode: 'sliding', scales: [0], flip: false, crop: 64, overlap: 0.3 }), /--scales 0/);
});
t.run();
