import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backward } from '../src/engine/autograd.js';
import { getEngine } from '../src/engine/engine.js';
import { scope } from '../src/engine/scope.js';
import { MAX_GRAD_PARTS, tensor } from '../src/engine/tensor.js';
import { add, mul } from '../src/kernels/elementwise.js';
import { sum } from '../src/kernels/reduce.js';
import { ARENA_MAX_ELEMENTS } from '../src/optim/arena.js';
import { Adam, AdamW } from '../src/optim/adam.js';
import { ExponentialLR, PolyLR, StepLR } from '../src/optim/lr-scheduler.js';
import { SGD } from '../src/optim/sgd.js';
import { RMSprop } from '../src/optim/rmsprop.js';
import { FINITE, accumulateScalar } from '../src/kernels/finite.js';
import { full, zeros } from '../src/engine/tensor.js';
import { Optimizer } from '../src/optim/optimizer.js';
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

t('Adam packs small parameters into one arena: one dispatch, per-parameter step counts, no update without a gradient', async () => {
  const e = getEngine();
  const sizes = [5, 77, 130, 21, ARENA_MAX_ELEMENTS + 3];   // the last one stays in its own buffer
  const lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
  const p0 = sizes.map((n, i) => randn([n], 10 + i).data);
  const ps = p0.map((d, i) => tensor(Float32Array.from(d), i === 2 ? [10, 13] : [d.length], { requiresGrad: true }));
  const opt = new Adam(ps, { lr, weightDecay: wd });
  assert.ok(ps.slice(0, 4).every((p) => p.isWindow && 'buffer' in p.binding), 'small parameters became arena windows, bound as ranges');
  assert.ok(!ps[4].isWindow && !('buffer' in ps[4].binding), 'the big one did not');
  for (let i = 0; i < 4; i++) close(Float64Array.from(await ps[i].read()), Float64Array.from(Float32Array.from(p0[i])), { rtol: 0, atol: 0 }, `packed parameter ${i} kept its values`);
  // reference: per-parameter Adam with per-parameter step counts
  const ref = p0.map((d) => ({ p: Float64Array.from(d), m: new Float64Array(d.length), v: new Float64Array(d.length), t: 0 }));
  // step 4 leaves parameter 1 out (then its count lags), step 6 has the big one only
  const plan = [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 2, 3, 4], [0, 1, 2, 3, 4], [4]];
  const perStep: number[] = [];
  for (const [k, have] of plan.entries()) {
    for (const i of have) {
      const g = randn([sizes[i]], 100 * k + i).data;
      ps[i].grad = tensor(Float32Array.from(g), ps[i].shape);
      const r = ref[i];
      r.t++;
      for (let j = 0; j < g.length; j++) {
        const gi = g[j] + wd * r.p[j];
        r.m[j] = b1 * r.m[j] + (1 - b1) * gi;
        r.v[j] = b2 * r.v[j] + (1 - b2) * gi * gi;
        r.p[j] -= (lr / (1 - b1 ** r.t)) * r.m[j] / (Math.sqrt(r.v[j]) / Math.sqrt(1 - b2 ** r.t) + eps);
      }
    }
    const d0 = e.dispatches;
    opt.step();
    perStep.push(e.dispatches - d0);
    opt.zeroGrad();
  }
  assert.equal(perStep.slice(1), [2, 2, 2, 2, 1], `dispatches per step (${perStep}): the arena's and the big parameter's`);
  for (let i = 0; i < sizes.length; i++) close(Float64Array.from(await ps[i].read()), ref[i].p, { rtol: 1e-5, atol: 1e-6 }, `parameter ${i}`);
  const st = opt.stateTensors();
  close(Float64Array.from(await st.get('2.exp_avg')!.read()), ref[2].m, { rtol: 1e-5, atol: 1e-7 }, 'first moment of a packed parameter');
  opt.dispose();
  close(Float64Array.from(await ps[3].read()), ref[3].p, { rtol: 1e-5, atol: 1e-6 }, 'parameters outlive the optimizer');
  for (const p of ps) p.dispose();
});

