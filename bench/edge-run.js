#!/usr/bin/env node
// The edge benchmark: `node bench/edge-run.js [--runs 30]` (after `npx projen bundle:edge`).
// Bundles bench/edge.ts with the repository's esbuild into bench/out/, then runs it. See BENCHMARKS.md, "Edge".
const path = require('node:path');
const esbuild = require('esbuild');

const out = path.join(__dirname, 'out');
esbuild.buildSync({
  entryPoints: { edge: path.join(__dirname, 'edge.ts') },
  outdir: out,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
});
require(path.join(out, 'edge.js'));
