// TensorBoard event files, written and read without TensorFlow: TFRecord framing (u64 length, its
// masked CRC-32C, the bytes, their masked CRC-32C) around `Event` protocol buffers
// (tensorflow/core/util/event.proto, summary.proto): wall_time = 1 (double), step = 2 (int64),
// file_version = 3 (string), summary = 5 { value = 1 { tag = 1, simple_value = 2 (float),
// image = 4 { height = 1, width = 2, colorspace = 3, encoded_image_string = 4 (PNG) } } }.
// A small hand-written encoder rather than protobufjs: mirage writes three message types with six
// field kinds, and the decoder the tests need is as short; a schema compiler would be the larger part.
// Bytes only (no files), so browser pages could produce logs too; the trainer writes them (trainer.ts).

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15, add 0xa282ead8. */
export const maskedCrc = (b: Uint8Array): number => {
  const c = crc32c(b);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
};

class Proto {
  private readonly parts: number[] = [];
  private bytes: Uint8Array[] = [];
  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) { this.parts.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    this.parts.push(Number(x));
  }
  private flush(): void { if (this.parts.length) { this.bytes.push(Uint8Array.from(this.parts)); this.parts.length = 0; } }
  int(field: number, v: number): this { this.varint(field << 3); this.varint(Math.trunc(v)); return this; }
  double(field: number, v: number): this {
    this.varint((field << 3) | 1);
    const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true);
    this.parts.push(...b); return this;
  }
  float(field: number, v: number): this {
    this.varint((field << 3) | 5);
    const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b); return this;
  }
  raw(field: number, b: Uint8Array): this {
    this.varint((field << 3) | 2); this.varint(b.length); this.flush(); this.bytes.push(b); return this;
  }
  string(field: number, s: string): this { return this.raw(field, new TextEncoder().encode(s)); }
  message(field: number, m: Proto): this { return this.raw(field, m.finish()); }
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.bytes.reduce((n, b) => n + b.length, 0));
    let o = 0;
    for (const b of this.bytes) { out.set(b, o); o += b.length; }
    return out;
  }
}

/** One TFRecord: framing around `data`. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length), v = new DataView(out.buffer);
  v.setBigUint64(0, BigInt(data.length), true);
  v.setUint32(8, maskedCrc(out.subarray(0, 8)), true);
  out.set(data, 12);
  v.setUint32(12 + data.length, maskedCrc(data), true);
  return out;
}

export interface ScalarEvent { kind: 'scalar'; tag: string; step: number; value: number; wallTime: number }
export interface ImageEvent { kind: 'image'; tag: string; step: number; png: Uint8Array; height: number; width: number; wallTime: number }
export type SummaryEvent = ScalarEvent | ImageEvent;

/** The first record of every event file: file_version "brain.Event:2". */
export function fileVersionRecord(wallTime: number): Uint8Array {
  return tfRecord(new Proto().double(1, wallTime).string(3, 'brain.Event:2').finish());
}

/** A summary event as one TFRecord. */
export function eventRecord(e: SummaryEvent): Uint8Array {
  if (!Number.isInteger(e.step) || e.step < 0) throw new Error(`tfevents: step ${e.step} of ${e.tag} must be a whole number ≥ 0`);
  const value = new Proto().string(1, e.tag);
  if (e.kind === 'scalar') value.float(2, e.value);
  else value.message(4, new Proto().int(1, e.height).int(2, e.width).int(3, 3).raw(4, e.png));
  return tfRecord(new Proto().double(1, e.wallTime).int(2, e.step).message(5, new Proto().message(1, value)).finish());
}

