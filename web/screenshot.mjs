// A PNG of a local HTML page (a run's report.html, the demo page's file) in headless Chromium:
//   node web/screenshot.mjs runs/demo/eval-report.html out.png [width]
// Uses Debian's Chromium (or MIRAGE_CHROMIUM) through playwright-core; no browser download, and
// every request that is not to a local file is refused (reports are self-contained).
import { existsSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [page, out, width = '1150'] = process.argv.slice(2);
if (!page || !out) { console.error('usage: node web/screenshot.mjs PAGE.html OUT.png [WIDTH]'); process.exit(2); }
if (!existsSync(page)) { console.error(`screenshot: ${page} does not exist`); process.exit(1); }
const exe = process.env.MIRAGE_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-headless-shell'].find((p) => existsSync(p));
if (!exe) { console.error('screenshot: no Chromium; install Debian\'s chromium or set MIRAGE_CHROMIUM=PATH'); process.exit(1); }
const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox', '--disable-background-networking', '--no-first-run'] });
try {
  const p = await browser.newPage({ viewport: { width: Number(width), height: 800 } });
  await p.route('**/*', (r) => (r.request().url().startsWith('file:') || r.request().url().startsWith('data:') ? r.continue() : r.abort()));
  await p.goto(pathToFileURL(resolve(page)).href);
  await p.screenshot({ path: `${out}.tmp.png`, fullPage: true });
  renameSync(`${out}.tmp.png`, out);
  console.log(`${page} → ${out}`);
} finally { await browser.close(); }
