// Dawn's native code prints two "artificially reduced" warnings to stderr on some adapters
// (lavapipe) when a device is created, on every command. JavaScript cannot silence a native write,
// so unless --verbose the command runs in a child process whose stderr passes through a filter that
// drops exactly those lines; everything else (progress bars included) passes at once. The child is
// in its own process group, so Ctrl-C reaches it once, through the parent, and the parent exits
// as the child did (same code, or same signal).
import { spawn } from 'node:child_process';

const NOISE = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const PREFIX = 'Warning: maxDynamic';

/** True in the child that runs the command (or with --verbose, where nothing is filtered). */
export const runsCommand = (): boolean => process.env.MIRAGE_FILTERED === '1' || process.argv.includes('--verbose');

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
    env: { ...process.env, MIRAGE_FILTERED: '1', ...(process.stderr.isTTY ? { MIRAGE_STDERR_TTY: '1' } : {}) },
  });
  let held = '';
  child.stderr!.on('data', (b: Buffer) => {
    const lines = (held + b.toString()).split('\n');
    held = '';
    const last = lines.pop()!;
    const keep = lines.filter((l) => !NOISE.test(l));
    if (keep.length) process.stderr.write(`${keep.join('\n')}\n`);
    // a line that may still become one of the warnings waits for its end; anything else goes now
    if (last && (PREFIX.startsWith(last) || last.startsWith(PREFIX))) held = last;
    else if (last) process.stderr.write(last);
  });
  const forward = (sig: NodeJS.Signals) => () => { if (child.exitCode === null) child.kill(sig); };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((s) => [s, forward(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  child.on('error', (e) => { process.stderr.write(`mirage: cannot start the command: ${e.message}\n`); process.exitCode = 1; });
  child.on('close', (code, signal) => {
    if (held && !NOISE.test(held)) process.stderr.write(held);
    for (const [s, h] of handlers) process.off(s, h);
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
}
