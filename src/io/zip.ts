// Minimal ZIP reader (stored or deflated entries), enough for torch.save archives.
import { inflateRawSync } from 'node:zlib';

export function readZip(buf: Buffer, what: string): Map<string, Buffer> {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${what}: not a zip archive (no end-of-central-directory record)`);
  let count = buf.readUInt16LE(eocd + 10);
  let cd = buf.readUInt32LE(eocd + 16);
  if (cd === 0xffffffff || count === 0xffff) {                     // zip64
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) throw new Error(`${what}: damaged zip64 archive`);
    const e64 = Number(buf.readBigUInt64LE(loc + 8));
    count = Number(buf.readBigUInt64LE(e64 + 32));
    cd = Number(buf.readBigUInt64LE(e64 + 48));
  }
  const out = new Map<string, Buffer>();
  let p = cd;
  for (let k = 0; k < count; k++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${what}: damaged zip central directory`);
    const method = buf.readUInt16LE(p + 10);
    let csize = buf.readUInt32LE(p + 20), usize = buf.readUInt32LE(p + 24);
    const nlen = buf.readUInt16LE(p + 28), xlen = buf.readUInt16LE(p + 30), clen = buf.readUInt16LE(p + 32);
    let local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nlen).toString('utf8');
    let x = p + 46 + nlen;                                          // zip64 extra field: sizes and offset
    while (x < p + 46 + nlen + xlen) {
      const id = buf.readUInt16LE(x), len = buf.readUInt16LE(x + 2);
      if (id === 1) {
        let q = x + 4;
        if (usize === 0xffffffff) { usize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (csize === 0xffffffff) { csize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (local === 0xffffffff) { local = Number(buf.readBigUInt64LE(q)); }
      }
      x += 4 + len;
    }
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`${what}: damaged zip entry ${name}`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + csize);
    if (data.length !== csize) throw new Error(`${what}: zip entry ${name} is truncated`);
    if (method === 0) out.set(name, data);
    else if (method === 8) out.set(name, inflateRawSync(data));
    else throw new Error(`${what}: zip entry ${name} uses unsupported compression ${method}`);
    p += 46 + nlen + xlen + clen;
  }
  return out;
}
