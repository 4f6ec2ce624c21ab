import { type BenchOptions, runBench } from '../../bench/run.js';
import { erfnetConvs } from '../../bench/shapes.js';
import { getModel } from '../models/registry.js';

export interface BenchArgs { quick?: boolean; full?: boolean; reps: number; peer: boolean; out: string; only?: string; convSize?: string; shapes?: string;
  model?: string; inference?: boolean }

export async function bench(a: BenchArgs): Promise<void> {
  if (!(a.reps >= 1)) throw new Error(`--reps must be ≥ 1, got ${a.reps}`);
  const only = a.only?.split(',').map((s) => s.trim());
  for (const p of only ?? []) if (p !== 'convs' && p !== 'models' && p !== 'grouped') throw new Error(`--only: unknown part '${p}' (convs, models, grouped)`);
  let convSize: [number, number] | undefined;
  if (a.convSize !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(a.convSize);
    if (!m || Number(m[1]) % 8 || Number(m[2]) % 8 || Number(m[1]) < 8) throw new Error(`--conv-size '${a.convSize}': give HxW, both multiples of 8 (e.g. 128x256)`);
    convSize = [Number(m[1]), Number(m[2])];
  }
  let shapes: string[] | undefined;
  if (a.shapes !== undefined) {
    shapes = a.shapes.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const names = erfnetConvs(1, 64, 128).map((c) => c.name);
    const unknown = shapes.filter((s) => !names.some((n) => n.toLowerCase().includes(s)));
    if (!shapes.length || unknown.length) {
      throw new Error(`--shapes '${a.shapes}': ${unknown.length ? `no conv shape matches '${unknown.join("', '")}'` : 'empty'}; the shapes are: ${names.join('; ')}`);
    }
  }
  // unknown names fail before the GPU starts
  const models = a.model?.split(',').map((s) => getModel(s.trim()).name);
  if (a.inference && only) throw new Error('--inference runs the frames-per-second part alone; leave out --only');
  await runBench({ models, quick: a.quick, full: a.full, reps: a.reps, peer: a.peer, outDir: a.out, inference: a.inference,
    only: a.inference ? [] : only as BenchOptions['only'], convSize, shapes,
    command: `mirage bench ${process.argv.slice(3).map((s) => (/\s/.test(s) ? `'${s}'` : s)).join(' ')}`.trim() });
}
