// safetensors files on disk (Node): written atomically (temp file, fsync, rename); the format is safetensors.ts.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import type { HostTensor } from '../engine/module.js';
import { type SafeTensors, encodeSafetensors, parseSafetensors } from './safetensors.js';

export function writeSafetensors(path: string, tensors: Map<string, HostTensor>, metadata: Record<string, string> = {}): void {
  const chunks = encodeSafetensors(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) writeSync(fd, c);
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
  return parseSafetensors(buf, path);
}
