import { Engine } from '../engine/engine.js';
import { createNodeDevice, engineDefaults } from '../node/device.js';
import { dawnPollInterval } from '../node/poll.js';

/** Prints the adapter mirage would use and the limits it raises. */
export async function info(backend?: string): Promise<void> {
  const gpu = await createNodeDevice({ backend });
  try {
    const l = gpu.device.limits;
    console.log(`adapter:  ${Object.values(gpu.info).filter(Boolean).join(' | ') || '(no description)'}`);
    console.log(`features: ${gpu.features.join(', ') || '(none of shader-f16, subgroups, timestamp-query)'}`);
    const e = new Engine(gpu.device, engineDefaults);
    const names = { subgroup: 'subgroup-broadcast (bench/NOTES.md §5–7)', tiled: 'workgroup-memory tiles (bench/NOTES.md §14)', portable: 'portable register-blocked' };
    console.log(`kernels:  ${e.deviceClass} class; convolutions ${names[e.kernelFamily]}`);
    e.destroy();
    const poll = dawnPollInterval();
    console.log(`waiting:  ${poll ? `Dawn polled every ${poll} ms` : 'Dawn busy-polls'} while awaiting GPU work (MIRAGE_POLL_MS; src/node/poll.ts)`);
    for (const k of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension'] as const) {
      console.log(`${k.padEnd(36)} ${l[k]}`);
    }
  } finally {
    gpu.destroy();
  }
}
