// How dawn.node waits for GPU work. While any promise (mapAsync, onSubmittedWorkDone) is pending it
// re-arms a native callback through the global setImmediate on every event-loop turn: the JS thread
// spins. On a CPU adapter (lavapipe) that thread takes a core from the emulated GPU; on 2 cores the
// same kernels ran 1.7× faster once the polling slept (bench/NOTES.md §18).

let interval = 0;
let installed = false;

/** Dawn's tick callback: an anonymous native function (JS callbacks, bound ones included, are not). */
const isDawnTick = (fn: unknown): fn is (...a: unknown[]) => void =>
  typeof fn === 'function' && fn.name === '' && Function.prototype.toString.call(fn).includes('[native code]');

/**
 * Poll Dawn's events every `ms` milliseconds instead of on every event-loop turn (0: Dawn's own
 * busy polling). Process-wide; callbacks other than Dawn's keep the real setImmediate.
 */
export function setDawnPollInterval(ms: number): void {
  if (!(ms >= 0) || !Number.isFinite(ms)) throw new Error(`poll interval must be a finite number of milliseconds >= 0, got ${ms}`);
  interval = ms;
  if (installed || ms === 0) return;
  const g = globalThis as { setImmediate: (fn: (...a: unknown[]) => void, ...a: unknown[]) => unknown };
  const real = g.setImmediate;
  const wrapped = function setImmediate(fn: (...a: unknown[]) => void, ...args: unknown[]): unknown {
    return interval > 0 && isDawnTick(fn) ? setTimeout(fn, interval, ...args) : real(fn, ...args);
  };
  Object.defineProperties(wrapped, Object.getOwnPropertyDescriptors(real));   // util.promisify.custom etc.
  g.setImmediate = wrapped;
  installed = true;
}

/** The current interval (0: busy polling). */
export const dawnPollInterval = () => interval;
