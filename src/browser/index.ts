// mirage/browser: a mirage engine on the page's WebGPU (navigator.gpu), with the browser quirks handled.
export { type BrowserEngine, type BrowserEngineOptions, NoWebGpuError, createBrowserEngine } from './device.js';
export { type ProbeResult, probeKernels } from './probe.js';
