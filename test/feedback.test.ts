import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getEngine } from '../src/engine/engine.js';
import { Rng } from '../src/engine/rng.js';
import { keep, scope } from '../src/engine/scope.js';
import { type Tensor, tensor } from '../src/engine/tensor.js';
import { scale } from '../src/kernels/elementwise.js';
import { SGD } from '../src/optim/sgd.js';
import { close } from './helpers/check.js';
import { ERFNET_WEIGHTS } from '../src/data/classes.js';
import { syntheticScene } from '../src/data/synthetic.js';
import { ERFNet } from '../src/models/erfnet.js';
import { RestorationUNet } from '../src/models/restoration-unet.js';
import { Adam } from '../src/optim/adam.js';
import { TurbulenceSimulator } from '../src/sim/turbulence.js';
import { FeedbackSystem, cbWeights } from '../src/train/feedback.js';
import { inverseField } from '../src/sim/inverse.js';
import { flowEpeSum } from '../src/kernels/restoration-metrics.js';
import { buildForTraining, getModel, resolveOptions } from '../src/models/registry.js';

const t = suite('feedback');

t('CB-iFL class weights from effective numbers match seed-specs §1.6', () => {
  const w = cbWeights(ERFNET_WEIGHTS.decoder);
  const want: [number, number][] = [[0, 0.02820], [1, 0.06990], [2, 0.03794], [3, 0.09947], [8, 0.04637], [10, 0.07874],
    [13, 0.06666], [17, 0.10410], [19, 0]];
  for (const [c, v] of want) assert.ok(Math.abs(w[c] - v) < 5e-5, `class ${c}: ${w[c]} vs ${v}`);
});

async function setup(H: number, W: number) {
  const scenes = [0, 1].map((i) => syntheticScene(5, i, W, H));
  const clean = tensor(Float32Array.from(scenes.flatMap((s) => [...s.image])), [2, 3, H, W]);
  const labels = tensor(Int32Array.from(scenes.flatMap((s) => [...s.label])), [2, H, W], { dtype: 'i32' });
  const sim = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 4 });
  const { image: turb, field } = sim.distort(clean, 11);
  field.dispose(); sim.dispose();
  return { clean, labels, turb };
}

const snapshot = async (ts: { read(): Promise<ArrayLike<number>> }[]) => Promise.all(ts.map(async (x) => Float64Array.from(await x.read())));
const changed = (a: Float64Array[], b: Float64Array[]) => a.some((x, i) => x.some((v, j) => v !== b[i][j]));

t('feedback training steps: both networks update, losses finite, pool live bytes constant', async () => {
  const e = getEngine();
  const { clean, labels, turb } = await setup(16, 32);
  const unet = new RestorationUNet({ depth: 3, wf: 2, rng: new Rng(1) });
  const seg = new ERFNet({ rng: new Rng(2) });
  const weight = tensor(cbWeights(ERFNET_WEIGHTS.decoder), [20]);
  const sys = new FeedbackSystem(unet, seg, { ignoreIndex: 19, loss: 'cbifl' });
  const opt = { restore: new Adam(unet.parameters(), { lr: 2e-4 }), seg: new Adam(seg.parameters(), { lr: 5e-4, weightDecay: 2e-4 }) };
  const u0 = await snapshot([unet.last.weight]), s0 = await snapshot([seg.decoder.output_conv.weight]);
  let live = -1;
  for (let step = 0; step < 3; step++) {
    const [l1, sl] = await (async () => {
      const r = scope(() => { const o = sys.run(turb, clean, labels, weight, opt); return [o.l1[2], o.seg!]; });
      const v = [await r[0].item(), await r[1].item()];
      r.forEach((x) => x.dispose());
      return v;
    })();
    assert.ok(Number.isFinite(l1) && Number.isFinite(sl) && sl > 0, `losses ${l1} ${sl}`);
    if (step === 0) live = e.pool.bytesLive; else assert.is(e.pool.bytesLive, live, `leak at step ${step}`);
  }
  assert.ok(changed(u0, await snapshot([unet.last.weight])), 'U-Net updated');
  assert.ok(changed(s0, await snapshot([seg.decoder.output_conv.weight])), 'ERFNet updated');
  // evaluation: three iterations of logits, no update
  const before = await snapshot([seg.decoder.output_conv.weight]);
  const n = scope(() => sys.run(turb, null, null, null).logits.length);
  assert.is(n, 3);
  assert.equal(await snapshot([seg.decoder.output_conv.weight]), before);
  opt.restore.dispose(); opt.seg.dispose(); unet.dispose(); seg.dispose();
  for (const x of [clean, labels, turb, weight]) x.dispose();
});

