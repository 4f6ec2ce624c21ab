import { renameSync, writeFileSync } from 'node:fs';

/** Writes a float32 array as a NumPy .npy (format 1.0, C order), atomically. */
export function writeNpy(path: string, data: Float32Array, shape: number[]): void {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';   // total header size a multiple of 64
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
  renameSync(tmp, path);
}
