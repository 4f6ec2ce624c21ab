// Procedural street scenes with Cityscapes trainIds, deterministic by (seed, index), any size.
// A perspective road with lane marks, sidewalks, building façades with windows, sky, trees,
// poles with traffic signs, cars and people; random lighting, colour cast and texture noise.
import { Rng } from '../engine/rng.js';

export const T = { road: 0, sidewalk: 1, building: 2, pole: 5, sign: 7, vegetation: 8, terrain: 9, sky: 10, person: 11, car: 13 } as const;

export interface Sample {
  /** RGB in [0,1], CHW (3·H·W). */
  image: Float32Array;
  /** trainIds (H·W); 19 = ignore. */
  label: Uint8Array;
  height: number;
  width: number;
  name: string;
}

type RGB = [number, number, number];

class Canvas {
  readonly rgb: Float32Array;
  readonly lab: Uint8Array;
  constructor(readonly w: number, readonly h: number) {
    this.rgb = new Float32Array(3 * w * h);
    this.lab = new Uint8Array(w * h).fill(19);
  }
  px(x: number, y: number, c: RGB, l: number): void {
    const i = y * this.w + x;
    this.rgb[i] = c[0]; this.rgb[this.w * this.h + i] = c[1]; this.rgb[2 * this.w * this.h + i] = c[2];
    this.lab[i] = l;
  }
  /** Fills rows y0..y1 between x = left(y) and x = right(y); `shade(x, y)` gives the colour. */
  span(y0: number, y1: number, left: (y: number) => number, right: (y: number) => number, l: number,
    shade: (x: number, y: number) => RGB): void {
    for (let y = Math.max(0, Math.ceil(y0)); y <= Math.min(this.h - 1, Math.floor(y1)); y++) {
      const a = Math.max(0, Math.ceil(left(y))), b = Math.min(this.w - 1, Math.floor(right(y)));
      for (let x = a; x <= b; x++) this.px(x, y, shade(x, y), l);
    }
  }
  rect(x0: number, y0: number, x1: number, y1: number, l: number, shade: (x: number, y: number) => RGB): void {
    this.span(y0, y1, () => x0, () => x1, l, shade);
  }
  ellipse(cx: number, cy: number, rx: number, ry: number, l: number, shade: (x: number, y: number) => RGB): void {
    this.span(cy - ry, cy + ry, (y) => cx - rx * Math.sqrt(Math.max(0, 1 - ((y - cy) / ry) ** 2)),
      (y) => cx + rx * Math.sqrt(Math.max(0, 1 - ((y - cy) / ry) ** 2)), l, shade);
  }
}

const mixc = (a: RGB, b: RGB, t: number): RGB => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
const jitter = (r: Rng, c: RGB, s: number): RGB => c.map((v) => Math.min(1, Math.max(0, v + r.uniform(-s, s)))) as RGB;

