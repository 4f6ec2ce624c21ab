import { keep } from './scope.js';
import { fmt, sameShape } from './shape.js';
import type { Tensor } from './tensor.js';

/** Host copy of a tensor (state dicts, checkpoints). */
export interface HostTensor { shape: number[]; data: Float32Array }

/**
 * Base of all layers and models. Parameters and buffers are registered by name; child modules
 * are discovered from the instance's own properties (a Module, or an array of Modules, which
 * gets PyTorch ModuleList indices), so state-dict keys read like PyTorch's:
 * `encoder.layers.3.conv3x1_1.weight`, `bn1.running_mean`.
 */
export class Module {
  training = true;
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();

  protected registerParameter(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    this.ownParams.set(name, keep(t));
    return t;
  }

  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.ownBuffers.set(name, keep(t));
    return t;
  }

  /** Child modules in declaration order. */
  children(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v) && v.length && v.every((m) => m instanceof Module)) {
        v.forEach((m: Module, i) => out.push([`${k}.${i}`, m]));
      }
    }
    return out;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.ownParams].map(([k, t]) => [prefix + k, t]);
    for (const [k, m] of this.children()) out.push(...m.namedParameters(`${prefix}${k}.`));
    return out;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.ownBuffers].map(([k, t]) => [prefix + k, t]);
    for (const [k, m] of this.children()) out.push(...m.namedBuffers(`${prefix}${k}.`));
    return out;
  }

  parameters(): Tensor[] { return this.namedParameters().map(([, t]) => t); }

  numParameters(): number { return this.parameters().reduce((a, t) => a + t.size, 0); }

  /** Parameters and buffers by dotted name, in PyTorch's order (own entries, then children). */
  stateDict(prefix = ''): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [k, t] of this.ownParams) out.set(prefix + k, t);
    for (const [k, t] of this.ownBuffers) out.set(prefix + k, t);
    for (const [k, m] of this.children()) for (const [kk, t] of m.stateDict(`${prefix}${k}.`)) out.set(kk, t);
    return out;
  }

  /** Reads every state tensor to the host. */
  async stateDictHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>();
    for (const [k, t] of this.stateDict()) out.set(k, { shape: [...t.shape], data: Float32Array.from(await t.read()) });
    return out;
  }

  /**
   * Copies values into the module's tensors. With `strict` (default), missing or unexpected keys
   * are an error; shape mismatches always are. The error lists every problem at once, and
   * nothing is written unless all entries fit.
   */
  loadStateDict(state: Map<string, HostTensor>, strict = true): void {
    loadChecked(this.stateDict(), state, strict, 'checkpoint', `loadStateDict (${this.constructor.name})`);
  }

  train(mode = true): this {
    this.training = mode;
    for (const [, m] of this.children()) m.train(mode);
    return this;
  }

  eval(): this { return this.train(false); }

  /** Frees every parameter, buffer and gradient. */
  dispose(): void {
    for (const t of this.ownParams.values()) t.dispose();
    for (const t of this.ownBuffers.values()) t.dispose();
    for (const [, m] of this.children()) m.dispose();
  }
}

/**
 * Writes `state` into the tensors of `own` once nothing keeps it from loading (stateDictProblems);
 * otherwise throws "`what`: problems", having written nothing.
 */
export function loadChecked(own: Map<string, Tensor>, state: Map<string, HostTensor>, strict: boolean, source: string, what: string): void {
  const problems = stateDictProblems(own, state, strict, source);
  if (problems.length) throw new Error(`${what}: ${problems.join('\n')}`);
  for (const [k, h] of state) own.get(k)?.write(h.data);
}

/**
 * What keeps `state` from loading into `own`: missing and unexpected keys (when `strict`) and shape
 * mismatches, each kind counted with its first 20 keys; `source` names the file's side.
 */
export function stateDictProblems(own: Map<string, { shape: readonly number[] }>, state: Map<string, HostTensor>, strict: boolean,
  source = 'checkpoint'): string[] {
  const missing = [...own.keys()].filter((k) => !state.has(k));
  const unexpected = [...state.keys()].filter((k) => !own.has(k));
  const wrong = [...state].filter(([k, h]) => own.has(k) && !sameShape(own.get(k)!.shape, h.shape))
    .map(([k, h]) => `${k}: ${source} ${fmt(h.shape)} vs model ${fmt(own.get(k)!.shape)}`);
  return [
    ...(strict && missing.length ? [`missing keys (${missing.length}): ${missing.slice(0, 20).join(', ')}`] : []),
    ...(strict && unexpected.length ? [`unexpected keys (${unexpected.length}): ${unexpected.slice(0, 20).join(', ')}`] : []),
    ...(wrong.length ? [`shape mismatches (${wrong.length}): ${wrong.slice(0, 20).join('; ')}`] : []),
  ];
}
