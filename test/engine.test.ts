import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { backward, noGrad, releaseGraph } from '../src/engine/autograd.js';
import { BufferPool } from '../src/engine/buffer-pool.js';
import { getEngine, initEngine, setEngine } from '../src/engine/engine.js';
import { f32 } from '../src/engine/params.js';
import { KernelError, MAX_STORAGE_BINDINGS } from '../src/engine/pipeline-cache.js';
import { keep, scope } from '../src/engine/scope.js';
import { empty, tensor } from '../src/engine/tensor.js';
import { add, mul, relu } from '../src/kernels/elementwise.js';
import { sum } from '../src/kernels/reduce.js';
import { kernel, run } from '../src/kernels/wgsl.js';
import { layer } from '../src/models/layers.js';
import { createNodeDevice } from '../src/node/device.js';
import { dawnPollInterval, setDawnPollInterval } from '../src/node/poll.js';

const t = suite('engine');

t('poisoned outputs expose an element a kernel forgot to write', async () => {
  const half = kernel('writes_half', /* wgsl */ `
override WG: u32 = 64;
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < 50u) { y[g.x] = 1.0; } }`);
  const y = empty([100]);
  run(half, { outputs: [y], threads: 100 });
  const v = await y.read();
  assert.is(v[49], 1);
  assert.ok(Number.isNaN(v[50]), 'unwritten element must read as NaN');
  y.dispose();
});

