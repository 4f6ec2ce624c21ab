// mirage bench: per-kernel GPU time (timestamp queries), GFLOP/s and GB/s against ceilings measured
// in the same run, ERFNet conv shapes against the tfjs-webgpu peer (alternating, same adapter,
// outputs checked), and whole-model numbers. Results go to stdout and bench/results/*.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad } from '../src/engine/autograd.js';
import { type Engine, initEngine } from '../src/engine/engine.js';
import { Rng } from '../src/engine/rng.js';
import { keep, scope } from '../src/engine/scope.js';
import { type Tensor, empty, tensor } from '../src/engine/tensor.js';
import { convBwdInput, convBwdWeight, convFwd, conv2dGeometry, convTranspose2dGeometry } from '../src/kernels/conv2d.js';
import { matmulRaw } from '../src/kernels/matmul.js';
import { MAIN_1D, kernel, run as launch } from '../src/kernels/wgsl.js';
import { countMacs } from '../src/engine/flops.js';
import { getModel, listModels, resolveOptions } from '../src/models/registry.js';
import { createNodeDevice, engineDefaults } from '../src/node/device.js';
import { dawnPollInterval } from '../src/node/poll.js';
import { makeOptimizers } from '../src/train/recipe.js';
import { lossScalerFor } from '../src/train/system.js';
import { rooflineSpec } from '../src/report/charts.js';
import { writeChartPng } from '../src/report/render.js';
import { type Pass, type Peer, loadTfjsPeer, tfjsErfnet, tfjsErfnetTrain } from './peer-tfjs.js';
import { type ConvCase, convFlops, convFlopsNominal, denseTwin, erfnetConvs, outShape, seresnext50GroupedConvs } from './shapes.js';

// Bandwidth ceiling: the simplest possible WGSL copy, one vec4 per invocation.
const COPY_VEC4 = kernel('copy_vec4', /* wgsl */ `
override WG: u32 = 64;
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4f>;
@group(0) @binding(2) var<uniform> u: P;
${MAIN_1D}
  if (idx >= u.n) { return; }
  y[idx] = x[idx];
}`);

export interface BenchOptions {
  quick?: boolean; full?: boolean; reps: number; peer: boolean; outDir: string; command: string;
  /** Run only these parts (default all; grouped when a SE-ResNeXt model is benched). */
  only?: ('convs' | 'models' | 'grouped')[];
  /** Conv shapes at this input [H, W] instead of the quick/full default. */
  convSize?: [number, number];
  /** Only the conv shapes whose name contains one of these (lower case). */
  shapes?: string[];
  /** Models part: these registered models (default erfnet and feedback). */
  models?: string[];
  /** Frames per second alone (benchFps): the models' inference at the MSSA seed's sizes, ERFNet beside them. */
  inference?: boolean;
}

const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const spread = (a: number[]) => (a.length ? [Math.min(...a), Math.max(...a)] : [NaN, NaN]);
const randn = (n: number, seed: number) => { const r = new Rng(seed); return Float32Array.from({ length: n }, () => r.normal()); };
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const fmt = (v: number, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '-');

/** Back-to-back runs of each pass before it is timed on a GPU (clock warm-up, see benchConvs). */
const WARM_MS = 150;

/** GPU milliseconds of the dispatches `run` makes, median over reps (first call excluded as warm-up). */
async function gpuTime(e: Engine, run: () => Tensor | void, reps: number, useTimestamps: boolean, warmUp = true): Promise<number[]> {
  const once = () => { const t = scope(() => noGrad(() => run())); if (t) t.dispose(); };
  if (warmUp) { once(); await e.sync(); }
  const out: number[] = [];
  for (let r = 0; r < reps; r++) {
    if (useTimestamps) {
      e.startProfiling();
      once();
      out.push((await e.stopProfiling()).reduce((a, t) => a + t.ms, 0));
    } else {
      const t0 = performance.now();
      once();
      await e.fence();
      out.push(performance.now() - t0);
    }
  }
  return out;
}

