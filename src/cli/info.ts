import { Engine } from '../engine/engine.js';
import { createNodeDevice } from '../node/device.js';

/** Prints the adapter mirage would use and the limits it raises. */
export async function info(backend?: string): Promise<void> {
  const gpu = await createNodeDevice({ backend });
  try {
    const l = gpu.device.limits;
    console.log(`adapter:  ${Object.values(gpu.info).filter(Boolean).join(' | ') || '(no description)'}`);
    console.log(`features: ${gpu.features.join(', ') || '(none of shader-f16, subgroups, timestamp-query)'}`);
    const e = new Engine(gpu.device);
    console.log(`kernels:  ${e.deviceClass} class; convolutions ${e.subgroups ? 'subgroup-broadcast (bench/NOTES.md §5–7)' : 'portable register-blocked'}`);
    e.destroy();
    for (const k of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension'] as const) {
      console.log(`${k.padEnd(36)} ${l[k]}`);
    }
  } finally {
    gpu.destroy();
  }
}