t('scope disposes what it does not return; dispose is checked', async () => {
  const e = getEngine();
  const base = e.pool.bytesLive;
  const a = tensor([1, 2, 3], [3]);
  const kept = scope(() => {
    const b = mul(a, a);
    const c = add(b, a);
    return { c, list: [relu(c)] };
  });
  assert.equal([...(await kept.c.read())], [2, 6, 12]);
  a.dispose(); kept.c.dispose(); kept.list[0].dispose();
  assert.is(e.pool.bytesLive, base, 'every buffer back in the pool');
  assert.throws(() => add(a, a), /tensor #\d+ f32\[3\] \(tensor\) was used after dispose\(\)/);
  await assert.not.throws(async () => a.dispose());
});

t('autograd: accumulation over two backward calls, noGrad, non-scalar roots, graph release', async () => {
  const e = getEngine();
  const x = tensor([1, -2, 3], [3], { requiresGrad: true });
  for (let k = 0; k < 2; k++) scope(() => backward(sum(mul(x, x))));   // d/dx Σx² = 2x, twice
  assert.equal([...(await x.grad!.read())], [4, -8, 12]);
  const y = noGrad(() => mul(x, x));
  assert.is(y.node, null);
  const z = mul(x, x);
  assert.throws(() => backward(z), /backward: tensor #\d+ f32\[3\] \(mul\) is not a scalar; pass a gradient of shape \[3\]/);
  const base = e.pool.bytesLive;
  const w = scope(() => keep(sum(relu(mul(z, x)))));   // saved activations stay alive …
  assert.ok(e.pool.bytesLive > base);
  releaseGraph(w); releaseGraph(z);                       // … until the graph is released
  w.dispose();
  z.dispose();
  assert.is(e.pool.bytesLive, base - 256 /* z's own buffer */);
  x.dispose(); y.dispose();
});

t('backward frees saved activations as it goes', async () => {
  const e = getEngine();
  const x = tensor(Float32Array.from({ length: 1000 }, (_, i) => i / 1000 - 0.5), [10, 100], { requiresGrad: true });
  const base = e.pool.bytesLive;
  scope(() => backward(sum(relu(mul(add(x, x), x)))));
  assert.is(e.pool.bytesLive, base + 4096 /* x.grad */);
  x.dispose();
});

t('layer(): intermediates go when the layer returns; gradients still flow through them', async () => {
  const e = getEngine();
  const x = tensor(Float32Array.from({ length: 1000 }, (_, i) => i / 1000 - 0.5), [1000], { requiresGrad: true });
  const base = e.pool.bytesLive;
  const y = noGrad(() => layer('test', () => relu(mul(add(x, x), x))));
  assert.is(e.pool.bytesLive, base + 4096, 'inference: only the output is left');
  y.dispose();
  scope(() => backward(sum(layer('test', () => relu(mul(add(x, x), x))))));   // d/dx relu(2x²) = 4x where x ≠ 0
  const g = await x.grad!.read(), xs = await x.read();
  let bad = 0;
  for (let i = 0; i < 1000; i++) if (Math.abs(g[i] - (xs[i] !== 0 ? 4 * xs[i] : 0)) > 1e-6) bad++;
  assert.is(bad, 0);
  x.dispose();
});

t('a WGSL error is reported as a KernelError naming the kernel and line', async () => {
  const broken = kernel('broken_kernel', /* wgsl */ `
override WG: u32 = 64;
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) g: vec3u) {
  y[g.x] = undefined_value;
}`);
  const y = empty([4]);
  run(broken, { outputs: [y], threads: 4 });
  try {
    await getEngine().sync();
    assert.unreachable('sync should throw');
  } catch (err) {
    assert.instance(err, KernelError);
    assert.match((err as Error).message, /kernel 'broken_kernel' failed to build: 5:12 unresolved value 'undefined_value'/);
    assert.match((err as Error).message, /   5\|   y\[g.x\] = undefined_value;/);
  }
  y.dispose();
  await getEngine().sync().catch(() => undefined);   // drain the invalid pipeline's submit error
});

t('a kernel binding more storage buffers than the WebGPU default limit is refused, naming it', async () => {
  const n = MAX_STORAGE_BINDINGS + 1;
  const wide = kernel('too_many_buffers', /* wgsl */ `
override WG: u32 = 64;
${Array.from({ length: n - 1 }, (_, i) => `@group(0) @binding(${i}) var<storage, read> a${i}: array<f32>;`).join('\n')}
@group(0) @binding(${n - 1}) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) g: vec3u) {
  y[g.x] = ${Array.from({ length: n - 1 }, (_, i) => `a${i}[g.x]`).join(' + ')};
}`);
  const xs = Array.from({ length: n - 1 }, () => empty([4])), y = empty([4]);
  assert.throws(() => run(wide, { inputs: xs, outputs: [y], threads: 4 }),
    (err: Error) => err instanceof KernelError && /kernel 'too_many_buffers' failed to build: 9 storage buffers, more than WebGPU's default limit of 8/.test(err.message));
  for (const t of [...xs, y]) t.dispose();
});

t('a lost device gives a clear error on the next op', async () => {
  const main = getEngine();
  const dev = await createNodeDevice();
  const e = initEngine(dev.device);
  try {
    const a = tensor([1, 2], [2]);
    dev.device.destroy();
    await dev.device.lost;
    assert.throws(() => add(a, a), /add output \[2\]: the GPU device was lost \(destroyed/);
    await a.read().then(() => assert.unreachable('read should fail'), (err: Error) =>
      assert.match(err.message, /read: the GPU device was lost/));
  } finally {
    e.destroy();
    setEngine(main);
  }
});

t('dtype errors name op and tensor', () => {
  const l = tensor(new Int32Array([1, 2]), [2]);
  assert.throws(() => relu(l), /relu: input must be f32 or f16, got tensor #\d+ i32\[2\]/);
  assert.throws(() => tensor([1, 2, 3], [2, 2]), /tensor: 3 values do not fill shape \[2,2\] \(4 elements\)/);
  l.dispose();
});

t('src/engine and src/kernels import no Node-only module (they run in browsers)', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
  for (const dir of ['engine', 'kernels']) {
    for (const f of readdirSync(join(root, dir)).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(join(root, dir, f), 'utf8');
      const bad = [...src.matchAll(/from '([^']+)'/g)].map((m) => m[1]).filter((m) => !m.startsWith('.'));
      assert.equal(bad, [], `${dir}/${f} imports ${bad.join(', ')}`);
      assert.not.match(src, /\bprocess\.|require\(/, `${dir}/${f} uses Node globals`);
    }
  }
});
t('Dawn polls on a timer on CPU adapters; JS setImmediate callbacks keep their turn', async () => {
  const e = getEngine();
  const env = process.env.MIRAGE_POLL_MS;
  assert.is(dawnPollInterval(), env ? Number(env) : e.deviceClass === 'cpu' ? 1 : 0);
  const was = dawnPollInterval();
  const x = tensor([1, 2, 3], [3]);
  try {
    setDawnPollInterval(60);
    await x.read();                                       // warm: the upload is settled
    let t0 = performance.now();
    const v = await x.read();                              // Dawn's tick now waits 60 ms
    const readMs = performance.now() - t0;
    assert.equal([...v], [1, 2, 3]);
    assert.ok(readMs >= 50, `read-back took ${readMs.toFixed(1)} ms, expected Dawn to poll every 60 ms`);
    t0 = performance.now();
    const jsMs = await new Promise<number>((done) => setImmediate(() => done(performance.now() - t0)));
    const boundMs = await new Promise<number>((done) => setImmediate(function f(this: number) { done(performance.now() - this); }.bind(performance.now())));
    assert.ok(jsMs < 30 && boundMs < 30, `JS callbacks must not be delayed (${jsMs.toFixed(1)}, ${boundMs.toFixed(1)} ms)`);
  } finally {
    setDawnPollInterval(was);
    x.dispose();
  }
  assert.throws(() => setDawnPollInterval(-1), /poll interval.*-1/);
  assert.throws(() => setDawnPollInterval(Number.NaN), /poll interval.*NaN/);
});

t('uniform ring: a batch longer than the ring submits early, and every launch keeps its own values', async () => {
  const main = getEngine();
  const e = initEngine(main.device, { flushEvery: 100_000 });   // only the ring's overflow submits
  const addK = kernel('add_k', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32, k: f32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<uniform> u: P;
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < u.n) { y[g.x] += u.k; } }`);
  try {
    const n = 70;
    const y = tensor(new Float32Array(n), [n]);
    await y.read();
    const launches = e.uniforms.capacity / e.uniforms.align + 20;   // past the ring's end
    const submits = e.submits;
    for (let k = 1; k <= launches; k++) run(addK, { outputs: [y], params: [n, f32(k)], threads: n });
    assert.is(e.submits, submits + 1, 'the full ring submits once mid-batch');
    const v = await y.read();
    const want = (launches * (launches + 1)) / 2;
    assert.equal([...v], new Array(n).fill(want));
    y.dispose();
    e.pool.trim();
    assert.is(e.bindGroups.size, 0, 'trim forgets bind groups naming destroyed buffers');
  } finally {
    e.destroy();
    setEngine(main);
  }
});

t('pool: acquire takes the oldest free buffer, whatever the release order', () => {
  const e = getEngine();
  const pool = new BufferPool(e.device, 1 << 20);
  const [a, b, c] = [pool.acquire(1000), pool.acquire(1000), pool.acquire(1000)];
  pool.release(c); pool.release(a); pool.release(b);
  const d = pool.acquire(1000);
  assert.ok(![a, b, c].includes(d), 'released buffers wait for a submit');
  pool.recyclePending();
  assert.ok(pool.acquire(1000) === a && pool.acquire(1000) === b && pool.acquire(1000) === c, 'oldest first');
  pool.release(d); pool.release(c); pool.recyclePending(); pool.release(a); pool.recyclePending();
  assert.ok(pool.acquire(1000) === a && pool.acquire(1000) === c && pool.acquire(1000) === d);
  pool.trim();
});

t('a repeated training step binds the same buffers: no bind group is created after the second step', async () => {
  const e = getEngine();
  const w = tensor(Float32Array.from({ length: 300 }, (_, i) => Math.sin(i)), [300], { requiresGrad: true });
  const x = tensor(Float32Array.from({ length: 300 }, (_, i) => Math.cos(i)), [300]);
  const misses: number[] = [];
  for (let k = 0; k < 4; k++) {
    const m0 = e.bindGroups.misses;
    scope(() => backward(sum(relu(mul(add(w, x), x)))));
    w.grad!.dispose(); w.grad = null;
    await e.fence();
    misses.push(e.bindGroups.misses - m0);
  }
  assert.ok(misses[0] > 0);
  assert.equal(misses.slice(2), [0, 0], `bind groups created per step: ${misses}`);
  w.dispose(); x.dispose();
});

t('profiler: more than one query set of 2048 dispatches, each timed once; past the capacity stop throws', async () => {
  const e = getEngine();
  const x = tensor(new Float32Array(8).fill(1), [8]);
  const n = 2100;
  const launches = () => scope(() => layer('many', () => { for (let i = 0; i < n; i++) relu(x).dispose(); }));
  e.startProfiling(3 * n);
  launches();
  const got = await e.stopProfiling();       // the relus, and the fills that poison their outputs in tests
  assert.ok(got.length > 2048);
  assert.is(got.filter((k) => /^many\|unary_fwd/.test(k.name)).length, n);
  assert.ok(got.every((k) => k.name.startsWith('many|') && k.ms >= 0 && Number.isFinite(k.ms)), 'every dispatch named and timed');
  e.startProfiling(10);
  scope(() => { for (let i = 0; i < 12; i++) relu(x).dispose(); });
  await e.stopProfiling().then(() => assert.unreachable('no error'), (err: Error) => assert.match(err.message, /\d+ dispatches past the capacity of 10 were not timed/));
  assert.throws(() => e.startProfiling(0), /capacity must be a positive integer/);
  x.dispose();
});

t.run();

const t2 = suite('engine-sizes');
t2('dispatches beyond 65535 workgroups fold into 2-D (relu on 4.5M elements, reduction with 70k outputs)', async () => {
  const { relu: r } = await import('../src/kernels/elementwise.js');
  const n = 4_500_000;   // 70313 workgroups of 64
  const x = tensor(Float32Array.from({ length: n }, (_, i) => (i % 7) - 3), [n]);
  const y = scope(() => r(x));
  const v = await y.read();
  let bad = 0;
  for (let i = 0; i < n; i++) if (v[i] !== Math.max((i % 7) - 3, 0)) bad++;
  assert.is(bad, 0);
  const m = tensor(Float32Array.from({ length: 210_000 }, (_, i) => Math.floor(i / 3) % 1000), [70_000, 3]);
  const s = scope(() => sum(m, [1]));   // 70000 workgroups, one per output
  const sv = await s.read();
  let badSum = 0;
  for (let i = 0; i < 70_000; i++) if (sv[i] !== 3 * (i % 1000)) badSum++;
  assert.is(badSum, 0);
  for (const t of [x, y, m, s]) t.dispose();
});
t2('zeros, ones and full for f32, i32 and u32', async () => {
  const { full, ones, zeros } = await import('../src/engine/tensor.js');
  const a = zeros([3, 5]), b = ones([7], 'i32'), c = full([2, 2], -2.5), d = full([3], 4_000_000_000, 'u32');
  assert.equal([...(await a.read())], new Array(15).fill(0));
  assert.equal([...(await b.read())], new Array(7).fill(1));
  assert.equal([...(await c.read())], [-2.5, -2.5, -2.5, -2.5]);
  assert.equal([...(await d.read())], [4e9, 4e9, 4e9]);
  for (const t of [a, b, c, d]) t.dispose();
});
t2.run();
