// mirage train --model feedback: restoration U-Net + ERFNet with spatial feedback (seed-specs §1.5),
// on clean data distorted on the fly by the simulator (validation distortions fixed by seed).
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getEngine } from '../engine/engine.js';
import { Module } from '../engine/module.js';
import { Rng } from '../engine/rng.js';
import { keep, scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { classWeights } from '../data/class-weights.js';
import { parseDataSpec } from '../data/datasets.js';
import { Loader } from '../data/loader.js';
import { expectModel, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { ERFNet } from '../models/erfnet.js';
import { RestorationUNet } from '../models/restoration-unet.js';
import { Adam } from '../optim/adam.js';
import { PolyLR, StepLR } from '../optim/lr-scheduler.js';
import { type TurbulenceParams, TurbulenceSimulator, sampleSeed } from '../sim/turbulence.js';
import { FeedbackSystem, type SegLoss, cbWeights } from '../train/feedback.js';
import { IouEval } from '../train/iou.js';
import { iouTable, openSplits, startEngine } from './common.js';
import type { TrainSummary } from './train.js';
import { plotCurves } from './plot.js';
import { Progress } from './progress.js';

/** Both networks under one module, so one state dict holds 'restore.*' and 'seg.*'. */
export class FeedbackModel extends Module {
  constructor(readonly restore: RestorationUNet, readonly seg: ERFNet) { super(); }
}

export interface FeedbackTrainArgs extends TurbulenceParams {
  data: string; height: number; width?: number; epochs: number; batchSize: number; savedir: string; seed: number;
  trainSize: number; valSize: number; resume: boolean; stepsLoss: number; classWeights: string;
  loss: SegLoss; feedback: boolean; endToEnd: boolean; iterations: number; unetDepth: number; unetWidth: number;
  lrSeg: number; lrRestore: number; weightDecay: number; flip: boolean; translate: number;
  /** ERFNet's schedule: 'step' ×0.99 per epoch (the SFL reference) or 'poly' (the ERFNet recipe). */
  segSchedule?: 'step' | 'poly';
  /** Scale of the feedback branch's output added to the bottleneck (reference 0.001). */
  feedbackScale?: number;
}

export async function trainFeedback(a: FeedbackTrainArgs): Promise<TrainSummary> {
  parseDataSpec(a.data);                          // a bad --data fails before anything is created
  mkdirSync(a.savedir, { recursive: true });
  const t0 = performance.now();
  const { engine, close } = await startEngine(a.seed);
  try {
    const { trainDs, valDs } = openSplits(a);
    const trainLoader = new Loader(trainDs, { batchSize: a.batchSize, height: a.height, width: a.width, shuffle: true, seed: a.seed,
      augment: { flip: a.flip, translate: a.translate } });
    const valLoader = new Loader(valDs, { batchSize: a.batchSize, height: a.height, width: trainLoader.width });
    const sim = new TurbulenceSimulator(trainLoader.height, trainLoader.width, a);
    const p = sim.params;
    console.log(`train ${trainDs.name}: ${trainDs.length} images → ${trainLoader.width}x${trainLoader.height}; val ${valDs.length}`);
    console.log(`distortion on the fly: σ ${p.sigma.toFixed(2)} px, correlation 0.5 at ${p.corrLength.toFixed(1)} px (${p.mode})` +
      (p.blur ? `, blur up to σ ${p.blur} px` : ''));
    const base = await classWeights(a.classWeights, new Loader(trainDs, { batchSize: a.batchSize, height: a.height, width: trainLoader.width }), false);
    const w = base && (a.loss === 'cbifl' ? cbWeights(base) : base);
    const weight = w ? keep(tensor(w, [w.length])) : null;
    const fbScale = a.feedbackScale ?? 0.001;
    if (!(fbScale >= 0 && Number.isFinite(fbScale))) throw new Error(`--feedback-scale ${a.feedbackScale}: must be a finite number ≥ 0`);
    const unet = new RestorationUNet({ depth: a.unetDepth, wf: a.unetWidth, numClasses: trainDs.numClasses, feedbackScale: fbScale, rng: new Rng(a.seed) });
    const seg = new ERFNet({ numClasses: trainDs.numClasses, encoderOutputConv: false, rng: new Rng(a.seed + 1) });
    const model = new FeedbackModel(unet, seg);
    const sys = new FeedbackSystem(unet, seg, { ignoreIndex: trainDs.ignoreIndex, loss: a.loss, feedback: a.feedback,
      endToEnd: a.endToEnd, iterations: a.iterations, gammas: [0, 0.1, 0.2, 0.3, 0.4, 0.5].slice(0, Math.max(3, a.iterations)) });
    const opt = { restore: new Adam(unet.parameters(), { lr: a.lrRestore }), seg: new Adam(seg.parameters(), { lr: a.lrSeg, weightDecay: a.weightDecay }) };
    const schedR = new StepLR(opt.restore, 30, 0.5);
    const schedS = a.segSchedule === 'poly' ? new PolyLR(opt.seg, a.epochs, 0.9) : new StepLR(opt.seg, 1, 0.99);
    const variant = `feedback(${a.feedback ? `on ×${fbScale}` : 'off'}, ${a.loss}${a.endToEnd ? ', end-to-end' : ''}, U-Net depth ${a.unetDepth} wf ${a.unetWidth})`;
    console.log(`${variant}: U-Net ${unet.numParameters().toLocaleString('en')} parameters, ERFNet ${seg.numParameters().toLocaleString('en')}`);
    const last = join(a.savedir, 'checkpoint.safetensors'), bestPath = join(a.savedir, 'model_best.safetensors');
    const logPath = join(a.savedir, 'log.csv');
    let start = 0, best = -1;
    const hist: number[][] = [];
    if (a.resume) {
      if (!existsSync(last)) throw new Error(`--resume: no checkpoint at ${last}`);
      const ck = loadCheckpoint(last);
      expectModel(last, ck, 'feedback', trainDs.numClasses);
      model.loadStateDict(ck.model);
      start = Number(ck.meta.epoch ?? 0); best = Number(ck.meta.best_miou ?? -1);
      console.log(`resumed from ${last} after epoch ${start} (optimizer moments restart)`);
    } else {
      writeFileSync(logPath, `epoch,seg_loss,l1,${Array.from({ length: a.iterations }, (_, k) => `val_miou_it${k + 1}`).join(',')},val_l1,seconds\n`);
    }
    const upload = (b: { x: Float32Array; y: Int32Array; n: number; height: number; width: number }) =>
      [tensor(b.x, [b.n, 3, b.height, b.width]), tensor(b.y, [b.n, b.height, b.width], { dtype: 'i32' })];
    for (let e = start; e < a.epochs; e++) {
      schedR.setEpoch(e); schedS.setEpoch(e);
      model.train();
      const bar = new Progress(`epoch ${e + 1}/${a.epochs} train`, trainDs.length);
      let n = 0, k = 0, segSum = 0, l1Sum = 0;
      const inFlight: Promise<void>[] = [];
      for await (const b of trainLoader.epoch(e)) {
        const [clean, labels] = upload(b);
        const [segL, l1L] = scope(() => {
          const turb = sim.distort(clean, sampleSeed(a.seed, e * 100003 + k)).image;
          const o = sys.run(turb, clean, labels, weight, opt);
          return [o.seg!, o.l1[o.l1.length - 1]];
        });
        clean.dispose(); labels.dispose();
        n += b.n; k++;
        inFlight.push(getEngine().fence());
        if (inFlight.length > 2) await inFlight.shift();
        if (k % a.stepsLoss === 0 || n === trainDs.length) {
          segSum += await segL.item(); l1Sum += await l1L.item();
          bar.update(n, n, `seg ${(segSum / Math.ceil(k / a.stepsLoss)).toFixed(4)} L1 ${(l1Sum / Math.ceil(k / a.stepsLoss)).toFixed(4)}`);
        } else bar.update(n, n);
        segL.dispose(); l1L.dispose();
      }
      const secs = bar.done();
      // validation: the unrolled loop without updates (the reference keeps the U-Net's BN in train mode; we use eval)
      model.eval();
      const meters = Array.from({ length: a.iterations }, () => new IouEval(valDs.numClasses, valDs.ignoreIndex));
      let vi = 0, vl1 = 0, vb = 0;
      for await (const b of valLoader.epoch(0)) {
        const [clean, labels] = upload(b);
        const l1 = scope(() => {
          const turb = sim.distort(clean, sampleSeed(a.seed + 7777, vi)).image;
          const o = sys.run(turb, clean, null, null);
          o.logits.forEach((lg, it) => meters[it].add(lg, labels));
          return o.l1[o.l1.length - 1];
        });
        vl1 += await l1.item(); vb++;
        l1.dispose(); clean.dispose(); labels.dispose();
        vi += b.n;
      }
      const res = await Promise.all(meters.map((m) => m.result()));
      meters.forEach((m) => m.dispose());
      const mious = res.map((r) => r.miou), final = mious[mious.length - 1];
      console.log(`epoch ${e + 1} val mIoU per iteration: ${mious.map((v) => (100 * v).toFixed(2)).join(' → ')}; val L1 ${(vl1 / vb).toFixed(4)}`);
      appendFileSync(logPath, [e + 1, segSum / Math.max(1, Math.ceil(k / a.stepsLoss)), l1Sum / Math.max(1, Math.ceil(k / a.stepsLoss)),
        ...mious, vl1 / vb, secs.toFixed(1)].join(',') + '\n');
      hist.push(mious);
      const meta = { model: 'feedback', classes: trainDs.numClasses, height: a.height, width: trainLoader.width, epoch: e + 1,
        miou: final, best_miou: Math.max(best, final), unet_depth: a.unetDepth, unet_wf: a.unetWidth, loss: a.loss,
        feedback: String(a.feedback), feedback_scale: fbScale, end_to_end: String(a.endToEnd), sigma: p.sigma, corr_length: p.corrLength, blur: p.blur };
      await saveCheckpoint(last, model, meta);
      if (final > best) { best = final; await saveCheckpoint(bestPath, model, meta); console.log(`new best val mIoU ${(100 * final).toFixed(2)} → ${bestPath}`); }
      plotCurves(join(a.savedir, 'curves.png'), Array.from({ length: a.iterations }, (_, it) => ({
        name: `VAL MIOU IT${it + 1}`, values: hist.map((h) => h[it]), color: [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]][it % 4] as [number, number, number], axis: 'right' as const,
      })));
      if (e === a.epochs - 1) console.log(`val IoU, last feedback iteration:\n${iouTable(res[res.length - 1], valDs.classNames, valDs.ignoreIndex)}`);
    }
    console.log(`best val mIoU ${(100 * best).toFixed(2)}; log ${logPath}; peak GPU pool ${(engine.pool.bytesPeak / 2 ** 20).toFixed(1)} MiB`);
    opt.restore.dispose(); opt.seg.dispose(); model.dispose(); weight?.dispose(); sim.dispose();
    const bestEpoch = hist.reduce((bi, h, i) => (h[h.length - 1] > hist[bi][hist[bi].length - 1] ? i : bi), 0);
    return { bestMiou: best, perIteration: hist[bestEpoch], seconds: (performance.now() - t0) / 1000, savedir: a.savedir };
  } finally {
    close();
  }
}
