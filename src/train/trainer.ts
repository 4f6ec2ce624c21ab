// The one training loop, for every registered model: data, class weights, the model's System,
// optimizers and schedules by name, epochs with progress, validation, the non-finite watch,
// checkpoints, resume, log.csv and curves.png. What it guarantees:
// - A run never overwrites another: a savedir holding one needs --resume or --overwrite.
// - A diverging run stops at the step where a loss or an updated parameter became Inf or NaN (a
//   flag on the GPU, read with the progress line, so no read-back per step), exits non-zero and
//   writes no checkpoint; no checkpoint with non-finite values is ever written or loaded.
// - The checkpoint is the single source of truth: it holds the settings, the whole history, the
//   optimizers' state and the random-stream position. log.csv and curves.png are rewritten from it
//   after it is in place, so a kill at any moment leaves them consistent after --resume, and a
//   resumed run is bit-identical to an uninterrupted one (epoch-level: the data order and
//   augmentation of epoch e depend only on the seed and e).
// - Ctrl-C stops after the current step and says how to resume.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Engine, getEngine, hasEngine, setEngine } from '../engine/engine.js';
import type { HostTensor } from '../engine/module.js';
import { seedGlobal } from '../engine/rng.js';
import { keep, scope } from '../engine/scope.js';
import { type Tensor, full, zeros } from '../engine/tensor.js';
import { classWeights } from '../data/class-weights.js';
import { type SegDataset, openDataset, parseDataSpec } from '../data/datasets.js';
import { Loader } from '../data/loader.js';
import { itemsPerClass } from '../data/uniform.js';
import { checkWritableDir, makeDir } from '../io/atomic.js';
import { checkpointTensors, nonFiniteReport } from '../io/checkpoint-data.js';
import { loadCheckpoint, readWeights, writeCheckpoint } from '../io/checkpoint.js';
import { FINITE, accumulateScalar } from '../kernels/finite.js';
import { type ModelSpec, buildForTraining } from '../models/registry.js';
import { createNodeEngine } from '../node/device.js';
import type { LRScheduler } from '../optim/lr-scheduler.js';
import type { LossScaleState } from '../optim/loss-scaler.js';
import { TurbulenceSimulator, describeTurbulence, modelFrames, sampleSeed, turbulenceMeta } from '../sim/turbulence.js';
import { type RunConfig, type TrainFlags, describeConfig, newConfig, parseAngles, parseCropSize, resumeConfig } from './config.js';
import { type EvalResult, NonFiniteError, evaluateSystem, uploadBatch } from './evaluator.js';
import { lossScalerFor } from './system.js';
import { IouEval, type IouResult, iouTable } from './iou.js';
import { type EpochRecord, type Panel, type RunView, validationPanels, writeRunFiles } from './run-files.js';
import { Progress, fmtTime } from './progress.js';
import { SCHEDULES, makeOptimizers, makeSchedule, parseSpec } from './recipe.js';


export interface TrainSession {
  savedir: string;
  /** Write a TensorBoard event file into the savedir (default true). */
  tensorboard?: boolean;
  resume?: boolean;
  overwrite?: boolean;
  /** Show the running loss (and check for divergence) every N steps. */
  stepsLoss?: number;
  /** Train on this engine (in-process callers, tests) instead of a new Node device; it is reseeded, not destroyed. */
  engine?: Engine;
  /** Called after each epoch's checkpoint, e.g. to watch memory. */
  onEpoch?: (r: EpochRecord) => void | Promise<void>;
  /** Ctrl-C finishes the current step, says how to resume and ends the run (the CLI sets this). */
  handleSigint?: boolean;
}

export interface TrainSummary {
  bestMiou: number;
  bestEpoch: number;
  /** Val mIoU per output at the best epoch. */
  perIteration: number[];
  seconds: number;
  savedir: string;
  history: EpochRecord[];
  config: RunConfig;
  /** The GPU buffer pool's peak in this run (training and validation). */
  peakPoolBytes: number;
}

/** Thrown when Ctrl-C stopped a run; its message says how to resume. */
export class Interrupted extends Error {}

