// Runs the real `mirage` binary in child processes (each with its own Dawn device).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readWeights } from '../src/io/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors-file.js';
import { readEventFile } from '../src/io/tfevents.js';
import { convFlops, convFlopsNominal, erfnetConvs } from '../bench/shapes.js';

const t = suite('cli');
const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '..', 'src', 'cli', 'main.js');
const fixtures = join(here, '..', '..', 'test', 'fixtures');

function mirage(...args: string[]): Promise<{ code: number; signal: string | null; out: string; err: string }> {
  return mirageEnv({}, ...args);
}

/**
 * The binary with extra environment variables (e.g. MIRAGE_KILL_AT); a kill shows as `signal`. A
 * command past the time limit is killed and says so in `err` (`mirage bench` took 7m50s once, with
 * two training runs beside the suite on two cores: over the earlier 5-minute limit, failing silently).
 */
const LIMIT_S = 900;
function mirageEnv(env: Record<string, string>, ...args: string[]): Promise<{ code: number; signal: string | null; out: string; err: string }> {
  return new Promise((res) => execFile(process.execPath, [bin, ...args], { timeout: LIMIT_S * 1000, env: { ...process.env, ...env } }, (e, out, err) =>
    res({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, signal: e?.signal ?? null, out,
      err: e?.killed && e.signal === 'SIGTERM' && !env.MIRAGE_KILL_AT ? `${err}\n(test helper: mirage ${args.join(' ')} killed after the ${LIMIT_S} s limit)` : err })));
}

const dir = mkdtempSync(join(tmpdir(), 'mirage-cli-'));
const run = join(dir, 'run');

t('train → eval → predict on synthetic data, with checkpoint, log, curves, logits', async () => {
  const tr = await mirage('train', '--height', '16', '--epochs', '2', '--train-size', '4', '--val-size', '2', '--batch-size', '2',
    '--savedir', run, '--steps-loss', '1');
  assert.is(tr.code, 0, tr.err + tr.out);
  assert.match(tr.out, /best val mIoU/);
  for (const f of ['checkpoint.safetensors', 'model_best.safetensors', 'log.csv', 'curves.png', 'report.html']) assert.ok(existsSync(join(run, f)), f);
  assert.is(readFileSync(join(run, 'log.csv'), 'utf8').trim().split('\n').length, 3);
  assert.match(readFileSync(join(run, 'report.html'), 'utf8'), /Validation after epoch 2[\s\S]*Confusion matrix[\s\S]*Validation samples/);
  const resumed = await mirage('train', '--height', '16', '--epochs', '3', '--train-size', '4', '--val-size', '2', '--batch-size', '2',
    '--savedir', run, '--resume');
  assert.is(resumed.code, 0, resumed.err);
  assert.match(resumed.out, /resumed from .* after epoch 2/);
  assert.is(readFileSync(join(run, 'log.csv'), 'utf8').trim().split('\n').length, 4);
  const ev = await mirage('eval', '--weights', join(run, 'model_best.safetensors'), '--height', '16', '--val-size', '2', '--report', join(dir, 'eval.html'));
  assert.is(ev.code, 0, ev.err);
  assert.match(ev.out, /mIoU\s+\d+\.\d\d/);
  assert.match(ev.out, /report → .*eval\.html/);
  assert.match(readFileSync(join(dir, 'eval.html'), 'utf8'), /mirage eval: erfnet[\s\S]*IoU per class[\s\S]*Confusion matrix[\s\S]*image 2/);
  const out = join(dir, 'pred');
  const pr = await mirage('predict', '--weights', join(run, 'model_best.safetensors'), '--data', 'synthetic', '--limit', '2',
    '--height', '20', '--out', out, '--save-logits', join(dir, 'logits.npy'));
  assert.is(pr.code, 0, pr.err);
  for (const d of ['rgb', 'pred', 'compose', 'diff']) assert.is(readdirSync(join(out, d)).length, 2, d);
  const npy = readFileSync(join(dir, 'logits.npy'));
  assert.match(npy.subarray(10, 80).toString('latin1'), /'shape': \(2, 20, 20, 40\)/);   // 20 px is padded to 24 inside, cropped back
});

