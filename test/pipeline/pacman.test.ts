import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BULK, DUPLICATES, fetchBytes, inParallel, only, scratch, statsSince, testKeys, VISIBILITY_TIMEOUT_MS } from './support';
import { PacmanSandbox } from '../../src/cli/clients/pacman';
import { buildPacmanPackage, pacmanPackageFileName } from '../../src/formats/pacman';
import { startLocalPipeline, type LocalPipeline } from '../../src/pipeline/local-pipeline';
import type { SigningKeys } from '../../src/signing/signer';

describe('local pipeline, pacman: s3rver → FIFO queue → indexer → edge → pacman (SigLevel Required DatabaseRequired)', () => {
  let pipeline: LocalPipeline;
  let keys: SigningKeys;
  const temp = scratch('pipeline-pacman-');

  beforeAll(async () => {
    keys = await testKeys();
    pipeline = await startLocalPipeline({ formats: ['pacman'], keys, visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS, faults: DUPLICATES });
  });
  afterAll(async () => {
    await pipeline?.stop();
    temp.remove();
  });

  /** A package and its detached signature (makepkg --sign), to upload signature first. */
  async function pkg(name: string, version = '1.0') {
    const spec = {
      name,
      version,
      release: '1',
      arch: 'x86_64',
      description: `${name} through the local pipeline`,
      buildTime: 1_700_000_000,
      files: [{ path: `/usr/share/${name}/README`, contents: `${name}\n` }],
    };
    const body = await buildPacmanPackage(spec);
    return { name, file: pacmanPackageFileName(spec), body, signature: await keys.pgp!.signDetachedBinary(body) };
  }

  async function upload(repo: string, p: Awaited<ReturnType<typeof pkg>>): Promise<void> {
    await pipeline.upload(`pacman/${repo}/x86_64/${p.file}.sig`, p.signature);
    await pipeline.upload(`pacman/${repo}/x86_64/${p.file}`, p.body);
  }

  /** The packages in the published database, read by bsdtar from `<repo>.db` as the edge serves it (no link files in the bucket). */
  async function indexNames(repo: string): Promise<string[]> {
    const db = temp.file(`${repo}.db`, await fetchBytes(`${only(pipeline).url}${repo}/x86_64/${repo}.db`));
    return execFileSync('bsdtar', ['-tf', db], { encoding: 'utf8' }).split('\n')
      .filter((entry) => entry.endsWith('/desc')).map((entry) => entry.replace(/-[^-]+-[^-]+\/desc$/, '')).sort();
  }

  async function withPacman<T>(repo: string, use: (pacman: PacmanSandbox) => Promise<T>): Promise<T> {
    const pacman = await PacmanSandbox.create({
      repo,
      serverUrl: `${only(pipeline).url}${repo}/x86_64`,
      publicKeyArmored: (await fetchBytes(`${only(pipeline).url}keys/repository.asc`)).toString('utf8'),
      fingerprint: keys.pgp!.fingerprint,
    });
    try {
      return await use(pacman);
    } finally {
      await pacman.dispose();
    }
  }

  /** `pacman -Sy` (verifies `<repo>.db.sig`), then the names it lists. */
  async function pacmanList(pacman: PacmanSandbox, repo: string): Promise<string[]> {
    await pacman.pacman(['-Sy']);
    return (await pacman.pacman(['-Sl', repo])).stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[1]).sort();
  }

  it('uploads are indexed and signed; pacman verifies, lists and downloads them; a deletion removes the package', async () => {
    const packages = [await pkg('hello'), await pkg('pkgrepo-c++-tools', '0.9')];
    for (const p of packages) await upload('core', p);
    await pipeline.waitForIdle();
    expect(await indexNames('core')).toEqual(['hello', 'pkgrepo-c++-tools']);
    await withPacman('core', async (pacman) => {
      expect(await pacmanList(pacman, 'core')).toEqual(['hello', 'pkgrepo-c++-tools']);
      // downloads check every package's signature too
      await pacman.pacman(['-Sw', '-dd', 'hello', 'pkgrepo-c++-tools']);

      await pipeline.delete(`pacman/core/x86_64/${packages[0].file}`);
      await pipeline.waitForIdle();
      expect(await indexNames('core')).toEqual(['pkgrepo-c++-tools']);
      expect(await pacmanList(pacman, 'core')).toEqual(['pkgrepo-c++-tools']);
    });
    expect(only(pipeline).deadLetterQueue.messages()).toEqual([]);
  });

  it('50 concurrent uploads with duplicate deliveries end with exactly 50 packages indexed', async () => {
    const before = only(pipeline).queue.stats;
    const packages = await Promise.all(BULK.map((n) => pkg(`bulk-${n}`)));
    await inParallel(packages, 8, (p) => upload('bulk', p));
    await pipeline.waitForIdle();
    // the signatures are no package uploads: 50 events, not 100
    expect(statsSince(only(pipeline), before)).toMatchObject({ queued: 50, deduplicated: 50, lostDeletes: 50, deleted: 50, deadLettered: 0 });

    const expected = packages.map((p) => p.name).sort();
    expect(await indexNames('bulk')).toEqual(expected);
    expect(await withPacman('bulk', (pacman) => pacmanList(pacman, 'bulk'))).toEqual(expected);
  });
});
