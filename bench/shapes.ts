// The convolutions of ERFNet (seed-specs §2.2) at an input of H×W, as benchmark cases.
import { conv2dGeometry, convTranspose2dGeometry } from '../src/kernels/conv2d.js';

export interface ConvCase {
  name: string;
  /** x: [n, c, h, w]; w: [k, c, r, s] (transposed: [cin, cout, r, s]). */
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  transposed?: { outputPadding: [number, number] };
  /** Grouped convolution: w is [k, c/groups, r, s]. */
  groups?: number;
}

export function erfnetConvs(n: number, H: number, W: number): ConvCase[] {
  const c = (name: string, x: ConvCase['x'], w: ConvCase['w'], stride: [number, number], padding: [number, number],
    dilation: [number, number] = [1, 1], transposed?: ConvCase['transposed']): ConvCase => ({ name, x, w, stride, padding, dilation, transposed });
  const [h2, w2, h4, w4, h8, w8] = [H / 2, W / 2, H / 4, W / 4, H / 8, W / 8];
  return [
    c('initial 3x3 s2 3→13', [n, 3, H, W], [13, 3, 3, 3], [2, 2], [1, 1]),
    c('down 3x3 s2 16→48', [n, 16, h2, w2], [48, 16, 3, 3], [2, 2], [1, 1]),
    c('nb64 3x1', [n, 64, h4, w4], [64, 64, 3, 1], [1, 1], [1, 0]),
    c('nb64 1x3', [n, 64, h4, w4], [64, 64, 1, 3], [1, 1], [0, 1]),
    c('down 3x3 s2 64→64', [n, 64, h4, w4], [64, 64, 3, 3], [2, 2], [1, 1]),
    c('nb128 3x1 d2', [n, 128, h8, w8], [128, 128, 3, 1], [1, 1], [2, 0], [2, 1]),
    c('nb128 1x3 d4', [n, 128, h8, w8], [128, 128, 1, 3], [1, 1], [0, 4], [1, 4]),
    c('nb128 3x1 d16', [n, 128, h8, w8], [128, 128, 3, 1], [1, 1], [16, 0], [16, 1]),
    c('up convT 128→64', [n, 128, h8, w8], [128, 64, 3, 3], [2, 2], [1, 1], [1, 1], { outputPadding: [1, 1] }),
    c('up convT 64→16', [n, 64, h4, w4], [64, 16, 3, 3], [2, 2], [1, 1], [1, 1], { outputPadding: [1, 1] }),
    c('out convT 2x2 16→20', [n, 16, h2, w2], [16, 20, 2, 2], [2, 2], [0, 0], [1, 1], { outputPadding: [0, 0] }),
  ];
}

/**
 * The grouped 3×3 convolutions of SE-ResNeXt-50 32×4d (NVIDIA's DeepSRNX50V3PlusD_m1, output
 * stride 8) at an input of H×W: the first block of each stage (layer2's has stride 2, layer3 and
 * layer4 are dilated 2 and 4 instead of striding), 32 groups of 4, 8, 16 and 32 channels.
 */
export function seresnext50GroupedConvs(n: number, H: number, W: number): ConvCase[] {
  const g = (name: string, ch: number, h: number, w: number, stride: number, dil: number): ConvCase =>
    ({ name, x: [n, ch, h, w], w: [ch, ch / 32, 3, 3], stride: [stride, stride], padding: [dil, dil], dilation: [dil, dil], groups: 32 });
  return [
    g('layer1 3x3 g32 128', 128, H / 4, W / 4, 1, 1),
    g('layer2 3x3 g32 256 s2', 256, H / 4, W / 4, 2, 1),
    g('layer3 3x3 g32 512 d2', 512, H / 8, W / 8, 1, 2),
    g('layer4 3x3 g32 1024 d4', 1024, H / 8, W / 8, 1, 4),
  ];
}

/**
 * The dense convolution with the same FLOPs and the same output as a grouped case: one group's
 * input channels (c/groups) read by all k filters, i.e. the grouped conv without its grouping.
 */
export function denseTwin(cs: ConvCase): ConvCase {
  const G = cs.groups ?? 1;
  return { ...cs, name: `${cs.name} dense twin`, x: [cs.x[0], cs.x[1] / G, cs.x[2], cs.x[3]], groups: undefined };
}

/** Output shape [n, k, oh, ow] of a case. */
export function outShape(cs: ConvCase): [number, number, number, number] {
  const [n, , h, w] = cs.x, [r, s] = [cs.w[2], cs.w[3]];
  if (cs.transposed) {
    const [op, oq] = cs.transposed.outputPadding;
    return [n, cs.w[1], (h - 1) * cs.stride[0] - 2 * cs.padding[0] + cs.dilation[0] * (r - 1) + op + 1,
      (w - 1) * cs.stride[1] - 2 * cs.padding[1] + cs.dilation[1] * (s - 1) + oq + 1];
  }
  return [n, cs.w[0], Math.floor((h + 2 * cs.padding[0] - cs.dilation[0] * (r - 1) - 1) / cs.stride[0]) + 1,
    Math.floor((w + 2 * cs.padding[1] - cs.dilation[1] * (s - 1) - 1) / cs.stride[1]) + 1];
}

/**
 * Multiply-adds × 2 of one pass (forward, or either backward: same count), counting only taps
 * whose input lies inside the image: taps on zero padding are not work (a 3×1 conv with
 * dilation 16 on an 8-row map has two of its three taps entirely outside).
 */
export function convFlops(cs: ConvCase): number {
  const g = cs.transposed
    ? convTranspose2dGeometry(cs.x, cs.w, { stride: cs.stride, padding: cs.padding, dilation: cs.dilation, outputPadding: cs.transposed.outputPadding })
    : conv2dGeometry(cs.x, cs.w, { stride: cs.stride, padding: cs.padding, dilation: cs.dilation, groups: cs.groups });
  // in the (adjoint) convolution, output row o reads input row o·stride + tap·dilation − padding
  const inside = (taps: number, outN: number, inN: number, st: number, d: number, pad: number) => {
    let count = 0;
    for (let t = 0; t < taps; t++) for (let o = 0; o < outN; o++) { const i = o * st + t * d - pad; if (i >= 0 && i < inN) count++; }
    return count;
  };
  const macs = g.n * g.k * g.c * inside(g.r, g.oh, g.h, g.sh, g.dh, g.ph) * inside(g.s, g.ow, g.w, g.sw, g.dw, g.pw);
  return 2 * macs;
}

/** The same without the padding test: every tap of every output (the usual nominal count). */
export function convFlopsNominal(cs: ConvCase): number {
  const [n, k, oh, ow] = outShape(cs);
  const macs = cs.transposed ? n * cs.x[1] * cs.x[2] * cs.x[3] * k * cs.w[2] * cs.w[3] : n * k * oh * ow * cs.w[1] * cs.w[2] * cs.w[3];
  return 2 * macs;
}
