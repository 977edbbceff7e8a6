/**
 * The edge function's weight: the size of the bundle the constructs ship (assets/edge/index.js,
 * made by `npx projen bundle:edge`) and its cold start on this machine: a fresh Node process
 * requires the bundle and handles its first request, for each kind of request the function
 * serves; the SSM read of a private repository goes to a local SSM stand-in over loopback (so
 * it measures the SDK's load and one round trip, not the network to a region). Also the warm
 * cost of one request. Run it with `node bench/edge-run.js [--runs 30]`; it writes
 * bench/out/edge.md (the "Edge" section of BENCHMARKS.md) and bench/out/edge.json.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { createToken } from '../src/edge/access';
import type { EdgeConfig } from '../src/edge/router';
import { startFakeSsm } from '../test/edge/support/fake-ssm';

const exec = promisify(execFile);
/** The repository (this file runs bundled, from bench/out/). */
const ROOT = path.join(__dirname, '..', '..');
const BUNDLE = path.join(ROOT, 'assets', 'edge', 'index.js');
/** Lambda@Edge's limit on the compressed package of a function with viewer triggers. */
const VIEWER_PACKAGE_LIMIT = 1024 * 1024;

const PATH = '/cdk-package-repos/Bench/tokens/';
const config: EdgeConfig = {
  repositories: [
    { prefix: 'yum/', format: 'yum', name: 'acme' },
    { prefix: 'arch/', format: 'pacman', name: 'arch' },
    { prefix: 'private/', format: 'apt', name: 'secret', private: true },
  ],
  tokens: { ssmRegion: 'eu-west-1', ssmParameterPath: PATH, cacheSeconds: 60 },
};

function event(eventType: string, uri: string, headers: Record<string, string> = {}): unknown {
  return {
    Records: [{
      cf: {
        config: { distributionDomainName: 'd111111abcdef8.cloudfront.net', distributionId: 'EDFDVBD6EXAMPLE', eventType, requestId: 'bench' },
        request: {
          clientIp: '203.0.113.178',
          method: 'GET',
          uri,
          querystring: '',
          headers: Object.fromEntries(Object.entries({ host: 'packages.example.com', ...headers }).map(([k, v]) => [k, [{ key: k, value: v }]])),
        },
      },
    }],
  };
}

/** The child: times `require` and the first request of one kind; then the warm cost of that request. */
const CHILD = `
const { performance } = require('node:perf_hooks');
const t0 = performance.now();
const edge = require('./index.js');
const t1 = performance.now();
const e = JSON.parse(process.env.BENCH_EVENT);
edge.handler(e).then(async (r) => {
  const t2 = performance.now();
  if (!r || (r.status && !['200'].includes(r.status))) throw new Error('unexpected answer: ' + JSON.stringify(r).slice(0, 200));
  const n = 2000;
  const w0 = performance.now();
  for (let i = 0; i < n; i++) await edge.handler(JSON.parse(process.env.BENCH_EVENT));
  const warm = (performance.now() - w0) / n;
  process.stdout.write(JSON.stringify({ require: t1 - t0, first: t2 - t1, warm, rss: process.memoryUsage().rss }));
}).catch((err) => { console.error(err); process.exit(1); });
`;

