// mirage simulate: a heat-distorted copy of a data-set tree in the same layout (the reference's
// tcityscapes/ beside cityscapes/). Images are warped; label PNGs and other files are copied as they
// are (labels are not warped); the distortion of each image is fixed by --seed and its path.
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { scope } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { fromChwFloat, toChwFloat } from '../data/image.js';
import { readPng, writePng } from '../data/png.js';
import { type TurbulenceParams, TurbulenceSimulator, describeTurbulence, resolveTurbulence } from '../sim/turbulence.js';
import { startEngine } from './common.js';
import { Progress } from '../train/progress.js';

export interface SimulateArgs extends TurbulenceParams { in: string; out: string; seed: number; dryRun?: boolean; overwrite?: boolean }

/** σ above this share of the image's smaller side tears objects apart rather than bending them. */
const LARGE_SIGMA = 0.02;

const isLabel = (rel: string) => /gtFine|annot[/\\]|_labels[/\\]|(^|[/\\])labels[/\\]|_L\.png$|_gtFine_/.test(rel);

function walk(root: string): string[] {
  const out: string[] = [];
  const go = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) go(join(d, e.name)); else out.push(join(d, e.name));
    }
  };
  go(root);
  return out;
}

const pathSeed = (seed: number, rel: string) => {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < rel.length; i++) h = Math.imul(h ^ rel.charCodeAt(i), 0x01000193) >>> 0;
  return h;
};

export async function simulate(a: SimulateArgs): Promise<void> {
  if (!existsSync(a.in) || !statSync(a.in).isDirectory()) throw new Error(`--in ${a.in} is not a folder`);
  if (a.out === a.in) throw new Error('--out must differ from --in (the clean data set is kept)');
  if (existsSync(a.out) && !a.overwrite) throw new Error(`--out ${a.out} already exists; pass --overwrite to replace it, or choose another folder`);
  resolveTurbulence(a);                           // bad parameters fail before anything is written
  const files = walk(a.in);
  const images = files.filter((f) => f.toLowerCase().endsWith('.png') && !isLabel(relative(a.in, f)));
  if (!images.length) throw new Error(`--in ${a.in}: no image PNGs found`);
  const { close } = await startEngine(a.seed);
  const sims = new Map<string, TurbulenceSimulator>();
  const warned = new Set<string>();
  const tmp = `${a.out}.partial-${process.pid}`;   // renamed to --out only when every file is written
  try {
    const bar = new Progress('simulate', images.length);
    let done = 0;
    for (const f of files) {
      const rel = relative(a.in, f), dst = join(tmp, rel);
      mkdirSync(dirname(dst), { recursive: true });
      if (!images.includes(f)) { copyFileSync(f, dst); continue; }
      const img = readPng(f);
      const key = `${img.width}x${img.height}`;
      let sim = sims.get(key);
      if (!sim) { sim = new TurbulenceSimulator(img.height, img.width, a); sims.set(key, sim); }
      if (done === 0) console.log(`distortion at ${key}: ${describeTurbulence(sim.params, await sim.statistics(8, a.seed))}`);
      if (!warned.has(key) && sim.params.sigma > LARGE_SIGMA * Math.min(img.width, img.height)) {
        warned.add(key);
        console.warn(`warning: σ ${sim.params.sigma.toFixed(1)} px is ${(100 * sim.params.sigma / Math.min(img.width, img.height)).toFixed(1)}% of ` +
          `the ${key} images' smaller side: heat shimmer at that strength tears small objects apart. ` +
          `${sim.params.mode === 'physical' ? 'Set --pixel-pitch to the metres per pixel at this image size (the default 4e-6 is a 1024-px frame), or lower --cn2' : 'Lower --sigma'}.`);
      }
      const out = scope(() => sim!.distort(tensor(toChwFloat(img), [1, 3, img.height, img.width]), pathSeed(a.seed, rel)).image);
      const chw = await out.readF32();
      out.dispose();
      writePng(dst, img.width, img.height, fromChwFloat(chw, img.width, img.height), 3);
      bar.update(++done, done);
    }
    if (existsSync(a.out)) rmSync(a.out, { recursive: true });   // --overwrite: the old copy goes only now
    renameSync(tmp, a.out);
    bar.done(`→ ${a.out} (${images.length} images distorted, ${files.length - images.length} other files copied)`);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    for (const s of sims.values()) s.dispose();
    close();
  }
}
