import { BufferUsage } from './gpu-consts.js';

export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
export const UNIFORM_USAGE = BufferUsage.UNIFORM | BufferUsage.COPY_DST;
export const STAGING_USAGE = BufferUsage.COPY_SRC | BufferUsage.COPY_DST;

/** Bucket size: at least 256 B, then quarter-octave steps (≤ 25% waste). */
export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.ceil(Math.log2(bytes));
  for (const f of [0.625, 0.75, 0.875]) if (p * f >= bytes) return p * f;
  return p;
}

/**
 * Free lists of whole GPUBuffers keyed by (usage, bucket size). A released buffer goes to
 * `pending` and only becomes reusable after the next queue submit, so a queue.writeBuffer
 * can never land in a buffer that an encoded-but-unsubmitted pass still reads.
 * acquire() hands out the oldest free buffer of its bucket, so which buffer an op gets depends
 * only on which are free, not on the order they were released: a training step then gets the same
 * buffers every time, and the engine's bind groups are found in its cache (bench/NOTES.md §31).
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  /** Creation order of each buffer; free lists are kept sorted by it, newest first. */
  private readonly order = new WeakMap<GPUBuffer, number>();
  private created = 0;
  bytesAllocated = 0;
  bytesLive = 0;
  bytesPeak = 0;
  buffersAllocated = 0;
  /** Called after trim() destroyed buffers (the engine forgets bind groups that name them). */
  onTrim: (() => void) | null = null;

  constructor(private readonly device: GPUDevice, private readonly maxBufferSize: number) {}

  acquire(bytes: number, usage: number = STORAGE_USAGE, what = 'buffer'): GPUBuffer {
    const size = bucketSize(bytes);
    if (size > this.maxBufferSize) {
      throw new Error(`${what} needs ${bytes} bytes, more than this device's buffer limit ` +
        `(${this.maxBufferSize} bytes); use a smaller batch or input size`);
    }
    const list = this.free.get(`${usage}:${size}`);
    let buf = list?.pop();
    if (!buf) {
      buf = this.device.createBuffer({ size, usage, label: what });
      this.sizes.set(buf, size);
      this.order.set(buf, this.created++);
      this.bytesAllocated += size;
      this.buffersAllocated++;
    }
    if (usage === STORAGE_USAGE) {
      this.bytesLive += size;
      this.bytesPeak = Math.max(this.bytesPeak, this.bytesLive);
    }
    return buf;
  }

  release(buf: GPUBuffer): void {
    if (buf.usage === STORAGE_USAGE) this.bytesLive -= this.sizes.get(buf) ?? buf.size;
    this.pending.push(buf);
  }

  /** Called by the engine right after queue.submit(). */
  recyclePending(): void {
    for (const buf of this.pending) {
      const key = `${buf.usage}:${this.sizes.get(buf) ?? buf.size}`;
      let list = this.free.get(key);
      if (!list) this.free.set(key, (list = []));
      // insert keeping newest-first order, so pop() takes the oldest
      const o = this.order.get(buf)!;
      let lo = 0, hi = list.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (this.order.get(list[mid])! > o) lo = mid + 1; else hi = mid; }
      list.splice(lo, 0, buf);
    }
    this.pending = [];
  }

  /** Starts a new peak measurement from the current live bytes. */
  resetPeak(): void { this.bytesPeak = this.bytesLive; }

  /** Destroys every free buffer (live ones are untouched). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buf of list) {
        this.bytesAllocated -= this.sizes.get(buf) ?? buf.size;
        this.buffersAllocated--;
        buf.destroy();
      }
    }
    this.free.clear();
    this.onTrim?.();
  }

  stats() {
    return { bytesLive: this.bytesLive, bytesAllocated: this.bytesAllocated, bytesPeak: this.bytesPeak,
      buffersAllocated: this.buffersAllocated };
  }
}
