#!/usr/bin/env node
// mirage command line. Subcommands live in src/cli/<name>.ts.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { info } from './info.js';

await yargs(hideBin(process.argv))
  .scriptName('mirage')
  .usage('$0 <command> [options]')
  .command('info', 'Show the WebGPU adapter, its features and the limits mirage requests', (y) =>
    y.option('backend', { type: 'string', describe: 'Dawn backend (vulkan, metal, d3d12, null)' }),
  (a) => info(a.backend))
  .demandCommand(1, 'Name a command (see --help).')
  .strict()
  .help()
  .parseAsync();
