import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');

interface Row {
  readonly format: string;
  readonly scenario: string;
  readonly tool: string;
  readonly identical?: boolean;
  readonly storageBytesRead?: number;
  readonly budget?: number;
  readonly measurement: { readonly wall: number; readonly cpu: number; readonly maxRss: number; readonly rchar: number };
}

interface Results {
  readonly rows: readonly Row[];
}

describe('the benchmark command (tiny sizes: it runs, it measures, it does not rot)', () => {
  let out: string;
  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'bench-smoke-'));
  });
  afterAll(async () => rm(out, { recursive: true, force: true }));

  it('node bench/run.js on 20 packages: every scenario, every format, our metadata equal to the reference tools\'', async () => {
    const { stdout } = await run(process.execPath, ['bench/run.js', '--small', '10', '--large', '20', '--repeat', '1', '--out', out], { cwd: ROOT, maxBuffer: 16 << 20 });
    const results = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as Results;
    expect(stdout).toContain('| scenario | tool |');
    const rows = (format: string) => results.rows.filter((r) => r.format === format);
    const scenarios = ['full index, 10 packages', 'full index, 20 packages', 'add 1 to 20', 'remove 1 from 21', 'add 10 to 20'];
    expect([...new Set(rows('yum').map((r) => r.scenario))]).toEqual([...scenarios.slice(0, 2), 'floor of an update: read, inflate, SHA-256 the 20-package index', ...scenarios.slice(2)]);
    for (const format of ['apt', 'pacman', 'apk']) expect([...new Set(rows(format).map((r) => r.scenario))]).toEqual(scenarios);
    const tools = (format: string) => [...new Set(rows(format).map((r) => r.tool))].sort();
    const threads = `ours, ${availableParallelism()} parser threads`;
    const cli = 'ours, pkgrepo index';
    expect(tools('yum')).toEqual(['createrepo_c', 'createrepo_c --update', 'minimal process', 'ours', threads, cli]);
    expect(tools('apt')).toEqual(['apt-ftparchive --db', 'apt-ftparchive --db (cached)', 'dpkg-scanpackages', 'ours', threads, cli]);
    expect(tools('pacman')).toEqual(['ours', cli, 'repo-add', 'repo-add / repo-remove']);
    expect(tools('apk')).toEqual(['ours']);
    for (const r of results.rows) {
      expect(r.measurement.wall).toBeGreaterThan(0);
      expect(r.measurement.maxRss).toBeGreaterThan(1024 * 1024);
      expect(r.measurement.rchar).toBeGreaterThan(0);
      if (r.tool.startsWith('ours')) {
        if (r.format === 'yum' || r.format === 'apt') expect(r.identical).toBe(true);
        // the engine's own runs are metered; the command line's are not
        if (r.tool === cli) continue;
        expect(r.storageBytesRead).toBeGreaterThanOrEqual(0);
        if (r.budget !== undefined) expect(r.storageBytesRead).toBeLessThanOrEqual(r.budget);
      }
    }
  });
});
