// Angle-of-arrival (tilt) correlation of turbulence, evaluated from the physical model itself:
// Belen'kii's edge-waviness integral (Belen'kii et al., "Turbulence-induced edge image waviness:
// theory and experiment", eq. 4), as the Schwartzman et al. simulator (ICCP 2017) evaluates it in
// AAcorrelation.m (data-and-simulation.md §C1 step 2):
//
//   G(κ)    = ((2γκ)² + 1)^(−11/6) · J2(κ)² / κ           (γ = L0/D: outer scale over aperture)
//   g∓(s)   = ∫ G(κ) [J0(sκ) ∓ J2(sκ)] dκ
//   spherical wave: I∓(β) = ∫₀¹ g∓(2β·ξ(1−ξ)) dξ;  plane wave: I∓(β) = g∓(2β)
//   b_long(β) = I−(β) / I−(0),  b_lat(β) = I+(β) / I+(0),   β = θ/θ_D (θ_D = D/L)
//
// As in the reference, the spherical-wave path weight (1−ξ)^(5/3) it computes is not applied.
// Float64 on the host, once per (γ, wave) and cached: the κ integral runs on a log grid
// (10⁻³ … 8, where G's tail beyond holds < 1e-4 of its mass) refined to at least 8 points per
// period of J(sκ); g is tabulated on a log grid of s and interpolated in the ξ integral.
import { besselJ } from './bessel.js';

export type Wave = 'spherical' | 'plane';

export interface AaCorrelation {
  gamma: number;
  wave: Wave;
  /** Largest β tabulated; beyond it the last values hold (as the reference's clamp). */
  betaMax: number;
  /** Longitudinal (along the separation) and lateral correlation at β ≥ 0, interpolated. */
  long(beta: number): number;
  lat(beta: number): number;
  /** β where each correlation first falls to `level` (e.g. 0.5). */
  crossing(which: 'long' | 'lat', level: number): number;
}

const K_LO = 1e-3, K_HI = 8, K_LOG_POINTS = 2400;
const S_LO = 1e-3, S_PER_DECADE = 100;
const BETA_LO = 1e-2, BETA_PER_DECADE = 80, XI_POINTS = 1501;

const cache = new Map<string, AaCorrelation>();

/** Linear interpolation in log x on a log-spaced table (x0 = table[0] at xs[0]); values at 0 and beyond the ends clamp. */
function logInterp(xs: Float64Array, ys: Float64Array, zero: number, x: number): number {
  if (x <= 0) return zero;
  if (x <= xs[0]) return zero + ((ys[0] - zero) * x) / xs[0];
  const n = xs.length;
  if (x >= xs[n - 1]) return ys[n - 1];
  const step = Math.log(xs[1] / xs[0]);
  const f = Math.log(x / xs[0]) / step, i = Math.min(n - 2, Math.floor(f)), t = f - i;
  return ys[i] + t * (ys[i + 1] - ys[i]);
}

/** g−(s) and g+(s) on a log grid of s up to sMax, plus their common value at s = 0. */
function gTables(gamma: number, sMax: number): { s: Float64Array; minus: Float64Array; plus: Float64Array; zero: number } {
  const G = (k: number) => ((2 * gamma * k) ** 2 + 1) ** (-11 / 6) * besselJ(2, k) ** 2 / k;
  const dl = Math.log(K_HI / K_LO) / (K_LOG_POINTS - 1);
  const kLog = Float64Array.from({ length: K_LOG_POINTS }, (_, i) => K_LO * Math.exp(i * dl));
  const gLog = kLog.map(G);
  // ∫ f dκ on the log grid = Σ f(κ)·κ·Δlnκ (trapezoid in ln κ)
  let zero = 0;
  for (let i = 0; i < K_LOG_POINTS; i++) zero += (i === 0 || i === K_LOG_POINTS - 1 ? 0.5 : 1) * gLog[i] * kLog[i] * dl;
  const ns = Math.max(2, Math.ceil(Math.log10(sMax / S_LO) * S_PER_DECADE) + 1);
  const s = Float64Array.from({ length: ns }, (_, i) => S_LO * (sMax / S_LO) ** (i / (ns - 1)));
  const minus = new Float64Array(ns), plus = new Float64Array(ns);
  for (let j = 0; j < ns; j++) {
    const sj = s[j], dk = Math.PI / (8 * sj);          // 8 points per period of J(sκ)
    const kSwitch = Math.min(K_HI, dk / (Math.exp(dl) - 1));   // where the log grid's step reaches dk
    let m = 0, p = 0;
    const add = (w: number, g: number, k: number) => {
      const j0 = besselJ(0, sj * k), j2 = besselJ(2, sj * k);
      m += w * g * (j0 - j2); p += w * g * (j0 + j2);
    };
    // log part: κ ≤ kSwitch (trapezoid in ln κ, closed at kSwitch by a partial interval)
    let last = 0;
    for (let i = 0; i < K_LOG_POINTS && kLog[i] <= kSwitch; i++) {
      const end = i === K_LOG_POINTS - 1 || kLog[i + 1] > kSwitch;
      add((i === 0 || end ? 0.5 : 1) * kLog[i] * dl, gLog[i], kLog[i]);
      last = i;
    }
    if (kLog[last] < K_HI) {
      // linear part: from the last log node to K_HI in steps ≤ dk (trapezoid)
      const a = kLog[last], n = Math.max(1, Math.ceil((K_HI - a) / dk)), h = (K_HI - a) / n;
      for (let i = 0; i <= n; i++) {
        const k = a + i * h;
        add((i === 0 || i === n ? 0.5 : 1) * h, i === 0 ? gLog[last] : G(k), k);
      }
    }
    minus[j] = m; plus[j] = p;
  }
  return { s, minus, plus, zero };
}

