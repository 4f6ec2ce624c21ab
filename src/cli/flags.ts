// Numeric flags are checked before any command runs: a number is a number (yargs turns "abc" into
// NaN), counts are integers, and each value is in its range. The error names the flag and the value
// as typed. One table for every command, so `--batch-size` means the same everywhere.

interface Rule { int?: boolean; min?: number; max?: number; /** min excluded */ above?: boolean }

const RULES: Record<string, Rule> = {
  seed: { int: true, min: 0 }, epochs: { int: true, min: 1 }, 'batch-size': { int: true, min: 1 },
  'train-size': { int: true, min: 1 }, 'val-size': { int: true, min: 1 }, height: { int: true, min: 1 }, width: { int: true, min: 1 },
  'steps-loss': { int: true, min: 1 }, translate: { int: true, min: 0 }, lr: { min: 0, above: true }, 'lr-restore': { min: 0, above: true },
  'weight-decay': { min: 0 }, momentum: { min: 0 }, iterations: { int: true, min: 1, max: 6 }, 'unet-depth': { int: true, min: 2, max: 7 },
  'unet-width': { int: true, min: 0, max: 8 }, 'feedback-scale': { min: 0 }, sigma: { min: 0 }, 'corr-length': { min: 0, above: true },
  anisotropy: { min: 0, above: true }, blur: { min: 0 }, cn2: { min: 0 }, 'path-length': { min: 0, above: true },
  'focal-length': { min: 0, above: true }, aperture: { min: 0, above: true }, 'pixel-pitch': { min: 0, above: true },
  wavelength: { min: 0, above: true }, 'outer-scale': { min: 0, above: true }, 'flow-loss': { min: 0 }, frames: { int: true, min: 1, max: 16 }, 'frame-correlation': { min: 0, max: 0.999 }, 'ego-motion': { min: -16, max: 16 }, limit: { int: true, min: 1 }, top: { int: true, min: 1 }, reps: { int: true, min: 1 },
  classes: { int: true, min: 2 },
};

/** The value as typed for --flag (from --flag V or --flag=V), for error messages. */
function typed(flag: string, argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${flag}`) return argv[i + 1];
    if (argv[i].startsWith(`--${flag}=`)) return argv[i].slice(flag.length + 3);
  }
  return undefined;
}

/** Throws on the first numeric flag that is not a number, not an integer where counts are, or out of range. */
export function checkNumericFlags(a: Record<string, unknown>, argv: string[] = process.argv.slice(2)): void {
  for (const [flag, r] of Object.entries(RULES)) {
    const v = a[flag];
    if (v === undefined) continue;
    const shown = typed(flag, argv) ?? String(v);
    if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`--${flag} ${shown}: expected a number`);
    const range = r.max !== undefined ? `from ${r.min} to ${r.max}` : `${r.above ? '>' : '≥'} ${r.min}`;
    const want = `${r.int ? 'an integer' : 'a number'} ${range}`;
    if ((r.int && !Number.isInteger(v)) || !Number.isFinite(v) || (r.min !== undefined && (r.above ? v <= r.min : v < r.min)) ||
      (r.max !== undefined && v > r.max)) {
      throw new Error(`--${flag} ${shown}: must be ${want}`);
    }
  }
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), for "did you mean". */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** "unknown command 'trian' (did you mean train?)" when the first word is not a command, else null. */
export function unknownCommand(argv: string[], commands: string[]): string | null {
  const first = argv.find((s) => !s.startsWith('-'));
  if (first === undefined || argv[0] !== first || commands.includes(first)) return null;
  const near = commands.map((c) => [c, editDistance(first, c)] as const).filter(([, d]) => d <= 2).sort((x, y) => x[1] - y[1]);
  return `unknown command '${first}'${near.length ? ` (did you mean ${near[0][0]}?)` : ''}; the commands are ${commands.join(', ')}`;
}
