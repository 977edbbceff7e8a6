#!/usr/bin/env node
// The benchmark command (see BENCHMARKS.md):
//   node bench/run.js [--small 1000] [--large 10000] [--repeat 3] [--seed 1] [--formats yum] [--out bench/out]
//     [--scenarios full-small,full-large,floor,add1,remove1,add10]
// Bundles bench/*.ts with the repository's esbuild into <out>/bundle/, then runs the benchmark.
// Generated packages are kept in <out>/cache/ for the next run; results go to <out>/results.{md,json}.
const path = require('node:path');
const esbuild = require('esbuild');

const args = process.argv.slice(2);
const at = args.findIndex((a) => a === '--out' || a.startsWith('--out='));
const out = path.resolve(at < 0 ? path.join(__dirname, 'out') : args[at].startsWith('--out=') ? args[at].slice(6) : args[at + 1]);
if (at < 0) process.argv.push('--out', out);

const bundle = path.join(out, 'bundle');
esbuild.buildSync({
  entryPoints: [
    ...['main', 'ours', 'cli', 'floor'].map((name) => ({ in: path.join(__dirname, `${name}.ts`), out: name })),
    // the package parser threads of ours.js (parallelFormat starts the parallel-worker.js beside it)
    { in: path.join(__dirname, '..', 'src', 'engine', 'parallel-worker.ts'), out: 'parallel-worker' },
  ],
  outdir: bundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
  // openpgp is an ES module that uses import.meta.url: give it the bundle's own URL
  banner: { js: 'const __import_meta_url = require("url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__import_meta_url' },
});
require(path.join(bundle, 'main.js'));