t('SGD with momentum packs small parameters too: one dispatch, first steps per parameter, no update without a gradient', async () => {
  const e = getEngine();
  const sizes = [7, 64, 33, ARENA_MAX_ELEMENTS + 1];
  const o = { lr: 0.1, momentum: 0.9, weightDecay: 1e-2, nesterov: true };
  const p0 = sizes.map((n, i) => randn([n], 20 + i).data);
  const ps = p0.map((d) => tensor(Float32Array.from(d), [d.length], { requiresGrad: true }));
  const opt = new SGD(ps, o);
  assert.ok(ps.slice(0, 3).every((p) => 'buffer' in p.binding) && !('buffer' in ps[3].binding));
  const ref = p0.map((d) => ({ p: Float64Array.from(d), buf: null as Float64Array | null }));
  // parameter 1 gets its first gradient only at step 3, so its buffer starts then
  const plan = [[0, 2, 3], [0, 2, 3], [0, 1, 2, 3], [0, 1, 3]];
  const perStep: number[] = [];
  for (const [k, have] of plan.entries()) {
    for (const i of have) {
      const g = randn([sizes[i]], 200 + 10 * k + i).data;
      ps[i].grad = tensor(Float32Array.from(g), ps[i].shape);
      const r = ref[i];
      const d = g.map((v, j) => v + o.weightDecay * r.p[j]);
      r.buf = r.buf ? r.buf.map((b, j) => o.momentum * b + d[j]) : Float64Array.from(d);
      for (let j = 0; j < d.length; j++) r.p[j] -= o.lr * (d[j] + o.momentum * r.buf[j]);
    }
    const d0 = e.dispatches;
    opt.step();
    perStep.push(e.dispatches - d0);
    opt.zeroGrad();
  }
  assert.equal(perStep.slice(1), [2, 2, 2], `dispatches per step (${perStep})`);
  for (let i = 0; i < sizes.length; i++) close(Float64Array.from(await ps[i].read()), ref[i].p, { rtol: 1e-5, atol: 1e-6 }, `parameter ${i}`);
  close(Float64Array.from(await opt.stateTensors().get('1.momentum_buffer')!.read()), ref[1].buf!, { rtol: 1e-5, atol: 1e-6 }, 'momentum buffer of a packed parameter');
  opt.dispose();
  for (const p of ps) p.dispose();
});

t('gradients of several backward passes: an arena adds their parts in one dispatch per part, holes and stale twins zeroed', async () => {
  const e = getEngine();
  const sizes = [5, 77, 130, 24, ARENA_MAX_ELEMENTS + 3];   // the last one stays out of the arena
  const p0 = sizes.map((n, i) => randn([n], 30 + i).data);
  const ps = p0.map((d) => tensor(Float32Array.from(d), [d.length], { requiresGrad: true }));
  const opt = new SGD(ps, { lr: 1 });   // p −= Σ g, so the parameters show the summed gradients
  assert.ok(ps.slice(0, 4).every((p) => p.isWindow && p.collectGradParts) && !ps[4].collectGradParts);
  const ref = p0.map((d) => Float32Array.from(d));
  const fr = Math.fround;
  let seed = 500;
  /** One backward of Σ_i sum(p_i · c_i) over the listed parameters: each gets c_i as its gradient. */
  const pass = (which: number[], sums: Float32Array[]) => {
    const cs = which.map((i) => Float32Array.from(randn([sizes[i]], seed++).data));
    which.forEach((i, k) => { for (let j = 0; j < sizes[i]; j++) sums[i][j] = fr(sums[i][j] + cs[k][j]); });
    scope(() => {
      const c = cs.map((d) => tensor(d, [d.length]));
      backward(which.map((i, k) => sum(mul(ps[i], c[k]))).reduce((a, b) => add(a, b)));
    });
  };
  // a: parameter 0 gets more parts than are kept (the last part takes the rest), 2 gets one (holes
  // in the twins), 3 none. b: 1 and 2 swap roles, so twin regions written before must be zeroed.
  const a = [[0, 1, 2, 4], [0, 1, 4], [0, 1], [0], [0], [0]], b = [[0, 1, 2, 3], [0, 2, 3], [0, 2]];
  const plans = [a, b, a];
  const perStep: number[] = [];
  for (const [s, plan] of plans.entries()) {
    const sums = sizes.map((n) => new Float32Array(n));
    for (const which of plan) pass(which, sums);
    const pending = ps.map((p) => p.gradParts.length);
    assert.equal(pending, plan === a ? [MAX_GRAD_PARTS, 3, 1, 0, 1] : [3, 1, 3, 2, 0], `parts kept in step ${s + 1}`);
    const d0 = e.dispatches;
    opt.step();
    perStep.push(e.dispatches - d0);
    ps.forEach((_, i) => { if (pending[i]) for (let j = 0; j < sizes[i]; j++) ref[i][j] = fr(ref[i][j] - sums[i][j]); });
    for (let i = 0; i < sizes.length; i++) close(Float64Array.from(await ps[i].read()), Float64Array.from(ref[i]), { rtol: 1e-6, atol: 1e-6 }, `step ${s + 1}, parameter ${i}`);
    opt.zeroGrad();
  }
  // the arena update, plus one add per part past the first; plus the big parameter's own update
  // (the first step also makes the twins)
  assert.equal(perStep.slice(1), [1 + 2, 1 + (MAX_GRAD_PARTS - 1) + 1], `dispatches per step (${perStep})`);
  // read directly, a parameter's gradient is the sum of its parts
  const sums = sizes.map((n) => new Float32Array(n));
  pass([1], sums); pass([1], sums); pass([1], sums);
  assert.is(ps[1].gradParts.length, 3);
  close(Float64Array.from(await ps[1].grad!.read()), Float64Array.from(sums[1]), { rtol: 0, atol: 0 }, 'grad of pending parts');
  assert.is(ps[1].gradParts.length, 1, 'reading summed the parts');
  opt.dispose();
  for (const p of ps) p.dispose();
});

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
/** torch.optim.RMSprop (or TensorFlow 1's RMSPropOptimizer with tf) in float64 on one parameter, for a sequence of gradients. */
function rmspropRef(p0: Float64Array, grads: Float64Array[], o: { lr: number; alpha: number; eps: number; wd: number; momentum: number; tf: boolean }) {
  const p = Float64Array.from(p0), v = new Float64Array(p.length).fill(o.tf ? 1 : 0), buf = new Float64Array(p.length);
  for (const g of grads) {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] + o.wd * p[i];
      v[i] = o.alpha * v[i] + (1 - o.alpha) * gi * gi;
      let d = gi / (o.tf ? Math.sqrt(v[i] + o.eps) : Math.sqrt(v[i]) + o.eps);
      if (o.momentum > 0) { buf[i] = o.momentum * buf[i] + d; d = buf[i]; }
      p[i] -= o.lr * d;
    }
  }
  return { p, v };
}

