// Host and GPU memory of a long training run, one line per epoch: RSS, JS heap after a full GC,
// external (ArrayBuffers), the GPU pool's live and allocated bytes. Usage (after npm run build):
//   node bench/memory.mjs [EPOCHS=30]
import { createNodeEngine } from '../dist/src/node/device.js';
import { train } from '../dist/src/train/trainer.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8'; import { runInNewContext } from 'node:vm';
setFlagsFromString('--expose-gc'); const gc = runInNewContext('gc');
const { engine } = await createNodeEngine({ seed: 1 });
const savedir = join(mkdtempSync(join(tmpdir(), 'mirage-memory-')), 'run');
const rows = [];
const origLog = console.log; console.log = () => {}; process.stderr.write = () => true;
await train({ model: 'erfnet', height: 16, epochs: Number(process.argv[2] ?? 30), trainSize: 8, valSize: 2, batchSize: 2, classWeights: 'none' }, {
  savedir, engine, stepsLoss: 2,
  onEpoch: (r) => { gc(); rows.push(`${r.epoch} rss ${(process.memoryUsage().rss/2**20).toFixed(1)} heap ${(process.memoryUsage().heapUsed/2**20).toFixed(1)} ext ${(process.memoryUsage().external/2**20).toFixed(1)} live ${engine.pool.bytesLive} alloc ${engine.pool.bytesAllocated} `); },
});
console.log = origLog;
console.log(rows.join('\n'));
process.exit(0);
