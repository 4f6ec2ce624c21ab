// Multiply-accumulate counting for model tables (params / GFLOPs): while `countMacs` runs, the
// forward of every convolution, transposed convolution and matrix product adds its nominal MACs
// (taps on padding included, as fvcore and thop count them). Batch norm, activations, pooling and
// resizing are not counted (their share is small, and the seed tables count the same way).
// GFLOPs = 2 × GMACs. The count is per forward call of the ops, backward passes excluded.

let active: { macs: number } | null = null;

/** Runs fn and returns its result with the MACs of the convolutions and products it ran. */
export function countMacs<T>(fn: () => T): { result: T; macs: number } {
  const outer = active, mine = { macs: 0 };
  active = mine;
  try {
    const result = fn();
    return { result, macs: mine.macs };
  } finally {
    active = outer;
    if (outer) outer.macs += mine.macs;
  }
}

/** Called by the ops' forwards. */
export function addMacs(n: number): void { if (active) active.macs += n; }
