// TensorBoard event files: CRC-32C check values, the exact bytes of a small event, and a file that
// round-trips (framing, CRCs, tags, steps, values, images); corruption and truncation are named.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32c, eventFile, eventRecord, maskedCrc, readEventFile, tfRecord } from '../src/io/tfevents.js';

const t = test;
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

t('CRC-32C check values (the standard "123456789", RFC 3720 zeros and ones) and TFRecord masking', () => {
  assert.is(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.is(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.is(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  const c = 0xe3069283, masked = ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
  assert.is(maskedCrc(new TextEncoder().encode('123456789')), masked);
});

t('a scalar event is the protocol buffer written by hand from event.proto and summary.proto', () => {
  const rec = eventRecord({ kind: 'scalar', tag: 'a', step: 3, value: 2, wallTime: 1.5 });
  // Event: wall_time (1, fixed64) 1.5 · step (2, varint) 3 · summary (5, bytes) { value (1) { tag (1) "a", simple_value (2, fixed32) 2.0 } }
  const data = '09 00 00 00 00 00 00 f8 3f 10 03 2a 0a 0a 08 0a 01 61 15 00 00 00 40';
  assert.is(hex(rec.subarray(12, rec.length - 4)), data);
  assert.is(hex(rec.subarray(0, 8)), '17 00 00 00 00 00 00 00', 'length 23, little-endian u64');
  assert.equal(rec, tfRecord(rec.subarray(12, rec.length - 4)));
});

t('an event file round-trips: version record, scalars (as float32), an image; CRCs checked', () => {
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
  const file = eventFile([
    { kind: 'scalar', tag: 'loss/train', step: 1, value: 0.1, wallTime: 1000.25 },
    { kind: 'scalar', tag: 'miou/val', step: 300, value: -7.5e-3, wallTime: 1001 },
    { kind: 'image', tag: 'samples/val', step: 300, png, height: 64, width: 128, wallTime: 1002 },
  ], 999);
  const ev = readEventFile(file, 'f');
  assert.is(ev.length, 4);
  assert.is(ev[0].fileVersion, 'brain.Event:2');
  assert.is(ev[0].wallTime, 999);
  assert.equal(ev[1].values, [{ tag: 'loss/train', simpleValue: Math.fround(0.1) }]);
  assert.is(ev[1].step, 1);
  assert.is(ev[1].wallTime, 1000.25);
  assert.equal([ev[2].step, ev[2].values[0].simpleValue], [300, Math.fround(-7.5e-3)]);
  assert.equal(ev[3].values[0].image, { height: 64, width: 128, png });
  const bad = file.slice(); bad[40] ^= 1;
  assert.throws(() => readEventFile(bad, 'bad.tfevents'), /bad\.tfevents: record 1: (data|length) CRC mismatch/);
  assert.throws(() => readEventFile(file.subarray(0, file.length - 3), 'cut'), /cut: record 3 is cut off/);
  assert.throws(() => eventRecord({ kind: 'scalar', tag: 'x', step: 1.5, value: 0, wallTime: 0 }), /step 1\.5 of x must be a whole number/);
});

t.run();
