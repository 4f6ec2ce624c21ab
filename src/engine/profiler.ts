import { BufferUsage, MapMode } from './gpu-consts.js';

export interface KernelTiming { name: string; ms: number }

/**
 * GPU time per dispatch from timestamp queries: while active, the engine gives each dispatch its
 * own compute pass with begin/end timestamps (needs the 'timestamp-query' feature; Dawn's
 * timestamp quantization should be off, see platform.md §B3).
 */
export class Profiler {
  readonly querySet: GPUQuerySet;
  readonly names: string[] = [];
  constructor(private readonly device: GPUDevice, readonly capacity = 2048) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity, label: 'profiler' });
  }

  /** Timestamp slots for the next dispatch, or undefined when full. */
  next(name: string): GPUComputePassTimestampWrites | undefined {
    const i = this.names.length;
    if (i >= this.capacity) return undefined;
    this.names.push(name);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Encodes the resolve and returns a promise of per-dispatch timings (after the caller submits). */
  resolve(encoder: GPUCommandEncoder): () => Promise<KernelTiming[]> {
    const n = this.names.length;
    const bytes = Math.max(16, 16 * n);
    const resolveBuf = this.device.createBuffer({ size: bytes, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
    const readBuf = this.device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    if (n > 0) {
      encoder.resolveQuerySet(this.querySet, 0, 2 * n, resolveBuf, 0);
      encoder.copyBufferToBuffer(resolveBuf, 0, readBuf, 0, bytes);
    }
    const names = this.names.slice();
    return async () => {
      try {
        await readBuf.mapAsync(MapMode.READ);
        const ts = new BigUint64Array(readBuf.getMappedRange().slice(0));
        return names.map((name, i) => ({ name, ms: Number(ts[2 * i + 1] - ts[2 * i]) / 1e6 }));
      } finally {
        readBuf.destroy();
        resolveBuf.destroy();
        this.querySet.destroy();
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
