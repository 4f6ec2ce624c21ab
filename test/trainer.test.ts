// The registry, recipes, run settings and the trainer in this process (the CLI-level guarantees —
// kills, resume, refusals — are in cli.test.ts, which runs the real binary).
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { getHeapCodeStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../src/engine/engine.js';
import { tensor } from '../src/engine/tensor.js';
import { getModel, listModels, resolveOptions } from '../src/models/registry.js';
import { SGD } from '../src/optim/sgd.js';
import { configDiff, newConfig, resumeConfig } from '../src/train/config.js';
import { OPTIMIZERS, SCHEDULES, SclPolyLR, formatSpec, makeOptimizer, makeOptimizers, makeSchedule, parseSpec } from '../src/train/recipe.js';
import { readEventFile } from '../src/io/tfevents.js';
import { logCsv, tensorboardEvents } from '../src/train/run-files.js';
import { train } from '../src/train/trainer.js';
import { type System, lossScalerFor } from '../src/train/system.js';
import { readWeights } from '../src/io/checkpoint.js';

const t = suite('trainer');
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;   // a full collection before each memory reading
const dir = mkdtempSync(join(tmpdir(), 'mirage-trainer-'));

t('every registered model: the parameter arithmetic matches the built model and the reference count', () => {
  for (const spec of listModels()) {
    // models built for one input size (the TAS500 nets) are counted and built at 64×128
    const base = spec.options.some((x) => x.flag === 'input-size') ? { 'input-size': '64x128' } : {};
    const cases: [Record<string, unknown>, number][] = [[base, 20], [base, 11]];
    if (spec.name === 'feedback') cases.push([{ 'unet-depth': 3, 'unet-width': 2 }, 20], [{ 'unet-depth': 4, 'unet-width': 1 }, 7]);
    if (spec.name === 'deeplabv3plus-r50') cases.push([{ 'output-stride': 16, 'void-channel': true }, 7]);
    for (const [given, classes] of cases) {
      const o = resolveOptions(spec, given as Record<string, never>, 'demo');
      const sys = spec.build(o, { numClasses: classes, ignoreIndex: classes - 1, weight: null, seed: 1, init: false });
      assert.is(spec.parameterCount(o, classes), sys.module.numParameters(), `${spec.name} ${JSON.stringify(o)} ${classes} classes`);
      sys.dispose();
    }
    if (spec.reference) {
      const o = resolveOptions(spec, spec.reference.options as Record<string, never>);
      assert.is(spec.parameterCount(o, spec.reference.numClasses), spec.reference.parameters, `${spec.name}: ${spec.reference.note}`);
    }
    for (const r of Object.values(spec.recipes)) {
      for (const s of Object.values(r.optimizer)) parseSpec(s, OPTIMIZERS, `${spec.name} recipe`);
      for (const s of Object.values(r.schedule)) parseSpec(s, SCHEDULES, `${spec.name} recipe`);
    }
  }
  assert.is(getModel('erfnet-encoder').name, 'erfnet');
  assert.throws(() => getModel('unet'), /--model unet: unknown model \(registered: erfnet, feedback/);
  assert.throws(() => resolveOptions(getModel('erfnet'), { 'unet-depth': 3 }), /--unet-depth is not an option of erfnet/);
  assert.throws(() => resolveOptions(getModel('erfnet'), { loss: 'cbifl' }), /--loss cbifl: erfnet accepts ce, focal/);
});

t('optimizer and schedule specs: parse, format, defaults, clear errors', () => {
  const s = parseSpec('sgd:lr=0.01,momentum=0.9,nesterov=1', OPTIMIZERS, '--optimizer');
  assert.equal(s, { name: 'sgd', options: { lr: 0.01, momentum: 0.9, nesterov: 1 } });
  assert.is(formatSpec(s, OPTIMIZERS), 'sgd:lr=0.01,momentum=0.9,nesterov=1');
  assert.is(formatSpec(parseSpec('adam:weight_decay=0,beta2=0.99', OPTIMIZERS, 'x'), OPTIMIZERS), 'adam:lr=0.001,beta2=0.99', 'lr always, other defaults left out, order fixed');
  assert.throws(() => parseSpec('adagrad', OPTIMIZERS, '--optimizer'), /--optimizer 'adagrad': unknown 'adagrad' \(choose from adam, adamw, sgd, rmsprop\)/);
  assert.throws(() => parseSpec('adam:momentum=0.9', OPTIMIZERS, '--optimizer'), /adam has no option 'momentum'/);
  assert.throws(() => parseSpec('poly:power=x', SCHEDULES, '--schedule'), /power=x is not a finite number/);
  const p = tensor(new Float32Array(1), [1], { requiresGrad: true });
  const opt = makeOptimizer(parseSpec('rmsprop:lr=1e-4,alpha=0.995,tf=1', OPTIMIZERS, 'x'), [p]);
  assert.is(opt.constructor.name, 'RMSprop');
  assert.is((opt as unknown as { eps: number }).eps, 1e-10, 'TensorFlow eps unless given');
  opt.dispose();
  const sgd = new SGD([p], { lr: 0.5 });
  const at = (spec: string, e: number, N = 10) => makeSchedule(parseSpec(spec, SCHEDULES, 'x'), sgd, N).lrAt(e);
  assert.is(at('constant', 7), 0.5);
  assert.ok(Math.abs(at('poly', 3) - 0.5 * 0.7 ** 0.9) < 1e-15);
  assert.ok(Math.abs(at('step:size=1,gamma=0.99', 5) - 0.5 * 0.99 ** 5) < 1e-15);
  // NVIDIA scl-poly (seed-specs §4.3): poly before the relax epoch, then a rescaled second poly over the rest
  const scl = (e: number) => at('scl-poly:power=1,repoly=1.5,rescale=1,relax=100', e, 175);
  assert.ok(Math.abs(scl(50) - 0.5 * (1 - 50 / 175)) < 1e-15);
  assert.ok(Math.abs(scl(100) - 0.5) < 1e-15, 'restarts at the relax epoch');
  assert.ok(Math.abs(scl(130) - 0.5 * (1 - 30 / 75) ** 1.5) < 1e-15);
  assert.ok(new SclPolyLR(sgd, 175, 1, 1.5, 0.5, 100).lrAt(100) === 0.25, 'rescale');
  sgd.dispose(); p.dispose();
});

t('makeOptimizers: one per group in the model\'s order; a mismatch names both lists; a failing spec frees the ones built', () => {
  const e = getEngine(), live = e.pool.bytesLive;
  const groups = { model: [tensor([1, 2, 3], [3], { requiresGrad: true }), tensor([5, 6], [2], { requiresGrad: true })], restore: [tensor([4], [1], { requiresGrad: true })] };
  const o = makeOptimizers(groups, { model: 'adam:lr=1e-3', restore: 'sgd:lr=0.1' }, 'net');
  assert.equal(Object.keys(o), ['model', 'restore']);
  assert.is(o.restore.lr, 0.1);
  for (const x of Object.values(o)) x.dispose();
  assert.throws(() => makeOptimizers(groups, { restore: 'sgd', model: 'adam' }, 'net'),
    /net: the recipe has optimizers for restore, model but the model's parameter groups are model, restore/);
  assert.throws(() => makeOptimizers(groups, { model: 'adam' }, 'net'), /optimizers for model but the model's parameter groups are model, restore/);
  for (const ps of Object.values(groups)) for (const p of ps) p.dispose();
  const fresh = { model: [tensor([1, 2, 3], [3], { requiresGrad: true }), tensor([5, 6], [2], { requiresGrad: true })], restore: [tensor([4], [1], { requiresGrad: true })] };
  const before = e.pool.bytesLive;
  assert.throws(() => makeOptimizers(fresh, { model: 'adam', restore: 'sgd:lr=-1' }, 'net'), /lr=-1 is out of range/);
  assert.is(e.pool.bytesLive, before, 'the Adam (two parameters packed in an arena) built before the failing SGD was freed');
  for (const ps of Object.values(fresh)) for (const p of ps) p.dispose();
  assert.ok(e.pool.bytesLive <= live, 'nothing left over');
});

t('run settings: recipe, then flags; a resume takes the checkpoint\'s and refuses flags that differ, naming both values', () => {
  const { config: c } = newConfig({ model: 'feedback', lr: 1e-3, options: { 'unet-width': 2 }, corrLength: 6 });
  assert.equal(c.optimizer, { seg: 'adam:lr=0.001,weight_decay=0.0001', restore: 'adam:lr=0.0002' });
  assert.equal(c.schedule, { seg: 'step:size=1,gamma=0.99', restore: 'step:size=30,gamma=0.5' });
  assert.is(c.options['unet-width'], 2);
  assert.is(c.options['unet-depth'], 5, 'option default');
  assert.equal(c.distortion, { correlation: 'integral', corrLength: 6 }, 'feedback always distorts, naming its correlation model');
  assert.is(c.epochs, 10);
  const ref = newConfig({ model: 'erfnet', recipe: 'reference' }).config;
  assert.is(ref.epochs, 150); assert.is(ref.batchSize, 6); assert.is(ref.classWeights, 'erfnet');
  assert.throws(() => newConfig({ model: 'erfnet', sigma: 2 }), /--sigma: distortion settings need --distort/);
  assert.throws(() => newConfig({ model: 'erfnet', momentum: 0.9 }), /--momentum 0.9: adam has no momentum/);
  assert.throws(() => newConfig({ model: 'erfnet', recipe: 'fast' }), /--recipe fast: erfnet has recipes default, demo, reference/);
  assert.throws(() => newConfig({ epochs: 0 }), /--epochs 0: must be an integer ≥ 1/);
  assert.throws(() => newConfig({ model: 'feedback', epochs: 4, options: { 'restore-pretrain': 4 } }), /--restore-pretrain 4: must be fewer than --epochs 4, or the segmenter never trains/);
  assert.is(newConfig({ model: 'feedback', epochs: 5, options: { 'restore-pretrain': 4 } }).config.options['restore-pretrain'], 4);
  assert.throws(() => newConfig({ model: 'erfnet', options: { 'unet-width': 2 } }), /--unet-width is not an option of erfnet/);
  assert.throws(() => newConfig({ model: 'feedback', distort: false }), /feedback always trains on distorted images/);
  // resume: agreeing flags pass, --epochs may change, anything else that differs is refused
  const same = resumeConfig(c, { model: 'feedback', lr: 1e-3, corrLength: 6, options: { 'unet-width': 2 } }, 'ck');
  assert.equal(same.config, c);
  assert.equal(same.notes, []);
  const longer = resumeConfig(c, { epochs: 20 }, 'ck');
  assert.is(longer.config.epochs, 20);
  assert.match(longer.notes[0], /--epochs 20 \(the run was planned for 10\)/);
  // a run stored before the integral names no correlation: it resumes on the four-point fit with the mean kept
  const old = resumeConfig({ ...c, distortion: { corrLength: 6 } }, {}, 'ck').config;
  assert.equal(old.distortion, { corrLength: 6, correlation: 'fit', keepMean: true });
  assert.throws(() => resumeConfig({ ...c, distortion: { corrLength: 6 } }, { correlation: 'integral' }, 'ck'), /--correlation integral differs from the checkpoint's fit/);
  assert.throws(() => resumeConfig(c, { corrLength: 8 }, 'runs/x/checkpoint.safetensors'),
    /--resume: --corr-length 8 differs from the checkpoint's 6 \(runs\/x\/checkpoint.safetensors\)/);
  assert.throws(() => resumeConfig(c, { height: 64, lr: 5e-4 }, 'ck'), /--height 64 differs from the checkpoint's 128; optimizer of seg adam:lr=0.0005,weight_decay=0.0001 differs from the checkpoint's adam:lr=0.001/);
  assert.throws(() => resumeConfig(c, { options: { 'unet-width': 3 } }, 'ck'), /--unet-width 3 differs from the checkpoint's 2/);
  assert.throws(() => resumeConfig(c, { model: 'erfnet' }, 'ck'), /--model erfnet conflicts with ck, which holds a feedback run/);
  assert.throws(() => resumeConfig(c, { groupLr: { restore: 1e-3 } }, 'ck'), /optimizer of restore adam:lr=0.001 differs from the checkpoint's adam:lr=0.0002/);
  assert.equal(configDiff(c, c), []);
});

t('the trainer in-process: flat GPU pool and host memory over epochs; log.csv holds every epoch once', async () => {
  const e = getEngine();
  e.reseed(0xdead);                           // not the run's seed, whatever ran before
  const live: number[] = [], rss: number[] = [], heap: number[] = [], code: number[] = [];
  const savedir = join(dir, 'flat');
  const s = await train({ model: 'erfnet', height: 16, epochs: 12, trainSize: 8, valSize: 2, batchSize: 2, classWeights: 'none' }, {
    savedir, engine: e, stepsLoss: 2,
    onEpoch: () => {
      gc(); live.push(e.pool.bytesLive); rss.push(process.memoryUsage().rss);
      const c = getHeapCodeStatistics(), jit = c.code_and_metadata_size + c.bytecode_and_metadata_size;
      code.push(jit); heap.push(process.memoryUsage().heapUsed - jit);
    },
  });
  assert.is(s.history.length, 12);
  assert.is(getEngine(), e, 'the engine is current again');
  assert.is(e.seed, 1, 'reseeded with the run\'s seed (1)');
  // epoch 1 allocates the optimizer state and the pipelines' buffers; from epoch 2 nothing grows
  assert.ok(live.slice(1).every((v) => v === live[1]), `GPU pool live bytes per epoch: ${live}`);
  // the host: the JS heap after a full collection is flat once warm (the history adds a few hundred bytes
  // an epoch). Warm takes long since the run files are Vega charts: V8 keeps compiling and optimising
  // their code for tens of epochs (bench/memory.mjs with heap snapshots at epochs 7 and 25: +0.9 MiB, of
  // which 0.7 MiB code, deopt data, relocation info and feedback vectors, e.g. Vega's parseTransformArray,
  // legendGradientLabels, scale.ticks; data +0.2 MiB, no retained strings or arrays). So the data the heap
  // holds (heapUsed less V8's code and bytecode with their metadata) and that code are bounded apart, each
  // by 1 MiB over epochs 7→12 (measured alone: data +0.13, code +0.21 MiB; heapUsed +0.3 to +1.0 MiB).
  // RSS also holds Dawn's and malloc's native memory, which wanders by ±10 MiB around a
  // plateau reached after some epochs (bench/memory.mjs: 30 epochs, 350 ± 10 MiB from epoch 10 on); a
  // leak of a checkpoint's read-back per epoch (8 MiB) would add 40 MiB here.
  const mib = (v: number) => (v / 2 ** 20).toFixed(1);
  assert.ok(heap[11] - heap[6] < 2 ** 20, `JS heap data (less code) after GC per epoch (MiB): ${heap.map(mib)}`);
  assert.ok(code[11] - code[6] < 2 ** 20, `V8 code and bytecode per epoch (MiB): ${code.map(mib)}`);
  assert.ok(Math.max(...rss.slice(5)) - Math.max(...rss.slice(1, 3)) < 32 * 2 ** 20, `RSS per epoch (MiB): ${rss.map(mib)}`);
  const csv = logCsv(s.history).trim().split('\n');
  assert.equal(csv.slice(1).map((l) => l.split(',')[0]), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12']);
  assert.is(csv[0], 'epoch,train_loss,val_loss,val_pixel_acc,val_class_acc,val_img_miou,val_img_pixel_acc,val_img_class_acc,train_miou,val_miou,lr,train_seconds,train_images_per_s');
  // the TensorBoard file: one, decodable, every epoch's scalars at step = epoch, equal to the history's (as float32)
  const tbFiles = readdirSync(savedir).filter((f) => f.startsWith('events.out.tfevents.')).sort();
  assert.is(tbFiles.length, 2, 'scalars and images');
  assert.match(tbFiles[0], /^events\.out\.tfevents\.\d+\.mirage$/);
  assert.is(tbFiles[1], `${tbFiles[0]}-images`);
  const imgs = readEventFile(readFileSync(join(savedir, tbFiles[1])), tbFiles[1]);
  assert.equal(imgs.map((x) => `${x.step}:${x.values[0].tag}`), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].flatMap((st) => [1, 2].map((k) => `${st}:samples/validation_${k}`)),
    'each epoch\'s sample panels once (2 validation images)');
  const img = imgs[0].values[0].image!;
  assert.equal([img.height, img.width], [16, 5 * 32 + 4 * 2], 'input | prediction | ground truth | errors | overlay side by side');
  assert.equal(Array.from(img.png.subarray(1, 4)), [0x50, 0x4e, 0x47], 'PNG');
  const ev = readEventFile(readFileSync(join(savedir, tbFiles[0])), tbFiles[0]);
  assert.is(ev[0].fileVersion, 'brain.Event:2');
  const scalar = (tag: string) => ev.filter((x) => x.values[0]?.tag === tag).map((x) => [x.step, x.values[0].simpleValue]);
  assert.equal(scalar('loss/train'), s.history.map((h) => [h.epoch, Math.fround(h.trainLoss)]));
  assert.equal(scalar('miou/val'), s.history.map((h) => [h.epoch, Math.fround(h.valMiou)]));
  assert.equal(scalar('lr/model'), s.history.map((h) => [h.epoch, Math.fround(h.lr.model)]));
  assert.equal(scalar('iou_per_class/road'), s.history.map((h) => [h.epoch, Math.fround(h.valClassIou![0])]));
  assert.is(scalar('iou_per_class/bicycle').length, 12);
  assert.is(scalar('iou_per_class/void').length, 0, 'the ignore class has no IoU');
  assert.is(scalar('memory/gpu_pool_peak_bytes').length, 12);
  assert.ok(ev.slice(1).every((x, i, a) => i === 0 || x.wallTime >= a[i - 1].wallTime), 'wall times in order');
  // a run from before records held times and per-class IoU: durations summed, no per-class tags
  const old = tensorboardEvents(s.history.map(({ time: _t, valClassIou: _v, ...h }) => h), ['road']);
  assert.is(old.start, 0);
  assert.ok(old.events.every((x) => !x.tag.startsWith('iou_per_class/')));
  // the same run again is refused: it would replace the first
  await train({ model: 'erfnet', height: 16, epochs: 1, trainSize: 2, valSize: 2, batchSize: 2 }, { savedir, engine: e })
    .then(() => assert.unreachable('a second run into the savedir must be refused'), (err: Error) =>
      assert.match(err.message, /already holds a run of erfnet at epoch 12 of 12, best val mIoU \d+\.\d\d; pass --resume to continue it, --overwrite to replace it/));
});

t('the trainer with NVIDIA\'s augmentations: random crops of another size, jitter, blur, class-uniform items; clear refusals', async () => {
  const e = getEngine();
  const flags = { model: 'erfnet', height: 16, width: 32, cropSize: '16x8', scaleCrop: '0.5,2', colorAug: 0.25, gblur: true, classUniformPct: 0.5,
    epochs: 1, trainSize: 4, valSize: 2, batchSize: 2, classWeights: 'none' };
  const s = await train(flags, { savedir: join(dir, 'crops'), engine: e });
  assert.is(s.history.length, 1);
  assert.ok(Number.isFinite(s.history[0].trainLoss));
  await train({ ...flags, distort: true }, { savedir: join(dir, 'crops3'), engine: e })
    .then(() => assert.unreachable('crops with distortion must be refused'), (err: Error) =>
      assert.match(err.message, /--crop-size 16x8 with heat distortion/));
});

// --precision f16: the same run as the f32 tiled one but with f16 GEMM operands and loss scaling; the
// losses agree to f16 rounding, the scale is logged and checkpointed, a resume may change precision
t('the trainer with --precision f16: losses as f32\'s to rounding, the loss scale in log.csv and the checkpoint; refusals', async () => {
  const e = getEngine();
  if (!e.device.features.has('shader-f16')) { console.log('  (no shader-f16: skipped)'); return; }
  const flags = { model: 'erfnet', height: 16, epochs: 2, trainSize: 8, valSize: 2, batchSize: 4, classWeights: 'none' };
  const was = e.kernelFamily;
  e.kernelFamily = 'tiled';                    // the f32 twin on the same GEMM kernel
  let f32: Awaited<ReturnType<typeof train>>;
  try { f32 = await train(flags, { savedir: join(dir, 'f32'), engine: e }); } finally { e.kernelFamily = was; }
  const f16 = await train({ ...flags, precision: 'f16' }, { savedir: join(dir, 'f16'), engine: e });
  assert.is(e.precision, 'f32', 'the engine is back at f32 after the run');
  // from 2¹⁶ the scale halves once per skipped step (an f16 overflow) and would grow only after 2000 good steps
  let skipped = 0;
  f16.history.forEach((h, i) => {
    const want = f32.history[i].trainLoss;
    assert.ok(Math.abs(h.trainLoss - want) < 0.01 * want && h.trainLoss !== want, `epoch ${i + 1}: f16 loss ${h.trainLoss} vs f32 ${want}`);
    skipped += h.trainExtras.skipped_steps;
    assert.is(h.trainExtras.loss_scale, 65536 / 2 ** skipped, `epoch ${i + 1}: scale ${h.trainExtras.loss_scale} after ${skipped} skips`);
  });
  assert.ok(skipped <= 2, `${skipped} of 4 steps skipped`);
  const csv = readFileSync(join(dir, 'f16', 'log.csv'), 'utf8').split('\n')[0];
  assert.ok(csv.includes('train_loss_scale') && csv.includes('train_skipped_steps'), csv);
  const meta = readWeights(join(dir, 'f16', 'checkpoint.safetensors')).meta;
  const ls = JSON.parse(meta.loss_scale);
  assert.equal(ls, { scale: 65536 / 2 ** skipped, goodSteps: ls.goodSteps, skipped });
  assert.ok(ls.goodSteps >= 1 && ls.goodSteps <= 4 - skipped, `good steps since the last skip: ${ls.goodSteps}`);
  assert.is(JSON.parse(meta.run).precision, 'f16');
  // a resume may switch precision (it changes how, not what, the run trains)
  const more = await train({ ...flags, epochs: 3, precision: 'f32' }, { savedir: join(dir, 'f16'), engine: e, resume: true });
  assert.is(more.history.length, 3);
  assert.is(more.history[2].trainExtras.loss_scale, undefined);
  // the feedback system's several backward passes per step all start from the scale
  const fb = await train({ model: 'feedback', height: 16, epochs: 1, trainSize: 2, valSize: 2, batchSize: 2, precision: 'f16', options: { 'unet-width': 1, 'unet-depth': 3, iterations: 2 } },
    { savedir: join(dir, 'f16-feedback'), engine: e });
  assert.ok(Number.isFinite(fb.history[0].trainLoss) && fb.history[0].trainExtras.loss_scale > 0, JSON.stringify(fb.history[0].trainExtras));
  assert.throws(() => lossScalerFor({ lossScaling: false } as unknown as System, {}, 'f16', 'inference'), /--precision f16: inference's training step does not scale its losses/);
  assert.is(e.precision, 'f32');
  assert.throws(() => newConfig({ precision: 'f8' as 'f16' }), /--precision f8: expected f32 or f16/);
});

t.run();
