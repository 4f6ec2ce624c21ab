// Charts (Vega-Lite specs rendered by vega + resvg) and report.html: every spec renders to SVG with
// its titles and to a PNG of the expected size; the report is self-contained (no network) and
// written atomically; the old pixel font is gone.
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type CurvePoint, classIouSpec, confusionSpec, curvesSpec, lrSpec, rooflineSpec, seedBarsSpec } from '../src/report/charts.js';
import { chartSvg, svgToPng, writeChartPng } from '../src/report/render.js';
import { reportHtml, writeReport } from '../src/report/report.js';

const t = test;
const dir = mkdtempSync(join(tmpdir(), 'mirage-report-'));
const history: CurvePoint[] = [1, 2, 3, 4].map((e) => ({ epoch: e, trainLoss: 2 / e, valLoss: 2.2 / e, trainMiou: null,
  valMious: [0.1 * e, 0.12 * e], lr: { model: 1e-3 * (1 - e / 5), restore: 1e-4 } }));
const names = ['road', 'sky', 'car', 'bus', 'void'];
const confusion = [[50, 2, 0, 0, 9], [1, 40, 3, 0, 9], [0, 0, 0, 0, 9], [0, 0, 0, 0, 0], [9, 9, 9, 0, 9]];

const specs = {
  curves: curvesSpec(history, ['iteration 1', 'iteration 2']),
  lr: lrSpec(history),
  classIou: classIouSpec(['road', 'sky', 'car'], [0.9, 0.5, 0]),
  confusion: confusionSpec(names, confusion, 4),
  bars: seedBarsSpec([{ name: 'clean', values: [40, 42, 41] }, { name: 'distorted', values: [36, 37] }], 'Experiment', 'validation mIoU (%)'),
  roofline: rooflineSpec([{ name: 'a fwd', group: 'fwd', intensity: 20, gflops: 50 }, { name: 'a wgrad', group: 'wgrad', intensity: 3, gflops: 9 }], 200, 20, 'llvmpipe'),
};

t('every chart spec renders to SVG with its titles, legends and data, and to a PNG (2× zoom)', async () => {
  const want: Record<string, string[]> = {
    curves: ['Loss', 'Mean IoU', 'mIoU (%)', 'epoch', 'validation, iteration 2', 'train'],
    lr: ['Learning rate', 'learning rate', 'parameter group', 'restore'],
    classIou: ['IoU per class', 'IoU (%)', 'road', '90.0'],
    confusion: ['Confusion matrix', 'true class', 'predicted class', '% of row', '91'],
    bars: ['Experiment', 'validation mIoU (%)', 'distorted', '41.0'],
    roofline: ['Roofline of the convolution passes', 'llvmpipe;', 'arithmetic intensity', 'achieved GFLOP/s', 'wgrad'],
  };
  for (const [k, spec] of Object.entries(specs)) {
    const svg = await chartSvg(spec);
    for (const w of want[k]) assert.ok(svg.includes(w), `${k}: "${w}" in the SVG`);
    const png = PNG.sync.read(Buffer.from(svgToPng(svg)));
    const [sw, sh] = [/width="(\d+)"/.exec(svg)![1], /height="(\d+)"/.exec(svg)![1]].map(Number);
    // twice the SVG's size, cropped to the drawing (Vega's generous text-width estimates leave blank space)
    assert.ok(png.width <= 2 * sw + 32 && png.width > sw && png.height <= 2 * sh + 32 && png.height > sh, `${k}: PNG ${png.width}x${png.height} for SVG ${sw}x${sh}`);
    let ink = 0;
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i] < 128) ink++;
    assert.ok(ink > 200, `${k}: the PNG has drawing and text on it (${ink} dark pixels)`);
  }
  // the confusion heatmap leaves out the ignore class and normalises rows: road 50 of 52 pixels = 96 %
  assert.ok((await chartSvg(specs.confusion)).includes('96'));
  assert.not.ok((await chartSvg(specs.confusion)).includes('>void<'));
  assert.ok((await chartSvg(specs.confusion)).includes('>bus<'), 'a class with no pixels keeps its row and column');
});

t('writeChartPng and writeReport write atomically; the report is self-contained', async () => {
  await writeChartPng(join(dir, 'c.png'), specs.curves);
  await writeReport(join(dir, 'report.html'), 'A <run>', 'sub', [
    { title: 'Charts', blocks: [{ kind: 'chart', spec: specs.curves }, { kind: 'table', head: ['a', 'b'], rows: [['x & y', 1.23456]] }] },
    { title: 'Images', blocks: [{ kind: 'images', items: [{ caption: 'input', width: 8, height: 4, rgb: new Uint8Array(96).fill(200) }] }] },
  ]);
  assert.equal(readdirSync(dir).sort(), ['c.png', 'report.html'], 'no temp files left');
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.match(html, /<title>A &lt;run&gt;<\/title>/);
  assert.match(html, /<svg[^>]*>[\s\S]*Mean IoU/);
  assert.match(html, /<td>x &amp; y<\/td><td>1\.2346<\/td>/);
  assert.match(html, /<img alt="input" width="256" height="128" src="data:image\/png;base64,iVBOR/);
  assert.not.match(html, /(src|href)=["']?(https?:)?\/\//, 'no network resource');
  assert.not.match(html, /url\(\s*['"]?https?:/);
  assert.ok((await reportHtml('t', 's', [])).startsWith('<!doctype html>'));
});

t('the hand-made pixel font and plotter are gone', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  assert.not.ok(existsSync(join(root, 'src', 'train', 'plot.ts')));
  for (const d of ['src/train', 'src/cli', 'src/report', 'bench']) {
    for (const f of readdirSync(join(root, d)).filter((n) => n.endsWith('.ts'))) {
      assert.not.match(readFileSync(join(root, d, f), 'utf8'), /5×7|FONT\s*[:=]/, `${d}/${f}`);
    }
  }
});

t.run();
