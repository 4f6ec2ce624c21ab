// Every chart mirage draws, as Vega-Lite specifications: data plus a declarative description, in
// one place. Rendered to SVG and PNG in Node by render.ts (vega + resvg, no canvas), inlined into
// report.html by report.ts; a browser page can render the same specs live with Vega. Titled axes
// with units, integer epoch ticks, legends, and the Okabe–Ito colour-blind-safe palette.
import type { TopLevelSpec } from 'vega-lite';

/** Okabe & Ito's palette (distinguishable with the common colour-vision deficiencies), black last. */
export const OKABE_ITO = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];

export type Spec = TopLevelSpec;

const CONFIG = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  range: { category: OKABE_ITO },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, grid: true, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, orient: 'bottom' as const, direction: 'horizontal' as const },
  title: { fontSize: 14, anchor: 'start' as const, fontWeight: 'normal' as const },
  view: { stroke: '#ccc' },
  background: 'transparent',
};

const epochAxis = { field: 'epoch', type: 'quantitative' as const, title: 'epoch', axis: { tickMinStep: 1, format: 'd' }, scale: { nice: false } };

/** What curves need of an epoch record (trainer.ts EpochRecord). */
export interface CurvePoint {
  epoch: number; trainLoss: number; valLoss: number | null; trainMiou: number | null; valMious: number[]; lr: Record<string, number>;
}

/** Loss (train, val) and mIoU (val per output, train) over epochs, side by side. */
export function curvesSpec(history: CurvePoint[], outputs: string[] = []): Spec {
  const loss = history.flatMap((h) => [
    { epoch: h.epoch, series: 'train', value: h.trainLoss },
    ...(h.valLoss !== null && Number.isFinite(h.valLoss) ? [{ epoch: h.epoch, series: 'validation', value: h.valLoss }] : []),
  ]);
  const many = (history[0]?.valMious.length ?? 1) > 1;
  const miou = history.flatMap((h) => [
    ...h.valMious.map((v, k) => ({ epoch: h.epoch, series: many ? `validation, ${outputs[k] ?? `output ${k + 1}`}` : 'validation', value: 100 * v })),
    ...(h.trainMiou !== null ? [{ epoch: h.epoch, series: 'train', value: 100 * h.trainMiou }] : []),
  ]);
  const panel = (title: string, values: object[], y: string) => ({
    title, width: 340, height: 220, data: { values },
    mark: { type: 'line' as const, point: history.length <= 40 },
    encoding: { x: epochAxis, y: { field: 'value', type: 'quantitative' as const, title: y, scale: { zero: false } },
      color: { field: 'series', type: 'nominal' as const, title: null } },
  });
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG,
    hconcat: [panel('Loss', loss, 'loss (training objective)'), panel('Mean IoU', miou, 'mIoU (%)')],
  } as Spec;
}

/** Learning rate of each parameter group per epoch (log scale when it spans more than 10×). */
export function lrSpec(history: CurvePoint[]): Spec {
  const values = history.flatMap((h) => Object.entries(h.lr).map(([g, v]) => ({ epoch: h.epoch, group: g, lr: v })));
  const pos = values.map((v) => v.lr).filter((v) => v > 0);
  const log = pos.length > 0 && Math.max(...pos) / Math.min(...pos) > 10;
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, title: 'Learning rate', width: 340, height: 160,
    data: { values }, mark: { type: 'line', point: history.length <= 40 },
    encoding: { x: epochAxis, y: { field: 'lr', type: 'quantitative', title: 'learning rate', scale: log ? { type: 'log' } : {}, axis: { format: '.1e' } },
      color: { field: 'group', type: 'nominal', title: 'parameter group' } } } as Spec;
}

/** IoU of each class, sorted as given, in %. */
export function classIouSpec(names: string[], iou: number[], title = 'IoU per class (validation)'): Spec {
  const values = names.map((n, k) => ({ class: n, iou: 100 * (iou[k] ?? 0), order: k }));
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, title, width: 340, height: { step: 16 },
    data: { values },
    encoding: { y: { field: 'class', type: 'nominal', sort: null, title: null },
      x: { field: 'iou', type: 'quantitative', title: 'IoU (%)', scale: { domain: [0, 100] } } },
    layer: [
      { mark: { type: 'bar', color: OKABE_ITO[0] } },
      { mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 }, encoding: { text: { field: 'iou', type: 'quantitative', format: '.1f' } } },
    ] } as Spec;
}

/**
 * Confusion matrix as a heatmap: rows ground truth, columns prediction, each row as % of that
 * class's pixels. `m[truth][predicted]` over `names`; the ignore class is left out.
 */
