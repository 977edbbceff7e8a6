import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BULK, DUPLICATES, inParallel, only, statsSince, testKeys, VISIBILITY_TIMEOUT_MS, yumIndexNames } from './support';
import { DnfSandbox } from '../../src/cli/clients/dnf';
import { buildRpm } from '../../src/formats/rpm';
import { startLocalPipeline, type LocalPipeline } from '../../src/pipeline/local-pipeline';

const rpm = (name: string, version = '1.0') => ({
  file: `${name}-${version}-1.x86_64.rpm`,
  body: buildRpm({ name, version, release: '1', arch: 'x86_64', summary: `${name} through the local pipeline`, files: [{ path: `/usr/share/${name}/README`, contents: `${name}\n` }] }),
});

describe('local pipeline, yum: s3rver → FIFO queue → indexer → edge → dnf (repo_gpgcheck=1)', () => {
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    pipeline = await startLocalPipeline({ formats: ['yum'], keys: await testKeys(), visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS, faults: DUPLICATES });
  });
  afterAll(async () => pipeline?.stop());

  /** dnf against one unit of the repository, through the edge server, metadata signature required. */
  async function dnfList(unit: string, download = false): Promise<string[]> {
    const repo = only(pipeline);
    const dnf = await DnfSandbox.create({ baseUrl: `${repo.url}${unit}`, gpgKeyUrl: `${repo.url}keys/repository.asc` });
    try {
      await dnf.dnf(['makecache']);
      const listed = (await dnf.dnf(['-q', 'repoquery', '--qf', '%{name}'])).stdout.split('\n').filter(Boolean).sort();
      if (download) await dnf.dnf(['download', '--destdir', path.join(dnf.dir, 'downloads'), ...listed]);
      return listed;
    } finally {
      await dnf.dispose();
    }
  }

  it('uploads are indexed and signed; dnf verifies, lists and downloads them; a deletion removes the package', async () => {
    const unit = 'el9/x86_64/';
    const packages = [rpm('hello'), rpm('pkgrepo-c++-tools', '0.9')];
    for (const p of packages) await pipeline.upload(`yum/${unit}${p.file}`, p.body);
    await pipeline.waitForIdle();
    expect(await yumIndexNames(`${only(pipeline).url}${unit}`)).toEqual(['hello', 'pkgrepo-c++-tools']);
    expect(await dnfList(unit, true)).toEqual(['hello', 'pkgrepo-c++-tools']);

    await pipeline.delete(`yum/${unit}${packages[0].file}`);
    await pipeline.waitForIdle();
    expect(await yumIndexNames(`${only(pipeline).url}${unit}`)).toEqual(['pkgrepo-c++-tools']);
    expect(await dnfList(unit)).toEqual(['pkgrepo-c++-tools']);
    expect(only(pipeline).deadLetterQueue.messages()).toEqual([]);
  });

  it('50 concurrent uploads with duplicate deliveries end with exactly 50 packages indexed', async () => {
    const unit = 'bulk/x86_64/';
    const before = only(pipeline).queue.stats;
    const packages = BULK.map((n) => rpm(`bulk-${n}`));
    await inParallel(packages, 8, (p) => pipeline.upload(`yum/${unit}${p.file}`, p.body));
    await pipeline.waitForIdle();
    const stats = statsSince(only(pipeline), before);
    expect(stats).toMatchObject({ queued: 50, deduplicated: 50, lostDeletes: 50, deleted: 50, deadLettered: 0 });
    expect(stats.redelivered).toBeGreaterThanOrEqual(50);

    const expected = packages.map((p) => p.file.replace(/-1\.0-1\.x86_64\.rpm$/, '')).sort();
    expect(await yumIndexNames(`${only(pipeline).url}${unit}`)).toEqual(expected);
    expect(await dnfList(unit)).toEqual(expected);
  });
});
