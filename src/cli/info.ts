import { createNodeDevice } from '../node/device.js';

/** Prints the adapter mirage would use and the limits it raises. */
export async function info(backend?: string): Promise<void> {
  const gpu = await createNodeDevice({ backend });
  try {
    const l = gpu.device.limits;
    console.log(`adapter:  ${Object.values(gpu.info).filter(Boolean).join(' | ') || '(no description)'}`);
    console.log(`features: ${gpu.features.join(', ') || '(none of shader-f16, subgroups, timestamp-query)'}`);
    for (const k of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension'] as const) {
      console.log(`${k.padEnd(36)} ${l[k]}`);
    }
  } finally {
    gpu.destroy();
  }
}
