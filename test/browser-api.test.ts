// The package's browser entry points: every file reachable from them imports only relative modules
// (no Node built-in, no npm package) and uses no Node global, so bundlers can ship them to pages.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NoWebGpuError, createBrowserEngine } from '../src/browser/device.js';
import { probeKernels } from '../src/browser/probe.js';
import { getEngine } from '../src/engine/engine.js';
import { syntheticScene } from '../src/data/synthetic.js';
import { weightsFromBytes } from '../src/io/checkpoint-data.js';
import { loadModel } from '../src/train/load.js';
import { LiveTrainer } from '../src/train/live.js';
import { segmentImage } from '../src/train/segment.js';

const t = test;
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Static and dynamic import specifiers of a TypeScript source (comments ignored). */
function importsOf(src: string): string[] {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(/^\s*(?:import|export)\b[^;'"]*?from\s*'([^']+)'|^\s*import\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm)]
    .map((m) => m[1] ?? m[2] ?? m[3]);
}

/** Every source file reachable from `entry`, with the non-relative imports and Node globals found. */
function closure(entry: string): { files: string[]; bad: string[] } {
  const seen = new Set<string>(), bad: string[] = [], todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const src = readFileSync(f, 'utf8');
    for (const m of importsOf(src)) {
      if (m.startsWith('.')) todo.push(join(dirname(f), m.replace(/\.js$/, '.ts')));
      else bad.push(`${relative(root, f)} imports '${m}'`);
    }
    const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const g of ['process.', 'Buffer.', 'require(', '__dirname']) if (code.includes(g)) bad.push(`${relative(root, f)} uses ${g}`);
  }
  return { files: [...seen], bad };
}

t('the package exports these entry points; all but ./node reach no Node module, npm package or Node global', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> };
  assert.equal(Object.keys(pkg.exports), ['.', './models', './train', './data', './sim', './browser', './node']);
  let total = 0;
  for (const [name, e] of Object.entries(pkg.exports)) {
    if (name === './node') continue;
    const src = join(root, e.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
    const { files, bad } = closure(src);
    assert.equal(bad, [], `mirage${name.slice(1)}`);
    total += files.length;
  }
  assert.ok(total > 50, `only ${total} files reached: the walk is not following imports`);
});

t('the import walk sees what it must refuse (checked on Node-side files)', () => {
  assert.ok(closure(join(root, 'src/io/checkpoint.ts')).bad.some((b) => b.includes("'node:fs'")));
  assert.ok(closure(join(root, 'src/train/trainer.ts')).bad.length > 3);
  assert.equal(importsOf("// import x from 'node:fs'\nimport { a } from './a.js';\nexport { b } from './b.js';\nconst m = await import('./c.js');"),
    ['./a.js', './b.js', './c.js']);
});

t('LiveTrainer: steps, IoU, and checkpoint bytes that load back (weightsFromBytes, loadModel) to the same logits', async () => {
  const tr = new LiveTrainer({ model: 'erfnet', seed: 5, batchSize: 2, valSize: 2, height: 32, width: 64 });
  let m: ReturnType<typeof loadModel> | null = null;
  try {
    const l1 = await tr.step(), l2 = await tr.step();
    assert.ok(Number.isFinite(l1) && Number.isFinite(l2) && l1 !== l2);
    assert.is(tr.steps, 2);
    const r = await tr.evaluate();
    assert.ok(r.miou >= 0 && r.miou <= 1 && r.iou.length === 19);
    const bytes = await tr.checkpoint();
    m = loadModel('live.safetensors', undefined, 20, weightsFromBytes(bytes, 'live.safetensors'));
    assert.is(m.spec.name, 'erfnet');
    assert.is(m.meta.steps, '2');
    tr.system.train(false);
    const img = syntheticScene(9, 0, 64, 32).image;
    const a = await segmentImage(tr.system, img, 32, 64, 8), b = await segmentImage(m.system, img, 32, 64, 8);
    assert.equal(Array.from(b.logits), Array.from(a.logits));
    assert.throws(() => weightsFromBytes(bytes.subarray(0, bytes.length - 4), 'cut.safetensors'), /cut\.safetensors: tensor \S+ lies outside the file/);
    assert.throws(() => new LiveTrainer({ model: 'erfnet', height: 30 }), /128x30 is not a multiple of 8/);
    assert.throws(() => new LiveTrainer({ model: 'feedback' }), /give a distortion/);
  } finally { tr.dispose(); m?.system.dispose(); }
});