for (const N of SIZES) t(`RMSprop (torch, and TensorFlow's v0 = 1 with eps inside the root) matches float64 (${N} values)`, async () => {
  const { p0, grads } = data(N);
  for (const o of [{ lr: 1e-2, alpha: 0.99, eps: 1e-8, wd: 0, momentum: 0, tf: false }, { lr: 1e-2, alpha: 0.9, eps: 1e-6, wd: 1e-2, momentum: 0.9, tf: false },
    { lr: 1e-3, alpha: 0.995, eps: 1e-10, wd: 0, momentum: 0, tf: true }, { lr: 1e-2, alpha: 0.9, eps: 0.25, wd: 0, momentum: 0, tf: true }]) {
    const got = await gpuSteps((ps) => new RMSprop(ps, { lr: o.lr, alpha: o.alpha, eps: o.eps, weightDecay: o.wd, momentum: o.momentum, tensorflow: o.tf }), p0, grads);
    close(got, rmspropRef(p0, grads, o).p, { rtol: 1e-5, atol: 1e-6 }, JSON.stringify(o));
  }
});

t('RMSprop packs small parameters: one dispatch, no update without a gradient, TensorFlow slots start at 1', async () => {
  const e = getEngine();
  const sizes = [9, 77, 40, ARENA_MAX_ELEMENTS + 5];
  const o = { lr: 1e-2, alpha: 0.9, eps: 0.1, wd: 1e-3, momentum: 0.5, tf: true };
  const p0 = sizes.map((n, i) => randn([n], 40 + i).data);
  const ps = p0.map((d) => tensor(Float32Array.from(d), [d.length], { requiresGrad: true }));
  const opt = new RMSprop(ps, { lr: o.lr, alpha: o.alpha, eps: o.eps, weightDecay: o.wd, momentum: o.momentum, tensorflow: true });
  assert.ok(ps.slice(0, 3).every((p) => p.isWindow) && !ps[3].isWindow);
  const plan = [[0, 1, 2, 3], [0, 2, 3], [0, 1, 2, 3]];   // parameter 1 sits out step 2
  const gs = sizes.map(() => [] as Float64Array[]);
  const perStep: number[] = [];
  for (const [k, have] of plan.entries()) {
    for (const i of have) {
      const g = randn([sizes[i]], 300 + 10 * k + i).data;
      gs[i].push(g);
      ps[i].grad = tensor(Float32Array.from(g), ps[i].shape);
    }
    const d0 = e.dispatches;
    opt.step();
    perStep.push(e.dispatches - d0);
    opt.zeroGrad();
  }
  assert.equal(perStep.slice(1), [2, 2], `dispatches per step (${perStep})`);
  for (let i = 0; i < sizes.length; i++) {
    const ref = rmspropRef(p0[i], gs[i], o);
    close(Float64Array.from(await ps[i].read()), ref.p, { rtol: 1e-5, atol: 1e-6 }, `parameter ${i}`);
    close(Float64Array.from(await opt.stateTensors().get(`${i}.square_avg`)!.read()), ref.v, { rtol: 1e-5, atol: 1e-7 }, `square average ${i}`);
  }
  opt.dispose();
  for (const p of ps) p.dispose();
});