/** A whole event file: the version record, then the events. */
export function eventFile(events: SummaryEvent[], startTime: number): Uint8Array {
  const recs = [fileVersionRecord(startTime), ...events.map(eventRecord)];
  const out = new Uint8Array(recs.reduce((n, r) => n + r.length, 0));
  let o = 0;
  for (const r of recs) { out.set(r, o); o += r.length; }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading (tests, and anyone checking a file): framing and CRCs verified, the fields above decoded.

interface Field { no: number; wire: number; value: bigint | Uint8Array; at: number }

function fields(b: Uint8Array): Field[] {
  const out: Field[] = [], v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let i = 0;
  const varint = () => {
    let x = 0n, s = 0n;
    for (;;) {
      if (i >= b.length) throw new Error('tfevents: truncated varint');
      const c = b[i++];
      x |= BigInt(c & 0x7f) << s; s += 7n;
      if (!(c & 0x80)) return x;
    }
  };
  while (i < b.length) {
    const at = i, key = Number(varint()), no = key >> 3, wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint(), at });
    else if (wire === 1) { out.push({ no, wire, value: v.getBigUint64(i, true), at }); i += 8; }
    else if (wire === 5) { out.push({ no, wire, value: BigInt(v.getUint32(i, true)), at }); i += 4; }
    else if (wire === 2) { const n = Number(varint()); out.push({ no, wire, value: b.subarray(i, i + n), at }); i += n; }
    else throw new Error(`tfevents: unsupported wire type ${wire} at byte ${at}`);
  }
  return out;
}

const f64 = (x: bigint) => { const d = new DataView(new ArrayBuffer(8)); d.setBigUint64(0, x, true); return d.getFloat64(0, true); };
const f32 = (x: bigint) => { const d = new DataView(new ArrayBuffer(4)); d.setUint32(0, Number(x), true); return d.getFloat32(0, true); };

export interface ReadEvent { wallTime: number; step: number; fileVersion?: string; values: { tag: string; simpleValue?: number; image?: { height: number; width: number; png: Uint8Array } }[] }

/** Decodes an event file, checking every record's length and data CRCs; `name` names it in errors. */
export function readEventFile(bytes: Uint8Array, name: string): ReadEvent[] {
  const out: ReadEvent[] = [], v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0, k = 0;
  while (o < bytes.length) {
    if (o + 12 > bytes.length) throw new Error(`${name}: record ${k} is cut off in its header`);
    const n = Number(v.getBigUint64(o, true));
    if (v.getUint32(o + 8, true) !== maskedCrc(bytes.subarray(o, o + 8))) throw new Error(`${name}: record ${k}: length CRC mismatch`);
    if (o + 16 + n > bytes.length) throw new Error(`${name}: record ${k} is cut off (${n} bytes announced)`);
    const data = bytes.subarray(o + 12, o + 12 + n);
    if (v.getUint32(o + 12 + n, true) !== maskedCrc(data)) throw new Error(`${name}: record ${k}: data CRC mismatch`);
    const ev: ReadEvent = { wallTime: 0, step: 0, values: [] };
    for (const f of fields(data)) {
      if (f.no === 1 && f.wire === 1) ev.wallTime = f64(f.value as bigint);
      else if (f.no === 2 && f.wire === 0) ev.step = Number(f.value);
      else if (f.no === 3 && f.wire === 2) ev.fileVersion = new TextDecoder().decode(f.value as Uint8Array);
      else if (f.no === 5 && f.wire === 2) {
        for (const sv of fields(f.value as Uint8Array).filter((x) => x.no === 1)) {
          const val: ReadEvent['values'][number] = { tag: '' };
          for (const x of fields(sv.value as Uint8Array)) {
            if (x.no === 1) val.tag = new TextDecoder().decode(x.value as Uint8Array);
            else if (x.no === 2 && x.wire === 5) val.simpleValue = f32(x.value as bigint);
            else if (x.no === 4) {
              const img: { height: number; width: number; png: Uint8Array } = { height: 0, width: 0, png: new Uint8Array() };
              for (const y of fields(x.value as Uint8Array)) {
                if (y.no === 1) img.height = Number(y.value); else if (y.no === 2) img.width = Number(y.value);
                else if (y.no === 4) img.png = y.value as Uint8Array;
              }
              val.image = img;
            }
          }
          ev.values.push(val);
        }
      }
    }
    out.push(ev);
    o += 16 + n; k++;
  }
  return out;
}
