// PyTorch checkpoints written by torch.save: the zip format (archive/data.pkl + archive/data/<key>)
// and the legacy format (magic, protocol, sys_info pickles, the object, storage keys, raw storages).
// Returns float tensors by name; a {state_dict: …} wrapper and DataParallel's 'module.' prefix are
// removed, and BatchNorm's integer num_batches_tracked is dropped.
import { readFileSync } from 'node:fs';
import type { HostTensor } from '../engine/module.js';
import { bf16ToFloat, halfToFloat } from './half.js';
import { isCall, unpickle, unpickleAt } from './pickle.js';
import { readZip } from './zip.js';

const DTYPES: Record<string, { bytes: number; read: (b: Buffer, i: number) => number; float: boolean }> = {
  FloatStorage: { bytes: 4, read: (b, i) => b.readFloatLE(4 * i), float: true },
  DoubleStorage: { bytes: 8, read: (b, i) => b.readDoubleLE(8 * i), float: true },
  HalfStorage: { bytes: 2, read: (b, i) => halfToFloat(b.readUInt16LE(2 * i)), float: true },
  BFloat16Storage: { bytes: 2, read: (b, i) => bf16ToFloat(b.readUInt16LE(2 * i)), float: true },
  LongStorage: { bytes: 8, read: (b, i) => Number(b.readBigInt64LE(8 * i)), float: false },
  IntStorage: { bytes: 4, read: (b, i) => b.readInt32LE(4 * i), float: false },
  ShortStorage: { bytes: 2, read: (b, i) => b.readInt16LE(2 * i), float: false },
  CharStorage: { bytes: 1, read: (b, i) => b.readInt8(i), float: false },
  ByteStorage: { bytes: 1, read: (b, i) => b[i], float: false },
  BoolStorage: { bytes: 1, read: (b, i) => b[i], float: false },
};


interface StorageRef { type: string; key: string; data: () => Buffer }
interface TensorRec { storage: StorageRef; offset: number; shape: number[]; stride: number[] }

function storageType(t: unknown, path: string): string {
  const g = (t as { __global__?: string }).__global__ ?? '';
  const name = g.split('.').pop()!;
  if (!DTYPES[name]) throw new Error(`${path}: unsupported storage type ${g || JSON.stringify(t)}`);
  return name;
}

function toTensor(v: unknown, path: string, key: string): TensorRec | null {
  if (isCall(v, 'torch._utils._rebuild_parameter')) return toTensor(v.args[0], path, key);
  if (isCall(v, 'torch._utils._rebuild_tensor_v2') || isCall(v, 'torch._utils._rebuild_tensor')) {
    const [storage, offset, shape, stride] = v.args as [StorageRef, number, number[], number[]];
    return { storage, offset, shape: [...shape], stride: [...stride] };
  }
  if (isCall(v)) throw new Error(`${path}: entry '${key}' is a ${v.__call__}, not a tensor`);
  return null;
}

function materialise(t: TensorRec, path: string, key: string): HostTensor {
  const dt = DTYPES[t.storage.type];
  const raw = t.storage.data();
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const idx = new Array(t.shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let off = t.offset;
    for (let d = 0; d < idx.length; d++) off += idx[d] * t.stride[d];
    if ((off + 1) * dt.bytes > raw.length) throw new Error(`${path}: tensor '${key}' reads past its storage (truncated file?)`);
    out[i] = dt.read(raw, off);
    for (let d = idx.length - 1; d >= 0; d--) { if (++idx[d] < t.shape[d]) break; idx[d] = 0; }
  }
  return { shape: t.shape, data: out };
}

function collect(obj: unknown, path: string): Map<string, HostTensor> {
  let dict = obj;
  if (dict instanceof Map && dict.has('state_dict') && dict.get('state_dict') instanceof Map) dict = dict.get('state_dict');
  if (!(dict instanceof Map)) throw new Error(`${path}: expected a state dict (or a dict with 'state_dict'), found ${typeof dict}`);
  const out = new Map<string, HostTensor>();
  for (const [k, v] of dict) {
    const key = String(k);
    const t = toTensor(v, path, key);
    if (!t) continue;
    if (!DTYPES[t.storage.type].float) {
      if (key.endsWith('num_batches_tracked')) continue;
      throw new Error(`${path}: tensor '${key}' is ${t.storage.type}, expected floating point`);
    }
    out.set(key.startsWith('module.') ? key.slice(7) : key, materialise(t, path, key));
  }
  if (!out.size) throw new Error(`${path}: no tensors found`);
  return out;
}

export function readPth(path: string): Map<string, HostTensor> {
  const buf = readFileSync(path);
  if (buf.readUInt32LE(0) === 0x04034b50) {
    const files = readZip(buf, path);
    const pkl = [...files.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
    if (!pkl) throw new Error(`${path}: zip archive without data.pkl (not a torch.save file)`);
    const prefix = pkl.slice(0, -'data.pkl'.length);
    const obj = unpickle(files.get(pkl)!, (pid) => {
      const [, type, key] = pid as [string, unknown, string];
      const name = `${prefix}data/${key}`;
      return { type: storageType(type, path), key, data: () => {
        const d = files.get(name);
        if (!d) throw new Error(`${path}: storage ${name} is missing from the archive`);
        return d;
      } } satisfies StorageRef;
    }, path);
    return collect(obj, path);
  }
  // legacy format: 5 pickles, then the raw storages in the order of the key list
  let pos = 0;
  const next = (load: (pid: unknown) => unknown = () => null) => {
    const { value, end } = unpickleAt(buf.subarray(pos), load, path);
    pos += end;
    return value;
  };
  const magic = next();
  if (magic !== 0x1950a86a20f9469cfc6c && magic !== Number(0x1950a86a20f9469cfc6cn)) {
    throw new Error(`${path}: neither a zip nor a legacy torch.save file`);
  }
  next(); next();                                                // protocol version, sys_info
  const storages = new Map<string, StorageRef & { buf?: Buffer }>();
  const obj = next((pid) => {
    const [, type, key] = pid as [string, unknown, string];
    let s = storages.get(key);
    if (!s) {
      const ref: StorageRef & { buf?: Buffer } = { type: storageType(type, path), key, data: () => {
        if (!ref.buf) throw new Error(`${path}: storage ${key} was not found`);
        return ref.buf;
      } };
      storages.set(key, (s = ref));
    }
    return s;
  });
  const keys = next() as string[];
  for (const key of keys) {
    const s = storages.get(key);
    if (pos + 8 > buf.length) throw new Error(`${path}: truncated before storage ${key}`);
    const n = Number(buf.readBigInt64LE(pos));
    pos += 8;
    const bytes = n * (s ? DTYPES[s.type].bytes : 4);
    if (s) s.buf = buf.subarray(pos, pos + bytes);
    pos += bytes;
  }
  return collect(obj, path);
}
