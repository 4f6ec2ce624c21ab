// mirage train: ERFNet on synthetic / Cityscapes / CamVid / folder data, with the reference recipe
// (Adam 5e-4, weight decay 1e-4, poly 0.9 per epoch, weighted cross-entropy, flip + translate).
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backward, noGrad } from '../engine/autograd.js';
import { getEngine } from '../engine/engine.js';
import { Rng } from '../engine/rng.js';
import { keep, scope } from '../engine/scope.js';
import { type Tensor, tensor, zeros } from '../engine/tensor.js';
import { classWeights } from '../data/class-weights.js';
import { type SegDataset, parseDataSpec } from '../data/datasets.js';
import { Loader } from '../data/loader.js';
import { add } from '../kernels/elementwise.js';
import { crossEntropy } from '../kernels/losses.js';
import { expectModel, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { ERFNet } from '../models/erfnet.js';
import { Adam } from '../optim/adam.js';
import { PolyLR } from '../optim/lr-scheduler.js';
import { IouEval, type IouResult } from '../train/iou.js';
import { TurbulenceSimulator, sampleSeed } from '../sim/turbulence.js';
import { iouTable, openSplits, readWeights, startEngine, subDict } from './common.js';
import { plotCurves } from './plot.js';
import { Progress, fmtTime } from './progress.js';

export interface TrainArgs {
  model: string; data: string; height: number; width?: number; epochs: number; batchSize: number; lr: number;
  weightDecay: number; savedir: string; pretrainedEncoder?: string; encoderOnly: boolean; stepsLoss: number;
  iouTrain: boolean; resume: boolean; seed: number; classWeights: string; trainSize: number; valSize: number;
  flip: boolean; translate: number; scaleCrop?: string; distort?: boolean;
  sigma?: number; corrLength?: number; anisotropy?: number; blur?: number; cn2?: number; pathLength?: number; focalLength?: number;
  aperture?: number; pixelPitch?: number; wavelength?: number;
}

interface EpochResult { loss: number; iou: IouResult | null; images: number; seconds: number }

async function runEpoch(net: ERFNet, loader: Loader, o: { train: boolean; encoderOnly: boolean; weight: Tensor | null;
  opt?: Adam; iou: boolean; stepsLoss: number; label: string; epoch: number;
  distort?: (x: Tensor, batch: number) => Tensor }): Promise<EpochResult> {
  const ds = loader.ds;
  const meter = o.iou ? new IouEval(ds.numClasses, ds.ignoreIndex) : null;
  let lossSum = keep(zeros([]));
  let images = 0, steps = 0;
  const bar = new Progress(o.label, loader.batches() * loader.o.batchSize);
  const inFlight: Promise<void>[] = [];
  net.train(o.train);
  try {
    for await (const b of loader.epoch(o.epoch)) {
      const x = tensor(b.x, [b.n, 3, b.height, b.width]);
      const y = tensor(b.y, [b.n, b.labelHeight, b.labelWidth], { dtype: 'i32' });
      const batchIndex = steps;
      const step = () => {
        const logits = net.forward(o.distort ? o.distort(x, batchIndex) : x, o.encoderOnly);
        const loss = crossEntropy(logits, y, { weight: o.weight, ignoreIndex: ds.ignoreIndex });
        meter?.add(logits, y).dispose();
        if (o.train) { backward(loss); o.opt!.step(); o.opt!.zeroGrad(); }
        return keep(noGrad(() => add(lossSum, loss)));
      };
      const next = scope(() => (o.train ? step() : noGrad(step)));
      lossSum.dispose();
      lossSum = next;
      x.dispose(); y.dispose();
      images += b.n; steps++;
      inFlight.push(getEngine().fence());              // at most two steps queued on the GPU
      if (inFlight.length > 2) await inFlight.shift();
      if (steps % o.stepsLoss === 0 || steps === loader.batches()) {
        bar.update(images, images, `loss ${((await lossSum.item()) / steps).toFixed(4)}`);
      } else bar.update(images, images);
    }
    const loss = (await lossSum.item()) / Math.max(1, steps);
    const iou = meter ? await meter.result() : null;
    const seconds = bar.done(`loss ${loss.toFixed(4)}${iou ? ` mIoU ${(100 * iou.miou).toFixed(2)}` : ''}`);
    return { loss, iou, images, seconds };
  } finally {
    lossSum.dispose();
    meter?.dispose();
  }
}

function describe(ds: SegDataset, loader: Loader): string {
  return `${ds.name}: ${ds.length} images → ${loader.width}x${loader.height}, ${ds.numClasses} classes (ignore ${ds.ignoreIndex})`;
}

export interface TrainSummary { bestMiou: number; perIteration?: number[]; seconds: number; savedir: string }

export async function train(a: TrainArgs): Promise<TrainSummary> {
  if (a.model !== 'erfnet') throw new Error(`--model ${a.model}: expected erfnet or feedback`);
  if (!(a.epochs >= 1)) throw new Error(`--epochs must be ≥ 1, got ${a.epochs}`);
  if (!(a.lr > 0)) throw new Error(`--lr must be > 0, got ${a.lr}`);
  if (!(a.stepsLoss >= 1)) throw new Error(`--steps-loss must be ≥ 1, got ${a.stepsLoss}`);
  const scale = a.scaleCrop ? a.scaleCrop.split(',').map(Number) as [number, number] : undefined;
  if (scale && (scale.length !== 2 || !scale.every((v) => v > 0) || scale[0] > scale[1])) {
    throw new Error(`--scale-crop ${a.scaleCrop}: expected "lo,hi" with 0 < lo ≤ hi, e.g. 0.75,1.5`);
  }
  parseDataSpec(a.data);                          // a bad --data fails before anything is created
  mkdirSync(a.savedir, { recursive: true });
  const t0 = performance.now();
  const { engine, close } = await startEngine(a.seed);
  try {
    const { trainDs, valDs } = openSplits(a);
    const down = a.encoderOnly ? 8 : 1;
    const trainLoader = new Loader(trainDs, { batchSize: a.batchSize, height: a.height, width: a.width, shuffle: true, seed: a.seed,
      labelDownscale: down, augment: { flip: a.flip, translate: a.translate, scale } });
    const valLoader = new Loader(valDs, { batchSize: a.batchSize, height: a.height, width: trainLoader.width, labelDownscale: down });
    console.log(`train  ${describe(trainDs, trainLoader)}\nval    ${describe(valDs, valLoader)}`);
    console.log(`adapter ${engine.device.adapterInfo?.description ?? ''} | stage ${a.encoderOnly ? 'encoder (1/8 labels)' : 'full'}`);

    const plain = new Loader(trainDs, { batchSize: a.batchSize, height: a.height, width: trainLoader.width, labelDownscale: down });
    const hist = new Progress('class weights', plain.batches(), 'batch');
    const w = await classWeights(a.classWeights, plain, a.encoderOnly, (d) => hist.update(d, d));
    if (a.classWeights === 'enet') hist.done();
    if (w) console.log(`class weights (${a.classWeights}): ${[...w].map((v) => v.toFixed(2)).join(' ')}`);
    const weight = w ? keep(tensor(w, [w.length])) : null;

    const net = new ERFNet({ numClasses: trainDs.numClasses, rng: new Rng(a.seed) });
    const modelName = a.encoderOnly ? 'erfnet-encoder' : 'erfnet';
    if (a.pretrainedEncoder) {
      const { tensors } = readWeights(a.pretrainedEncoder);
      const enc = subDict(tensors, 'encoder');
      if (!enc.size) throw new Error(`--pretrained-encoder ${a.pretrainedEncoder}: no 'encoder.*' tensors in the file`);
      net.encoder.loadStateDict(enc, false);
      console.log(`encoder initialised from ${a.pretrainedEncoder} (${enc.size} tensors)`);
    }
    const params = a.encoderOnly ? net.encoder.parameters() : net.parameters();
    const opt = new Adam(params, { lr: a.lr, weightDecay: a.weightDecay });
    const sched = new PolyLR(opt, a.epochs, 0.9);
    const last = join(a.savedir, 'checkpoint.safetensors'), bestPath = join(a.savedir, 'model_best.safetensors');
    const logPath = join(a.savedir, 'log.csv');
    const sim = a.distort ? new TurbulenceSimulator(trainLoader.height, trainLoader.width, a) : null;
    if (sim) console.log(`heat distortion on the fly: σ ${sim.params.sigma.toFixed(2)} px, correlation 0.5 at ${sim.params.corrLength.toFixed(1)} px` +
      (sim.params.blur ? `, blur up to σ ${sim.params.blur} px` : ''));
    const distortTrain = sim ? (e: number) => (x: Tensor, k: number) => sim.distort(x, sampleSeed(a.seed, e * 100003 + k)).image : () => undefined;
    const distortVal = sim ? (x: Tensor, k: number) => sim.distort(x, sampleSeed(a.seed + 7777, k)).image : undefined;
    let start = 0, best = -1;
    const history: { train: number; val: number; trainIou: number; valIou: number }[] = [];
    if (a.resume) {
      if (!existsSync(last)) throw new Error(`--resume: no checkpoint at ${last}`);
      const ck = loadCheckpoint(last);
      expectModel(last, ck, modelName, trainDs.numClasses);
      net.loadStateDict(ck.model);
      opt.loadState(ck.optimizer, Number(ck.meta.optimizer_steps ?? 0));
      start = Number(ck.meta.epoch ?? 0);
      best = Number(ck.meta.best_miou ?? -1);
      console.log(`resumed from ${last} after epoch ${start} (best val mIoU ${(100 * best).toFixed(2)})`);
    } else {
      writeFileSync(logPath, 'epoch,train_loss,val_loss,train_miou,val_miou,lr,train_seconds,train_images_per_s\n');
    }
    for (let e = start; e < a.epochs; e++) {
      sched.setEpoch(e);
      const tr = await runEpoch(net, trainLoader, { train: true, encoderOnly: a.encoderOnly, weight, opt, iou: a.iouTrain,
        stepsLoss: a.stepsLoss, label: `epoch ${e + 1}/${a.epochs} train`, epoch: e, distort: distortTrain(e) });
      const va = await runEpoch(net, valLoader, { train: false, encoderOnly: a.encoderOnly, weight, iou: true, stepsLoss: a.stepsLoss,
        label: `epoch ${e + 1}/${a.epochs} val  `, epoch: 0, distort: distortVal });
      const valIou = va.iou!.miou;
      appendFileSync(logPath, [e + 1, tr.loss, va.loss, tr.iou?.miou ?? '', valIou, opt.lr, tr.seconds.toFixed(1),
        (tr.images / tr.seconds).toFixed(3)].join(',') + '\n');
      history.push({ train: tr.loss, val: va.loss, trainIou: tr.iou?.miou ?? NaN, valIou });
      const meta = { model: modelName, classes: trainDs.numClasses, distorted: sim ? `sigma ${sim.params.sigma} corr ${sim.params.corrLength} blur ${sim.params.blur}` : 'no', height: a.height, width: trainLoader.width, epoch: e + 1,
        miou: valIou, best_miou: Math.max(best, valIou), data: a.data, class_names: trainDs.classNames.join('|') };
      await saveCheckpoint(last, net, meta, opt);
      if (valIou > best) {
        best = valIou;
        await saveCheckpoint(bestPath, net, meta);
        console.log(`new best val mIoU ${(100 * valIou).toFixed(2)} → ${bestPath}`);
      }
      plotCurves(join(a.savedir, 'curves.png'), [
        { name: 'TRAIN LOSS', values: history.map((h) => h.train), color: [31, 119, 180], axis: 'left' },
        { name: 'VAL LOSS', values: history.map((h) => h.val), color: [255, 127, 14], axis: 'left' },
        { name: 'VAL MIOU', values: history.map((h) => h.valIou), color: [44, 160, 44], axis: 'right' },
      ]);
      if (e === a.epochs - 1) console.log(`val IoU after epoch ${e + 1}:\n${iouTable(va.iou!, valDs.classNames, valDs.ignoreIndex)}`);
    }
    console.log(`best val mIoU ${(100 * best).toFixed(2)}; log ${logPath}, curves ${join(a.savedir, 'curves.png')}, ` +
      `peak GPU pool ${(engine.pool.bytesPeak / 2 ** 20).toFixed(1)} MiB, ${fmtTime(performance.now() / 1000)} since start`);
    opt.dispose(); net.dispose(); weight?.dispose(); sim?.dispose();
    return { bestMiou: best, seconds: (performance.now() - t0) / 1000, savedir: a.savedir };
  } finally {
    close();
  }
}