t('backward per iteration: the same ERFNet gradients as one backward of the summed losses, a lower peak', async () => {
  const e = getEngine();
  const unet = new RestorationUNet({ depth: 3, wf: 2, rng: new Rng(5) });
  const seg = new ERFNet({ rng: new Rng(6) });
  unet.eval(); seg.eval();   // no dropout, no running-stat updates; lr 0: both runs see the same networks
  const run = async (H: number, W: number, backwardPerIteration: boolean, record: boolean) => {
    const { clean, labels, turb } = await setup(H, W);
    const sys = new FeedbackSystem(unet, seg, { ignoreIndex: 19, loss: 'cbifl', backwardPerIteration });
    const got: Tensor[] = [];
    const segOpt = new (class extends SGD {
      override step(): void { if (record) for (const p of this.params) if (p.grad) got.push(keep(scale(p.grad, 1))); }
    })(seg.parameters(), { lr: 0 });
    const opt = { restore: new SGD(unet.parameters(), { lr: 0 }), seg: segOpt };
    const base = e.pool.bytesLive;
    e.pool.resetPeak();
    scope(() => { sys.run(turb, clean, labels, null, opt); });
    const peak = e.pool.bytesPeak - base;
    const grads = await snapshot(got);
    got.forEach((g) => g.dispose());
    opt.restore.dispose(); segOpt.dispose();
    for (const x of [clean, labels, turb]) x.dispose();
    return { grads, peak };
  };
  const split = await run(16, 32, true, true), joint = await run(16, 32, false, true);
  assert.is(split.grads.length, joint.grads.length);
  split.grads.forEach((g, i) => close(g, joint.grads[i], { rtol: 1e-4, atol: 1e-6 }, `gradient ${i}`));
  // at 48×96 the iterations' activations outweigh the gradients: one iteration's at a time
  const [p1, p3] = [(await run(48, 96, true, false)).peak, (await run(48, 96, false, false)).peak];
  assert.ok(p1 < 0.85 * p3, `peak ${(p1 / 2 ** 20).toFixed(1)} MiB with a backward per iteration, ${(p3 / 2 ** 20).toFixed(1)} MiB with one`);
  unet.dispose(); seg.dispose();
});

t('end-to-end variant: the segmentation loss reaches the U-Net through the warp (the detached one does not)', async () => {
  const { clean, labels, turb } = await setup(16, 32);
  for (const endToEnd of [false, true]) {
    const unet = new RestorationUNet({ depth: 3, wf: 2, rng: new Rng(3) });
    const seg = new ERFNet({ rng: new Rng(4) });
    const sys = new FeedbackSystem(unet, seg, { ignoreIndex: 19, loss: 'ce', endToEnd });
    const opt = { restore: new Adam(unet.parameters(), { lr: 1e-3 }), seg: new Adam(seg.parameters(), { lr: 1e-3 }) };
    const u0 = await snapshot([unet.last.weight, unet.down_path[0].block[0].parameters()[0]]);
    scope(() => { sys.run(turb, null, labels, null, opt); });           // no L1 target: only the seg loss can move the U-Net
    const moved = changed(u0, await snapshot([unet.last.weight, unet.down_path[0].block[0].parameters()[0]]));
    assert.is(moved, endToEnd, `endToEnd=${endToEnd}: U-Net ${moved ? 'moved' : 'did not move'}`);
    opt.restore.dispose(); opt.seg.dispose(); unet.dispose(); seg.dispose();
  }
  for (const x of [clean, labels, turb]) x.dispose();
});
t('flow supervision: the U-Net learns the exact inverse field faster than from photometric L1 alone; without fields it says what is missing', async () => {
  const [H, W] = [16, 32];
  const scenes = [0, 1].map((i) => syntheticScene(5, i, W, H));
  const clean = tensor(Float32Array.from(scenes.flatMap((s) => [...s.image])), [2, 3, H, W]);
  const labels = tensor(Int32Array.from(scenes.flatMap((s) => [...s.label])), [2, H, W], { dtype: 'i32' });
  const sim = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 6 });
  const epe: number[] = [];
  for (const flowWeight of [0, 1]) {
    const unet = new RestorationUNet({ depth: 3, wf: 2, rng: new Rng(3) });
    const seg = new ERFNet({ rng: new Rng(4) });
    const sys = new FeedbackSystem(unet, seg, { ignoreIndex: 19, loss: 'ce', flowWeight, iterations: 1, gammas: [0] });
    const opt = { restore: new Adam(unet.parameters(), { lr: 3e-3 }), seg: new Adam(seg.parameters(), { lr: 1e-4 }) };
    for (let step = 0; step < 25; step++) {
      scope(() => { const d = sim.distort(clean, 100 + (step % 5)); sys.trainStep({ input: d.image, clean, labels, field: d.field }, opt); });
    }
    // flow error on held-out distortions
    const e = scope(() => {
      const d = sim.distort(clean, 999), u = inverseField(d.field), f = unet.forward(d.image).flow;
      return keep(flowEpeSum(f, u));
    });
    const v = await e.read();
    e.dispose();
    epe.push((v[0] + v[1]) / (2 * H * W));
    if (flowWeight > 0) {
      assert.throws(() => scope(() => sys.trainStep({ input: clean, clean, labels }, opt)), /--flow-loss needs the simulator's fields with each batch/);
    }
    opt.restore.dispose(); opt.seg.dispose(); unet.dispose(); seg.dispose();
  }
  assert.ok(epe[1] < 0.9 * epe[0], `held-out flow EPE: supervised ${epe[1]} vs photometric only ${epe[0]}`);
  for (const x of [clean, labels]) x.dispose();
  sim.dispose();
});

