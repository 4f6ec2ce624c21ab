// Runs every test/*.test.ts in one process (one Dawn device, pipelines compiled once) with uvu,
// then prints the closing line "N passed, N failed". Optional args filter file names.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const g = globalThis as unknown as { UVU_DEFER: number; UVU_QUEUE: unknown[][]; UVU_INDEX: number };
g.UVU_DEFER = 1;
g.UVU_QUEUE = [];
const { exec } = await import('uvu');
const { getGpu } = await import('./helpers/gpu.js');

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here).filter((f) => f.endsWith('.test.js'))
  .filter((f) => !filters.length || filters.some((x) => f.includes(x))).sort();

const gpu = await getGpu();
console.log(`adapter: ${JSON.stringify(gpu.info)} features: ${gpu.features.join(',')}`);

for (const [i, f] of files.entries()) {
  g.UVU_INDEX = i;
  g.UVU_QUEUE.push([f.replace(/\.js$/, '')]);
  await import(pathToFileURL(join(here, f)).href);
}

let out = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;
const t0 = Date.now();
await exec();
process.stdout.write = write;
// eslint-disable-next-line no-control-regex
const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
const failed = total - passed;
console.log(`pipelines compiled: ${gpu.engine.pipelines.size}, dispatches: ${gpu.engine.dispatches}, ` +
  `${((Date.now() - t0) / 1000).toFixed(1)} s`);
gpu.destroy();
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || total === 0 ? 1 : 0);
