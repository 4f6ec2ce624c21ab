// Bessel functions of the first kind J_n(x), n = 0, 1, 2, …, in float64 on the host, for the
// angle-of-arrival correlation integral (aa-correlation.ts). Power series below x = 12 (terms
// peak near 4e3 there, so about 1e-12 absolute error), Hankel's asymptotic expansion above it,
// summed until its terms stop shrinking (better than 1e-12 at x ≥ 12 for n ≤ 4).

const SERIES_LIMIT = 12;

function series(n: number, x: number): number {
  const h = x / 2, h2 = h * h;
  let term = 1;
  for (let k = 1; k <= n; k++) term *= h / k;          // (x/2)^n / n!
  let sum = term;
  for (let k = 1; k < 200; k++) {
    term *= -h2 / (k * (k + n));
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.max(1, Math.abs(sum))) break;
  }
  return sum;
}

function hankel(n: number, x: number): number {
  const mu = 4 * n * n;
  let p = 0, q = 0, a = 1, last = Infinity;
  for (let k = 0; k < 60; k++) {
    // a_k = Π_{j=1..k} (μ − (2j−1)²) / (k!·8^k), divided by x^k
    if (k > 0) a *= (mu - (2 * k - 1) ** 2) / (k * 8 * x);
    if (Math.abs(a) > last) break;                     // the series is asymptotic: stop at its smallest term
    last = Math.abs(a);
    const sign = Math.floor(k / 2) % 2 === 0 ? 1 : -1;
    if (k % 2 === 0) p += sign * a; else q += sign * a;
    if (Math.abs(a) < 1e-17) break;
  }
  const chi = x - (n / 2 + 0.25) * Math.PI;
  return Math.sqrt(2 / (Math.PI * x)) * (p * Math.cos(chi) - q * Math.sin(chi));
}

/** J_n(x) for integer n ≥ 0 and real x (J_n(−x) = (−1)^n J_n(x)). */
export function besselJ(n: number, x: number): number {
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`besselJ: order must be a non-negative integer, got ${n}`);
  if (x < 0) return (n % 2 ? -1 : 1) * besselJ(n, -x);
  return x < SERIES_LIMIT ? series(n, x) : hankel(n, x);
}