// The non-finite watch: every optimizer kernel (f32, vec4, arena) flags the first step whose update
// left a parameter Inf or NaN; finite steps leave the flag alone.
const OPTIMIZERS: [string, (ps: any[]) => Optimizer][] = [
  ['Adam', (ps) => new Adam(ps, { lr: 1e-2 })], ['SGD', (ps) => new SGD(ps, { lr: 0.1 })],
  ['SGD momentum', (ps) => new SGD(ps, { lr: 0.1, momentum: 0.9 })], ['RMSprop', (ps) => new RMSprop(ps, { lr: 1e-2, momentum: 0.5 })],
];
for (const [name, make] of OPTIMIZERS) t(`${name}: the first step with a non-finite update is flagged, in arena, f32 and vec4 kernels`, async () => {
  // 13 (arena), 21 and 77 (arena), the big ones: f32 (odd size) and vec4
  const sizes = [13, 21, ARENA_MAX_ELEMENTS + 3, ARENA_MAX_ELEMENTS + 4];
  for (let bad = 0; bad < sizes.length; bad++) {
    const ps = sizes.map((n, i) => tensor(Float32Array.from(randn([n], 50 + i).data), [n], { requiresGrad: true }));
    const opt = make(ps);
    for (let step = 1; step <= 4; step++) {
      ps.forEach((p, i) => {
        const g = Float32Array.from(randn([sizes[i]], 60 + 10 * step + i).data);
        if (i === bad && step >= 3) g[sizes[i] - 1] = step === 3 ? NaN : Infinity;   // the last element: no lane is spared
        p.grad = tensor(g, p.shape);
      });
      opt.step();
      opt.zeroGrad();
      if (step === 2) assert.is(await opt.firstNonFiniteStep(), null, `${name}: finite steps flag nothing`);
    }
    assert.is(await opt.firstNonFiniteStep(), 3, `${name}: parameter ${bad} (${sizes[bad]} values) went NaN at step 3`);
    opt.clearNonFinite();
    assert.is(await opt.firstNonFiniteStep(), null, 'cleared');
    opt.dispose();
    for (const p of ps) p.dispose();
  }
});

t('accumulateScalar: adds into the sum in place and lowers the flag to the first non-finite tag', async () => {
  const sum = zeros([]), flag = full([2], FINITE, 'u32');
  const vals = [1.5, 2.25, NaN, 4, Infinity];
  vals.forEach((v, k) => { const x = tensor([v], []); accumulateScalar(sum, x, flag, 10 + k, 1); x.dispose(); });
  assert.is((await flag.read())[0], FINITE, 'slot 0 untouched');
  assert.is((await flag.read())[1], 12, 'the first bad tag, not the last');
  const s2 = zeros([]), f2 = full([1], FINITE, 'u32');
  for (const v of [1.5, 2.25, -0.75]) { const x = tensor([v], []); accumulateScalar(s2, x, f2, 1); x.dispose(); }
  assert.is(await s2.item(), 3);
  assert.is((await f2.read())[0], FINITE);
  assert.throws(() => accumulateScalar(s2, f2, f2, 0), /x must be f32/);
  for (const t of [sum, flag, s2, f2]) t.dispose();
});

t.run();
