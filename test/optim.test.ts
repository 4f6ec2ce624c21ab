import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor } from '../src/engine/tensor.js';
import { Adam, AdamW } from '../src/optim/adam.js';
import { ExponentialLR, PolyLR, StepLR } from '../src/optim/lr-scheduler.js';
import { SGD } from '../src/optim/sgd.js';
import { close } from './helpers/check.js';
import { randn } from './reference/core.js';

const t = suite('optim');
// 77 values: the f32 kernels; 308: the vec4 kernels over 77 quads. Neither fills whole workgroups.
const SIZES = [77, 308];

/** Runs 3 steps on the GPU with fixed gradient sequences; returns the final parameters. */
async function gpuSteps(make: (p: any[]) => { step(): void; dispose(): void }, p0: Float64Array, grads: Float64Array[]) {
  const N = p0.length;
  const p = tensor(Float32Array.from(p0), [N], { requiresGrad: true });
  const opt = make([p]);
  for (const g of grads) {
    p.grad?.dispose();
    p.grad = tensor(Float32Array.from(g), [N]);
    opt.step();
  }
  const out = Float64Array.from(await p.read());
  opt.dispose(); p.dispose();
  return out;
}

const data = (N: number) => ({ p0: randn([N], 1).data, grads: [2, 3, 4].map((s) => randn([N], s).data) });

for (const N of SIZES) t(`SGD momentum, dampening, weight decay, nesterov match torch.optim.SGD (${N} values)`, async () => {
  const { p0, grads } = data(N);
  for (const o of [{ momentum: 0 }, { momentum: 0.9, weightDecay: 1e-2 }, { momentum: 0.9, dampening: 0.1 },
    { momentum: 0.8, nesterov: true, weightDecay: 1e-3 }]) {
    const lr = 0.1, mom = o.momentum, damp = (o as any).dampening ?? 0, wd = (o as any).weightDecay ?? 0;
    const p = Float64Array.from(p0), buf = new Float64Array(N);
    grads.forEach((g, s) => {
      for (let i = 0; i < N; i++) {
        let d = g[i] + wd * p[i];
        if (mom) {
          buf[i] = s === 0 ? d : mom * buf[i] + (1 - damp) * d;
          d = (o as any).nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] -= lr * d;
      }
    });
    close(await gpuSteps((ps) => new SGD(ps, { lr, ...o }), p0, grads), p, { rtol: 1e-5, atol: 1e-6 }, JSON.stringify(o));
  }
});

for (const N of SIZES) for (const decoupled of [false, true]) {
  t(`${decoupled ? 'AdamW' : 'Adam'} with weight decay and bias correction matches torch.optim (${N} values)`, async () => {
    const { p0, grads } = data(N);
    const lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
    const p = Float64Array.from(p0), m = new Float64Array(N), v = new Float64Array(N);
    grads.forEach((g, s) => {
      const step = s + 1;
      for (let i = 0; i < N; i++) {
        let gi = g[i];
        if (decoupled) p[i] *= 1 - lr * wd; else gi += wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        p[i] -= (lr / (1 - b1 ** step)) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** step) + eps);
      }
    });
    const make = (ps: any[]) => (decoupled ? new AdamW(ps, { lr, weightDecay: wd }) : new Adam(ps, { lr, weightDecay: wd }));
    close(await gpuSteps(make, p0, grads), p, { rtol: 1e-5, atol: 1e-6 });
  });
}

t('LR schedulers: poly, step, exponential', () => {
  const p = tensor(new Float32Array(1), [1]);
  const opt = new SGD([p], { lr: 0.5 });
  const poly = new PolyLR(opt, 10, 0.9);
  assert.ok(Math.abs(poly.lrAt(3) - 0.5 * 0.7 ** 0.9) < 1e-12);
  poly.step();
  assert.ok(Math.abs(opt.lr - 0.5 * 0.9 ** 0.9) < 1e-12);
  assert.is(poly.lrAt(10), 0);
  assert.ok(Math.abs(new StepLR(opt, 30, 0.5).lrAt(61) - opt.lr * 0.25) < 1e-12);
  assert.ok(Math.abs(new ExponentialLR(opt, 0.99).lrAt(2) - opt.lr * 0.9801) < 1e-12);
  assert.throws(() => new SGD([p], { lr: -1 }), /learning rate must be ≥ 0/);
  p.dispose();
});
t.run();
