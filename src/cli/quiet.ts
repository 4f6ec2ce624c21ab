// The CLI runs each command in a child process, for two reasons.
// 1. Dawn's native code prints two "artificially reduced" warnings to stderr on some adapters
//    (lavapipe) whenever a device is created. JavaScript cannot silence a native write, so unless
//    --verbose the child's stderr passes through a filter that drops exactly those lines; all else
//    (progress bars included) passes at once.
// 2. A lavapipe that setup.sh put into the clone's .mesa/ (no root) needs Vulkan variables set
//    before the process starts.
// The child is in its own process group, so Ctrl-C reaches it once, through the parent, and the
// parent exits as the child did (same code, or same signal).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const PREFIX = 'Warning: maxDynamic';

const verbose = () => process.argv.includes('--verbose');

/**
 * The Vulkan variables for a lavapipe that setup.sh put into the clone's .mesa/ (no root), which a
 * process must have from its start (the loader reads LD_LIBRARY_PATH then); none when there is no
 * .mesa/ or the user set them.
 */
export function mesaEnv(): Record<string, string> {
  const icd = join(fileURLToPath(new URL('../../../', import.meta.url)), '.mesa', 'lvp_icd.json');   // dist/src/cli → the clone
  if (process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES || !existsSync(icd)) return {};
  const lib = dirname((JSON.parse(readFileSync(icd, 'utf8')) as { ICD: { library_path: string } }).ICD.library_path);
  return { VK_DRIVER_FILES: icd, VK_ICD_FILENAMES: icd, LD_LIBRARY_PATH: `${lib}${process.env.LD_LIBRARY_PATH ? `:${process.env.LD_LIBRARY_PATH}` : ''}` };
}

/** True in the child that runs the command, or with --verbose when no environment has to be added. */
export const runsCommand = (): boolean => process.env.MIRAGE_FILTERED === '1' || (verbose() && !Object.keys(mesaEnv()).length);

/** In the child: end when the parent is gone (e.g. killed with SIGKILL), instead of running on. */
export function exitWithParent(): void {
  if (process.env.MIRAGE_FILTERED !== '1') return;
  const parent = process.ppid;
  setInterval(() => { if (process.ppid !== parent) process.exit(129); }, 1000).unref();
}

/** Runs this same command line in a filtered child and mirrors its exit. */
export function runFiltered(): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'pipe'], detached: true,
    env: { ...process.env, ...mesaEnv(), MIRAGE_FILTERED: '1', ...(process.stderr.isTTY ? { MIRAGE_STDERR_TTY: '1' } : {}) },
  });
  const filter = !verbose();
  let held = '';
  child.stderr!.on('data', (b: Buffer) => {
    const lines = (held + b.toString()).split('\n');
    held = '';
    const last = lines.pop()!;
    const keep = lines.filter((l) => !filter || !NOISE.test(l));
    if (keep.length) process.stderr.write(`${keep.join('\n')}\n`);
    // a line that may still become one of the warnings waits for its end; anything else goes now
    if (filter && last && (PREFIX.startsWith(last) || last.startsWith(PREFIX))) held = last;
    else if (last) process.stderr.write(last);
  });
  const forward = (sig: NodeJS.Signals) => () => { if (child.exitCode === null) child.kill(sig); };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  child.on('error', (e) => { process.stderr.write(`mirage: cannot start the command: ${e.message}\n`); process.exitCode = 1; });
  child.on('close', (code, signal) => {
    if (held && (!filter || !NOISE.test(held))) process.stderr.write(held);
    for (const [s, h] of handlers) process.off(s, h);
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
}