/** Renders scene `index` of the data set `seed` at width × height. */
export function syntheticScene(seed: number, index: number, width: number, height: number): Sample {
  if (!(width >= 8 && height >= 8)) throw new Error(`synthetic: size ${width}x${height} is below 8x8`);
  const r = new Rng((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0);
  const W = width, H = height, cv = new Canvas(W, H);
  const noise = (x: number, y: number, amp: number) => amp * (((Math.imul(x * 73856093 ^ y * 19349663, 0x27d4eb2d) >>> 8) & 255) / 255 - 0.5);
  const hy = H * r.uniform(0.36, 0.5);                       // horizon
  const vx = W * r.uniform(0.38, 0.62);                      // vanishing point
  const depth = (y: number) => Math.max(0, (y - hy) / (H - hy));   // 0 at horizon, 1 at the bottom

  // sky: vertical gradient, optional clouds
  const skyTop = jitter(r, [0.35, 0.55, 0.85], 0.08), skyLow = jitter(r, [0.75, 0.85, 0.95], 0.06);
  const cloudy = r.next() < 0.5;
  cv.rect(0, 0, W - 1, hy + 1, T.sky, (x, y) => {
    const c = mixc(skyTop, skyLow, y / hy);
    const cl = cloudy ? Math.max(0, Math.sin(x * 0.09 + y * 0.21) * Math.sin(x * 0.031 - y * 0.11)) * 0.35 : 0;
    return mixc(c, [0.95, 0.95, 0.97], cl);
  });

  // road edges and sidewalk outer edges as lines from the bottom to the vanishing point
  const roadL = W * r.uniform(-0.1, 0.2), roadR = W * r.uniform(0.8, 1.1);
  const walkL = roadL - W * r.uniform(0.25, 0.5), walkR = roadR + W * r.uniform(0.25, 0.5);
  const at = (xb: number, spread: number) => (y: number) => vx + (xb - vx) * depth(y) + spread * (1 - depth(y)) * W;
  const eRoadL = at(roadL, -0.02), eRoadR = at(roadR, 0.02), eWalkL = at(walkL, -0.06), eWalkR = at(walkR, 0.06);

  // buildings: façades standing on the sidewalk's outer edge, each with a window grid
  const facade = (side: -1 | 1) => {
    let x = side < 0 ? -1 : W;
    while (side < 0 ? x < eWalkL(hy + 1) : x > eWalkR(hy + 1)) {
      const bw = W * r.uniform(0.06, 0.2);
      const x0 = side < 0 ? x : x - bw, x1 = side < 0 ? x + bw : x;
      const top = hy - H * r.uniform(0.05, 0.4);
      const base = jitter(r, [0.55, 0.5, 0.45], 0.2);
      const win = jitter(r, [0.25, 0.3, 0.38], 0.1);
      const [wx, wy] = [Math.max(3, W * r.uniform(0.015, 0.03)), Math.max(3, H * r.uniform(0.03, 0.06))];
      const shade = (px: number, py: number): RGB => {
        const inWin = ((px - x0) % wx) > wx * 0.45 && ((py - top) % wy) > wy * 0.4;
        const f = 0.85 + 0.15 * side * (px - x0) / bw;
        return (inWin ? win : base).map((v) => v * f) as RGB;
      };
      // the façade stops where the sidewalk begins (left of eWalkL, right of eWalkR)
      if (side < 0) cv.span(top, H - 1, () => x0, (y) => Math.min(x1, eWalkL(y) - 1), T.building, shade);
      else cv.span(top, H - 1, (y) => Math.max(x0, eWalkR(y) + 1), () => x1, T.building, shade);
      x += side < 0 ? bw : -bw;
    }
  };
  facade(-1); facade(1);

  // hedges / terrain strip behind the sidewalk on some scenes
  if (r.next() < 0.5) {
    const green = jitter(r, [0.3, 0.5, 0.2], 0.08);
    cv.span(hy, H, (y) => eWalkL(y) - W * 0.06 * depth(y) - 1, (y) => eWalkL(y), T.vegetation, () => green);
  }

  // sidewalks and road
  const walk = jitter(r, [0.62, 0.6, 0.58], 0.08), asphalt = jitter(r, [0.3, 0.3, 0.32], 0.06);
  cv.span(hy, H, eWalkL, eRoadL, T.sidewalk, (x, y) => walk.map((v) => v + (((x >> 2) + (y >> 2)) % 2 ? 0.03 : 0)) as RGB);
  cv.span(hy, H, eRoadR, eWalkR, T.sidewalk, (x, y) => walk.map((v) => v + (((x >> 2) + (y >> 2)) % 2 ? 0.03 : 0)) as RGB);
  cv.span(hy, H, eRoadL, eRoadR, T.road, () => asphalt);
  // dashed lane marks (still road)
  const lanes = 1 + r.int(2);
  for (let k = 1; k <= lanes; k++) {
    const f = k / (lanes + 1);
    for (let y = Math.ceil(hy + 2); y < H; y++) {
      if (Math.floor(Math.log(depth(y) + 0.05) * 9) % 2) continue;
      const cx = eRoadL(y) + (eRoadR(y) - eRoadL(y)) * f, hw = Math.max(0.5, W * 0.006 * depth(y));
      cv.span(y, y, () => cx - hw, () => cx + hw, T.road, () => [0.9, 0.9, 0.85]);
    }
  }

  // objects, far to near
  interface Obj { y: number; draw: () => void }
  const objs: Obj[] = [];
  const nTrees = r.int(4), nPoles = 1 + r.int(3), nCars = 1 + r.int(4), nPeople = r.int(4);
  for (let i = 0; i < nTrees; i++) {
    const y = hy + (H - hy) * r.uniform(0.1, 0.7), side = r.next() < 0.5 ? eWalkL : eWalkR;
    const x = side(y), s = depth(y) * H, leaf = jitter(r, [0.25, 0.45, 0.15], 0.08);
    objs.push({ y, draw: () => {
      cv.rect(x - s * 0.03, y - s * 0.6, x + s * 0.03, y, T.vegetation, () => [0.35, 0.25, 0.15]);
      cv.ellipse(x, y - s * 0.75, s * 0.3, s * 0.3, T.vegetation, (px, py) => leaf.map((v) => v + noise(px, py, 0.12)) as RGB);
    } });
  }
  for (let i = 0; i < nPoles; i++) {
    const y = hy + (H - hy) * r.uniform(0.15, 0.9), left = r.next() < 0.5;
    const x = (left ? eRoadL(y) : eRoadR(y)) + (left ? -1 : 1) * W * 0.03 * depth(y), s = depth(y) * H;
    const sc: RGB = r.next() < 0.5 ? [0.85, 0.1, 0.1] : r.next() < 0.5 ? [0.1, 0.3, 0.8] : [0.95, 0.8, 0.1];
    objs.push({ y, draw: () => {
      cv.rect(x - Math.max(0.6, s * 0.012), y - s * 0.9, x + Math.max(0.6, s * 0.012), y, T.pole, () => [0.45, 0.45, 0.48]);
      if (r.next() < 0.8) cv.ellipse(x, y - s * 0.85, Math.max(1, s * 0.07), Math.max(1, s * 0.07), T.sign, () => sc);
    } });
  }
  for (let i = 0; i < nCars; i++) {
    const y = hy + (H - hy) * r.uniform(0.12, 1.0), s = depth(y) * H;
    const lane = r.uniform(0.15, 0.85), x = eRoadL(y) + (eRoadR(y) - eRoadL(y)) * lane;
    const body = jitter(r, [r.next(), r.next(), r.next()], 0.1), w = s * r.uniform(0.5, 0.7), h = s * r.uniform(0.3, 0.4);
    objs.push({ y, draw: () => {
      cv.rect(x - w / 2, y - h, x + w / 2, y - h * 0.15, T.car, (_px, py) => body.map((v) => v * (0.8 + 0.2 * (py - y + h) / h)) as RGB);
      cv.rect(x - w * 0.35, y - h * 1.45, x + w * 0.35, y - h, T.car, () => [0.2, 0.25, 0.3]);   // windows
      cv.ellipse(x - w * 0.3, y - h * 0.15, w * 0.1, h * 0.15, T.car, () => [0.05, 0.05, 0.05]);
      cv.ellipse(x + w * 0.3, y - h * 0.15, w * 0.1, h * 0.15, T.car, () => [0.05, 0.05, 0.05]);
    } });
  }
  for (let i = 0; i < nPeople; i++) {
    const y = hy + (H - hy) * r.uniform(0.1, 0.8), left = r.next() < 0.5, t = r.uniform(0.2, 0.8);
    const x = left ? eWalkL(y) + (eRoadL(y) - eWalkL(y)) * t : eRoadR(y) + (eWalkR(y) - eRoadR(y)) * t, s = depth(y) * H;
    const coat = jitter(r, [r.next(), r.next() * 0.5, r.next()], 0.1);
    objs.push({ y, draw: () => {
      cv.ellipse(x, y - s * 0.3, s * 0.07, s * 0.3, T.person, () => coat);
      cv.ellipse(x, y - s * 0.66, s * 0.05, s * 0.06, T.person, () => [0.85, 0.65, 0.5]);
    } });
  }
  objs.sort((a, b) => a.y - b.y).forEach((o) => o.draw());

  // lighting: exposure, colour cast, vignette, sensor noise
  const gain = r.uniform(0.65, 1.25), cast = [r.uniform(0.9, 1.1), r.uniform(0.9, 1.1), r.uniform(0.9, 1.1)];
  const amp = r.uniform(0.02, 0.08);
  for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = c * W * H + y * W + x;
    const vig = 1 - 0.25 * (((x - W / 2) / W) ** 2 + ((y - H / 2) / H) ** 2);
    cv.rgb[i] = Math.min(1, Math.max(0, cv.rgb[i] * gain * cast[c] * vig + noise(x + c * 7, y, amp)));
  }
  return { image: cv.rgb, label: cv.lab, height: H, width: W, name: `synthetic_${seed}_${String(index).padStart(6, '0')}` };
}