export function confusionSpec(names: string[], m: ArrayLike<number>[], ignore: number): Spec {
  const keep = names.map((_, i) => i).filter((i) => i !== ignore);
  const values: object[] = [];
  for (const g of keep) {
    let row = 0;
    for (const p of keep) row += m[g][p];
    for (const p of keep) values.push({ truth: names[g], predicted: names[p], share: row ? (100 * m[g][p]) / row : 0, pixels: m[g][p], gi: g, pi: p });
  }
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG,
    title: 'Confusion matrix (validation; each row: % of that class\'s pixels)', width: { step: 20 }, height: { step: 20 }, data: { values },
    encoding: { x: { field: 'predicted', type: 'nominal', title: 'predicted class', scale: { domain: keep.map((i) => names[i]) } },
      y: { field: 'truth', type: 'nominal', title: 'true class', scale: { domain: keep.map((i) => names[i]) } } },
    layer: [
      { mark: 'rect', transform: [{ filter: 'datum.pixels > 0' }],
        encoding: { color: { field: 'share', type: 'quantitative', title: '% of row', scale: { scheme: 'blues', domain: [0, 100] } } } },
      { mark: { type: 'text', fontSize: 8 }, transform: [{ filter: 'datum.share >= 1' }],
        encoding: { text: { field: 'share', type: 'quantitative', format: '.0f' }, color: { condition: { test: 'datum.share > 50', value: 'white' }, value: 'black' } } },
    ] } as Spec;
}

/** One bar per variant: the mean over seeds with ± 1 std error bars and each seed as a dot. */
export interface BarRow { name: string; values: number[] }
export function seedBarsSpec(rows: BarRow[], title: string | { text: string; subtitle: string }, yTitle: string): Spec {
  const stats = rows.map((r, k) => {
    const mean = r.values.reduce((a, b) => a + b, 0) / r.values.length;
    const std = r.values.length > 1 ? Math.sqrt(r.values.reduce((a, b) => a + (b - mean) ** 2, 0) / (r.values.length - 1)) : 0;
    return { name: r.name, mean, lo: mean - std, hi: mean + std, order: k };
  });
  const seeds = rows.flatMap((r, k) => r.values.map((v) => ({ name: r.name, value: v, order: k })));
  const x = { field: 'name', type: 'nominal' as const, title: null, sort: null, axis: { labelAngle: -30 } };
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, title, width: Math.max(260, 56 * rows.length), height: 240,
    layer: [
      { data: { values: stats }, mark: { type: 'bar', color: OKABE_ITO[5] }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: yTitle } } },
      { data: { values: stats }, mark: { type: 'rule', color: 'black' }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
      { data: { values: stats }, mark: { type: 'text', dy: -8, fontSize: 10 }, encoding: { x, y: { field: 'hi', type: 'quantitative' }, text: { field: 'mean', type: 'quantitative', format: '.1f' } } },
      { data: { values: seeds }, mark: { type: 'point', filled: true, color: OKABE_ITO[3], size: 24 }, encoding: { x, y: { field: 'value', type: 'quantitative' } } },
    ] } as Spec;
}

/** Kernels on a roofline: achieved GFLOP/s against arithmetic intensity, under the compute and memory ceilings (log–log). */
export interface RooflinePoint { name: string; group: string; intensity: number; gflops: number }
export function rooflineSpec(points: RooflinePoint[], peakGflops: number, bandwidthGBs: number, device: string): Spec {
  const xs = points.map((p) => p.intensity).filter((v) => v > 0);
  const lo = Math.min(0.1, ...xs) / 2, hi = Math.max(100, ...xs) * 2, knee = peakGflops / bandwidthGBs;
  const ceiling = [lo, Math.min(Math.max(knee, lo), hi), hi].map((i) => ({ intensity: i, gflops: Math.min(peakGflops, bandwidthGBs * i) }));
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG,
    title: { text: 'Roofline of the convolution passes', subtitle: `${device.slice(0, 60)}; ceilings measured in the same run: ${peakGflops.toFixed(1)} GFLOP/s, ${bandwidthGBs.toFixed(1)} GB/s` },
    width: 480, height: 280,
    layer: [
      { data: { values: ceiling }, mark: { type: 'line', color: '#888', strokeDash: [4, 3] },
        encoding: { x: { field: 'intensity', type: 'quantitative', scale: { type: 'log', domain: [lo, hi] }, title: 'arithmetic intensity (FLOP per byte moved)' },
          y: { field: 'gflops', type: 'quantitative', scale: { type: 'log' }, title: 'achieved GFLOP/s' } } },
      { data: { values: points }, mark: { type: 'point', filled: true, size: 40 },
        encoding: { x: { field: 'intensity', type: 'quantitative' }, y: { field: 'gflops', type: 'quantitative' },
          color: { field: 'group', type: 'nominal', title: 'pass' }, shape: { field: 'group', type: 'nominal', title: 'pass' },
          tooltip: [{ field: 'name' }, { field: 'gflops', format: '.1f' }] } },
    ] } as Spec;
}
