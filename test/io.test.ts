import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeNpy } from '../src/io/npy.js';
import { readPth } from '../src/io/pth.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors-file.js';

const t = suite('io');
const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures');

function expectFixture(m: Map<string, { shape: number[]; data: Float32Array }>) {
  assert.equal([...m.keys()], ['conv.weight', 'conv.bias', 'fc.weight', 'half']);   // num_batches_tracked dropped
  assert.equal(m.get('conv.weight')!.shape, [2, 3, 3, 1]);
  assert.equal([...m.get('conv.weight')!.data.slice(0, 4)], [-3, -2.5, -2, -1.5]);
  assert.equal([...m.get('conv.bias')!.data], [1.5, -2.25]);
  // strided view: element (i, j) = storage[1 + i + 3j] over [9, 0, 1, 2, 3, 4, 5]
  assert.equal(m.get('fc.weight')!.shape, [3, 2]);
  assert.equal([...m.get('fc.weight')!.data], [0, 3, 1, 4, 2, 5]);
  assert.equal([...m.get('half')!.data], [0.5, -1, 2]);
}

t('torch.save zip format: plain state dict', () => expectFixture(readPth(join(fixtures, 'plain.pth'))));
t("torch.save zip format: {'state_dict': …} with DataParallel's module. prefix", () =>
  expectFixture(readPth(join(fixtures, 'wrapped.pth.tar'))));
t('legacy (pre-1.6) torch.save format', () => expectFixture(readPth(join(fixtures, 'legacy.pth'))));

t('corrupt and truncated .pth files give errors naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mirage-io-'));
  const junk = join(dir, 'junk.pth');
  writeFileSync(junk, Buffer.from('this is not a checkpoint at all'));
  assert.throws(() => readPth(junk), (e: Error) => e.message.includes(junk));
  const cut = join(dir, 'cut.pth');
  const whole = readFileSync(join(fixtures, 'plain.pth'));
  writeFileSync(cut, whole.subarray(0, whole.length - 200));
  assert.throws(() => readPth(cut), (e: Error) => e.message.includes(cut));
});

t('safetensors round trip with metadata; written atomically', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mirage-io-'));
  const path = join(dir, 'm.safetensors');
  const tensors = new Map([['a.weight', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) }],
    ['b', { shape: [], data: Float32Array.from([7]) }]]);
  writeSafetensors(path, tensors, { model: 'erfnet', epoch: '3' });
  const back = readSafetensors(path);
  assert.equal(back.metadata, { model: 'erfnet', epoch: '3' });
  assert.equal([...back.tensors.get('a.weight')!.data], [1, 2, 3, 4, 5, -6.5]);
  assert.equal(back.tensors.get('b')!.shape, []);
  assert.equal(readdirSync(dir), ['m.safetensors'], 'no temp file left behind');
  const buf = readFileSync(path);
  assert.is(Number(buf.readBigUInt64LE(0)) % 8, 0, 'header padded to 8 bytes');
  writeFileSync(join(dir, 'cut.safetensors'), buf.subarray(0, buf.length - 8));
  assert.throws(() => readSafetensors(join(dir, 'cut.safetensors')), /cut.safetensors: tensor \S+ lies outside the file/);
});

t('.npy header is NumPy format 1.0 with shape and little-endian f32', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mirage-io-'));
  const path = join(dir, 'x.npy');
  writeNpy(path, Float32Array.from([1, 2, 3, 4, 5, 6]), [1, 2, 3]);
  const b = readFileSync(path);
  assert.equal([...b.subarray(0, 8)], [0x93, 78, 85, 77, 80, 89, 1, 0]);
  const hl = b.readUInt16LE(8);
  assert.is((10 + hl) % 64, 0);
  assert.match(b.subarray(10, 10 + hl).toString('latin1'), /\{'descr': '<f4', 'fortran_order': False, 'shape': \(1, 2, 3\), \}/);
  assert.is(b.readFloatLE(10 + hl + 20), 6);
  assert.not.ok(existsSync(`${path}.tmp-${process.pid}`));
});
t.run();
