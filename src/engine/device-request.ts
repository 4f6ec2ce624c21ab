// What mirage asks of a WebGPU adapter, for every host (Node's Dawn, a browser page): the optional
// features its kernels use where present, and the raised limits (the defaults hold 128 MiB per
// storage binding and 256 invocations per workgroup; compatibility-mode adapters' defaults are lower still).
export const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];
export const RAISED_LIMITS = [
  'maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage', 'maxUniformBufferBindingSize',
] as const;

/** The device descriptor mirage requests from `adapter`: its optional features and its top limits. */
export function deviceRequest(adapter: GPUAdapter): { requiredFeatures: GPUFeatureName[]; requiredLimits: Record<string, number> } {
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) requiredLimits[k] = adapter.limits[k];
  return { requiredFeatures, requiredLimits };
}

/** Adapter description fields as strings (blank where the host hides them). */
export function adapterInfo(adapter: GPUAdapter): Record<string, string> {
  const ai = adapter.info as unknown as Record<string, unknown>;
  const info: Record<string, string> = {};
  for (const k of ['vendor', 'architecture', 'device', 'description']) info[k] = String(ai[k] ?? '');
  return info;
}
