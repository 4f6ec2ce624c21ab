// Files that are either complete or absent: written to a temporary name beside the target, then renamed.
import { mkdirSync, mkdtempSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

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

/** A file-system error as words about `path`, for the flag `what` (e.g. --savedir). */
export function explainFsError(e: unknown, path: string, what: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    EROFS: 'the file system is read-only', EACCES: 'permission denied', EPERM: 'permission denied',
    ENOTDIR: 'a part of the path is a file, not a folder', EEXIST: 'it exists and is a file, not a folder',
    ENOSPC: 'the disk is full', ENAMETOOLONG: 'the name is too long', ENOENT: 'folders cannot be created there',
  };
  return new Error(`${what} ${path}: ${why[code ?? ''] ?? (e as Error).message}`);
}

/**
 * Checks, without creating anything, that folder `path` exists or could be created and written:
 * every existing part of it is a folder and the deepest existing one is writable.
 */
export function checkWritableDir(path: string, what: string): void {
  let p = resolve(path);
  const missing: string[] = [];
  for (;;) {
    let st;
    try { st = statSync(p); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') { missing.push(p); const up = dirname(p); if (up === p) break; p = up; continue; }
      throw explainFsError(e, path, what);
    }
    if (!st.isDirectory()) {
      throw new Error(`${what} ${path}: ${p === resolve(path) ? 'it is a file, not a folder' : `${p} is a file, not a folder`}`);
    }
    // a folder made and removed at once: the only test that also holds for root (read-only mounts, /proc)
    try { rmdirSync(mkdtempSync(join(p, '.mirage-probe-'))); } catch (e) { throw explainFsError(e, path, what); }
    return;
  }
}

/** mkdir -p with errors that say what is wrong with which path. */
export function makeDir(path: string, what: string): void {
  try { mkdirSync(path, { recursive: true }); } catch (e) { throw explainFsError(e, path, what); }
}
