// The package's browser entry points: every file reachable from them imports only relative modules
// (no Node built-in, no npm package) and uses no Node global, so bundlers can ship them to pages.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const t = test;
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Static and dynamic import specifiers of a TypeScript source (comments ignored). */
function importsOf(src: string): string[] {
  const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  return [...code.matchAll(/^\s*(?:import|export)\b[^;'"]*?from\s*'([^']+)'|^\s*import\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm)]
    .map((m) => m[1] ?? m[2] ?? m[3]);
}

/** Every source file reachable from `entry`, with the non-relative imports and Node globals found. */
function closure(entry: string): { files: string[]; bad: string[] } {
  const seen = new Set<string>(), bad: string[] = [], todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const src = readFileSync(f, 'utf8');
    for (const m of importsOf(src)) {
      if (m.startsWith('.')) todo.push(join(dirname(f), m.replace(/\.js$/, '.ts')));
      else bad.push(`${relative(root, f)} imports '${m}'`);
    }
    const code = src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    for (const g of ['process.', 'Buffer.', 'require(', '__dirname']) if (code.includes(g)) bad.push(`${relative(root, f)} uses ${g}`);
  }
  return { files: [...seen], bad };
}

t('the package exports these entry points; all but ./node reach no Node module, npm package or Node global', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> };
  assert.equal(Object.keys(pkg.exports), ['.', './models', './train', './data', './sim', './browser', './node']);
  let total = 0;
  for (const [name, e] of Object.entries(pkg.exports)) {
    if (name === './node') continue;
    const src = join(root, e.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
    const { files, bad } = closure(src);
    assert.equal(bad, [], `mirage${name.slice(1)}`);
    total += files.length;
  }
  assert.ok(total > 50, `only ${total} files reached: the walk is not following imports`);
});

t('the import walk sees what it must refuse (checked on Node-side files)', () => {
  assert.ok(closure(join(root, 'src/io/checkpoint.ts')).bad.some((b) => b.includes("'node:fs'")));
  assert.ok(closure(join(root, 'src/train/trainer.ts')).bad.length > 3);
  assert.equal(importsOf("// import x from 'node:fs'\nimport { a } from './a.js';\nexport { b } from './b.js';\nconst m = await import('./c.js');"),
    ['./a.js', './b.js', './c.js']);
});

t.run();
