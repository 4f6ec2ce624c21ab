import { Engine } from '../engine/engine.js';
import { createNodeDevice, engineDefaults, matrixConfigs } from '../node/device.js';
import { dawnPollInterval } from '../node/poll.js';

/** Prints the adapter mirage would use and the limits it raises. */
export async function info(backend?: string): Promise<void> {
  const gpu = await createNodeDevice({ backend, tensorCores: true });   // so it can list the subgroup-matrix configs
  try {
    const l = gpu.device.limits;
    console.log(`adapter:  ${Object.values(gpu.info).filter(Boolean).join(' | ') || '(no description)'}`);
    console.log(`features: ${gpu.features.join(', ') || '(none of shader-f16, subgroups, timestamp-query)'}`);
    const configs = matrixConfigs(gpu.adapter);
    const m = gpu.matrix;
    console.log(`f16:      ${gpu.features.includes('shader-f16') ? '--precision f16 available' : 'no shader-f16: --precision f16 unavailable'}; ` +
      `subgroup matrices ${configs.length ? configs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}x${c.N}x${c.K}`).join(', ') : 'none'}` +
      `${m ? `; tensor cores for f16 GEMMs: ${m.M}x${m.N}x${m.K}, ${m.lanes} lanes (${m.syntax} syntax)` : configs.length ? '; none fits the tiled GEMM or builds (f16 GEMMs on the scalar core)' : ''}`);
    for (const err of gpu.matrixErrors) console.log(`          subgroup-matrix GEMM did not build, ${err}`);
    const e = new Engine(gpu.device, { ...engineDefaults, precision: 'f32' });
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
