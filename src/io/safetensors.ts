// safetensors: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}, __metadata__},
// then raw little-endian tensor bytes. Written atomically (temp file + rename).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import type { HostTensor } from '../engine/module.js';
import { bf16ToFloat, halfToFloat } from './half.js';

export interface SafeTensors { tensors: Map<string, HostTensor>; metadata: Record<string, string> }

export function writeSafetensors(path: string, tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, head);
    for (const t of tensors.values()) writeSync(fd, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
  closeSync(fd);
  renameSync(tmp, path);
}


/** Reads a safetensors file; F32, F16, BF16 and F64 tensors come back as float32. */
export function readSafetensors(path: string): SafeTensors {
  let buf: Buffer;
  try { buf = readFileSync(path); } catch (e) { throw new Error(`cannot read checkpoint ${path}: ${(e as Error).message}`); }
  if (buf.length < 8) throw new Error(`${path}: too short to be a safetensors file`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || 8 + n > buf.length) throw new Error(`${path}: not a safetensors file (header length ${n})`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try { header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')); } catch {
    throw new Error(`${path}: corrupt safetensors header`);
  }
  const data = buf.subarray(8 + n);
  const tensors = new Map<string, HostTensor>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: [a, b] } = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!(b <= data.length && a <= b)) throw new Error(`${path}: tensor ${name} lies outside the file (truncated?)`);
    const count = shape.reduce((x, y) => x * y, 1);
    const raw = data.subarray(a, b);
    const out = new Float32Array(count);
    const width = { F32: 4, F16: 2, BF16: 2, F64: 8 }[dtype];
    if (!width) throw new Error(`${path}: tensor ${name} has dtype ${dtype}; only F32, F16, BF16, F64 are supported`);
    if (raw.length !== count * width) throw new Error(`${path}: tensor ${name} has ${raw.length} bytes for shape [${shape}] ${dtype}`);
    for (let i = 0; i < count; i++) {
      out[i] = dtype === 'F32' ? raw.readFloatLE(4 * i) : dtype === 'F64' ? raw.readDoubleLE(8 * i)
        : dtype === 'F16' ? halfToFloat(raw.readUInt16LE(2 * i)) : bf16ToFloat(raw.readUInt16LE(2 * i));
    }
    tensors.set(name, { shape, data: out });
  }
  return { tensors, metadata: (header.__metadata__ as Record<string, string>) ?? {} };
}
