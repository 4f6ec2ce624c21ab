// The demo page: mirage's engine on the page's WebGPU. Segment an image with a checkpoint or a model
// trained here, run the heat-shimmer simulator live, train a small model on procedural scenes.
// Bundled by esbuild from these sources (web/serve.mjs); the page's logic only wires the DOM to the
// package's browser entry points (src/*/index.ts), so an app embedding mirage calls the same ones.
import { type BrowserEngine, NoWebGpuError, createBrowserEngine } from '../src/browser/index.js';
import { type RGB, blend, colourise, fromChwFloat, paletteOf, rgbToRgba, syntheticScene, toChwFloat } from '../src/data/index.js';
import { type ModelSpec, type OptionValue, getModel, listModels, loadModel, weightsFromBytes } from '../src/models/index.js';
import { TurbulenceSimulator } from '../src/sim/index.js';
import { LiveTrainer, type Segmentation, type System, distortImage, segmentImage } from '../src/train/index.js';

/** The model sections 1 and 2 use: a loaded checkpoint or the one trained in the page. */
interface Current { name: string; system: System; spec: ModelSpec; options: Record<string, OptionValue>; multiple: number; palette: RGB[]; source: string }

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let gpu: BrowserEngine | null = null;
let current: Current | null = null;
let loaded: ReturnType<typeof loadModel> | null = null;
let trainer: LiveTrainer | null = null;
let image: { chw: Float32Array; H: number; W: number; name: string } = sceneImage();
let busy = Promise.resolve();

/** Runs GPU work one job at a time (the engine batches commands; interleaved jobs would mix scopes). */
function serial<T>(job: () => Promise<T>): Promise<T> {
  const p = busy.then(job);
  busy = p.then(() => undefined, () => undefined);
  return p;
}

function sceneImage(seed = 7, index = 0, W = 256, H = 128) {
  const s = syntheticScene(seed, index, W, H);
  return { chw: s.image, H, W, name: `procedural scene ${index} (seed ${seed})` };
}

function draw(id: string | HTMLCanvasElement, rgb: Uint8Array, W: number, H: number): HTMLCanvasElement {
  const c = typeof id === 'string' ? $<HTMLCanvasElement>(id) : id;
  c.width = W; c.height = H;
  c.getContext('2d')!.putImageData(new ImageData(rgbToRgba(rgb) as Uint8ClampedArray<ArrayBuffer>, W, H), 0, 0);
  return c;
}

function showError(where: string, e: unknown): void {
  const el = $(where);
  el.textContent = (e as Error).message ?? String(e);
  el.classList.add('error');
  console.error(e);
}

// ---------------------------------------------------------------------------------------------
// WebGPU

async function start(): Promise<void> {
  const status = $('gpu');
  try {
    gpu = await createBrowserEngine();
  } catch (e) {
    status.classList.add('error');
    status.textContent = e instanceof NoWebGpuError ? `No WebGPU here. ${e.message}` : `WebGPU failed to start: ${(e as Error).message}`;
    throw e;
  }
  const { info, features, compatibility, probe, engine, device } = gpu;
  const name = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s !== '0x0000').join(' | ') || '(the browser hides the adapter\'s name)';
  status.textContent = [
    `adapter:  ${name}${compatibility ? '  [compatibility mode]' : ''}`,
    `features: ${features.join(', ') || 'none of shader-f16, subgroups, timestamp-query'}`,
    `limits:   ${(device.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB per storage binding, ${device.limits.maxComputeInvocationsPerWorkgroup} invocations per workgroup`,
    `kernels:  ${engine.kernelFamily} (${engine.deviceClass} class${probe ? `, chosen by a timing probe: ${Object.entries(probe.ms).map(([f, ms]) => `${f} ${ms!.toFixed(1)} ms`).join(', ')}` : ', from the adapter'})`,
  ].join('\n');
  device.lost.then((l) => { status.classList.add('error'); status.textContent = `The GPU device was lost (${l.reason}: ${l.message}). Reload the page.`; });
}

// ---------------------------------------------------------------------------------------------
// 1 · segmentation

function setModel(m: Current | null): void {
  current = m;
  $('model-status').textContent = m ? `model: ${m.name} (${m.source}), ${m.system.module.numParameters().toLocaleString('en')} parameters` : 'No model yet.';
  ($('run-segment') as HTMLButtonElement).disabled = !m;
  if (m) void refresh();
}

async function loadCheckpoint(file: File): Promise<void> {
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    await serial(async () => {
      const m = loadModel(file.name, undefined, undefined, weightsFromBytes(bytes, file.name));
      loaded?.system.dispose();
      loaded = m;
      setModel({ name: m.spec.name, system: m.system, spec: m.spec, options: m.options, multiple: m.spec.multiple(m.options),
        palette: paletteOf(m.meta, m.numClasses).palette, source: file.name });
    });
  } catch (e) { showError('model-status', e); }
}

