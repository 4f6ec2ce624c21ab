import { UNIFORM_USAGE } from './buffer-pool.js';
import { type Param, paramBytes, writeParams } from './params.js';

/**
 * A batch's uniforms in one buffer: each launch writes its block at the next aligned offset of a
 * host copy (bound with a dynamic offset), and one queue.writeBuffer uploads the batch right before
 * its submit. Queue order makes reuse safe: that write lands after every earlier submit has read
 * the previous batch's blocks. Saves a buffer and a writeBuffer per launch, and lets bind groups be
 * cached (their uniform buffer no longer changes).
 */
export class UniformRing {
  readonly buffer: GPUBuffer;
  private readonly view: DataView;
  private used = 0;

  constructor(device: GPUDevice, readonly align: number, readonly capacity = 1 << 16) {
    this.buffer = device.createBuffer({ size: capacity, usage: UNIFORM_USAGE, label: 'uniform ring' });
    this.view = new DataView(new ArrayBuffer(capacity));
  }

  /** Writes `vals` and returns their offset, or -1 when they do not fit (upload and submit first). */
  push(vals: readonly Param[]): number {
    const bytes = paramBytes(vals.length);
    if (bytes > this.capacity) throw new Error(`${vals.length} uniform values exceed the ring's ${this.capacity} bytes`);
    const at = this.used;
    if (at + bytes > this.capacity) return -1;
    writeParams(this.view, at, vals);
    this.used = Math.ceil((at + bytes) / this.align) * this.align;
    return at;
  }

  /** Uploads this batch's blocks; call right before the submit that reads them. */
  upload(queue: GPUQueue): void {
    if (this.used > 0) queue.writeBuffer(this.buffer, 0, this.view.buffer, 0, this.used);
    this.used = 0;
  }
}