/**
 * The tilt correlation b_long(β), b_lat(β) for outer-scale ratio γ = L0/D (reference: 30, from
 * L0 = 0.4·4 m and D = 53.6 mm), tabulated to betaMax. Costs about a second the first time per
 * (γ, wave, betaMax); cached after.
 */
export function aaCorrelation(gamma = 30, wave: Wave = 'spherical', betaMax = 1024): AaCorrelation {
  if (!(Number.isFinite(gamma) && gamma > 0)) throw new Error(`AA correlation: γ (outer scale / aperture) must be > 0, got ${gamma}`);
  if (!(Number.isFinite(betaMax) && betaMax > 1)) throw new Error(`AA correlation: betaMax must be > 1, got ${betaMax}`);
  betaMax = 2 ** Math.ceil(Math.log2(betaMax));
  const key = `${gamma}:${wave}:${betaMax}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const g = gTables(gamma, wave === 'plane' ? 2 * betaMax : betaMax / 2);
  const nb = Math.ceil(Math.log10(betaMax / BETA_LO) * BETA_PER_DECADE) + 1;
  const beta = Float64Array.from({ length: nb }, (_, i) => BETA_LO * (betaMax / BETA_LO) ** (i / (nb - 1)));
  const long = new Float64Array(nb), lat = new Float64Array(nb);
  for (let i = 0; i < nb; i++) {
    let m = 0, p = 0;
    if (wave === 'plane') {
      m = logInterp(g.s, g.minus, g.zero, 2 * beta[i]); p = logInterp(g.s, g.plus, g.zero, 2 * beta[i]);
    } else {
      // ∫₀¹ = 2∫₀^½ by symmetry; Simpson's rule on XI_POINTS (odd) nodes
      const n = XI_POINTS - 1, h = 0.5 / n;
      for (let k = 0; k <= n; k++) {
        const xi = k * h, s = 2 * beta[i] * xi * (1 - xi), w = (k === 0 || k === n ? 1 : k % 2 ? 4 : 2) * h / 3;
        m += w * logInterp(g.s, g.minus, g.zero, s); p += w * logInterp(g.s, g.plus, g.zero, s);
      }
      m *= 2; p *= 2;
    }
    long[i] = m / g.zero; lat[i] = p / g.zero;
  }
  const crossing = (which: 'long' | 'lat', level: number) => {
    const ys = which === 'long' ? long : lat;
    if (level >= 1) return 0;
    for (let i = 0; i < nb; i++) {
      if (ys[i] <= level) {
        if (i === 0) return (beta[0] * (1 - level)) / (1 - ys[0]);
        const t = (ys[i - 1] - level) / (ys[i - 1] - ys[i]);
        return beta[i - 1] * (beta[i] / beta[i - 1]) ** t;
      }
    }
    return Infinity;
  };
  const r: AaCorrelation = { gamma, wave, betaMax,
    long: (b) => logInterp(beta, long, 1, b), lat: (b) => logInterp(beta, lat, 1, b), crossing };
  cache.set(key, r);
  return r;
}