const RUN_FILES = ['checkpoint.safetensors', 'model_best.safetensors', 'log.csv', 'curves.png', 'report.html'];
/** Validation samples shown in report.html. */
const REPORT_SAMPLES = 3;
/** A run's TensorBoard file (also removed by --overwrite). */
const isEventFile = (f: string) => f.startsWith('events.out.tfevents.');

/**
 * Fault injection for the resume tests: MIRAGE_KILL_AT=POINT@EPOCH kills the process with SIGKILL at
 * that point of that (1-based) epoch. Points: step (after the epoch's first training step),
 * before-best, after-best, after-checkpoint (before log.csv), after-log.
 */
function killPoint(point: string, epoch: number): void {
  if (process.env.MIRAGE_KILL_AT === `${point}@${epoch}`) process.kill(process.pid, 'SIGKILL');
}

/**
 * The prediction's accuracies for log.csv (val_pixel_acc, …; img_*: per-image means as the MSSA
 * seed's code), and with several outputs each one's pixel accuracy (pixel_acc_itK).
 */
function scoreColumns(ious: IouResult[]): Record<string, number> {
  const r = ious[ious.length - 1];
  return { pixel_acc: r.pixelAccuracy, class_acc: r.meanClassAccuracy,
    ...(r.perImage ? { img_miou: r.perImage.miou, img_pixel_acc: r.perImage.globalAccuracy, img_class_acc: r.perImage.meanClassAccuracy } : {}),
    ...(ious.length > 1 ? Object.fromEntries(ious.map((x, k) => [`pixel_acc_it${k + 1}`, x.pixelAccuracy])) : {}) };
}

/** One line on what a savedir holds, for the refusal to overwrite it. */
function describeRun(dir: string): string {
  const files = RUN_FILES.filter((f) => existsSync(join(dir, f)));
  try {
    const m = loadCheckpoint(join(dir, 'checkpoint.safetensors')).meta;
    const run = m.run ? JSON.parse(m.run) as RunConfig : null;
    return `a run of ${m.model ?? "a model"} at epoch ${m.epoch}${run ? ` of ${run.epochs}` : ''}, best val mIoU ${(100 * Number(m.best_miou)).toFixed(2)}`;
  } catch {
    return `a run (${files.join(', ')})`;
  }
}

interface Run {
  spec: ModelSpec;
  config: RunConfig;
  notes: string[];
  ck: ReturnType<typeof loadCheckpoint> | null;
}

/** The run's settings: from the checkpoint when resuming, else from the recipe and flags; checks the savedir. */
function resolveRun(flags: TrainFlags, s: TrainSession): Run {
  const last = join(s.savedir, 'checkpoint.safetensors');
  if (s.resume && s.overwrite) throw new Error('--resume and --overwrite exclude each other: continue the run, or replace it');
  if (s.resume) {
    if (!existsSync(last)) throw new Error(`--resume: no checkpoint at ${last} (start the run without --resume)`);
    const ck = loadCheckpoint(last);
    if (!ck.meta.run) {
      throw new Error(`--resume: ${last} was written by an older mirage without the run's settings; it can be evaluated ` +
        'or used with --pretrained-encoder, but not resumed');
    }
    const { spec, config, notes } = resumeConfig(JSON.parse(ck.meta.run) as RunConfig, flags, last);
    return { spec, config, notes, ck };
  }
  const { spec, config } = newConfig(flags);
  const present = existsSync(s.savedir) ? RUN_FILES.filter((f) => existsSync(join(s.savedir, f))) : [];
  if (present.length && !s.overwrite) {
    throw new Error(`--savedir ${s.savedir} already holds ${describeRun(s.savedir)}; pass --resume to continue it, ` +
      '--overwrite to replace it, or choose another --savedir');
  }
  return { spec, config, notes: [], ck: null };
}

interface EpochTrain { loss: number; extras: Record<string, number>; iou: IouResult | null; images: number; seconds: number }

