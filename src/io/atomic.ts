// Files that are either complete or absent: written to a temporary name beside the target, then renamed.
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* never created */ }
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
}