t('no WebGPU: a clear error, whether navigator.gpu is missing or gives no adapter (retried)', async () => {
  await createBrowserEngine().then(() => assert.unreachable('Node has no navigator.gpu'), (e: Error) => {
    assert.instance(e, NoWebGpuError);
    assert.match(e.message, /no WebGPU \(navigator\.gpu is undefined\).*--enable-unsafe-webgpu/);
  });
  let asked = 0;
  const gpu = { requestAdapter: async () => { asked++; return null; } } as unknown as GPU;
  await createBrowserEngine({ gpu, tries: 3 }).then(() => assert.unreachable('no adapter'), (e: Error) => {
    assert.instance(e, NoWebGpuError);
    assert.match(e.message, /gave no adapter in 3 tries \(plain and compatibility mode\)/);
  });
  assert.is(asked, 6, 'a plain and a compatibility request per try');
  // Chromium losing its instance under requestDevice: a fresh adapter is asked for and tried again; other errors are final
  const lost = () => Object.assign(new Error("Failed to execute 'requestDevice' on 'GPUAdapter': A valid external Instance reference no longer exists."), { name: 'OperationError' });
  const fake = (outcomes: (() => Error)[]) => {
    let adapters = 0, devices = 0;
    const gpu = { requestAdapter: async () => {
      adapters++;
      return { features: new Set<string>(['core-features-and-limits']), limits: {}, info: {}, requestDevice: async () => { throw outcomes[Math.min(devices++, outcomes.length - 1)](); } };
    } } as unknown as GPU;
    return { gpu, counts: () => [adapters, devices] };
  };
  const once = fake([lost, () => new TypeError('requiredLimits: bad value')]);
  await createBrowserEngine({ gpu: once.gpu, tries: 5 }).then(() => assert.unreachable('second error is final'), (e: Error) => {
    assert.instance(e, TypeError);
    assert.match(e.message, /requiredLimits: bad value/);
  });
  assert.equal(once.counts(), [2, 2], 'one retry on a fresh adapter, then the other error as it is');
  const always = fake([lost]);
  await createBrowserEngine({ gpu: always.gpu, tries: 3 }).then(() => assert.unreachable('never a device'), (e: Error) => {
    assert.instance(e, NoWebGpuError);
    assert.match(e.message, /requestDevice failed 3 times: Chromium kept losing its WebGPU instance .*reload the page/);
  });
  assert.equal(always.counts(), [3, 3]);
});

t('the kernel probe times every family the device can run and leaves the engine on the fastest', async () => {
  const e = getEngine(), was = { k: e.kernelFamily, c: e.deviceClass, s: e.splitReductions };
  const live = e.pool.stats().bytesLive;
  try {
    const r = await probeKernels(e, 1);
    const tried = Object.keys(r.ms).sort();
    assert.equal(tried, e.canSubgroup ? ['portable', 'subgroup', 'tiled'] : ['portable', 'tiled']);
    for (const f of tried) assert.ok(r.ms[f as keyof typeof r.ms]! > 0);
    assert.is(r.family, tried.reduce((a, b) => (r.ms[b as keyof typeof r.ms]! < r.ms[a as keyof typeof r.ms]! ? b : a)));
    assert.is(e.kernelFamily, r.family);
    assert.is(e.deviceClass, r.family === 'tiled' ? 'gpu' : 'cpu');
    assert.is(e.pool.stats().bytesLive, live, 'the probe frees its tensors');
  } finally { e.kernelFamily = was.k; e.deviceClass = was.c; e.splitReductions = was.s; }
});

t.run();
