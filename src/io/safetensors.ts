// safetensors: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}, __metadata__},
// then raw little-endian tensor bytes. This file works on bytes only (browsers read a checkpoint
// from an ArrayBuffer); the Node file functions are in safetensors-file.ts.
import type { HostTensor } from '../engine/module.js';
import { bf16ToFloat, halfToFloat } from './half.js';

export interface SafeTensors { tensors: Map<string, HostTensor>; metadata: Record<string, string> }

/** The file as byte chunks (8-byte length, JSON header padded to 8, then each tensor's F32 bytes), to write or concatenate. */
export function encodeSafetensors(tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (new TextEncoder().encode(json).length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(head.length), true);
  const chunks: Uint8Array[] = [len, head];
  for (const t of tensors.values()) chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return chunks;
}

/** The whole file as one array (browsers: a Blob to download). */
export function safetensorsBytes(tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const chunks = encodeSafetensors(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

/** Parses safetensors bytes; F32, F16, BF16 and F64 tensors come back as float32. `name` (the file) goes into every error. */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer, name: string): SafeTensors {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 8) throw new Error(`${name}: too short to be a safetensors file`);
  const n = Number(view.getBigUint64(0, true));
  if (n <= 0 || 8 + n > buf.length) throw new Error(`${name}: not a safetensors file (header length ${n})`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try { header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n))); } catch {
    throw new Error(`${name}: corrupt safetensors header`);
  }
  const start = 8 + n, dataLength = buf.length - start;
  const tensors = new Map<string, HostTensor>();
  for (const [key, v] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const { dtype, shape, data_offsets: [a, b] } = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!(b <= dataLength && a <= b)) throw new Error(`${name}: tensor ${key} lies outside the file (truncated?)`);
    const count = shape.reduce((x, y) => x * y, 1);
    const out = new Float32Array(count);
    const width = { F32: 4, F16: 2, BF16: 2, F64: 8 }[dtype];
    if (!width) throw new Error(`${name}: tensor ${key} has dtype ${dtype}; only F32, F16, BF16, F64 are supported`);
    if (b - a !== count * width) throw new Error(`${name}: tensor ${key} has ${b - a} bytes for shape [${shape}] ${dtype}`);
    const o = start + a;
    for (let i = 0; i < count; i++) {
      out[i] = dtype === 'F32' ? view.getFloat32(o + 4 * i, true) : dtype === 'F64' ? view.getFloat64(o + 8 * i, true)
        : dtype === 'F16' ? halfToFloat(view.getUint16(o + 2 * i, true)) : bf16ToFloat(view.getUint16(o + 2 * i, true));
    }
    tensors.set(key, { shape, data: out });
  }
  return { tensors, metadata: (header.__metadata__ as Record<string, string>) ?? {} };
}