t('restoration pre-training: the first epochs step the U-Net alone on its L1 (+ flow) loss, ERFNet untouched; then the loop trains both', async () => {
  const [H, W] = [16, 32];
  const { clean, labels } = await setup(H, W);
  const sim = new TurbulenceSimulator(H, W, { sigma: 1.5, corrLength: 4 });
  const unet = new RestorationUNet({ depth: 3, wf: 2, rng: new Rng(5) });
  const seg = new ERFNet({ rng: new Rng(6) });
  const sys = new FeedbackSystem(unet, seg, { ignoreIndex: 19, loss: 'cbifl', pretrainEpochs: 2, flowWeight: 0.5 });
  const opt = { restore: new Adam(unet.parameters(), { lr: 1e-3 }), seg: new Adam(seg.parameters(), { lr: 1e-3 }) };
  const segW = () => snapshot([seg.decoder.output_conv.weight, seg.encoder.initial_block.conv.weight]), unetW = () => snapshot([unet.last.weight]);
  for (const epoch of [0, 1]) {
    sys.setEpoch(epoch);
    const s0 = await segW(), u0 = await unetW();
    const [got, want] = await (async () => {
      const r = scope(() => {
        const d = sim.distort(clean, 20 + epoch), u = inverseField(d.field);
        // the loss the step must report: the U-Net's L1 to the clean image plus 0.5 × its flow's L1 to the exact inverse, before the step
        const o = unet.forward(d.image);
        return { d, u, o };
      });
      const [rest, flow, cl, uf] = await Promise.all([r.o.restored.read(), r.o.flow.read(), clean.read(), r.u.read()]);
      const l1 = (a: ArrayLike<number>, b: ArrayLike<number>) => { let x = 0; for (let i = 0; i < a.length; i++) x += Math.abs(a[i] - b[i]); return x / a.length; };
      const expect = l1(rest, cl) + 0.5 * l1(flow, uf);
      const out = scope(() => keep(sys.trainStep({ input: r.d.image, clean, labels, field: r.d.field }, opt).loss));
      const v = await out.item();
      for (const x of [out, r.u, r.d.image, r.d.field, r.o.restored, r.o.flow]) x.dispose();
      return [v, expect];
    })();
    assert.ok(Math.abs(got - want) < 1e-4 * want, `epoch ${epoch}: pre-training loss ${got}, want ${want}`);
    assert.equal(await segW(), s0, `epoch ${epoch}: ERFNet untouched while the U-Net pre-trains`);
    assert.ok(changed(u0, await unetW()), `epoch ${epoch}: U-Net stepped`);
  }
  sys.setEpoch(2);
  const s0 = await segW();
  scope(() => { const d = sim.distort(clean, 30); sys.trainStep({ input: d.image, clean, labels, field: d.field }, opt); });
  assert.ok(changed(s0, await segW()), 'ERFNet trains after the pre-training epochs');
  opt.restore.dispose(); opt.seg.dispose(); sys.dispose(); sim.dispose();
  for (const x of [clean, labels]) x.dispose();
});