async function loadImage(file: File): Promise<void> {
  try {
    const bmp = await createImageBitmap(file);
    const scale = Math.min(1, 512 / bmp.width, 256 / bmp.height);   // the page's GPU may be a CPU: keep it small
    const W = Math.max(8, Math.round(bmp.width * scale)), H = Math.max(8, Math.round(bmp.height * scale));
    const c = new OffscreenCanvas(W, H), g = c.getContext('2d')!;
    g.drawImage(bmp, 0, 0, W, H);
    image = { chw: toChwFloat(g.getImageData(0, 0, W, H)), H, W, name: `${file.name} (${W}x${H})` };
    await refresh();
  } catch (e) { showError('segment-status', e); }
}

async function segmentShown(): Promise<void> {
  const { chw, H, W } = image, rgb = fromChwFloat(chw, W, H);
  draw('c-input', rgb, W, H);
  if (!current) return;
  const m = current;
  const t0 = performance.now();
  const seg = await serial(() => segmentImage(m.system, chw, H, W, m.multiple, m.spec.distortion === 'always' ? simFor(H, W, m.multiple) : null, simSeed()));
  const ms = performance.now() - t0;
  const col = colourise(seg.classes, m.palette);
  draw('c-seg', col, W, H);
  draw('c-overlay', blend(rgb, col), W, H);
  $('segment-status').classList.remove('error');
  $('segment-status').textContent = `${image.name}: ${m.name} in ${ms.toFixed(0)} ms (upload, forward, read-back)`;
}

// ---------------------------------------------------------------------------------------------
// 2 · heat shimmer

let sim: TurbulenceSimulator | null = null;
const simSeed = () => Number(($('sim-seed') as HTMLInputElement).value) || 0;
function simFor(H: number, W: number, multiple = 8): TurbulenceSimulator {
  const PH = Math.ceil(H / multiple) * multiple, PW = Math.ceil(W / multiple) * multiple;
  const sigma = Number(($('sigma') as HTMLInputElement).value), corrLength = Number(($('corr') as HTMLInputElement).value);
  const p = sim?.params;
  if (!sim || sim.height !== PH || sim.width !== PW || p!.sigma !== sigma || p!.corrLength !== corrLength) {
    sim?.dispose();
    sim = new TurbulenceSimulator(PH, PW, { sigma, corrLength });
  }
  return sim;
}

async function shimmer(): Promise<void> {
  $('sigma-v').textContent = ($('sigma') as HTMLInputElement).value;
  $('corr-v').textContent = ($('corr') as HTMLInputElement).value;
  const { chw, H, W } = image, m = current;
  await serial(async () => {
    const s = simFor(H, W, m?.multiple ?? 8);
    if (!m) {                                    // the simulator alone
      draw('c-distorted', fromChwFloat(await distortImage(s, chw, H, W, simSeed()), W, H), W, H);
      return;
    }
    const seg = await segmentImage(m.system, chw, H, W, m.multiple, s, simSeed());
    draw('c-distorted', fromChwFloat(seg.images.input, W, H), W, H);
    draw('c-distorted-seg', colourise(seg.classes, m.palette), W, H);
    showFeedback(seg, m, W, H);
  });
}

function showFeedback(seg: Segmentation, m: Current, W: number, H: number): void {
  const row = $('feedback-row');
  row.replaceChildren();
  if (!seg.images.restored) return;
  const fig = (caption: string, rgb: Uint8Array) => {
    const f = document.createElement('figure'), c = document.createElement('canvas'), cap = document.createElement('figcaption');
    cap.textContent = caption;
    f.append(draw(c, rgb, W, H), cap);
    row.append(f);
  };
  fig('restored (U-Net warp)', fromChwFloat(seg.images.restored, W, H));
  seg.perOutput.forEach((cls, k) => fig(`segmentation, iteration ${k + 1}`, colourise(cls, m.palette)));
  $('shimmer-status').textContent = `${m.name}: ${seg.perOutput.length} feedback iterations`;
}

async function refresh(): Promise<void> {
  try { await segmentShown(); await shimmer(); } catch (e) { showError('segment-status', e); }
}

// ---------------------------------------------------------------------------------------------
// 3 · training

let stopTraining = false;
const curve: { step: number; loss: number }[] = [], mious: { step: number; miou: number }[] = [];

