// mirage models: every registered model with its parameter count, input constraint, outputs,
// options and recipes (no GPU needed: counts come from the entries' arithmetic, which tests check
// against the built models and the reference implementations).
import { listModels, resolveOptions } from '../models/registry.js';
import { describeAugment } from '../train/config.js';
import { OPTIMIZERS, SCHEDULES, formatSpec, parseSpec } from '../train/recipe.js';

export function models(a: { json?: boolean; classes: number }): void {
  if (!(Number.isInteger(a.classes) && a.classes >= 2)) throw new Error(`--classes must be an integer ≥ 2, got ${a.classes}`);
  const rows = listModels().map((m) => {
    const o = resolveOptions(m, {});
    return {
      name: m.name, aliases: m.aliases ?? [], summary: m.summary, source: m.source, parameters: m.parameterCount(o, a.classes),
      classes: a.classes, inputMultiple: m.multiple(o), outputs: m.outputs(o), distortedInput: m.distortion,
      options: m.options.map((x) => ({ flag: x.flag, default: x.default ?? null, choices: x.choices ?? null })),
      recipes: Object.fromEntries(Object.entries(m.recipes).map(([name, r]) => [name, {
        describe: r.describe, epochs: r.epochs, batchSize: r.batchSize, height: r.height, classWeights: r.classWeights,
        optimizer: Object.fromEntries(Object.entries(r.optimizer).map(([g, s]) => [g, formatSpec(parseSpec(s, OPTIMIZERS, 'recipe'), OPTIMIZERS, true)])),
        schedule: Object.fromEntries(Object.entries(r.schedule).map(([g, s]) => [g, formatSpec(parseSpec(s, SCHEDULES, 'recipe'), SCHEDULES, true)])),
        width: r.width ?? null,
        augment: { flip: r.flip, translate: r.translate, scaleCrop: r.scaleCrop ?? null, cropSize: r.cropSize ?? null, colorAug: r.colorAug ?? 0,
          gblur: r.gblur ?? false, classUniformPct: r.classUniformPct ?? 0, classUniformTile: r.classUniformTile ?? null,
          vflip: r.vflip ?? false, rotate: r.rotate ?? null },
        summary: describeAugment(r),
      }])),
    };
  });
  if (a.json) { console.log(JSON.stringify(rows, null, 1)); return; }
  for (const r of rows) {
    console.log(`${r.name}${r.aliases.length ? ` (also ${r.aliases.join(', ')})` : ''}: ${r.summary}`);
    console.log(`  parameters   ${r.parameters.toLocaleString('en')} (${r.classes} classes, default options)`);
    console.log(`  input        [N,3,H,W], H and W multiples of ${r.inputMultiple}${r.distortedInput === 'always' ? '; heat-distorted by the simulator in training and evaluation' : ''}`);
    console.log(`  outputs      ${r.outputs}`);
    console.log(`  source       ${r.source}`);
    const opts = r.options.map((x) => `--${x.flag}${x.default !== null ? ` ${x.default}` : ''}${x.choices ? ` (${x.choices.join('|')})` : ''}`);
    console.log(`  options      ${opts.join('  ')}`);
    for (const [name, rc] of Object.entries(r.recipes)) {
      console.log(`  recipe ${name.padEnd(9)} ${rc.describe}`);
      console.log(`    ${rc.epochs} epochs, batch ${rc.batchSize}, height ${rc.height}${rc.width ? `, width ${rc.width}` : ''}, class weights ${rc.classWeights}, ${rc.summary}`);
      for (const g of Object.keys(rc.optimizer)) console.log(`    ${g}: ${rc.optimizer[g]}  ·  ${rc.schedule[g]} per epoch`);
    }
    console.log('');
  }
  console.log(`train one with: mirage train --model NAME [--recipe reference]; flags override the recipe (mirage train --help)`);
}