t('--segmenter: another registered network behind the U-Net (its state dict under seg.*, its multiple, counted parameters); both train; the unfit are refused', async () => {
  const spec = getModel('feedback'), ctx = { numClasses: 20, ignoreIndex: 19, weight: Float32Array.from({ length: 20 }, (_, c) => (c < 19 ? 1 + (c % 3) : 0)), seed: 1, init: true, inputSize: [32, 64] as [number, number] };
  const o = resolveOptions(spec, { 'unet-depth': 3, 'unet-width': 1, segmenter: 'bisenet-r18', iterations: 1, loss: 'ce' });
  const sys = buildForTraining(spec, o, ctx) as FeedbackSystem;
  assert.is(sys.multiple, 32, 'BiSeNet\'s multiple');
  assert.is(spec.multiple(o), 32);
  const alone = getModel('bisenet-r18').build({}, { ...ctx, weight: null });
  const sd = sys.module.stateDict(), own = alone.module.stateDict();
  assert.equal([...sd.keys()].filter((k) => k.startsWith('seg.')).map((k) => k.slice(4)).sort(), [...own.keys()].sort());
  assert.ok([...sd.keys()].every((k) => k.startsWith('seg.') || k.startsWith('restore.')));
  const count = (ps: Tensor[]) => ps.reduce((a, p) => a + p.size, 0);
  assert.is(count(sys.module.parameters()), spec.parameterCount(o, 20));
  assert.is(count(sys.groups.seg), count(alone.module.parameters()));
  alone.dispose();
  assert.equal(spec.meta(o, 20).segmenter, 'bisenet-r18');
  assert.is(spec.fromCheckpoint(new Map(), spec.meta(o, 20), 'ck').options.segmenter, 'bisenet-r18');
  assert.is(spec.fromCheckpoint(new Map(), { ...spec.meta(o, 20), segmenter: undefined as unknown as string }, 'old').options.segmenter, 'erfnet');
  // a step: the U-Net and BiSeNet both update
  const { clean, labels, turb } = await setup(32, 64);
  const opt = { restore: new Adam(sys.groups.restore, { lr: 1e-3 }), seg: new Adam(sys.groups.seg, { lr: 1e-3 }) };
  const u0 = await snapshot([sys.unet.last.weight]), s0 = await snapshot(sys.groups.seg.slice(-2));
  const loss = scope(() => keep(sys.trainStep({ input: turb, clean, labels }, opt).loss));
  assert.ok(Number.isFinite(await loss.item()));
  assert.ok(changed(u0, await snapshot([sys.unet.last.weight])), 'U-Net updated');
  assert.ok(changed(s0, await snapshot(sys.groups.seg.slice(-2))), 'BiSeNet updated');
  const ev = scope(() => sys.evalStep(turb, labels, clean).logits.map((l) => [...l.shape]));
  assert.equal(ev, [[2, 20, 32, 64]]);
  for (const x of [loss, clean, labels, turb]) x.dispose();
  opt.restore.dispose(); opt.seg.dispose(); sys.dispose();
  // refused: a model built for one input size, a model that restores by itself, an unknown name
  assert.throws(() => spec.build(resolveOptions(spec, { segmenter: 'iterative-v1' }), ctx), /--segmenter iterative-v1: is built for one input size/);
  assert.throws(() => spec.build(resolveOptions(spec, { segmenter: 'feedback' }), ctx), /--segmenter feedback: restores by itself/);
  assert.throws(() => spec.build(resolveOptions(spec, { segmenter: 'nope' }), ctx), /--model nope: unknown model/);
});

t('feedback gate: a learnable feedback_gate starting at the scale, moved by training; absent (the reference) by default', async () => {
  const { clean, labels, turb } = await setup(16, 32);
  const plain = new RestorationUNet({ depth: 3, wf: 2 });
  assert.not.ok(plain.stateDict().has('feedback_gate'));
  plain.dispose();
  const unet = new RestorationUNet({ depth: 3, wf: 2, rng: new Rng(3), feedbackGate: true, feedbackScale: 0.05 });
  assert.equal(Array.from(await unet.feedback_gate!.read()), [Math.fround(0.05)]);
  assert.ok(unet.stateDict().has('feedback_gate') && unet.parameters().includes(unet.feedback_gate!));
  const seg = new ERFNet({ rng: new Rng(4) });
  const sys = new FeedbackSystem(unet, seg, { ignoreIndex: 19, loss: 'ce' });
  const opt = { restore: new Adam(unet.parameters(), { lr: 1e-2 }), seg: new Adam(seg.parameters(), { lr: 1e-3 }) };
  for (let i = 0; i < 2; i++) scope(() => { sys.run(turb, clean, labels, null, opt); });
  const g = (await unet.feedback_gate!.read())[0];
  assert.ok(Math.abs(g - 0.05) > 1e-4, `gate ${g} after two steps`);
  opt.restore.dispose(); opt.seg.dispose(); unet.dispose(); seg.dispose();
  for (const x of [clean, labels, turb]) x.dispose();
});

t.run();
