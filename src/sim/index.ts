// mirage/sim: the GPU heat-shimmer simulator (tilt fields with the physical correlation, warp, blur).
export { CORRELATION_MODEL, type ResolvedTurbulence, type TurbulenceParams, TurbulenceSimulator, describeTurbulence, resolveTurbulence, sampleSeed } from './turbulence.js';
export { type AaCorrelation, aaCorrelation } from './aa-correlation.js';
export { type FieldStats, fieldStats } from './field-stats.js';