export async function runBench(o: BenchOptions): Promise<void> {
  const f16 = engineDefaults.precision === 'f16';
  const dev = await createNodeDevice({ f16, tensorCores: f16 && process.env.MIRAGE_TENSOR_CORES !== '0' });
  const e = initEngine(dev.device, { ...engineDefaults, seed: 1, matrix: dev.matrix, narrowTiles: process.env.MIRAGE_NARROW_TILES === '1',
    largeTiles: process.env.MIRAGE_LARGE_TILES === '1', vecTiles: process.env.MIRAGE_VEC_TILES === '1',
    atomicSplits: process.env.MIRAGE_ATOMIC_SPLITS === '1', halfStorage: process.env.MIRAGE_F16_STORAGE !== '0' });
  const ts = dev.features.includes('timestamp-query');
  const cpu = /llvmpipe|lavapipe|swiftshader|software/i.test(Object.values(dev.info).join(' '));
  const quick = o.quick ?? (cpu && !o.full);
  const reps = o.reps;
  const date = new Date().toISOString();
  const device = Object.values(dev.info).filter(Boolean).join(' | ');
  console.log(`mirage bench ${quick ? '(quick shapes)' : '(full shapes)'} on ${device}`);
  console.log(`timing: ${ts ? 'GPU timestamp queries (quantization off)' : 'wall clock with queue sync (no timestamp-query)'}, ` +
    `median of ${reps} after a warm-up; ${date}\ncommand: ${o.command}\nkernels: ${e.kernelFamily} family for convolutions (--kernels)\n` +
    `${e.narrowTiles ? 'tiles: 16×256 for GEMMs of at most 16 rows (MIRAGE_NARROW_TILES=1)\n' : ''}` +
    `${e.largeTiles ? 'tiles: 128×128, 8×8 an invocation, for GEMMs of at least 128 rows (MIRAGE_LARGE_TILES=1)\n' : ''}` +
    `${e.vecTiles ? 'tiles: f32 square tiles with vec4 workgroup reads (MIRAGE_VEC_TILES=1)\n' : ''}` +
    `${e.atomicSplits ? 'split-K weight gradients: summed in place by atomics (MIRAGE_ATOMIC_SPLITS=1)\n' : ''}` +
    `precision: ${e.precision === 'f16' ? `${e.halfStorage ? 'f16 activations, ' : 'f32 activations (MIRAGE_F16_STORAGE=0), '}f16 GEMM operands, f32 sums, ${e.matrix ? `subgroup matrices ${e.matrix.M}x${e.matrix.N}x${e.matrix.K} (tensor cores)` : 'scalar tiled core (no subgroup matrices)'}` : 'f32'} (--precision)\n` +
    `waiting: ${dawnPollInterval() ? `Dawn polled every ${dawnPollInterval()} ms` : 'Dawn busy-polls'} (MIRAGE_POLL_MS), for mirage and the peer alike\n`);
  const result: Record<string, unknown> = { device, info: dev.info, features: dev.features, date, command: o.command,
    quick, timing: ts ? 'timestamp-query' : 'wall-clock', kernels: e.kernelFamily, precision: e.precision, halfStorage: e.precision === 'f16' && e.halfStorage, matrix: e.matrix, narrowTiles: e.narrowTiles, largeTiles: e.largeTiles, vecTiles: e.vecTiles, atomicSplits: e.atomicSplits, pollMs: dawnPollInterval() };

  // ceilings measured in this run: the fastest of our matmul kernels for FLOP/s (both families
  // where the subgroup one exists, since that is what the convs use, and A read row- or
  // column-major: NOTES §13), a large copy for bandwidth
  const M = quick ? 1024 : 4096;
  const a = tensor(randn(M * M, 1), [M, M]), b = tensor(randn(M * M, 2), [M, M]);
  const rowMajor = (t: Tensor) => ({ t, rows: M, cols: M, rs: M, cs: 1 });
  const colMajor = (t: Tensor) => ({ t, rows: M, cols: M, rs: 1, cs: M });
  const variants = [
    ...(e.canSubgroup ? [['subgroup 8×16, Aᵀ·B', 'subgroup', colMajor], ['subgroup 8×16, A·B', 'subgroup', rowMajor]] as const : []),
    ['tiled 64×64, A·B', 'tiled', rowMajor] as const,
    ['portable 8×8, A·B', 'portable', rowMajor] as const,
  ];
  const mms: { kernel: string; ms: number; gflops: number }[] = [];
  for (const [label, fam, layout] of variants) {
    const was = e.kernelFamily;
    e.kernelFamily = fam;
    try {
      const ms = median(await gpuTime(e, () => matmulRaw(layout(a), rowMajor(b)), reps, ts));
      mms.push({ kernel: label, ms, gflops: (2 * M ** 3) / (ms / 1e3) / 1e9 });
    } finally { e.kernelFamily = was; }
  }
  const best = mms.reduce((x, y) => (y.gflops > x.gflops ? y : x));
  const peakFlops = best.gflops;
  const copyN = Math.min(quick ? 8 << 20 : 64 << 20, e.limits.maxStorageBufferBindingSize / 4);
  const src = empty([copyN]), dst = empty([copyN]);
  const cp = median(await gpuTime(e, () => { launch(COPY_VEC4, { inputs: [src], outputs: [dst], params: [copyN / 4], threads: copyN / 4 }); }, reps, ts));
  const peakBw = (8 * copyN) / (cp / 1e3) / 1e9;
  for (const t of [a, b, src, dst]) t.dispose();
  console.log(`ceilings (measured now): matmul ${M}³ ${mms.map((m) => `${m.kernel} ${fmt(m.gflops)}`).join(', ')} GFLOP/s (peak = ${fmt(peakFlops)}); ` +
    `vec4 copy of ${(4 * copyN) >> 20} MiB ${fmt(peakBw)} GB/s (read + write)`);
  console.log('GFLOP/s counts the multiply-adds whose input is inside the image (taps on padding are not work)\n');
  result.ceilings = { matmul: { n: M, ms: best.ms, gflops: peakFlops, kernel: best.kernel, kernels: mms }, copy: { bytes: 4 * copyN, ms: cp, gbps: peakBw } };

  const part = (p: 'convs' | 'models' | 'grouped') => (o.only ? o.only.includes(p)
    : p !== 'grouped' || (o.models ?? listModels().map((m) => m.name)).some((m) => m.includes('srnx')));
  const peer: Peer | null = o.peer ? await loadTfjsPeer(dev.instance) : null;
  if (o.peer && !peer) console.log('peer: @tensorflow/tfjs-backend-webgpu not installed or failed to start; peer column skipped\n');
  const peerGpu = peer !== null && peer.timestamps && ts;
  if (part('convs')) await benchConvs();
  if (part('grouped')) await benchGrouped();
  if (part('models')) await benchModels();
  if (o.inference) await benchFps();

  mkdirSync(o.outDir, { recursive: true });
  // date and time to the second (UTC), device, size: runs do not overwrite each other
  const tag = `${date.slice(0, 10)}T${date.slice(11, 19).replace(/:/g, '')}-${(dev.info.device || dev.info.description || 'gpu').replace(/[^A-Za-z0-9]+/g, '-').slice(0, 40)}${quick ? '-quick' : ''}`;
  const path = join(o.outDir, `${tag}.json`);
  writeFileSync(path, JSON.stringify(result, null, 1));
  console.log(`\nresults → ${path}`);
  const convRows = (result.convs ?? []) as { shape: string; pass: string; gflops: number; gbps: number }[];
  if (convRows.length) {                    // each conv pass on the roofline of this run's measured ceilings
    const png = join(o.outDir, `${tag}-roofline.png`);
    await writeChartPng(png, rooflineSpec(convRows.map((r) => ({ name: `${r.shape} ${r.pass}`, group: r.pass, intensity: r.gflops / r.gbps, gflops: r.gflops })),
      peakFlops, peakBw, dev.info.description || dev.info.device || 'GPU'));
    console.log(`roofline → ${png}`);
  }
  e.destroy();
  dev.destroy();

  // ERFNet convolutions: GPU time of mirage's kernels and of the peer's programs (each engine's own
  // timestamp queries, summed over its dispatches), then wall clock with a queue sync, alternating.
  async function benchConvs(): Promise<void> {
  const [n, H, W] = o.convSize ? [1, ...o.convSize] : quick ? [1, 64, 128] : [1, 512, 1024];
  const rows: Record<string, unknown>[] = [];
  console.log(`ERFNet convolutions at ${n}x3x${H}x${W}${peer ? `, peer ${peer.name}` : ''}; speed-up = peer time / mirage time`);
  console.log(['shape'.padEnd(22), 'pass'.padEnd(10), 'GPU ms', 'min–max'.padStart(11), 'GFLOP/s', '%peak', 'GB/s', '%bw', 'peer GPU', 'GPU ×', 'wall ms', 'peer wall', 'wall ×', 'peer check']
    .map((s, i) => (i < 2 ? s : s.padStart(8))).join(' '));
  for (const cs of erfnetConvs(n, H, W).filter((c) => !o.shapes || o.shapes.some((s) => c.name.toLowerCase().includes(s)))) {
    const y = outShape(cs);
    const xh = randn(size(cs.x), 3), wh = randn(size(cs.w), 4).map((v) => v * 0.1), dyh = randn(size(y), 5);
    const x = tensor(xh, cs.x), w = tensor(wh, cs.w), dy = tensor(dyh, y);
    const g = cs.transposed
      ? convTranspose2dGeometry(cs.x, cs.w, { stride: cs.stride, padding: cs.padding, dilation: cs.dilation, outputPadding: cs.transposed.outputPadding })
      : conv2dGeometry(cs.x, cs.w, { stride: cs.stride, padding: cs.padding, dilation: cs.dilation });
    const passes: [Pass, () => Tensor][] = cs.transposed
      ? [['forward', () => convBwdInput(g, x, w, null)], ['bwd_input', () => convFwd(g, dy, w, null)], ['bwd_weight', () => convBwdWeight(g, x, dy)]]
      : [['forward', () => convFwd(g, x, w, null)], ['bwd_input', () => convBwdInput(g, dy, w, null)], ['bwd_weight', () => convBwdWeight(g, dy, x)]];
    for (const [pass, run] of passes) {
      let mine: Tensor | null = null;
      const mirageRun = () => { mine?.dispose(); mine = keep(noGrad(run)); };
      let peerOp = null as ReturnType<Peer['conv']> | null, note = '';
      if (peer) {
        try { peerOp = peer.conv(cs, pass, xh, wh, dyh); } catch (err) { note = (err as Error).message.replace('unsupported: ', 'n/a: '); }
      }
      const mw: number[] = [], pw: number[] = [], pg: number[] = [], gt: number[] = [];
      mirageRun(); await e.fence();
      peerOp?.run(); if (peerOp) await peer!.sync();
      // GPUs drop their clocks when only short kernels come: on an H100 without the peer's long
      // programs in between, passes timed 3-5× slower after the first second (bench/NOTES.md §29).
      // So first WARM_MS of back-to-back runs, both engines; CPU adapters have no clocks to raise.
      for (const until = performance.now() + (cpu ? 0 : WARM_MS); performance.now() < until;) {
        for (let i = 0; i < 4; i++) { mirageRun(); peerOp?.run(); }
        await e.fence(); if (peerOp) await peer!.sync();
      }
      // GPU time, alternating mirage / peer one repetition at a time, so drifts in the machine's
      // speed (lavapipe shares the CPU) reach both sides alike
      for (let r = 0; r < reps; r++) {
        gt.push(...(await gpuTime(e, run, 1, ts, false)));
        if (peerOp && peerGpu) pg.push(await peerOp.gpuMs());
      }
      const gms = median(gt);
      const flops = convFlops(cs), bytes = 4 * (size(cs.x) + size(cs.w) + size(y));
      const gf = flops / (gms / 1e3) / 1e9, gb = bytes / (gms / 1e3) / 1e9;
      // then wall clock, alternating the same way, each op followed by a queue sync
      for (let r = 0; r < reps; r++) {
        let t0 = performance.now(); mirageRun(); await e.fence(); mw.push(performance.now() - t0);
        if (peerOp) { t0 = performance.now(); peerOp.run(); await peer!.sync(); pw.push(performance.now() - t0); }
      }
      if (peerOp) {
        const got = await peerOp.result(), want = await mine!.readF32();
        let maxErr = 0, maxRef = 0;
        for (let i = 0; i < want.length; i++) { maxErr = Math.max(maxErr, Math.abs(got[i] - want[i])); maxRef = Math.max(maxRef, Math.abs(want[i])); }
        const rel = maxErr / Math.max(maxRef, 1e-12);
        note = got.length !== want.length ? `WRONG size ${got.length} vs ${want.length}` : rel < 1e-3 ? `ok (${rel.toExponential(1)})` : `WRONG (max rel err ${rel.toExponential(1)})`;
        peerOp.dispose();
      }
      (mine as Tensor | null)?.dispose();
      const [mwm, pwm, pgm] = [median(mw), median(pw), median(pg)];
      rows.push({ shape: cs.name, pass, x: cs.x, w: cs.w, gpuMs: gms, gpuSpread: spread(gt), flops, nominalFlops: convFlopsNominal(cs), gflops: gf, gbps: gb,
        peakFraction: gf / peakFlops, bwFraction: gb / peakBw, peerGpuMs: pg.length ? pgm : null, peerGpuSpread: pg.length ? spread(pg) : null,
        gpuSpeedup: pg.length ? pgm / gms : null, wallMs: mwm, peerWallMs: pw.length ? pwm : null,
        speedup: pw.length ? pwm / mwm : null, peerCheck: note || null });
      const [lo, hi] = spread(gt);
      console.log([cs.name.padEnd(22), pass.padEnd(10), fmt(gms), `${fmt(lo)}–${fmt(hi)}`.padStart(11), fmt(gf), fmt((100 * gf) / peakFlops, 0) + '%', fmt(gb),
        fmt((100 * gb) / peakBw, 0) + '%', pg.length ? fmt(pgm) : '-', pg.length ? fmt(pgm / gms) + '×' : '-',
        fmt(mwm), pw.length ? fmt(pwm) : '-', pw.length ? fmt(pwm / mwm) + '×' : '-', note]
        .map((s, i) => (i < 2 || i === 13 ? s : s.padStart(8))).join(' '));
    }
    x.dispose(); w.dispose(); dy.dispose();
  }
  result.convs = rows;
  }

  // SE-ResNeXt's grouped 3×3 convolutions, each pass against its dense twin: the same FLOPs and
  // output without the grouping (shapes.ts denseTwin), timed in the same run
  async function benchGrouped(): Promise<void> {
  const [n, H, W] = o.convSize ? [1, ...o.convSize] : quick ? [2, 128, 256] : [8, 224, 448];
  const rows: Record<string, unknown>[] = [];
  console.log(`\nSE-ResNeXt-50 grouped convolutions (32 groups) at ${n}x3x${H}x${W}, ${e.kernelFamily} family; ` +
    'dense twin = the same FLOPs and output without grouping (one group\'s input channels read by all filters)');
  console.log(['shape'.padEnd(24), 'pass'.padEnd(10), 'GPU ms', 'GFLOP/s', '%peak', 'dense ms', 'dense GF/s', 'grouped/dense'].map((x, i) => (i < 2 ? x : x.padStart(10))).join(' '));
  // the passes of a case, built once; grouped and dense twin are timed alternately, one repetition
  // at a time, so drifts in the machine's speed (lavapipe shares the CPU) reach both alike
  const setup = (cs: ConvCase) => {
    const y = outShape(cs);
    const x = tensor(randn(size(cs.x), 3), cs.x), w = tensor(randn(size(cs.w), 4).map((v) => v * 0.1), cs.w), dy = tensor(randn(size(y), 5), y);
    const g = conv2dGeometry(cs.x, cs.w, { stride: cs.stride, padding: cs.padding, dilation: cs.dilation, groups: cs.groups });
    const passes: Record<Pass, () => Tensor> = { forward: () => convFwd(g, x, w, null), bwd_input: () => convBwdInput(g, dy, w, null),
      bwd_weight: () => convBwdWeight(g, dy, x) };
    return { passes, dispose: () => { x.dispose(); w.dispose(); dy.dispose(); } };
  };
  const time = async (a: () => Tensor, b: () => Tensor): Promise<[number[], number[]]> => {
    for (const run of [a, b]) {
      for (const until = performance.now() + (cpu ? 0 : WARM_MS); performance.now() < until;) { for (let i = 0; i < 4; i++) scope(() => noGrad(run)).dispose(); await e.fence(); }
      await gpuTime(e, run, 1, ts);
    }
    const ta: number[] = [], tb: number[] = [];
    for (let r = 0; r < reps; r++) { ta.push(...(await gpuTime(e, a, 1, ts, false))); tb.push(...(await gpuTime(e, b, 1, ts, false))); }
    return [ta, tb];
  };
  for (const cs of seresnext50GroupedConvs(n, H, W)) {
    const twin = denseTwin(cs), flops = convFlops(cs);
    if (convFlops(twin) !== flops) throw new Error(`bench: ${cs.name}: the dense twin's FLOPs differ`);
    const [gs, ds] = [setup(cs), setup(twin)];
    for (const pass of ['forward', 'bwd_input', 'bwd_weight'] as const) {
      const [gt, dt] = await time(gs.passes[pass], ds.passes[pass]);
      const [gms, dms] = [median(gt), median(dt)];
      const [gf, df] = [flops / (gms / 1e3) / 1e9, flops / (dms / 1e3) / 1e9];
      rows.push({ shape: cs.name, pass, x: cs.x, w: cs.w, groups: cs.groups, flops, gpuMs: gms, gpuSpread: spread(gt), gflops: gf,
        peakFraction: gf / peakFlops, dense: { x: twin.x, w: twin.w, gpuMs: dms, gpuSpread: spread(dt), gflops: df }, groupedOverDense: gf / df });
      console.log([cs.name.padEnd(24), pass.padEnd(10), fmt(gms), fmt(gf), fmt((100 * gf) / peakFlops, 0) + '%', fmt(dms), fmt(df),
        `${fmt((100 * gf) / df, 0)}%${gf / df < 0.5 ? ' BELOW 50%' : ''}`].map((x, i) => (i < 2 ? x : x.padStart(10))).join(' '));
    }
    gs.dispose(); ds.dispose();
  }
  result.grouped = { shape: [n, 3, H, W], kernels: e.kernelFamily, rows };
  }

  // whole-model numbers: each registered model's inference and training step through its System (as
  // the trainer runs it: forward, loss, backward, its optimizers), the tfjs peer beside ERFNet
  async function benchModels(): Promise<void> {
  const models: Record<string, unknown>[] = [];
  const infer = quick ? [[1, 64, 128]] : [[1, 512, 1024], [1, 224, 448]];
  const trainShape = quick ? [2, 64, 128] : [8, 224, 448];
  console.log('\nwhole model (wall clock with queue sync, median)');
  for (const name of o.models ?? listModels().map((m) => m.name)) {
    const spec = getModel(name);
    const opts = resolveOptions(spec, {}, quick ? 'demo' : 'default');
    // a model built for one input size (the TAS500 nets' layer norms) runs at the training step's size only
    const fixed = spec.options.some((x) => x.flag === 'input-size');
    const system = spec.build(opts, { numClasses: 20, ignoreIndex: 19, weight: null, seed: 1, init: false, inputSize: [trainShape[1], trainShape[2]] });
    const isErfnet = spec.name === 'erfnet';
    const label = isErfnet ? 'ERFNet' : `${spec.name} (${Object.keys(spec.recipes.demo.options ?? {}).map((k) => `${k} ${opts[k]}`).join(', ') || 'defaults'})`;
    for (const [bn, h, w] of infer.filter(([, h, w]) => !fixed || (h === trainShape[1] && w === trainShape[2]))) {
      system.train(false);
      const x = tensor(randn(bn * 3 * h * w, 6), [bn, 3, h, w]);
      e.pool.resetPeak();
      const fwd = () => scope(() => { system.evalStep(x, null, null); });
      fwd(); await e.fence();
      const times: number[] = [];
      for (let r = 0; r < reps; r++) { const t0 = performance.now(); fwd(); await e.fence(); times.push(performance.now() - t0); }
      const peak = e.pool.bytesPeak;
      let peerMs: number | null = null;
      if (peer && isErfnet) {
        const tf = tfjsErfnet(peer.tf, bn, h, w);
        const go = async () => { const t0 = performance.now(); const y = tf.run(); await peer.sync(); const dt = performance.now() - t0; y.dispose(); return dt; };
        await go();
        const pt: number[] = [];
        for (let r = 0; r < reps; r++) pt.push(await go());
        peerMs = median(pt);
        tf.dispose();
      }
      models.push({ name: `${spec.name} inference`, options: opts, shape: [bn, 3, h, w], ms: median(times), peakPoolBytes: peak, peerMs });
      console.log(`${label} inference ${bn}x3x${h}x${w}: ${fmt(median(times), 1)} ms, peak pool ${(peak / 2 ** 20).toFixed(1)} MiB` +
        (peerMs !== null ? `; tfjs ${fmt(peerMs, 1)} ms (mirage ${fmt(peerMs / median(times))}× faster)` : ''));
      x.dispose();
    }
    {
      const [bn, h, w] = trainShape;
      system.train(true);
      const x = tensor(randn(bn * 3 * h * w, 7).map((v) => 0.5 + 0.2 * v), [bn, 3, h, w]);
      const r = new Rng(8);
      const d = system.labelDownscale;   // labels at the model's output scale (ERFNet's encoder, the TAS pre-nets)
      const y = tensor(Int32Array.from({ length: bn * (h / d) * (w / d) }, () => r.int(20)), [bn, h / d, w / d], { dtype: 'i32' });
      const recipe = spec.recipes.default;
      const optim = makeOptimizers(system.groups, recipe.optimizer, spec.name);
      // f16: the step with its loss scaling, as a run trains (and as PyTorch's AMP step with GradScaler)
      const scaler = e.precision === 'f16' && system.lossScaling ? lossScalerFor(system, optim, 'f16', spec.name) : null;
      const step = () => scope(() => { system.trainStep({ input: x, clean: x, labels: y, scaler: scaler ?? undefined }, optim); scaler?.update(); });
      step(); await e.fence();
      e.pool.resetPeak();
      // the peer's step (tfjs: space-to-batch for the dilated convs), alternating with mirage's
      const tf = peer && isErfnet ? tfjsErfnetTrain(peer.tf, bn, h, w) : null;
      let peerCheck: number | null = null;
      if (tf) { peerCheck = await tf.check(); tf.step(); await peer!.sync(); }
      const times: number[] = [], pt: number[] = [], host: number[] = [];
      const d0 = e.dispatches;
      for (let k = 0; k < reps; k++) {
        let t0 = performance.now(); step(); host.push(performance.now() - t0); await e.fence(); times.push(performance.now() - t0);
        if (tf) { t0 = performance.now(); tf.step(); await peer!.sync(); pt.push(performance.now() - t0); }
      }
      const dispatchesPerStep = (e.dispatches - d0) / reps;
      const peerLoss = tf ? await tf.loss() : null;
      tf?.dispose();
      const peerMs = pt.length ? median(pt) : null;
      const opt = Object.values(recipe.optimizer).map((s) => s.split(':')[0]).join(' + ');
      models.push({ name: isErfnet ? 'erfnet training step (Adam)' : `${spec.name} training step (${opt})`, options: opts, shape: [bn, 3, h, w],
        ms: median(times), hostMs: median(host), dispatches: dispatchesPerStep, peakPoolBytes: e.pool.bytesPeak,
        ...(isErfnet ? { peerMs, peerLoss, peerDilatedConvCheck: peerCheck } : {}) });
      console.log(`${label} training step ${bn}x3x${h}x${w}: ${fmt(median(times), 1)} ms (${fmt((1000 * bn) / median(times))} img/s; ` +
        `host ${fmt(median(host), 1)} ms to encode its ${dispatchesPerStep} dispatches), ` +
        `peak pool ${(e.pool.bytesPeak / 2 ** 20).toFixed(1)} MiB` +
        (peerMs !== null ? `; tfjs ${fmt(peerMs, 1)} ms (mirage ${fmt(peerMs / median(times))}× faster; its space-to-batch dilated conv ` +
          `${peerCheck! < 1e-4 ? 'matches' : 'DIFFERS from'} tf.conv2d, rel err ${peerCheck!.toExponential(1)}; loss ${fmt(peerLoss!, 3)})` : ''));
      for (const op of Object.values(optim)) op.dispose();
      scaler?.dispose();
      x.dispose(); y.dispose();
    }
    system.dispose();
  }
  result.models = models;
  }

  // Frames per second of inference as the MSSA seed reports it (seed-specs §3.4): one image, GPU time
  // of the forward (timestamp queries where the adapter has them, else wall clock with a queue sync),
  // the first run excluded; at CamVid's 360×480 (11 classes) and, on a GPU or with --full, Cityscapes'
  // 1024×1024 and 768×1536 (19 classes). A side that is not a multiple of the model's input multiple
  // is rounded up (BiSeNet: 32, as the released code needs; 360 → 384). ERFNet runs beside each
  // model at the same size, so the ratio is measured in the same run. Parameters and GMACs
  // (src/engine/flops.ts: convolutions and products, counted in the first run) go beside them.
  async function benchFps(): Promise<void> {
  const sizes: [number, number, number][] = quick ? [[360, 480, 11]] : [[360, 480, 11], [1024, 1024, 19], [768, 1536, 19]];
  const names = [...new Set(['erfnet', ...(o.models ?? ['mssa', 'bisenet-r18', 'bisenet-r101'])])];
  const rows: Record<string, unknown>[] = [];
  console.log(`\ninference frames per second (1 image, ${ts ? 'GPU timestamps' : 'wall clock with queue sync'}, median of ${reps} after a warm-up run)`);
  console.log(['model'.padEnd(14), 'size'.padEnd(10), 'run at'.padEnd(10), 'classes', 'params', 'GMACs', 'GFLOPs', 'ms', 'FPS', 'vs ERFNet'].map((x, i) => (i < 3 ? x : x.padStart(9))).join(' '));
  for (const [h, w, classes] of sizes) {
    let erfMs = NaN;
    for (const name of names) {
      const spec = getModel(name), opts = resolveOptions(spec, {}, 'default');
      const m = spec.multiple(opts), [rh, rw] = [Math.ceil(h / m) * m, Math.ceil(w / m) * m];
      const system = spec.build(opts, { numClasses: classes, ignoreIndex: classes, weight: null, seed: 1, init: false, inputSize: [rh, rw] });   // `classes` outputs, as the seed's tables count
      system.train(false);
      const x = tensor(randn(3 * rh * rw, 9).map((v) => 0.5 + 0.2 * v), [1, 3, rh, rw]);
      const fwd = () => { system.evalStep(x, null, null); };
      let macs = 0, times: number[] = [];
      try {
        macs = countMacs(() => scope(fwd)).macs;
        await e.fence();
        times = await gpuTime(e, fwd, reps, ts);
      } catch (err) {
        // e.g. a map over the device's buffer limit (lavapipe: 128 MiB per binding): the row says so, the others still run
        const why = (err as Error).message;
        rows.push({ model: name, size: [h, w], runAt: [rh, rw], classes, parameters: spec.parameterCount(opts, classes), error: why });
        console.log(`${name.padEnd(14)} ${`${h}x${w}`.padEnd(10)} ${`${rh}x${rw}`.padEnd(10)} does not run here: ${why}`);
        x.dispose(); system.dispose();
        continue;
      }
      const ms = median(times);
      if (name === 'erfnet') erfMs = ms;
      const params = spec.parameterCount(opts, classes);
      rows.push({ model: name, size: [h, w], runAt: [rh, rw], classes, parameters: params, gmacs: macs / 1e9, gflops: (2 * macs) / 1e9,
        ms, spread: spread(times), fps: 1000 / ms, erfnetMs: erfMs, overErfnet: ms / erfMs });
      console.log([name.padEnd(14), `${h}x${w}`.padEnd(10), `${rh}x${rw}`.padEnd(10), String(classes), `${(params / 1e6).toFixed(2)} M`, fmt(macs / 1e9, 1), fmt((2 * macs) / 1e9, 1),
        fmt(ms, 1), fmt(1000 / ms, 1), name === 'erfnet' ? '1.00×' : `${fmt(ms / erfMs)}×`].map((v, i) => (i < 3 ? v : v.padStart(9))).join(' '));
      x.dispose(); system.dispose();
    }
  }
  console.log('vs ERFNet: this model\'s time / ERFNet\'s at the same size (above 1: slower); GFLOPs = 2 × GMACs of the convolutions and products');
  result.fps = rows;
  }
}
