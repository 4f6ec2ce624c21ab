import type { Tensor } from './tensor.js';

const stack: Set<Tensor>[] = [];

export function trackTensor(t: Tensor): void {
  stack[stack.length - 1]?.add(t);
}

/** Removes tensors from every open scope, so they outlive it (e.g. accumulated gradients). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  return t;
}

function collect(x: unknown, out: Set<unknown>, depth = 0): void {
  if (x === null || typeof x !== 'object' || depth > 4) return;
  if ('dtype' in x && 'shape' in x && typeof (x as Tensor).dispose === 'function') { out.add(x); return; }
  if (Array.isArray(x)) { for (const v of x) collect(v, out, depth + 1); return; }
  if (Object.getPrototypeOf(x) === Object.prototype) for (const v of Object.values(x)) collect(v, out, depth + 1);
}

/**
 * Runs `fn` and disposes every tensor created inside except those it returns (directly, in
 * an array or in a plain object); those move to the enclosing scope. Synchronous only.
 */
export function scope<T>(fn: () => T): T {
  const mine = new Set<Tensor>();
  stack.push(mine);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of mine) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) throw new Error('scope: fn must be synchronous (await outside the scope)');
  const keepSet = new Set<unknown>();
  collect(result, keepSet);
  for (const t of mine) {
    if (keepSet.has(t)) trackTensor(t);
    else t.dispose();
  }
  return result;
}