/** A round tick spacing (1, 2, 2.5 or 5 × 10^k) giving about `n` intervals over [0, max]. */
function tickStep(max: number, n: number): number {
  const raw = max / n, p = 10 ** Math.floor(Math.log10(raw)), f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

function plotCurve(): void {
  const c = $<HTMLCanvasElement>('c-curve'), g = c.getContext('2d')!, Wc = c.width, Hc = c.height;
  const L = 56, R = 56, T = 14, B = 36, w = Wc - L - R, h = Hc - T - B;
  g.clearRect(0, 0, Wc, Hc);
  g.font = '12px system-ui, sans-serif';
  const sx = tickStep(Math.max(10, ...curve.map((p) => p.step)), 6), maxStep = sx * Math.ceil(Math.max(10, ...curve.map((p) => p.step)) / sx);
  const sl = tickStep(Math.max(0.5, ...curve.map((p) => p.loss)), 4), maxLoss = sl * Math.ceil(Math.max(0.5, ...curve.map((p) => p.loss)) / sl);
  const x = (s: number) => L + (w * s) / maxStep, yl = (v: number) => T + h * (1 - v / maxLoss), ym = (v: number) => T + h * (1 - v);
  g.strokeStyle = '#ddd'; g.fillStyle = '#444';
  for (let v = 0; v <= maxLoss + 1e-9; v += sl) {                  // loss grid and ticks (left)
    g.beginPath(); g.moveTo(L, yl(v)); g.lineTo(L + w, yl(v)); g.stroke();
    g.textAlign = 'right'; g.fillText(String(+v.toFixed(3)), L - 6, yl(v) + 4);
  }
  g.strokeStyle = '#999'; g.textAlign = 'left';
  for (let v = 0; v <= 1; v += 0.25) {                               // mIoU ticks (right)
    g.beginPath(); g.moveTo(L + w, ym(v)); g.lineTo(L + w + 4, ym(v)); g.stroke();
    g.fillText(`${100 * v}%`, L + w + 6, ym(v) + 4);
  }
  g.textAlign = 'center';
  for (let s = 0; s <= maxStep; s += sx) g.fillText(String(s), x(s), T + h + 16);
  g.fillText('training step', L + w / 2, Hc - 4);
  g.save(); g.translate(14, T + h / 2); g.rotate(-Math.PI / 2); g.fillStyle = '#0072b2'; g.fillText('training loss (cross-entropy)', 0, 0); g.restore();
  g.save(); g.translate(Wc - 8, T + h / 2); g.rotate(Math.PI / 2); g.fillStyle = '#d55e00'; g.fillText('validation mIoU', 0, 0); g.restore();
  const line = (pts: [number, number][], colour: string) => {
    g.strokeStyle = colour; g.lineWidth = 2; g.beginPath();
    pts.forEach(([px, py], i) => (i ? g.lineTo(px, py) : g.moveTo(px, py)));
    g.stroke(); g.lineWidth = 1;
    g.fillStyle = colour;
    if (pts.length < 40) for (const [px, py] of pts) g.fillRect(px - 2, py - 2, 4, 4);
  };
  line(curve.map((p) => [x(p.step), yl(p.loss)]), '#0072b2');
  line(mious.map((p) => [x(p.step), ym(p.miou)]), '#d55e00');
}

function newTrainer(): LiveTrainer {
  const name = ($('train-model') as HTMLSelectElement).value;
  if (trainer && trainer.spec.name === name) return trainer;
  trainer?.dispose();
  curve.length = 0; mious.length = 0;
  trainer = new LiveTrainer({ model: name, batchSize: 4, ...(getModel(name).distortion === 'always' ? { distortion: { sigma: 1.5, corrLength: 8 } } : {}) });
  return trainer;
}

async function train(): Promise<void> {
  const steps = Number(($('train-steps') as HTMLInputElement).value);
  const buttons = { start: $('train-start') as HTMLButtonElement, stop: $('train-stop') as HTMLButtonElement, save: $('train-save') as HTMLButtonElement };
  buttons.start.disabled = true; buttons.stop.disabled = false; stopTraining = false;
  const status = $('train-status');
  status.classList.remove('error');
  try {
    const tr = await serial(async () => newTrainer());
    const t0 = performance.now(), first = tr.steps;
    for (let i = 0; i < steps && !stopTraining; i++) {
      const loss = await serial(() => tr.step());
      curve.push({ step: tr.steps, loss });
      if (tr.steps % 25 === 0 || i === steps - 1) {
        const r = await serial(() => tr.evaluate());
        mious.push({ step: tr.steps, miou: r.miou });
      }
      plotCurve();
      const rate = ((tr.steps - first) * tr.batchSize) / ((performance.now() - t0) / 1000);
      status.textContent = `step ${tr.steps}: loss ${loss.toFixed(4)}${mious.length ? `, validation mIoU ${(100 * mious[mious.length - 1].miou).toFixed(2)}%` : ''} · ${rate.toFixed(1)} images/s`;
    }
    setModel({ name: tr.spec.name, system: tr.system, spec: tr.spec, options: tr.options, multiple: tr.spec.multiple(tr.options),
      palette: paletteOf({}, 20).palette, source: `trained here, ${tr.steps} steps` });
    buttons.save.disabled = false;
  } catch (e) { showError('train-status', e); }
  buttons.start.disabled = false; buttons.stop.disabled = true;
}

async function saveCheckpoint(): Promise<void> {
  if (!trainer) return;
  const bytes = await serial(() => trainer!.checkpoint());
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  a.download = `${trainer.spec.name}-${trainer.steps}steps.safetensors`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ---------------------------------------------------------------------------------------------
// Hooks for the browser test (test/browser.test.ts), which computes the same in Node and compares.

const testHooks = {
  info: () => ({ kernels: gpu!.engine.kernelFamily, deviceClass: gpu!.engine.deviceClass, compatibility: gpu!.compatibility, probe: gpu!.probe, features: gpu!.features }),
  /** ERFNet (registry init, `seed`) on procedural scene (sceneSeed, index) of W×H: all logits. */
  erfnetLogits: (seed: number, sceneSeed: number, index: number, W: number, H: number) => serial(async () => {
    const spec = getModel('erfnet');
    const sys = spec.build({ 'encoder-only': false }, { numClasses: 20, ignoreIndex: 19, weight: null, seed, init: true });
    try {
      sys.train(false);
      const seg = await segmentImage(sys, syntheticScene(sceneSeed, index, W, H).image, H, W, 8);
      return Array.from(seg.logits);
    } finally { sys.dispose(); }
  }),
  /** The simulator's distortion of scene (sceneSeed, index) with field seed `seed`. */
  simulate: (sceneSeed: number, index: number, W: number, H: number, sigma: number, corrLength: number, seed: number) => serial(async () => {
    const s = new TurbulenceSimulator(H, W, { sigma, corrLength });
    try { return Array.from(await distortImage(s, syntheticScene(sceneSeed, index, W, H).image, H, W, seed)); } finally { s.dispose(); }
  }),
  /** `steps` live-training steps of ERFNet from a reseeded engine: the losses. */
  trainLosses: (steps: number, seed: number, batchSize: number) => serial(async () => {
    gpu!.engine.reseed(seed);
    const tr = new LiveTrainer({ model: 'erfnet', seed, batchSize });
    try {
      const out: number[] = [];
      for (let i = 0; i < steps; i++) out.push(await tr.step());
      return out;
    } finally { tr.dispose(); }
  }),
  /** ERFNet inference on 1×3×H×W: milliseconds per forward (upload, forward, read-back of the classes) after `warm` runs. */
  timeErfnet: (W: number, H: number, reps: number, warm = 2) => serial(async () => {
    const sys = getModel('erfnet').build({}, { numClasses: 20, ignoreIndex: 19, weight: null, seed: 1, init: true });
    try {
      sys.train(false);
      const img = syntheticScene(3, 0, W, H).image;
      for (let i = 0; i < warm; i++) await segmentImage(sys, img, H, W, 8);
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) await segmentImage(sys, img, H, W, 8);
      return (performance.now() - t0) / reps;
    } finally { sys.dispose(); }
  }),
  /** Fills the page's sections as a user would (the screenshot). */
  demo: async (steps: number) => {
    ($('train-steps') as HTMLInputElement).value = String(steps);
    await train();
    await refresh();
  },
};

// ---------------------------------------------------------------------------------------------

const ready = (async () => {
  const sel = $<HTMLSelectElement>('train-model');
  for (const s of listModels().filter((m) => ['erfnet', 'mssa', 'feedback'].includes(m.name))) { const o = new Option(s.name, s.name); o.title = s.summary; sel.append(o); }
  draw('c-input', fromChwFloat(image.chw, image.W, image.H), image.W, image.H);
  await start();
  ($('train-start') as HTMLButtonElement).disabled = false;
  $('train-start').onclick = () => void train();
  $('train-stop').onclick = () => { stopTraining = true; };
  $('train-save').onclick = () => void saveCheckpoint();
  $('run-segment').onclick = () => void refresh();
  $<HTMLInputElement>('ckpt-file').onchange = (e) => { const f = (e.target as HTMLInputElement).files?.[0]; if (f) void loadCheckpoint(f); };
  $<HTMLInputElement>('image-file').onchange = (e) => { const f = (e.target as HTMLInputElement).files?.[0]; if (f) void loadImage(f); };
  for (const id of ['sigma', 'corr', 'sim-seed']) $(id).oninput = () => void shimmer().catch((e) => showError('shimmer-status', e));
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    for (const f of Array.from(e.dataTransfer?.files ?? [])) void (/\.safetensors$/i.test(f.name) ? loadCheckpoint(f) : loadImage(f));
  });
  plotCurve();
  await shimmer();
  return testHooks.info();
})();

(window as unknown as { mirage: unknown }).mirage = { ready, ...testHooks };
