import { runBench } from '../../bench/run.js';

export interface BenchArgs { quick?: boolean; full?: boolean; reps: number; peer: boolean; out: string }

export async function bench(a: BenchArgs): Promise<void> {
  if (!(a.reps >= 1)) throw new Error(`--reps must be ≥ 1, got ${a.reps}`);
  await runBench({ quick: a.quick, full: a.full, reps: a.reps, peer: a.peer, outDir: a.out,
    command: `mirage bench ${process.argv.slice(3).join(' ')}`.trim() });
}