export async function train(flags: TrainFlags, session: TrainSession): Promise<TrainSummary> {
  const t0 = performance.now();
  const run = resolveRun(flags, session);
  const { spec, config: c, ck } = run;
  parseDataSpec(c.data);                      // a bad --data or --savedir fails before anything is created
  checkWritableDir(session.savedir, '--savedir');
  const stepsLoss = session.stepsLoss ?? 10;
  if (!(Number.isInteger(stepsLoss) && stepsLoss >= 1)) throw new Error(`--steps-loss must be an integer ≥ 1, got ${stepsLoss}`);
  const own = session.engine ? null : await createNodeEngine({ seed: c.seed, precision: c.precision });
  const previous = hasEngine() ? getEngine() : null;
  const engine = session.engine ?? own!.engine;
  setEngine(engine);
  const precisionBefore = engine.precision;
  engine.reseed(c.seed);
  engine.pool.resetPeak();   // this run's peak (an engine can outlive runs: tests, experiments)
  seedGlobal(c.seed);
  const disposers: (() => void)[] = [];
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('\nCtrl-C: stopping after this step (again to quit at once)\n');
  };
  if (session.handleSigint) process.on('SIGINT', onSigint);
  try {
    engine.precision = c.precision ?? 'f32';   // throws, naming the feature, where the device has no shader-f16 (the finally restores all)
    for (const n of run.notes) console.log(n);
    const open = (split: 'train' | 'val', n: number): SegDataset =>
      openDataset(parseDataSpec(c.data), { split, syntheticCount: n, seed: c.seed, height: c.height, width: c.width ?? 2 * c.height });
    const trainDs = open('train', c.trainSize), valDs = open('val', c.valSize);
    // every split's files are checked before anything trains: pairs, sizes, label forms; the val
    // labels' values too (the train labels' are read by the class-weight pass or the first epoch)
    for (const [ds, values] of [[trainDs, false], [valDs, true]] as const) {
      if (!ds.validate) continue;
      const bar = new Progress(`checking ${ds.name}`, ds.length, 'file');
      ds.validate(values, (d) => bar.update(d, d));
      bar.done();
    }
    const down = spec.labelDownscale?.(c.options) ?? 1;
    const scale = c.scaleCrop ? c.scaleCrop.split(',').map(Number) as [number, number] : undefined;
    const crop = c.cropSize ? parseCropSize(c.cropSize) : undefined;
    if (crop && c.distortion) throw new Error(`--crop-size ${c.cropSize} with heat distortion: the simulator works at one input size; drop --crop-size or --distort`);
    const trainLoader = new Loader(trainDs, { batchSize: c.batchSize, height: c.height, width: c.width, shuffle: true, seed: c.seed,
      labelDownscale: down, augment: { flip: c.flip, translate: c.translate, scale, crop, colorJitter: c.colorAug, blur: c.gblur,
        vflip: c.vflip, rotate: c.rotate ? parseAngles(c.rotate) : undefined },
      classUniform: c.classUniformPct ? { pct: c.classUniformPct, tile: c.classUniformTile } : undefined });
    const valLoader = new Loader(valDs, { batchSize: c.batchSize, height: c.height, width: trainLoader.width, labelDownscale: down });
    const multiple = spec.multiple(c.options);
    if (trainLoader.height % multiple || trainLoader.width % multiple) {
      throw new Error(`${spec.name} needs input sizes that are multiples of ${multiple}; --height ${trainLoader.height} and width ` +
        `${trainLoader.width} are not (set --height/--width)`);
    }
    if (trainLoader.inputHeight % multiple || trainLoader.inputWidth % multiple) {
      throw new Error(`${spec.name} needs input sizes that are multiples of ${multiple}; --crop-size ${c.cropSize} is not`);
    }
    for (const n of [...trainDs.notes, ...valDs.notes, ...trainLoader.notes, ...valLoader.notes]) console.warn(`warning: ${n}`);
    const describeDs = (ds: SegDataset, l: Loader) => `${ds.name}: ${ds.length} images → ${l.width}x${l.height}` +
      `${l.inputWidth !== l.width || l.inputHeight !== l.height ? ` (random ${l.inputWidth}x${l.inputHeight} crops)` : ''}, ${ds.numClasses} classes (ignore ${ds.ignoreIndex})`;
    console.log(`train  ${describeDs(trainDs, trainLoader)}\nval    ${describeDs(valDs, valLoader)}`);
    if (c.classUniformPct) {
      const bar = new Progress('class centroids', trainDs.length, 'image');
      const cents = trainLoader.classCentroids((d) => bar.update(d, d));
      bar.done();
      const tile = c.classUniformTile ?? trainLoader.height;
      const per = itemsPerClass(trainDs.length, c.classUniformPct, cents.length);
      console.log(`class-uniform sampling ${c.classUniformPct}: ${per} crops per class and epoch around centroids (tiles of ${tile} px); ` +
        `centroids per class: ${cents.map((l) => l.length).join(' ')}`);
      if (per === 0) console.warn(`warning: --class-uniform-pct ${c.classUniformPct} gives no class-uniform items: ${trainDs.length} images × ${c.classUniformPct} < ${cents.length} classes`);
    }
    console.log(`adapter ${engine.device.adapterInfo?.description ?? ''} | ${describeConfig(c)}`);

    // class weights: stored in the checkpoint once computed, so a resumed run uses the same ones
    let weights: Float32Array | null;
    if (ck && ck.meta.class_weights !== undefined) {
      weights = ck.meta.class_weights ? Float32Array.from(JSON.parse(ck.meta.class_weights) as number[]) : null;
    } else {
      const plain = new Loader(trainDs, { batchSize: c.batchSize, height: c.height, width: trainLoader.width, labelDownscale: down });
      const hist = new Progress('class weights', plain.batches(), 'batch');
      weights = await classWeights(c.classWeights, plain, down > 1, (d) => hist.update(d, d));
      if (c.classWeights === 'enet') hist.done();
    }
    if (weights) console.log(`class weights (${c.classWeights}): ${[...weights].map((v) => v.toFixed(2)).join(' ')}`);

    const system = buildForTraining(spec, c.options, { numClasses: trainDs.numClasses, ignoreIndex: trainDs.ignoreIndex, weight: weights,
      seed: c.seed, init: !ck, readWeights, log: (l) => console.log(l), inputSize: [trainLoader.height, trainLoader.width], frames: modelFrames(c.distortion) });
    disposers.push(() => system.dispose());
    const groups = Object.keys(system.groups);
    const opts = makeOptimizers(system.groups, c.optimizer, spec.name), scheds: Record<string, LRScheduler> = {};
    for (const g of groups) {
      disposers.push(() => opts[g].dispose());
      scheds[g] = makeSchedule(parseSpec(c.schedule[g], SCHEDULES, `schedule of ${g}`), opts[g], c.epochs);
    }
    // f16 GEMM operands: dynamic loss scaling, shared by every optimizer of the step
    const scaler = lossScalerFor(system, opts, c.precision ?? 'f32', spec.name);
    if (scaler) disposers.push(() => scaler.dispose());
    const trained = groups.reduce((n, g) => n + system.groups[g].reduce((m, p) => m + p.size, 0), 0);
    console.log(`${spec.name}: ${system.module.numParameters().toLocaleString('en')} parameters` +
      `${trained !== system.module.numParameters() ? `, ${trained.toLocaleString('en')} trained` : ''}; ${spec.outputs(c.options)}`);
    const sim = c.distortion ? new TurbulenceSimulator(trainLoader.height, trainLoader.width, c.distortion) : null;
    if (sim) {
      disposers.push(() => sim.dispose());
      console.log(`heat distortion on the fly: ${describeTurbulence(sim.params, await sim.statistics(8, c.seed))}`);
    }

    const last = join(session.savedir, 'checkpoint.safetensors'), bestPath = join(session.savedir, 'model_best.safetensors');
    const view = (confusion?: ArrayLike<number>[], samples?: Panel[][], imagesStep?: number): RunView => ({
      title: `${spec.name} run: ${session.savedir}`, subtitle: `${c.data} · ${trainLoader.width}×${trainLoader.height} · ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      settings: [['model', `${spec.name}: ${spec.summary}`], ['parameters', system.module.numParameters().toLocaleString('en')],
        ['settings', describeConfig(c)], ['data', `${c.data}: ${trainDs.length} training, ${valDs.length} validation images`],
        ['adapter', String(engine.device.adapterInfo?.description ?? '')], ['heat distortion', sim ? `σ ${sim.params.sigma} px, correlation length ${sim.params.corrLength} px` : 'none']],
      classNames: valDs.classNames, ignoreIndex: valDs.ignoreIndex, outputs: system.outputs, tensorboard: session.tensorboard !== false,
      confusion, samples, imagesStep,
    });
    let start = 0, best = -1, bestEpoch = 0;
    let history: EpochRecord[] = [];
    if (ck) {
      try { system.module.loadStateDict(ck.model); } catch (e) { throw new Error(`${last}: ${(e as Error).message}`); }
      for (const g of groups) opts[g].loadState(ck.optimizers.get(g) ?? new Map(), Number(ck.meta[`optimizer_steps.${g}`] ?? 0));
      engine.rngState = Number(ck.meta.rng_state ?? 0);
      if (scaler && ck.meta.loss_scale) scaler.load(JSON.parse(ck.meta.loss_scale) as LossScaleState);
      start = Number(ck.meta.epoch);
      best = Number(ck.meta.best_miou);
      bestEpoch = Number(ck.meta.best_epoch ?? start);
      history = JSON.parse(ck.meta.history ?? '[]') as EpochRecord[];
      await writeRunFiles(session.savedir, history, view());      // a kill between checkpoint and log leaves the log one epoch short
      console.log(`resumed from ${last} after epoch ${start} (best val mIoU ${(100 * best).toFixed(2)} at epoch ${bestEpoch})`);
      if (start >= c.epochs) {
        console.log(`nothing to train: the run has done its ${c.epochs} epochs; pass --epochs N to train longer`);
      }
    }
    const lastSaved = () => (history.length ? `the last saved epoch is ${history.length} (${last})` : 'no epoch was saved yet');

    const baseMeta = () => ({
      ...spec.meta(c.options, trainDs.numClasses), run: JSON.stringify(c), data: c.data, height: trainLoader.height, width: trainLoader.width,
      class_names: trainDs.classNames.join('|'), palette: JSON.stringify(trainDs.palette), ignore_index: trainDs.ignoreIndex, class_weights: weights ? JSON.stringify([...weights]) : '',
      distorted: sim ? 'yes' : 'no',
      ...(sim ? turbulenceMeta(sim.params) : {}),
    });
    let cleared = !!ck;
    for (let e = start; e < c.epochs; e++) {
      for (const g of groups) scheds[g].setEpoch(e);
      system.setEpoch?.(e);
      const lr = Object.fromEntries(groups.map((g) => [g, opts[g].lr]));
      const tr = await trainEpoch(e);
      if (stop) break;
      let va: EvalResult;
      try {
        va = await evaluateSystem(system, valLoader, { sim, seed: c.seed, label: `epoch ${e + 1}/${c.epochs} val  `, every: stepsLoss });
      } catch (err) {
        if (err instanceof NonFiniteError) throw new Error(`training diverged: ${err.message} (epoch ${e + 1}); no checkpoint was written from it; ${lastSaved()}`);
        throw err;
      }
      const mious = va.ious.map((r) => r.miou), valMiou = mious[mious.length - 1];
      if (mious.length > 1) console.log(`epoch ${e + 1} val mIoU per ${system.outputs[0].split(' ')[0]}: ${mious.map((v) => (100 * v).toFixed(2)).join(' → ')}`);
      const rec: EpochRecord = { epoch: e + 1, trainLoss: tr.loss, valLoss: va.loss, trainMiou: tr.iou?.miou ?? null, valMiou, valMious: mious,
        trainExtras: tr.extras, valExtras: { ...va.extras, ...scoreColumns(va.ious) }, lr, seconds: tr.seconds,
        imagesPerSecond: tr.images / tr.seconds, time: Date.now() / 1000, valClassIou: va.ious[va.ious.length - 1].iou,
        poolPeakBytes: engine.pool.stats().bytesPeak };
      // everything that is saved is read once and checked before any file is touched
      const state = await checkpointTensors(system.module, opts);
      const bad = nonFiniteReport(state.model) ?? nonFiniteReport(state.optimizers);
      if (bad) throw new Error(`training diverged in epoch ${e + 1}: non-finite values in ${bad}; no checkpoint was written; ${lastSaved()}`);
      if (!cleared) {                          // --overwrite: the old run goes once the new one has an epoch to save
        makeDir(session.savedir, '--savedir');
        for (const f of readdirSync(session.savedir)) if (isEventFile(f) || RUN_FILES.some((r) => f === r || f.startsWith(`${r}.tmp-`))) rmSync(join(session.savedir, f));
        cleared = true;
      }
      history = [...history, rec];
      const isBest = valMiou > best;
      if (isBest) { best = valMiou; bestEpoch = e + 1; }
      const meta = { ...baseMeta(), epoch: e + 1, miou: valMiou, best_miou: best, best_epoch: bestEpoch };
      killPoint('before-best', e + 1);
      if (isBest) {
        writeCheckpoint(bestPath, state.model, meta);
        console.log(`new best val mIoU ${(100 * valMiou).toFixed(2)} → ${bestPath}`);
      }
      killPoint('after-best', e + 1);
      writeCheckpoint(last, new Map([...state.model, ...state.optimizers]), { ...meta, ...state.steps, rng_state: engine.rngState,
        history: JSON.stringify(history), ...(scaler ? { loss_scale: JSON.stringify(await scaler.read()) } : {}) });
      killPoint('after-checkpoint', e + 1);
      const final = va.ious[va.ious.length - 1];
      const samples = await validationPanels(system, valLoader, REPORT_SAMPLES, valDs.palette, valDs.ignoreIndex, sim, c.seed, spec.multiple(c.options));
      await writeRunFiles(session.savedir, history, view(final.confusion, samples, e + 1));
      killPoint('after-log', e + 1);
      await session.onEpoch?.(rec);
      if (e === c.epochs - 1) {
        console.log(`val IoU after epoch ${e + 1}${va.ious.length > 1 ? ', last iteration' : ''}:\n${iouTable(va.ious[va.ious.length - 1], valDs.classNames, valDs.ignoreIndex)}`);
      }
      if (stop) break;
    }
    if (stop) {
      throw new Interrupted(`interrupted; ${lastSaved()}. Resume with: mirage train --resume --savedir ${session.savedir}`);
    }
    if (history.length) {
      console.log(`best val mIoU ${(100 * best).toFixed(2)} (epoch ${bestEpoch}); log ${join(session.savedir, 'log.csv')}, ` +
        `curves ${join(session.savedir, 'curves.png')}, peak GPU pool ${(engine.pool.bytesPeak / 2 ** 20).toFixed(1)} MiB, ` +
        `${fmtTime((performance.now() - t0) / 1000)}`);
    }
    const bestRec = history.find((h) => h.epoch === bestEpoch);
    return { bestMiou: best, bestEpoch, perIteration: bestRec?.valMious ?? [], seconds: (performance.now() - t0) / 1000,
      savedir: session.savedir, history, config: c, peakPoolBytes: engine.pool.bytesPeak };

    /** One training epoch: steps, loss and extras summed on the GPU with the non-finite watch. */
    async function trainEpoch(e: number): Promise<EpochTrain> {
      const label = `epoch ${e + 1}/${c.epochs} train`;
      const nb = trainLoader.batches();
      const bar = new Progress(label, trainDs.length);
      const flag = keep(full([1], FINITE, 'u32'));
      const lossSum = keep(zeros([]));
      const extraSums = new Map<string, Tensor>();
      const meter = c.iouTrain ? new IouEval(trainDs.numClasses, trainDs.ignoreIndex) : null;
      const marks = Object.fromEntries(groups.map((g) => [g, [] as number[]]));
      for (const g of groups) opts[g].clearNonFinite();
      const inFlight: Promise<void>[] = [];
      const scaleBefore = scaler ? await scaler.read() : null;
      system.train(true);
      let k = 0, images = 0;
      try {
        for await (const b of trainLoader.epoch(e)) {
          const batch = k;
          scope(() => {
            const { x, y } = uploadBatch(b);
            const d = sim ? sim.distort(x, sampleSeed(c.seed, e * 100003 + batch)) : null;
            const out = system.trainStep({ input: d ? d.image : x, clean: x, labels: y, field: d?.field, scaler: scaler ?? undefined }, opts);
            scaler?.update();
            if (meter && out.logits) meter.add(out.logits[out.logits.length - 1], y).dispose();
            accumulateScalar(lossSum, out.loss, flag, batch);
            for (const [name, v] of Object.entries(out.extras ?? {})) {
              if (!extraSums.has(name)) extraSums.set(name, keep(zeros([])));
              accumulateScalar(extraSums.get(name)!, v, flag, batch);
            }
          });
          for (const g of groups) marks[g].push(opts[g].steps);
          k++; images += b.n;
          killPoint('step', e + 1);
          inFlight.push(engine.fence());              // at most two steps queued on the GPU
          if (inFlight.length > 2) await inFlight.shift();
          if (k % stepsLoss === 0 || k === nb || stop) {
            const [sum] = await Promise.all([lossSum.item(), check()]);
            bar.update(images, images, `loss ${(sum / k).toFixed(4)}`);
          } else bar.update(images, images);
          if (stop) break;
        }
        await check();
        const loss = (await lossSum.item()) / Math.max(1, k);
        const extras: Record<string, number> = {};
        for (const [name, t] of extraSums) extras[name] = (await t.item()) / Math.max(1, k);
        if (scaler) {                           // the scale at the epoch's end and the steps it skipped (f16 overflows)
          const now = await scaler.read();
          extras.loss_scale = now.scale;
          extras.skipped_steps = now.skipped - scaleBefore!.skipped;
          if (!(now.scale >= 2 ** -24)) {
            throw new Error(`training diverged in epoch ${e + 1}: the gradients overflowed at every loss scale (down to ${now.scale}, ` +
              `${now.skipped} steps skipped); no checkpoint was written from this epoch; ${lastSaved()}. Try --precision f32 or a lower --lr.`);
          }
        }
        const iou = meter ? await meter.result() : null;
        const scaling = scaler ? ` | loss scale ${extras.loss_scale}, ${extras.skipped_steps} step${extras.skipped_steps === 1 ? '' : 's'} skipped` : '';
        const seconds = bar.done(`loss ${loss.toFixed(4)}${Object.entries(extras).filter(([n]) => !scaler || (n !== 'loss_scale' && n !== 'skipped_steps'))
          .map(([n, v]) => ` ${n} ${v.toFixed(4)}`).join('')}${iou ? ` mIoU ${(100 * iou.miou).toFixed(2)}` : ''}${scaling}`);
        return { loss, extras, iou, images, seconds };
      } finally {
        flag.dispose(); lossSum.dispose(); meter?.dispose();
        for (const t of extraSums.values()) t.dispose();
      }

      /** Reads the watch flags; on a non-finite loss or parameter, stops the run naming epoch, step and tensors. */
      async function check(): Promise<void> {
        const [lossBad] = await flag.read();
        const optBad = await Promise.all(groups.map((g) => opts[g].firstNonFiniteStep()));
        if (lossBad === FINITE && optBad.every((s) => s === null)) return;
        const what: string[] = [];
        let step = lossBad === FINITE ? Infinity : lossBad;
        if (lossBad !== FINITE) what.push(`the loss (or a logged scalar) is not finite at step ${lossBad + 1}`);
        const params: string[] = [];
        groups.forEach((g, i) => {
          const s = optBad[i];
          if (s === null) return;
          const at = marks[g].findIndex((m) => m >= s);
          step = Math.min(step, at);
          params.push(`the ${g} optimizer's update at step ${at + 1} made parameters non-finite`);
        });
        const state = await system.module.stateDictHost();
        const named = nonFiniteReport(new Map([...state].filter(([name]) => !name.includes('running_'))) as Map<string, HostTensor>) ??
          nonFiniteReport(state);
        throw new Error(`training diverged in epoch ${e + 1} at step ${step + 1} of ${nb}: ${[...what, ...params].join('; ')}` +
          `${named ? `. Non-finite now: ${named}` : ''}. No checkpoint was written from this epoch; ${lastSaved()}. ` +
          `Learning rates: ${groups.map((g) => `${g} ${opts[g].lr}`).join(', ')}; a lower --lr usually helps.`);
      }
    }
  } finally {
    if (session.handleSigint) process.off('SIGINT', onSigint);
    for (const d of disposers.reverse()) { try { d(); } catch { /* engine may be lost */ } }
    if (!own) engine.precision = precisionBefore;
    if (own) { own.engine.destroy(); own.gpu.destroy(); setEngine(previous); } else setEngine(previous ?? engine);
  }
}