t('two-stage recipe: encoder-only on 1/8 labels, then the full model from that encoder', async () => {
  const enc = join(dir, 'enc');
  const a = await mirage('train', '--encoder-only', '--height', '16', '--epochs', '1', '--train-size', '2', '--val-size', '2',
    '--batch-size', '2', '--savedir', enc);
  assert.is(a.code, 0, a.err);
  assert.match(a.out, /erfnet \(recipe default; encoder-only=true/);
  assert.match(a.out, /class logits at 1\/8 resolution \(encoder stage\)/);
  const ev = await mirage('eval', '--weights', join(enc, 'model_best.safetensors'), '--val-size', '2');
  assert.match(ev.out, /at 32x16 \(labels at 1\/8\)/, 'the checkpoint\'s height by default');
  const b = await mirage('train', '--pretrained-encoder', join(enc, 'model_best.safetensors'), '--height', '16', '--epochs', '1',
    '--train-size', '2', '--val-size', '2', '--batch-size', '2', '--savedir', join(dir, 'dec'));
  assert.is(b.code, 0, b.err);
  assert.match(b.out, /encoder initialised from .*model_best.safetensors \(\d+ tensors\)/);
});

t('convert a torch.save file; checkpoints of another model are refused', async () => {
  const cv = await mirage('convert', join(fixtures, 'plain.pth'), join(dir, 'x.safetensors'));
  assert.is(cv.code, 1);
  assert.match(cv.err, /plain.pth: no decoder.output_conv or encoder.output_conv weight — not an ERFNet checkpoint/);
  const other = join(dir, 'other.safetensors');
  writeSafetensors(other, new Map([['w', { shape: [1], data: new Float32Array(1) }]]), { model: 'feedback-unet' });
  const ev = await mirage('eval', '--weights', other, '--height', '16', '--val-size', '2');
  assert.is(ev.code, 1);
  assert.match(ev.err, /other.safetensors holds a 'feedback-unet' model, which mirage does not know \(registered: erfnet, feedback, deeplabv3plus-r50, deeplabv3plus-r101, deeplabv3plus-srnx50, deeplabv3plus-srnx101, deeplabv3plus-wrn38, bisenet-r18, bisenet-r101, mssa, iterative-v1, iterative-v2, iterative-v3, iterative-v4, iterative-v5, iterative-v6, hourglass, hourglass-iter, hourglass-iter-ex, res-hourglass, res-hourglass-iter, res-hourglass-iter-ex\)/);
  const asked = await mirage('eval', '--weights', join(dir, 'x.safetensors'), '--model', 'feedback');
  assert.match(asked.err, /weights file .*x.safetensors does not exist/);
});

t('bench (quick, no peer) writes its JSON with ceilings, conv rows and model numbers; profile lists layers', async () => {
  const out = join(dir, 'bench');
  const b = await mirage('bench', '--reps', '1', '--no-peer', '--out', out);
  assert.is(b.code, 0, b.err);
  const file = readdirSync(out).find((f) => f.endsWith('.json'))!;
  const r = JSON.parse(readFileSync(join(out, file), 'utf8'));
  assert.ok(r.ceilings.matmul.gflops > 0 && r.ceilings.copy.gbps > 0);
  // the FLOP ceiling is the fastest matmul measured, so it is never below one of the others
  assert.ok(r.ceilings.matmul.kernels.every((k: { gflops: number }) => k.gflops <= r.ceilings.matmul.gflops));
  assert.is(r.convs.length, 33);
  assert.ok(r.convs.every((c: { gpuMs: number }) => c.gpuMs > 0));
  assert.ok(r.models[0].ms > 0 && r.models[0].peakPoolBytes > 0);
  const p = await mirage('profile', '--height', '16', '--batch-size', '1', '--top', '100');
  assert.is(p.code, 0, p.err);
  assert.match(p.out, /encoder.layers.14\s+\d+\.\d+\s+\d+\.\d+/);
  // every conv forward of the step appears once in the kernel table, under whichever variant ran it
  const fwd = [...p.out.matchAll(/^conv2d_fwd\w*\s+(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  assert.is(fwd, 74);
  // the feedback system: U-Net and ERFNet layers, and the per-model totals
  const pf = await mirage('profile', '--model', 'feedback', '--height', '16', '--batch-size', '1', '--unet-width', '1', '--unet-depth', '3', '--iterations', '1', '--top', '200');
  assert.is(pf.code, 0, pf.err);
  assert.match(pf.out, /one feedback training step \(.*iterations 1, unet-depth 3, unet-width 1, flow-loss 0, restore-pretrain 0, feedback-gate false, segmenter erfnet; seg adam:lr=0.0005,weight_decay=0.0001, restore adam:lr=0.0002\), 1x3x16x32: \d+\.\d ms GPU time/);
  for (const l of ['unet.down_path.2', 'unet.pool.1', 'unet.feedback', 'unet.up_path.1', 'unet.last', 'unet.warp', 'decoder.output_conv']) {
    assert.match(pf.out, new RegExp(`^${l.replace(/\./g, '\\.')}\\s+\\d+\\.\\d+\\s+\\d+\\.\\d+`, 'm'), l);
  }
  assert.match(pf.out, /^U-Net\s+\d+\.\d+/m);
  assert.match(pf.out, /^ERFNet\s+\d+\.\d+/m);
  assert.match(pf.out, /^feedback_input\w*\s+[12]\s/m);
  const pn = await mirage('profile', '--model', 'unet');
  assert.match(pn.err, /--model unet: unknown model \(registered: erfnet, feedback, deeplabv3plus-r50, [^)]*; see mirage models\)/);
  const inf = await mirage('info');
  // default family: subgroup (or portable without subgroups) on CPU adapters, workgroup tiles on GPUs
  assert.match(inf.out, /kernels: +(cpu class; convolutions (subgroup-broadcast|portable)|gpu class; convolutions workgroup-memory tiles)/);
  // f16: whether --precision f16 can run, the subgroup-matrix configs and the tensor-core shape chosen
  assert.match(inf.out, /^f16: +(--precision f16 available|no shader-f16: --precision f16 unavailable); subgroup matrices /m);
  const tiled = await mirage('info', '--kernels', 'tiled');
  assert.match(tiled.out, /convolutions workgroup-memory tiles/);
  const nope = await mirage('info', '--kernels', 'fast');
  assert.match(nope.err, /kernels.*Choices: "auto", "subgroup", "tiled", "portable"/s);
  const nomodel = await mirage('bench', '--model', 'nope');
  assert.match(nomodel.err, /--model nope: unknown model \(registered: erfnet, feedback/);
  const mismatch = await mirage('eval', '--model', 'feedback', '--weights', join(run, 'model_best.safetensors'));
  assert.match(mismatch.err, /model_best.safetensors holds a 'erfnet' model, not 'feedback'/);
  // frames per second: ERFNet beside the model at CamVid's size, with parameters and MACs
  const fo = join(dir, 'benchfps');
  const fps = await mirage('bench', '--inference', '--model', 'mssa', '--reps', '1', '--no-peer', '--out', fo);
  assert.is(fps.code, 0, fps.err);
  assert.match(fps.out, /^mssa +360x480 +360x480 +11 +1\.81 M +\d+\.\d +\d+\.\d +\d+\.\d +\d+\.\d +\d\.\d\d×/m);
  const fr = JSON.parse(readFileSync(join(fo, readdirSync(fo).find((f) => f.endsWith('.json'))!), 'utf8'));
  assert.equal(fr.fps.map((r: { model: string }) => r.model), ['erfnet', 'mssa']);
  assert.is(fr.fps[1].parameters, 1_808_091);
  assert.ok(fr.fps.every((r: { ms: number; fps: number; gmacs: number }) => r.ms > 0 && Math.abs(r.fps - 1000 / r.ms) < 1e-9 && r.gmacs > 1));
  assert.not.ok(fr.convs || fr.models, 'the inference part runs alone');
  const both = await mirage('bench', '--inference', '--only', 'convs');
  assert.match(both.err, /--inference runs the frames-per-second part alone; leave out --only/);
  const bad = await mirage('bench', '--only', 'convs,nope');
  assert.match(bad.err, /--only: unknown part 'nope'/);
  const bad2 = await mirage('bench', '--conv-size', '100x7');
  assert.match(bad2.err, /--conv-size '100x7': give HxW, both multiples of 8/);
  const bad3 = await mirage('bench', '--shapes', 'nb64,convX');
  assert.match(bad3.err, /--shapes 'nb64,convX': no conv shape matches 'convx'; the shapes are: initial 3x3 s2/);
  const one = await mirage('bench', '--only', 'convs', '--shapes', 'nb128 3x1 d16', '--reps', '1', '--no-peer', '--out', join(dir, 'bench1'));
  assert.is(one.code, 0, one.err);
  assert.match(one.out, /command: mirage bench --only convs --shapes 'nb128 3x1 d16'/);
  assert.is([...one.out.matchAll(/^nb128 3x1 d16 +(forward|bwd_input|bwd_weight) /gm)].length, 3);
  assert.not.match(one.out, /^nb64/m);
  assert.is(inf.out.includes('waiting:'), true);
});

t('bench FLOP counts leave out taps on padding', () => {
  const cs = erfnetConvs(1, 64, 128);
  const by = (name: string) => cs.find((c) => c.name === name)!;
  // 3×1 dilation 16 on 8 rows: only the centre tap is ever inside the image
  assert.is(convFlops(by('nb128 3x1 d16')), convFlopsNominal(by('nb128 3x1 d16')) / 3);
  // 3×1 padding 1 on 16 rows: the outer taps miss one row each → 46 of 48 row-taps
  assert.is(convFlops(by('nb64 3x1')), (2 * 64 * 64 * 32 * 46));
  // transposed 3×3 s2 (pad 1, output padding 1) from 8×16: per axis, tap 0 of the first input lands on
  // row −1, outside the output; the other taps all land inside → (7+8+8)·(15+16+16) of 9·8·16
  assert.is(convFlops(by('up convT 128→64')), 2 * 128 * 64 * (8 + 8 + 7) * (16 + 16 + 15));
  assert.ok(convFlops(by('down 3x3 s2 16→48')) < convFlopsNominal(by('down 3x3 s2 16→48')));
});

t('simulate: distorted copy in the same layout, labels copied unchanged, deterministic', async () => {
  const { writePng } = await import('../src/data/png.js');
  const src = join(dir, 'cityscapes'), img = join(src, 'leftImg8bit', 'val', 'c', 'c_0_0_leftImg8bit.png');
  const lab = join(src, 'gtFine', 'val', 'c', 'c_0_0_gtFine_labelTrainIds.png');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dirname(img), { recursive: true }); mkdirSync(dirname(lab), { recursive: true });
  const rgb = new Uint8Array(3 * 32 * 24).map((_, i) => ((i / 3) % 32) * 8);
  writePng(img, 32, 24, rgb, 3);
  writePng(lab, 32, 24, new Uint8Array(3 * 32 * 24).fill(7), 3);
  const out = join(dir, 'tcityscapes');
  const s = await mirage('simulate', '--in', src, '--out', out, '--sigma', '2', '--corr-length', '5');
  assert.is(s.code, 0, s.err);
  assert.match(s.out, /distortion at 32x24: σ 2.00 px, longitudinal correlation 0.5 at 5.0 px, .*Belen'kii's integral, γ 30\); fields: RMS \d\.\d\d px, shift 0.00 px, neighbour difference \d\.\d\d px, folds at \d+\.\d% of pixels/);
  const outImg = readFileSync(join(out, 'leftImg8bit', 'val', 'c', 'c_0_0_leftImg8bit.png'));
  assert.not.equal(outImg, readFileSync(img));
  assert.equal(readFileSync(join(out, 'gtFine', 'val', 'c', 'c_0_0_gtFine_labelTrainIds.png')), readFileSync(lab));
  const out2 = join(dir, 'tcityscapes2');
  await mirage('simulate', '--in', src, '--out', out2, '--sigma', '2', '--corr-length', '5');
  assert.equal(readFileSync(join(out2, 'leftImg8bit', 'val', 'c', 'c_0_0_leftImg8bit.png')), outImg);
  const blurred = await mirage('simulate', '--in', src, '--out', join(dir, 'tblur'), '--sigma', '2', '--corr-length', '5', '--blur', '1.5');
  assert.is(blurred.code, 0, blurred.err);
  assert.match(blurred.out, /blur up to σ 1.5 px/);
  assert.not.equal(readFileSync(join(dir, 'tblur', 'leftImg8bit', 'val', 'c', 'c_0_0_leftImg8bit.png')), outImg);
  const badBlur = await mirage('simulate', '--in', src, '--out', join(dir, 't4'), '--blur=-2');
  assert.match(badBlur.err, /mirage: --blur -2: must be a number ≥ 0/);
  const bad = await mirage('simulate', '--in', src, '--out', join(dir, 't3'), '--cn2=-1e-13');
  assert.match(bad.err, /mirage: --cn2 -1e-13: must be a number ≥ 0/);
  assert.not.ok(existsSync(join(dir, 't3')), 'nothing written on bad parameters');
  const again = await mirage('simulate', '--in', src, '--out', out);
  assert.match(again.err, /already exists; pass --overwrite to replace it, or choose another folder/);
  const replaced = await mirage('simulate', '--in', src, '--out', out, '--overwrite', '--cn2', '1e-12');
  assert.is(replaced.code, 0, replaced.err);
  assert.match(replaced.err, /warning: σ \d+\.\d px is \d+\.\d% of the 32x24 images' smaller side: .*Set --pixel-pitch/);
  assert.not.equal(readFileSync(join(out, 'leftImg8bit', 'val', 'c', 'c_0_0_leftImg8bit.png')), outImg);
  const ev = await mirage('train', '--data', `cityscapes:${out}`, '--height', '16', '--epochs', '1', '--batch-size', '1',
    '--savedir', join(dir, 'tcs-run'));
  assert.match(ev.err + ev.out, /leftImg8bit[/\\]train does not exist/);   // only val was written: a clear error, not a crash
});

t('mssa on CamVid in the seed\'s 32-class layout (camvid32): trains, evaluates with per-image scores, logs them', async () => {
  const { writePng } = await import('../src/data/png.js');
  const { mkdirSync } = await import('node:fs');
  const cam = join(dir, 'camvid32');
  const colours = [[128, 64, 128], [0, 0, 0], [64, 192, 0], [128, 128, 128]];   // Road, Void, Wall, Sky of the Kaggle class_dict.csv
  mkdirSync(cam, { recursive: true });
  writeFileSync(join(cam, 'class_dict.csv'), 'name,r,g,b\nRoad,128,64,128\nSky,128,128,128\nVoid,0,0,0\nWall,64,192,0\n');
  for (const [split, n] of [['train', 4], ['val', 2]] as const) {
    for (const d of [split, `${split}_labels`]) mkdirSync(join(cam, d), { recursive: true });
    for (let k = 0; k < n; k++) {
      const w = 48, h = 24;
      writePng(join(cam, split, `0001TP_00${k}.png`), w, h, new Uint8Array(3 * w * h).map((_, i) => (i * (k + 3)) % 251), 3);
      writePng(join(cam, `${split}_labels`, `0001TP_00${k}_L.png`), w, h, new Uint8Array(3 * w * h).map((_, i) => colours[(Math.floor(i / 3 / w / 6) + k) % 4][i % 3]), 3);
    }
  }
  const sd = join(dir, 'mssa-camvid32');
  const tr = await mirage('train', '--model', 'mssa', '--data', `camvid32:${cam}`, '--height', '16', '--epochs', '1', '--batch-size', '2',
    '--widths', '4,4,8,8', '--savedir', sd);
  assert.is(tr.code, 0, tr.err);
  assert.match(tr.out, /^ {2}Void +\d+\.\d\d$/m);
  assert.match(tr.out, /mIoU +\d+\.\d\d {2}\(all 4 classes, as the reference iouEval\)/);
  assert.match(tr.out, /per-image means over 2 images, as the MSSA seed's code/);
  assert.match(readFileSync(join(sd, 'log.csv'), 'utf8').split('\n')[0], /val_img_miou,val_img_pixel_acc,val_img_class_acc/);
  const ev = await mirage('eval', '--weights', join(sd, 'model_best.safetensors'), '--data', `camvid32:${cam}`, '--height', '16');
  assert.is(ev.code, 0, ev.err);
  assert.match(ev.out, /mssa \(\d[\d,]* parameters\)/);
  assert.match(ev.out, /^ {4}mean class acc +\d+\.\d\d {2}\(a class absent from an image scores 100\)$/m);
});

t('feedback model: train (on-the-fly distortion) → eval per iteration → predict panels; ERFNet --distort baseline', async () => {
  const fb = join(dir, 'fb');
  const tr = await mirage('train', '--model', 'feedback', '--height', '16', '--epochs', '1', '--train-size', '2', '--val-size', '2',
    '--batch-size', '2', '--unet-depth', '3', '--unet-width', '1', '--sigma', '1', '--corr-length', '3', '--savedir', fb);
  assert.is(tr.code, 0, tr.err);
  assert.match(tr.out, /val mIoU per iteration: \d+\.\d\d → \d+\.\d\d → \d+\.\d\d/);
  const ev = await mirage('eval', '--weights', join(fb, 'model_best.safetensors'), '--height', '16', '--val-size', '2');
  assert.is(ev.code, 0, ev.err);
  assert.match(ev.out, /longitudinal correlation 0.5 at 3.0 px, .*\(from the checkpoint\)/);
  assert.match(ev.out, /restoration against the clean images:\n  PSNR of the input \(dB\)\s+\d+\.\d\d\n  PSNR restored, output 1 \(dB\)/);
  assert.match(ev.out, /PSNR restored, output 3 \(dB\)\s+\d+\.\d\d\n  PSNR ceiling, exact inverse warp \(dB\)\s+\d+\.\d\d/);
  assert.match(ev.out, /flow error, output 3 \(px\)\s+\d+\.\d{3}\n  flow error of the exact inverse \(px\)\s+\d+\.\d{3}/);
  const pr = await mirage('predict', '--weights', join(fb, 'model_best.safetensors'), '--data', 'synthetic', '--limit', '1',
    '--height', '16', '--out', join(dir, 'fbpred'));
  assert.is(pr.code, 0, pr.err);
  assert.is(readdirSync(join(dir, 'fbpred', 'panels')).length, 1);
  const wrong = await mirage('eval', '--weights', join(fb, 'model_best.safetensors'), '--data', `camvid:${dir}`);
  assert.is(wrong.code, 1);
  const base = await mirage('train', '--distort', '--sigma', '1', '--height', '16', '--epochs', '1', '--train-size', '2', '--val-size', '2',
    '--batch-size', '2', '--savedir', join(dir, 'erfd'));
  assert.is(base.code, 0, base.err);
  assert.match(base.out, /heat distortion on the fly: σ 1.00 px/);
});

t('experiment hot-weather: table (mIoU, restoration against its ceiling), JSON and chart for the chosen variants, K-frame rows', async () => {
  const out = join(dir, 'exp');
  const r = await mirage('experiment', 'hot-weather', '--height', '16', '--epochs', '1', '--train-size', '2', '--val-size', '2',
    '--batch-size', '2', '--unet-depth', '3', '--unet-width', '1', '--variants', 'distorted,feedback-cbifl,median-2,restoration-2', '--frame-counts', '2',
    '--seeds', '1,2', '--feedback-scale', '0.5', '--end-to-end', '--savedir', out);
  assert.is(r.code, 0, r.err);
  // options beyond the reference name the rows they apply to (the U-Net alone has no feedback branch to scale)
  assert.match(r.out, /=== feedback-cbifl \(feedback ×0.5, end-to-end\) \(seed 1\) ===/);
  assert.match(r.out, /=== restoration-2 \(end-to-end\) \(seed 2\) ===/);
  assert.match(r.out, /segmenter erfnet, seeds 1,2:/);
  const num = String.raw`\d+\.\d\d`;
  assert.match(r.out, new RegExp(String.raw`distorted\s+${num}\s+${num}\s+${num} ${num}\s+${num} \(${num}\)\s+${num} \(${num}\)`));
  assert.match(r.out, new RegExp(String.raw`feedback-cbifl \(feedback ×0\.5, end-to-end\)\s+${num}\s+${num}\s+${num} ${num}\s+${num} → ${num} → ${num}\s+${num} → ${num} \(${num}\)\s+${num} → ${num} \(${num}\)`));
  assert.match(r.out, new RegExp(String.raw`median-2\s+${num}\s+${num}\s+${num} ${num}\s+${num} \(${num}\)`));
  assert.match(r.out, /heat distortion on the fly: .*2 frames \(field correlation 0 between frames\) fused by the per-pixel median/);
  const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(j.rows.map((x: { variant: string }) => x.variant), ['distorted', 'feedback-cbifl (feedback ×0.5, end-to-end)', 'median-2', 'restoration-2 (end-to-end)']);
  assert.equal(j.runs[1].options, ['feedback ×0.5', 'end-to-end']);
  assert.equal(j.runs.map((x: { seed: number }) => x.seed), [1, 1, 1, 1, 2, 2, 2, 2]);
  for (const k of ['psnr_input', 'psnr_ceiling', 'epe_zero', 'epe_ceiling', 'psnr_restored_3', 'epe_3']) assert.ok(Number.isFinite(j.runs[1].restoration[k]), k);
  assert.equal(readWeights(join(out, 'restoration-2-seed1', 'model_best.safetensors')).tensors.get('restore.down_path.0.block.0.weight')!.shape, [2, 6, 3, 3]);
  const meta = readWeights(join(out, 'feedback-cbifl-seed2', 'model_best.safetensors')).meta;
  assert.is(meta.feedback_scale, '0.5');
  assert.is(meta.end_to_end, 'true');
  assert.ok(existsSync(join(out, 'results.png')) && existsSync(join(out, 'report.html')));
  const bad = await mirage('experiment', 'hot-weather', '--variants', 'nope');
  assert.match(bad.err, /--variants: unknown 'nope'/);
  // a study split over commands merges into one table: the runs of both files, seeds combined
  // (the other file as written before rows named their options: base variant names, the options on the setting line)
  const other = join(dir, 'exp-other.json');
  writeFileSync(other, JSON.stringify({ ...j, setting: `${j.setting}, feedback ×0.5, end-to-end`,
    runs: j.runs.map((x: { seed: number; variant: string }) => ({ ...x, options: undefined, variant: x.variant.replace(/ \(.*\)$/, ''), seed: x.seed + 10 })) }));
  const merged = await mirage('experiment', 'hot-weather', '--merge', `${join(out, 'results.json')},${other}`, '--savedir', join(dir, 'merged'));
  assert.is(merged.code, 0, merged.err);
  assert.match(merged.out, /segmenter erfnet \(merged from 2 files\), seeds 1,2,11,12/);
  const mj = JSON.parse(readFileSync(join(dir, 'merged', 'results.json'), 'utf8'));
  assert.is(mj.runs.length, 16);
  assert.equal(mj.rows.map((x: { variant: string; perSeed: number[] }) => [x.variant, x.perSeed.length]),
    [['distorted', 4], ['feedback-cbifl (feedback ×0.5, end-to-end)', 4], ['median-2', 4], ['restoration-2 (end-to-end)', 4]]);
  // the same variant with other options is another row
  const third = join(dir, 'exp-third.json');
  writeFileSync(third, JSON.stringify({ ...j, setting: `${j.setting}, feedback ×0.001, learnable gate`,
    runs: j.runs.filter((x: { variant: string }) => x.variant.startsWith('feedback')).map((x: { variant: string }) => ({ ...x, options: undefined, variant: 'feedback-cbifl' })) }));
  const gated = await mirage('experiment', 'hot-weather', '--merge', `${join(out, 'results.json')},${third}`, '--savedir', join(dir, 'merged3'));
  assert.is(gated.code, 0, gated.err);
  assert.equal(JSON.parse(readFileSync(join(dir, 'merged3', 'results.json'), 'utf8')).rows.map((x: { variant: string }) => x.variant),
    ['distorted', 'feedback-cbifl (feedback ×0.5, end-to-end)', 'median-2', 'restoration-2 (end-to-end)', 'feedback-cbifl (learnable gate)']);
  assert.match((await mirage('experiment', 'hot-weather', '--merge', `${other},${other}`)).err, /--merge: distorted seed 11 appears twice/);
  assert.match((await mirage('experiment', 'hot-weather', '--segmenter', 'feedback')).err, /--segmenter feedback: restores by itself; choose a segmentation network \(erfnet, /);
  assert.match((await mirage('experiment', 'hot-weather', '--frame-counts', '1,x')).err, /--frame-counts '1,x': give frame counts from 2 to 16/);
});

t('experiment tas: the TAS500 seed\'s networks from their demo recipes, per-output mIoU, parameters, memory, the seed\'s numbers beside', async () => {
  const out = join(dir, 'tas');
  const r = await mirage('experiment', 'tas', '--height', '64', '--epochs', '1', '--train-size', '2', '--val-size', '2', '--batch-size', '2',
    '--variants', 'iterative-v2,hourglass-iter-ex,iterative-v6-x2', '--savedir', out);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^iterative-v2 +\d+\.\d\d +\d+\.\d\d ± 0\.00 +\d+\.\d\d → \d+\.\d\d → \d+\.\d\d +0\.\d\d M +\d+ +\d+\.\d +91\.7 \/ 58\.7$/m);
  assert.match(r.out, /^iterative-v6-x2 .* 96\.8 \/ 88\.0$/m);
  const j = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(j.rows.map((x: { variant: string }) => x.variant), ['iterative-v2', 'hourglass-iter-ex', 'iterative-v6-x2']);
  assert.ok(j.rows.every((x: { peakMiB: number; params: number }) => x.peakMiB > 0 && x.params > 0));
  assert.is(readWeights(join(out, 'iterative-v6-x2', 'model_best.safetensors')).meta.prenet, 'x2');
  assert.match(readFileSync(join(out, 'iterative-v2', 'log.csv'), 'utf8').split('\n')[0], /val_pixel_acc_it1,val_pixel_acc_it2,val_pixel_acc_it3,.*val_miou_it1,val_miou_it2,val_miou_it3/);
  assert.ok(existsSync(join(out, 'results.png')) && existsSync(join(out, 'report.html')));
  const bad = await mirage('experiment', 'tas', '--variants', 'unet');
  assert.match(bad.err, /--variants: unknown 'unet' \(choose from iterative-v1, /);
  const none = await mirage('experiment', 'coco');
  assert.match(none.err, /experiment coco: choose hot-weather or tas/);
});

t('mirage models lists every registered model with its parameters, input, outputs and recipes', async () => {
  const m = await mirage('models');
  assert.is(m.code, 0, m.err);
  assert.match(m.out, /^erfnet \(also erfnet-encoder\): ERFNet/m);
  assert.match(m.out, /parameters {3}2,066,836 \(20 classes, default options\)/);
  assert.match(m.out, /^feedback: restoration U-Net/m);
  assert.match(m.out, /^deeplabv3plus-r50 \(also DeepR50V3PlusD_m1\): DeepLabV3\+ on ResNet-50/m);
  assert.match(m.out, /parameters {3}40,351,040 \(20 classes/);
  assert.match(m.out, /parameters {3}33,696,454 \(20 classes/);
  assert.match(m.out, /recipe reference +Eromera\/erfnet_pytorch/);
  assert.match(m.out, /model: adam:lr=0.0005,weight_decay=0.0001,beta1=0.9,beta2=0.999,eps=1e-8 {2}· {2}poly:power=0.9 per epoch/);
  assert.match(m.out, /restore: adam:lr=0.0002.* {2}· {2}step:size=30,gamma=0.5 per epoch/);
  const j = JSON.parse((await mirage('models', '--json', '--classes', '11')).out);
  assert.equal(j.map((x: { name: string }) => x.name), ['erfnet', 'feedback', 'deeplabv3plus-r50', 'deeplabv3plus-r101', 'deeplabv3plus-srnx50', 'deeplabv3plus-srnx101', 'deeplabv3plus-wrn38', 'bisenet-r18', 'bisenet-r101', 'mssa', 'iterative-v1', 'iterative-v2', 'iterative-v3', 'iterative-v4', 'iterative-v5', 'iterative-v6', 'hourglass', 'hourglass-iter', 'hourglass-iter-ex', 'res-hourglass', 'res-hourglass-iter', 'res-hourglass-iter-ex']);
  assert.is(j[0].parameters, 2_066_836 - 9 * (128 + 1) - 9 * (16 * 4 + 1));
});

// Training runs never lose or corrupt work. Each case below was a real failure of the old CLI.
const tiny = ['--height', '16', '--train-size', '4', '--val-size', '2', '--batch-size', '2'];
const files = (d: string) => (existsSync(d) ? readdirSync(d).sort() : []);
const epochsOf = (d: string) => readFileSync(join(d, 'log.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',')[0]));
/** [step, value] of the TensorBoard file's training losses (the run folder holds exactly one event file). */
function tbLosses(d: string): number[][] {
  const ev = readdirSync(d).filter((f) => f.startsWith('events.out.tfevents.') && f.endsWith('.mirage'));
  assert.is(ev.length, 1, `${d}: one scalar event file`);
  return readEventFile(readFileSync(join(d, ev[0])), ev[0]).filter((x) => x.values[0]?.tag === 'loss/train').map((x) => [x.step, x.values[0].simpleValue!]);
}

t('divergence (--lr 1e38): stops at the step, non-zero exit, names the tensors, writes no checkpoint', async () => {
  const d = join(dir, 'nan');
  const r = await mirage('train', ...tiny, '--epochs', '2', '--lr', '1e38', '--savedir', d);
  assert.is(r.code, 1, r.out + r.err);
  assert.match(r.err, /training diverged in epoch 1 at step 1 of 2: .*the model optimizer's update at step 1 made parameters non-finite/);
  assert.match(r.err, /Non-finite now: encoder\.initial_block\.conv\.weight \(351 of 351 values non-finite\)/);
  assert.match(r.err, /No checkpoint was written from this epoch; no epoch was saved yet/);
  assert.not.match(r.out, /new best/);
  assert.equal(files(d).filter((f) => f.endsWith('.safetensors')), [], 'no checkpoint');
});

t('a second run into a savedir is refused; --overwrite replaces it; a checkpoint with NaN is refused on loading', async () => {
  const d = join(dir, 'twice');
  const a = await mirage('train', ...tiny, '--epochs', '1', '--savedir', d);
  assert.is(a.code, 0, a.err);
  const best = readFileSync(join(d, 'model_best.safetensors'));
  const b = await mirage('train', ...tiny, '--epochs', '1', '--lr', '0.1', '--savedir', d);
  assert.is(b.code, 1);
  assert.match(b.err, /--savedir .*twice already holds a run of erfnet at epoch 1 of 1, best val mIoU \d+\.\d\d; pass --resume to continue it, --overwrite to replace it, or choose another --savedir/);
  assert.equal(readFileSync(join(d, 'model_best.safetensors')), best, 'the first run is untouched');
  const both = await mirage('train', '--savedir', d, '--resume', '--overwrite');
  assert.match(both.err, /--resume and --overwrite exclude each other/);
  const c = await mirage('train', ...tiny, '--epochs', '1', '--lr', '0.1', '--savedir', d, '--overwrite');
  assert.is(c.code, 0, c.err);
  assert.not.equal(readFileSync(join(d, 'model_best.safetensors')), best, 'replaced');
  assert.equal(epochsOf(d), [1]);
  // a NaN in one tensor: eval, predict and --pretrained-encoder refuse the file, naming the tensor
  const { tensors, meta } = readWeights(join(d, 'model_best.safetensors'));
  tensors.get('decoder.layers.1.bn1.running_var')!.data[3] = NaN;
  const bad = join(dir, 'nan.safetensors');
  writeSafetensors(bad, tensors, meta);
  const ev = await mirage('eval', '--weights', bad);
  assert.is(ev.code, 1);
  assert.match(ev.err, /nan.safetensors holds non-finite values, so it comes from a diverged run and is refused: decoder\.layers\.1\.bn1\.running_var \(1 of 64 values non-finite\)/);
  const pe = await mirage('train', ...tiny, '--epochs', '1', '--pretrained-encoder', bad, '--savedir', join(dir, 'pe'));
  assert.match(pe.err, /decoder\.layers\.1\.bn1\.running_var/);
});

t('killed with SIGKILL at any point, --resume gives each epoch once, curves of all epochs and bit-identical weights', async () => {
  const args = [...tiny, '--epochs', '3', '--seed', '3'];
  const full = join(dir, 'full');
  const f = await mirage('train', ...args, '--savedir', full);
  assert.is(f.code, 0, f.err);
  assert.match(f.out, /new best val mIoU .*\n.*new best val mIoU [^\n]*\n/, 'epochs 1 and 2 are new bests, so after-best@2 writes model_best');
  const want = readWeights(join(full, 'checkpoint.safetensors')).tensors;
  const optimizer = readSafetensors(join(full, 'checkpoint.safetensors')).tensors;
  for (const point of ['step@2', 'after-best@2', 'after-checkpoint@2', 'after-checkpoint@3']) {
    const d = join(dir, `kill-${point.replace('@', '-')}`);
    const k = await mirageEnv({ MIRAGE_KILL_AT: point }, 'train', ...args, '--savedir', d);
    assert.is(k.signal, 'SIGKILL', `${point}: killed (${k.err.slice(-300)})`);
    const r = await mirage('train', '--resume', '--savedir', d);
    assert.is(r.code, 0, `${point}: ${r.err}`);
    assert.equal(epochsOf(d), [1, 2, 3], `${point}: every epoch once in log.csv`);
    assert.equal(tbLosses(d), tbLosses(full), `${point}: every epoch once in the TensorBoard file, same losses`);
    const got = readSafetensors(join(d, 'checkpoint.safetensors')).tensors;
    assert.is(got.size, optimizer.size);
    for (const [name, t] of optimizer) assert.ok(t.data.every((v, i) => v === got.get(name)!.data[i]), `${point}: ${name} bit-identical`);
    assert.equal(readFileSync(join(d, 'curves.png')), readFileSync(join(full, 'curves.png')), `${point}: curves of all three epochs`);
    assert.equal(readWeights(join(d, 'model_best.safetensors')).tensors.get('decoder.output_conv.weight')!.data,
      want.get('decoder.output_conv.weight')!.data, `${point}: model_best`);
  }
  // the settings come from the checkpoint: flags that differ are refused, naming both values; --epochs may grow
  const d = join(dir, 'kill-step-2');
  const h = await mirage('train', '--resume', '--savedir', d, '--height', '32', '--lr', '1e-3');
  assert.is(h.code, 1);
  assert.match(h.err, /--resume: --height 32 differs from the checkpoint's 16; optimizer of model adam:lr=0.001,weight_decay=0.0001 differs from the checkpoint's adam:lr=0.0005,weight_decay=0.0001/);
  const same = await mirage('train', '--resume', '--savedir', d, '--height', '16', '--batch-size', '2');
  assert.is(same.code, 0, same.err);
  assert.match(same.out, /nothing to train: the run has done its 3 epochs/);
  const more = await mirage('train', '--resume', '--savedir', d, '--epochs', '4');
  assert.is(more.code, 0, more.err);
  assert.match(more.out, /--epochs 4 \(the run was planned for 3\)/);
  assert.equal(epochsOf(d), [1, 2, 3, 4]);
});

t('feedback: --resume keeps the checkpoint\'s distortion, both optimizers\' state; a different --corr-length is refused', async () => {
  const args = [...tiny, '--model', 'feedback', '--unet-depth', '3', '--unet-width', '1', '--iterations', '1', '--corr-length', '6', '--epochs', '2'];
  const full = join(dir, 'fb-full'), d = join(dir, 'fb-kill');
  assert.is((await mirage('train', ...args, '--savedir', full)).code, 0);
  const k = await mirageEnv({ MIRAGE_KILL_AT: 'after-checkpoint@1' }, 'train', ...args, '--savedir', d);
  assert.is(k.signal, 'SIGKILL');
  const c = await mirage('train', '--resume', '--savedir', d, '--corr-length', '8');
  assert.is(c.code, 1);
  assert.match(c.err, /--corr-length 8 differs from the checkpoint's 6/);
  const r = await mirage('train', '--resume', '--savedir', d);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /correlation 0.5 at 6.0 px/);
  const a = readSafetensors(join(full, 'checkpoint.safetensors')).tensors, b = readSafetensors(join(d, 'checkpoint.safetensors')).tensors;
  assert.ok([...a.keys()].some((n) => n.startsWith('optimizer.restore.')) && [...a.keys()].some((n) => n.startsWith('optimizer.seg.')));
  for (const [name, t] of a) assert.ok(t.data.every((v, i) => v === b.get(name)!.data[i]), `${name} bit-identical`);
});

t('Ctrl-C stops after the current step and names the last saved epoch and the command to resume', async () => {
  const d = join(dir, 'ctrlc');
  const child = spawn(process.execPath, [bin, 'train', '--height', '16', '--train-size', '64', '--val-size', '2', '--batch-size', '2',
    '--epochs', '20', '--steps-loss', '1', '--savedir', d]);
  let err = '';
  const code = await new Promise<number | null>((res) => {
    child.stderr.on('data', (b) => { err += b; if (/epoch 2\/20 train \[/.test(err) && !child.killed) child.kill('SIGINT'); });
    child.on('exit', (c) => res(c));
  });
  assert.is(code, 130, err.slice(-500));
  assert.match(err, /mirage: interrupted; the last saved epoch is 1 \(.*ctrlc[/\\]checkpoint.safetensors\)\. Resume with: mirage train --resume --savedir .*ctrlc\n/);
  assert.equal(epochsOf(d), [1]);
});

t('newcomer: bad flags, paths and data are refused naming the flag, file or value; nothing is left behind', async () => {
  const fresh = join(dir, 'never');
  const cases: [string[], RegExp][] = [
    [['train', '--seed', 'abc'], /^mirage: --seed abc: expected a number$/m],
    [['train', '--batch-size', '2.5'], /^mirage: --batch-size 2.5: must be an integer ≥ 1$/m],
    [['train', '--translate', '-1'], /^mirage: --translate -1: must be an integer ≥ 0$/m],
    [['train', '--weight-decay=-1'], /^mirage: --weight-decay -1: must be a number ≥ 0$/m],
    [['train', '--unet-width', '12', '--model', 'feedback'], /^mirage: --unet-width 12: must be an integer from 0 to 8$/m],
    [['trian', '--height', '16'], /^mirage: unknown command 'trian' \(did you mean train\?\); the commands are models, train,/m],
    [['train', '--bogus', '3'], /^mirage: Unknown argument: bogus \(mirage train --help lists the flags\)$/m],
    [['train', ...tiny, '--savedir', join(dir, 'afile')], /--savedir .*afile: it is a file, not a folder/],
    [['train', ...tiny, '--savedir', join(dir, 'afile', 'run')], /--savedir .*afile[/\\]run: a part of the path is a file, not a folder/],
  ];
  writeFileSync(join(dir, 'afile'), 'x');
  for (const [args, want] of cases) {
    const r = await mirage(...args, ...(args.includes('--savedir') ? [] : ['--savedir', fresh]));
    assert.is(r.code, 1, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, want);
  }
  assert.not.ok(existsSync(fresh), 'no savedir from a refused start');
  // a folder data set whose colour labels are read as class indices: refused before training, naming the file
  const data = join(dir, 'colours');
  const { writePng } = await import('../src/data/png.js');
  const { mkdirSync } = await import('node:fs');
  const put = (split: string, name: string, w = 16, h = 8) => {
    for (const d of ['images', 'labels']) mkdirSync(join(data, split, d), { recursive: true });
    writePng(join(data, split, 'images', name), w, h, new Uint8Array(3 * w * h).map((_, i) => (i * 7) % 255), 3);
    writePng(join(data, split, 'labels', name), w, h, new Uint8Array(3 * w * h).map((_, i) => (Math.floor(i / 3) % w < w / 2 ? [128, 64, 128] : [220, 20, 60])[i % 3]), 3);
  };
  for (const n of ['a.png', 'b.png']) { put('train', n); put('val', n); }
  writeFileSync(join(data, 'classes.txt'), 'road\nperson\n');
  const idx = await mirage('train', '--data', `folder:${data}`, '--height', '8', '--epochs', '1', '--batch-size', '2', '--savedir', fresh);
  assert.is(idx.code, 1);
  assert.match(idx.err, /label .*colours[/\\]train[/\\]labels[/\\]a.png is a colour image, but .*classes.txt declares class-index labels/);
  assert.not.ok(existsSync(fresh), 'no savedir');
  // a bad validation label is found before the first epoch
  writeFileSync(join(data, 'classes.txt'), 'road 128,64,128\nperson 220,20,60\n');
  writePng(join(data, 'val', 'labels', 'b.png'), 16, 8, new Uint8Array(3 * 16 * 8).fill(9), 3);
  const val = await mirage('train', '--data', `folder:${data}`, '--height', '8', '--epochs', '1', '--batch-size', '2', '--savedir', fresh);
  assert.is(val.code, 1);
  assert.match(val.err, /folder val .*label .*val[/\\]labels[/\\]b.png has colour \(9,9,9\) at pixel \(0, 0\), which is not in .*classes.txt/);
  assert.not.match(val.err, /epoch 1\/1 train/);
  assert.not.ok(existsSync(fresh), 'no savedir');
  // with the colour table, training runs; predict on a bare image draws the table's colours from the checkpoint
  put('val', 'b.png');
  const ok = await mirage('train', '--data', `folder:${data}`, '--height', '8', '--epochs', '1', '--batch-size', '2', '--savedir', fresh);
  assert.is(ok.code, 0, ok.err);
  const pred = join(dir, 'colour-pred');
  const p = await mirage('predict', '--weights', join(fresh, 'model_best.safetensors'), '--image', join(data, 'val', 'images', 'a.png'), '--out', pred);
  assert.is(p.code, 0, p.err);
  const { readPng } = await import('../src/data/png.js');
  const px = readPng(join(pred, 'pred', 'a.png')).data;
  const colours = new Set<string>();
  for (let i = 0; i < px.length; i += 4) colours.add(`${px[i]},${px[i + 1]},${px[i + 2]}`);
  assert.ok([...colours].every((c) => ['128,64,128', '220,20,60', '0,0,0'].includes(c)), `prediction colours ${[...colours]}`);
});

t('newcomer: every flag of every command has a description; Dawn\'s warnings only with --verbose; mirage runs from any folder', async () => {
  for (const cmd of ['models', 'train', 'eval', 'predict', 'convert', 'bench', 'profile', 'simulate', 'experiment', 'info']) {
    const h = await mirage(cmd, '--help');
    const bare = h.out.split('\n').filter((l) => /^\s+--[a-z0-9-]+\s+\[(string|number|boolean)\]/.test(l));
    assert.equal(bare, [], `${cmd}: flags without a description`);
  }
  const quiet = await mirage('info');
  assert.is(quiet.code, 0, quiet.err);
  assert.not.match(quiet.err, /artificially reduced/);
  const loud = await mirage('info', '--verbose');
  assert.is(loud.code, 0, loud.err);
  // `npm install -g .` (into a temporary prefix): a `mirage` on the PATH that works in any folder
  const prefix = join(dir, 'global');
  const npm = await new Promise<{ code: number; err: string }>((res) => execFile('npm', ['install', '-g', '--prefix', prefix, '--no-audit',
    '--no-fund', '--loglevel=error', join(here, '..', '..')], { timeout: 120_000 }, (e, _o, err) => res({ code: e ? 1 : 0, err })));
  assert.is(npm.code, 0, npm.err);
  const away = await new Promise<{ code: number; out: string }>((res) => execFile(join(prefix, 'bin', 'mirage'), ['models'], { cwd: tmpdir() },
    (e, out) => res({ code: e ? 1 : 0, out })));
  assert.is(away.code, 0);
  assert.match(away.out, /^erfnet/m);
});

t('bad flags and paths give one clear line', async () => {
  const a = await mirage('train', '--data', 'cityscapes:/no/where', '--savedir', join(dir, 'bad'));
  assert.match(a.err, /mirage: --data cityscapes:\/no\/where: folder \/no\/where does not exist/);
  const b = await mirage('train', '--height', '12', '--savedir', join(dir, 'bad'), '--train-size', '2');
  assert.match(b.err, /--height must be a positive multiple of 8, got 12/);
  const c = await mirage('eval', '--weights', join(dir, 'missing.safetensors'));
  assert.match(c.err, /weights file .*missing.safetensors does not exist/);
  writeFileSync(join(dir, 'corrupt.safetensors'), 'garbage!garbage!');
  const d = await mirage('eval', '--weights', join(dir, 'corrupt.safetensors'));
  assert.match(d.err, /corrupt.safetensors: not a safetensors file/);
});
t.run();
