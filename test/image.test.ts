import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { linear, matmul } from '../src/kernels/matmul.js';
import { getEngine } from '../src/engine/engine.js';
import { resizeBilinear } from '../src/kernels/resize.js';
import { logSoftmax, softmax } from '../src/kernels/softmax.js';
import { warp } from '../src/kernels/warp.js';
import { checkForward, checkGrad } from './helpers/check.js';
import { kernelFamilies, upload, using } from './helpers/gpu.js';
import { type F64Tensor, f64, randn, rand } from './reference/core.js';
import { resizeRef, softmaxRef, warpRef } from './reference/image.js';

const t = suite('image');
const GR = { rtol: 1e-3, atol: 1e-4 };

function mmRef(a: F64Tensor, b: F64Tensor, transB = false): F64Tensor {
  const [M, K] = a.shape, N = transB ? b.shape[0] : b.shape[1];
  const y = f64([M, N]);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += a.data[m * K + k] * (transB ? b.data[n * K + k] : b.data[k * N + n]);
    y.data[m * N + n] = s;
  }
  return y;
}
// [130, 9, 17]: more rows than one subgroup-kernel workgroup (128), two 16-column blocks
for (const fam of kernelFamilies()) for (const [M, K, N] of [[7, 13, 5], [1, 3, 1], [33, 70, 9], [19, 5, 23], [130, 9, 17]]) {
  t(`matmul ${M}x${K} @ ${K}x${N} (${fam})`, using(fam, async () => {
    const a = randn([M, K], 1), b = randn([K, N], 2);
    await checkForward(matmul, (p, q) => mmRef(p, q), [a, b], { rtol: 1e-4, atol: 1e-5 * Math.sqrt(K) });
    await checkGrad(matmul, (p, q) => mmRef(p, q), [a, b], GR);
  }));
}
// the tiled family's opt-in tiles on matmul's GEMM: large tiles (128×128, engine.largeTiles) on 130
// rows, the backward's 70- and 133-row GEMMs on square tiles beside them; vec4 reads (engine.vecTiles)
for (const [flag, M] of [['largeTiles', 130], ['vecTiles', 67]] as const) {
  t(`matmul ${M}x70 @ 70x133 (tiled family, ${flag})`, using('tiled', async () => {
    const e = getEngine();
    e[flag] = true;
    try {
      const a = randn([M, 70], 1), b = randn([70, 133], 2);
      await checkForward(matmul, (p, q) => mmRef(p, q), [a, b], { rtol: 1e-4, atol: 1e-5 * Math.sqrt(70) });
      await checkGrad(matmul, (p, q) => mmRef(p, q), [a, b], GR);
    } finally { e[flag] = false; }
  }));
}
t('linear = x·Wᵀ + b', async () => {
  const x = randn([5, 6], 3), w = randn([4, 6], 4), b = randn([4], 5);
  const ref = (xx: F64Tensor, ww: F64Tensor, bb: F64Tensor) => {
    const y = mmRef(xx, ww, true);
    return f64(y.shape, y.data.map((v, i) => v + bb.data[i % 4]));
  };
  await checkForward(linear, ref, [x, w, b], { rtol: 1e-4, atol: 1e-5 });
  await checkGrad(linear, ref, [x, w, b], GR);
  assert.throws(() => matmul(upload(x), upload(w)), /matmul: inner dimensions differ: \[5,6\] @ \[4,6\]/);
});

for (const [oh, ow] of [[9, 4], [3, 11], [10, 14]]) {
  for (const align of [false, true]) {
    t(`resize bilinear 5x7 → ${oh}x${ow} align_corners=${align}`, async () => {
      const x = randn([2, 3, 5, 7], 6);
      const fn = (a: any) => resizeBilinear(a, oh, ow, align);
      const ref = (a: F64Tensor) => resizeRef(a, oh, ow, align);
      await checkForward(fn, ref, [x], { rtol: 1e-5, atol: 1e-5 });
      await checkGrad(fn, ref, [x], GR);
    });
  }
}

t('warp forward and gradients to image and flow (border clamping)', async () => {
  const im = randn([2, 3, 6, 9], 7), flow = rand([2, 2, 6, 9], 8, -3, 3);   // some samples leave the image
  await checkForward(warp, warpRef, [im, flow], { rtol: 1e-5, atol: 1e-5 });
  await checkGrad(warp, warpRef, [im, flow], { ...GR, samples: 108 });
});
t('warp by zero flow is the identity; integer flow shifts', async () => {
  const im = randn([1, 2, 4, 5], 9);
  await checkForward(warp, (a) => a, [im, f64([1, 2, 4, 5])], { rtol: 0, atol: 1e-7 });
  const shift = f64([1, 2, 4, 5], Array.from({ length: 40 }, (_, i) => (i < 20 ? 0 : 1)));   // dj = +1
  await checkForward(warp, warpRef, [im, shift], { rtol: 1e-6, atol: 1e-6 });
  assert.throws(() => warp(upload(im), upload(f64([1, 2, 4, 4]))), /warp: flow \[1,2,4,4\] should be \[1,2,4,5\]/);
});

for (const log of [false, true]) {
  t(`${log ? 'log_softmax' : 'softmax'} over channels`, async () => {
    const x = randn([2, 20, 3, 5], 10, 3);
    const fn = log ? logSoftmax : softmax;
    await checkForward(fn, (a) => softmaxRef(a, log), [x], { rtol: 1e-5, atol: 1e-6 });
    await checkGrad(fn, (a) => softmaxRef(a, log), [x], GR);
  });
}
t('log_softmax is stable for logits of ±1000', async () => {
  const x = randn([1, 4, 2, 2], 11, 1000);
  await checkForward(logSoftmax, (a) => softmaxRef(a, true), [x], { rtol: 1e-5, atol: 1e-3 });
});
t.run();
