import * as assert from 'uvu/assert';
import { type F64Tensor, type Tol, dot, mismatch, randn } from '../reference/core.js';
import { type GpuFn, gradsGpu, runGpu } from './gpu.js';

export function close(got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol, what = ''): void {
  const m = mismatch(got, want, tol);
  assert.ok(m === null, `${what} ${m}`);
}

/** GPU forward vs the float64 reference. */
export async function checkForward(fn: GpuFn, ref: (...xs: F64Tensor[]) => F64Tensor, xs: F64Tensor[], tol: Tol) {
  const got = await runGpu(fn, xs);
  const want = ref(...xs);
  close(got, want.data, tol, 'forward:');
}

export interface GradOpts extends Tol {
  eps?: number; samples?: number; which?: boolean[]; seed?: number;
  /** Maps the random probe (the output gradient) first, e.g. rounds it to f16 for f16-operand kernels. */
  probe?: (p: F64Tensor) => F64Tensor;
}

/**
 * Analytic grads of L = Σ probe·f(x) from one GPU backward vs central differences of the
 * float64 reference, on up to `samples` sampled elements of each input.
 */
export async function checkGrad(fn: GpuFn, ref: (...xs: F64Tensor[]) => F64Tensor, xs: F64Tensor[], o: GradOpts) {
  const raw = randn(ref(...xs).shape, o.seed ?? 99);
  const probe = o.probe ? o.probe(raw) : raw;
  const analytic = await gradsGpu(fn, xs, probe, o.which);
  const eps = o.eps ?? 1e-6;
  const bad: string[] = [];
  xs.forEach((x, i) => {
    if (o.which && !o.which[i]) return;
    const n = x.data.length, k = Math.min(n, o.samples ?? 48);
    for (let s = 0; s < k; s++) {
      const j = k === n ? s : Math.floor(((s * 2654435761) % 4294967296) / 4294967296 * n);
      const keep = x.data[j];
      x.data[j] = keep + eps; const up = dot(ref(...xs).data, probe.data);
      x.data[j] = keep - eps; const down = dot(ref(...xs).data, probe.data);
      x.data[j] = keep;
      const numeric = (up - down) / (2 * eps), got = analytic[i][j];
      if (!(Math.abs(got - numeric) <= o.atol + o.rtol * Math.abs(numeric))) {
        bad.push(`x${i}[${j}]: analytic ${got} vs numeric ${numeric}`);
      }
    }
  });
  assert.ok(bad.length === 0, `gradient mismatch (${bad.length}):\n${bad.slice(0, 6).join('\n')}`);
}
