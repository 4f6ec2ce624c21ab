// Charts (charts.ts specs) to SVG and PNG in Node: Vega-Lite compiles the spec, Vega renders its
// scenegraph to SVG without a canvas, resvg (prebuilt binary from npm) rasterises it with the
// system's fonts (DejaVu Sans on Debian). PNGs are written atomically.
import { Resvg } from '@resvg/resvg-js';
import { View, parse } from 'vega';
import { compile } from 'vega-lite';
import { writeFileAtomic } from '../io/atomic.js';
import type { Spec } from './charts.js';

/** The chart as a standalone SVG document. */
export async function chartSvg(spec: Spec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try { return await view.toSVG(); } finally { view.finalize(); }
}

/**
 * SVG text → PNG bytes at `scale` (2: sharp on high-density screens and in READMEs), on white,
 * cropped to what is drawn plus a margin: without a canvas, Vega estimates text widths generously,
 * which leaves blank space right of long titles.
 */
export function svgToPng(svg: string, scale = 2, margin = 8): Uint8Array {
  const r = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: scale }, background: 'white' });
  const bb = r.getBBox();
  if (bb) {
    bb.x -= margin; bb.y -= margin; bb.width += 2 * margin; bb.height += 2 * margin;
    r.cropByBBox(bb);
  }
  return r.render().asPng();
}

/** Renders the chart to a PNG file (temp file, then rename). */
export async function writeChartPng(path: string, spec: Spec, scale = 2): Promise<void> {
  writeFileAtomic(path, svgToPng(await chartSvg(spec), scale));
}
