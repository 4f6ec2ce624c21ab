import { BufferUsage, MapMode } from './gpu-consts.js';

export interface KernelTiming { name: string; ms: number }

/** Dispatches per query set: WebGPU allows 4096 queries in one set, two per dispatch. */
const PER_SET = 2048;

/**
 * GPU time per dispatch from timestamp queries: while active, the engine gives each dispatch its
 * own compute pass with begin/end timestamps (needs the 'timestamp-query' feature; Dawn's
 * timestamp quantization should be off, see platform.md §B3). Query sets are made 2048 dispatches
 * at a time, up to `capacity`; dispatches past it are counted in `dropped`, not timed.
 */
export class Profiler {
  private readonly sets: GPUQuerySet[] = [];
  readonly names: string[] = [];
  dropped = 0;
  constructor(private readonly device: GPUDevice, readonly capacity = PER_SET) {}

  /** Timestamp slots for the next dispatch, or undefined when full. */
  next(name: string): GPUComputePassTimestampWrites | undefined {
    const i = this.names.length;
    if (i >= this.capacity) { this.dropped++; return undefined; }
    const j = i % PER_SET;
    if (j === 0) this.sets.push(this.device.createQuerySet({ type: 'timestamp', count: 2 * PER_SET, label: `profiler ${this.sets.length}` }));
    this.names.push(name);
    return { querySet: this.sets[this.sets.length - 1], beginningOfPassWriteIndex: 2 * j, endOfPassWriteIndex: 2 * j + 1 };
  }

  /** Encodes the resolve and returns a promise of per-dispatch timings (after the caller submits). */
  resolve(encoder: GPUCommandEncoder): () => Promise<KernelTiming[]> {
    const n = this.names.length;
    const bytes = Math.max(16, 16 * n);
    const resolveBuf = this.device.createBuffer({ size: bytes, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
    const readBuf = this.device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    this.sets.forEach((set, k) => encoder.resolveQuerySet(set, 0, 2 * Math.min(PER_SET, n - k * PER_SET), resolveBuf, 16 * PER_SET * k));
    if (n > 0) encoder.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, bytes);
    const names = this.names.slice(), sets = this.sets.slice();
    return async () => {
      try {
        await readBuf.mapAsync(MapMode.READ);
        const ts = new BigUint64Array(readBuf.getMappedRange().slice(0));
        return names.map((name, i) => ({ name, ms: Number(ts[2 * i + 1] - ts[2 * i]) / 1e6 }));
      } finally {
        readBuf.destroy();
        resolveBuf.destroy();
        for (const s of sets) s.destroy();
      }
    };
  }
}

/** Sums timings by kernel name, largest total first. */
export function summarize(t: KernelTiming[]): { name: string; calls: number; ms: number }[] {
  const m = new Map<string, { name: string; calls: number; ms: number }>();
  for (const { name, ms } of t) {
    const e = m.get(name) ?? { name, calls: 0, ms: 0 };
    e.calls++; e.ms += ms;
    m.set(name, e);
  }
  return [...m.values()].sort((a, b) => b.ms - a.ms);
}
