// Serves the demo page: bundles web/main.ts (and the mirage sources it imports) with esbuild into
// web/build/app.js, then serves web/ on 127.0.0.1. `npm run web` runs this; PORT and HOST change
// where. The browser test (test/browser.test.ts) starts the same server on a free port.
// esbuild: one dependency that bundles TypeScript sources for the browser in well under a second,
// resolving our '.js' import specifiers to the '.ts' files; tsc alone cannot bundle.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.map': 'application/json', '.png': 'image/png', '.safetensors': 'application/octet-stream' };

/** Bundles the page into web/build/app.js (with a source map). */
export async function buildWeb() {
  await build({ entryPoints: [join(here, 'main.ts')], outfile: join(here, 'build', 'app.js'), bundle: true, format: 'esm',
    platform: 'browser', target: 'es2022', sourcemap: true, logLevel: 'warning' });
}

/** Builds, then serves web/ on host:port (0: a free port); resolves to { url, close }. */
export async function serveWeb({ port = 8080, host = '127.0.0.1', log = () => {} } = {}) {
  await buildWeb();
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(here, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(here + sep) || file.includes(`${sep}node_modules${sep}`)) { res.writeHead(403).end('forbidden'); return; }
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file');
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(await readFile(file));
      log(`200 ${path}`);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      log(`404 ${path}`);
    }
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, host, resolve); });
  const url = `http://${host}:${server.address().port}/`;
  return { url, close: () => new Promise((r) => server.close(r)) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const port = Number(process.env.PORT ?? 8080), host = process.env.HOST ?? '127.0.0.1';
  try {
    const { url } = await serveWeb({ port, host });
    console.log(`mirage demo page: ${url}  (Ctrl-C to stop)`);
    console.log('Open it in a browser with WebGPU (Chrome/Edge 113+). Without a GPU, Chromium needs: --enable-unsafe-webgpu ' +
      '--use-webgpu-adapter=opengles --use-angle=vulkan --force-webgpu-compat');
  } catch (e) {
    console.error(e.code === 'EADDRINUSE' ? `port ${port} on ${host} is in use: PORT=8081 npm run web` : `cannot serve the page: ${e.message}`);
    process.exit(1);
  }
}
