// A progress bar on stderr: redrawn in place on a terminal; in logs (CI) one line per 10%.
export class Progress {
  private readonly t0 = performance.now();
  private lastPct = -1;
  // MIRAGE_STDERR_TTY: stderr is a pipe to the mirage parent process that filters it onto a terminal (src/cli/quiet.ts)
  private readonly tty = process.stderr.isTTY === true || process.env.MIRAGE_STDERR_TTY === '1';
  constructor(readonly label: string, readonly total: number, readonly unit = 'img') {}

  update(done: number, items: number, extra = ''): void {
    const secs = (performance.now() - this.t0) / 1000;
    const frac = this.total ? done / this.total : 1;
    const rate = secs > 0 ? items / secs : 0;
    const eta = frac > 0 ? secs * (1 - frac) / frac : 0;
    const width = 24, fill = Math.round(frac * width);
    const line = `${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${this.total} ` +
      `${rate.toFixed(2)} ${this.unit}/s ETA ${fmtTime(eta)}${extra ? ` ${extra}` : ''}`;
    if (this.tty) process.stderr.write(`\r${line}\x1b[K`);
    else {
      const pct = Math.floor(frac * 10);
      if (pct !== this.lastPct || done === this.total) { this.lastPct = pct; process.stderr.write(`${line}\n`); }
    }
  }

  done(extra = ''): number {
    const secs = (performance.now() - this.t0) / 1000;
    if (this.tty) process.stderr.write(`\r\x1b[K`);
    process.stderr.write(`${this.label} done in ${fmtTime(secs)}${extra ? ` ${extra}` : ''}\n`);
    return secs;
  }
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--';
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  return h ? `${h}h${String(m % 60).padStart(2, '0')}m` : m ? `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s` : `${s.toFixed(1)}s`;
}