interface Sample {
  readonly require: number;
  readonly first: number;
  readonly warm: number;
  readonly rss: number;
  readonly wall: number;
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '30' } } });
  const runs = Number(values.runs);
  const loadBefore = loadavg()[0];
  const bundle = await readFile(BUNDLE).catch(() => {
    throw new Error(`${BUNDLE} is missing: run \`npx projen bundle:edge\` first`);
  });
  const configText = `${JSON.stringify(config, null, 2)}\n`;
  const sizes = {
    bundle: bundle.length,
    gzip: gzipSync(bundle, { level: 9 }).length,
    // what the Lambda zip holds: the bundle and config.json, deflated
    zip: deflateRawSync(bundle, { level: 9 }).length + deflateRawSync(configText).length + 2 * 100,
  };

  const dir = await mkdtemp(path.join(tmpdir(), 'edge-bench-'));
  const ssm = await startFakeSsm();
  const { token, record } = createToken('bench');
  ssm.parameters.set(`${PATH}bench`, JSON.stringify(record));
  try {
    await writeFile(path.join(dir, 'index.js'), bundle);
    await writeFile(path.join(dir, 'config.json'), configText);
    await writeFile(path.join(dir, 'child.js'), CHILD);
    const auth = `Basic ${Buffer.from(`bench:${token}`).toString('base64')}`;
    const kinds: Array<[string, unknown]> = [
      ['origin-request: pacman link → archive, key encoded for S3', event('origin-request', '/arch/core/os/x86_64/core.db')],
      ['origin-response: headers of a package', { ...(event('origin-response', '/yum/Packages/g%2B%2B-1.0-1.x86_64.rpm') as object), Records: [{ cf: { ...((event('origin-response', '/yum/Packages/g%2B%2B-1.0-1.x86_64.rpm') as any).Records[0].cf), response: { status: '200', headers: {} } } }] }],
      ['viewer-request: a generated setup script', event('viewer-request', '/yum/setup/setup.sh')],
      ['viewer-request: private, token checked (SDK load + one SSM read)', event('viewer-request', '/private/dists/stable/InRelease', { authorization: auth })],
    ];
    const baseline: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = process.hrtime.bigint();
      await exec(process.execPath, ['-e', '0']);
      baseline.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    const results: Array<{ kind: string; samples: Sample[] }> = [];
    for (const [kind, e] of kinds) {
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        const start = process.hrtime.bigint();
        const { stdout } = await exec(process.execPath, ['child.js'], {
          cwd: dir,
          env: { ...process.env, BENCH_EVENT: JSON.stringify(e), AWS_ENDPOINT_URL_SSM: ssm.endpoint, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1', NODE_NO_WARNINGS: '1' },
        });
        samples.push({ ...JSON.parse(stdout), wall: Number(process.hrtime.bigint() - start) / 1e6 });
      }
      results.push({ kind, samples });
    }

    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const us = (v: number) => `${(v * 1000).toFixed(1)} µs`;
    const kib = (v: number) => `${(v / 1024).toFixed(0)} KiB`;
    const lines = [
      '## Edge',
      '',
      `The Lambda@Edge function (\`assets/edge/index.js\`, \`npx projen bundle:edge\`), measured by \`node bench/edge-run.js --runs ${runs}\``,
      `on this machine: Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load average ${loadBefore.toFixed(1)} before and`,
      `${loadavg()[0].toFixed(1)} after the run. Lambda runs Node 22 with 128 MB; its own runtime start is not included.`,
      'Medians, with the 90th percentile in parentheses.',
      '',
      '| Bundle | Size |',
      '| --- | --- |',
      `| index.js | ${kib(sizes.bundle)} (${sizes.bundle} bytes) |`,
      `| gzip -9 | ${kib(sizes.gzip)} |`,
      `| deployment zip (index.js + config.json), approx. | ${kib(sizes.zip)}: ${((sizes.zip / VIEWER_PACKAGE_LIMIT) * 100).toFixed(0)} % of the 1 MiB limit for viewer triggers |`,
      '',
      `A fresh \`node -e 0\` takes ${ms(quantile(baseline, 0.5))} (${ms(quantile(baseline, 0.9))}) here; the process walls below include it.`,
      '',
      '| First request of a cold process | require | first request | require + first | process wall | warm request | RSS |',
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...results.map(({ kind, samples }) => {
        const q = (f: (s: Sample) => number, p: number) => quantile(samples.map(f), p);
        const both = (s: Sample) => s.require + s.first;
        return `| ${kind} | ${ms(q((s) => s.require, 0.5))} (${ms(q((s) => s.require, 0.9))}) | ${ms(q((s) => s.first, 0.5))} (${ms(q((s) => s.first, 0.9))}) `
          + `| ${ms(q(both, 0.5))} (${ms(q(both, 0.9))}) | ${ms(q((s) => s.wall, 0.5))} | ${us(q((s) => s.warm, 0.5))} | ${kib(q((s) => s.rss, 0.5))} |`;
      }),
      '',
      'The AWS SDK (SSM client) is most of the bundle but runs only from the first request for a',
      'private repository on: public hosts pay for parsing its source (most of `require`: the bundle',
      'without the SDK loads in about a fifth of the time), not for running it. A private',
      'repository\'s tokens are read once per cache period (60 s) per function instance, whatever the',
      'request rate; at the edge that read goes to SSM in the host\'s region, tens to a few hundred ms',
      'away depending on the edge location, on the first private request of an instance and once a minute after.',
      '',
    ];
    const out = path.join(ROOT, 'bench', 'out');
    await mkdir(out, { recursive: true });
    await writeFile(path.join(out, 'edge.md'), lines.join('\n'));
    await writeFile(path.join(out, 'edge.json'), JSON.stringify({ node: process.version, runs, load: [loadBefore, loadavg()[0]], sizes, baseline, results }, null, 2));
    process.stdout.write(lines.join('\n'));
  } finally {
    await ssm.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
