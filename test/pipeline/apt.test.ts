import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BULK, DUPLICATES, fetchBytes, inParallel, only, statsSince, testKeys, VISIBILITY_TIMEOUT_MS } from './support';
import { aptProblems, AptSandbox } from '../../src/cli/clients/apt';
import { buildDeb, debFileName } from '../../src/formats/deb/build-deb';
import { startLocalPipeline, type LocalPipeline } from '../../src/pipeline/local-pipeline';
import type { SigningKeys } from '../../src/signing/signer';

async function deb(name: string, version = '1.0-1') {
  const spec = {
    name,
    version,
    architecture: 'amd64',
    maintainer: 'Pipeline Test <pipeline@example.com>',
    summary: `${name} through the local pipeline`,
    files: [{ path: `/usr/share/doc/${name}/README`, contents: `${name}\n` }],
  };
  return { name, file: debFileName(spec), body: await buildDeb(spec) };
}

describe('local pipeline, apt: s3rver → FIFO queue → indexer → edge → apt-get (signed-by only)', () => {
  let pipeline: LocalPipeline;
  let keys: SigningKeys;

  beforeAll(async () => {
    keys = await testKeys();
    pipeline = await startLocalPipeline({ formats: ['apt'], keys, visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS, faults: DUPLICATES });
  });
  afterAll(async () => pipeline?.stop());

  /** The package names of a distribution's published Packages (main, amd64). */
  async function indexNames(distribution: string): Promise<string[]> {
    const packages = (await fetchBytes(`${only(pipeline).url}dists/${distribution}/main/binary-amd64/Packages`)).toString('utf8');
    return [...packages.matchAll(/^Package: (.+)$/gm)].map((m) => m[1]).sort();
  }

  /** A sandbox whose only trust is the key published under the repository's prefix. */
  async function sandbox(distribution: string): Promise<AptSandbox> {
    return AptSandbox.create({
      url: only(pipeline).url.replace(/\/$/, ''),
      distribution,
      components: ['main'],
      publicKey: await fetchBytes(`${only(pipeline).url}keys/repository.gpg`),
    });
  }

  /** apt-get update must verify InRelease cleanly; then what apt lists. */
  async function aptList(apt: AptSandbox): Promise<string[]> {
    const update = await apt.update();
    expect(aptProblems(update)).toEqual([]);
    expect(update.status).toBe(0);
    expect(update.stdout).toMatch(/InRelease/);
    return (await apt.run('apt-cache', ['pkgnames'])).stdout.split('\n').filter(Boolean).sort();
  }

  it('uploads are indexed and signed; apt-get verifies InRelease, lists and downloads them; a deletion removes the package', async () => {
    const packages = [await deb('hello'), await deb('pkgrepo-c++-tools', '0.9+git1-1')];
    for (const p of packages) await pipeline.upload(`apt/pool/stable/main/${p.file}`, p.body);
    await pipeline.waitForIdle();
    expect(await indexNames('stable')).toEqual(['hello', 'pkgrepo-c++-tools']);
    const apt = await sandbox('stable');
    try {
      expect(await aptList(apt)).toEqual(['hello', 'pkgrepo-c++-tools']);
      const download = await apt.run('apt-get', ['download', 'hello', 'pkgrepo-c++-tools'], path.join(apt.dir, 'download'));
      expect(download.stderr).toBe('');
      expect(download.status).toBe(0);

      await pipeline.delete(`apt/pool/stable/main/${packages[0].file}`);
      await pipeline.waitForIdle();
      expect(await indexNames('stable')).toEqual(['pkgrepo-c++-tools']);
      // the same client updates to the new signed index
      expect(await aptList(apt)).toEqual(['pkgrepo-c++-tools']);
    } finally {
      await apt.dispose();
    }
    expect(only(pipeline).deadLetterQueue.messages()).toEqual([]);
  });

  it('50 concurrent uploads with duplicate deliveries end with exactly 50 packages indexed', async () => {
    const before = only(pipeline).queue.stats;
    const packages = await Promise.all(BULK.map((n) => deb(`bulk-${n}`)));
    await inParallel(packages, 8, (p) => pipeline.upload(`apt/pool/bulk/main/${p.file}`, p.body));
    await pipeline.waitForIdle();
    const stats = statsSince(only(pipeline), before);
    expect(stats).toMatchObject({ queued: 50, deduplicated: 50, lostDeletes: 50, deleted: 50, deadLettered: 0 });

    const expected = packages.map((p) => p.name).sort();
    expect(await indexNames('bulk')).toEqual(expected);
    const apt = await sandbox('bulk');
    try {
      expect(await aptList(apt)).toEqual(expected);
    } finally {
      await apt.dispose();
    }
  });
});
