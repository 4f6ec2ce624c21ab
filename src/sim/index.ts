// mirage/sim: the GPU heat-shimmer simulator (tilt fields with the physical correlation, warp, blur).
export { CORRELATION_MODEL, type ResolvedTurbulence, type TurbulenceParams, TurbulenceSimulator, resolveTurbulence, sampleSeed } from './turbulence.js';
