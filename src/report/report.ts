// report.html: one self-contained page per run, evaluation or experiment (no network: charts are
// inline SVG, images inline PNG data), written atomically. Sections are built by the commands from
// charts.ts specs, tables and image panels.
import { writeFileAtomic } from '../io/atomic.js';
import { pngBytes } from '../data/png.js';
import { chartSvg } from './render.js';
import type { Spec } from './charts.js';

export type Block =
  | { kind: 'chart'; spec: Spec }
  | { kind: 'table'; head: string[]; rows: (string | number)[][]; caption?: string }
  | { kind: 'images'; items: { caption: string; width: number; height: number; rgb: Uint8Array }[]; caption?: string }
  | { kind: 'text'; text: string };

export interface Section { title: string; blocks: Block[] }

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const cell = (v: string | number) => esc(typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v);

/** Small images are shown enlarged (pixelated) to at least 256 px wide. */
const shown = (it: { width: number; height: number }) => {
  const k = Math.max(1, Math.floor(256 / it.width));
  return { w: it.width * k, h: it.height * k };
};

async function blockHtml(b: Block): Promise<string> {
  switch (b.kind) {
    case 'chart': return `<div class="chart">${(await chartSvg(b.spec)).replace(/^<\?xml[^>]*>/, '')}</div>`;
    case 'table': return `<table>${b.caption ? `<caption>${esc(b.caption)}</caption>` : ''}<thead><tr>${b.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>` +
      `<tbody>${b.rows.map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
    case 'images': return `<div class="images">${b.caption ? `<p class="note">${esc(b.caption)}</p>` : ''}${b.items.map((it) =>
      `<figure><img alt="${esc(it.caption)}" width="${shown(it).w}" height="${shown(it).h}" src="data:image/png;base64,${Buffer.from(pngBytes(it.width, it.height, it.rgb, 3)).toString('base64')}">` +
      `<figcaption>${esc(it.caption)}</figcaption></figure>`).join('')}</div>`;
    case 'text': return `<p>${esc(b.text)}</p>`;
  }
}

/** The page as HTML text. */
export async function reportHtml(title: string, subtitle: string, sections: Section[]): Promise<string> {
  const body: string[] = [];
  for (const s of sections) {
    body.push(`<section><h2>${esc(s.title)}</h2>`);
    for (const b of s.blocks) body.push(await blockHtml(b));
    body.push('</section>');
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body { font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 16px 24px; color: #1d1d1f; }
h1 { font-size: 20px; margin: 18px 0 2px; } .sub { color: #555; margin: 0 0 10px; }
section { border-top: 1px solid #ddd; padding-top: 4px; } h2 { font-size: 16px; }
.chart { display: inline-block; margin: 4px 12px 8px 0; vertical-align: top; } .chart svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; } caption { text-align: left; color: #555; padding-bottom: 4px; }
th, td { border-bottom: 1px solid #e6e6e6; padding: 3px 10px 3px 0; text-align: left; } td { font-variant-numeric: tabular-nums; }
.images { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 10px; } .images > p { flex-basis: 100%; margin: 0; }
.images figure { flex: 1 1 0; min-width: 0; max-width: 320px; margin: 0; } .images img { image-rendering: pixelated; width: 100%; height: auto; border: 1px solid #ddd; }
figcaption, .note { font-size: 12px; color: #555; }
</style></head>
<body><h1>${esc(title)}</h1><p class="sub">${esc(subtitle)}</p>
${body.join('\n')}
<p class="note">Written by mirage; self-contained (no network). Charts: Vega-Lite specs in src/report/charts.ts.</p>
</body></html>
`;
}

/** Writes the report atomically (temp file, then rename). */
export async function writeReport(path: string, title: string, subtitle: string, sections: Section[]): Promise<void> {
  writeFileAtomic(path, await reportHtml(title, subtitle, sections));
}
