import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BULK, DUPLICATES, fetchBytes, inParallel, only, scratch, statsSince, testKeys, VISIBILITY_TIMEOUT_MS } from './support';
import { apkIdentity } from '../../src/cli/demo';
import { apkFileName, buildApk } from '../../src/formats/apk';
import { startLocalPipeline, type LocalPipeline } from '../../src/pipeline/local-pipeline';
import type { SigningKeys } from '../../src/signing/signer';
import { pythonCheck, requireTools, verifyIndexWithTools } from '../support/apk-fixtures';

/**
 * No apk client on Debian: the repository is judged as apk judges it, with other tools. The
 * index signature is checked by openssl against the public key the pipeline published, and the
 * C: identity of every listed package is recomputed from the bytes the edge serves (Python's
 * zlib, and the demo's node check).
 */
describe('local pipeline, apk: s3rver → FIFO queue → indexer → edge → openssl + recomputed C:', () => {
  let pipeline: LocalPipeline;
  let keys: SigningKeys;
  const temp = scratch('pipeline-apk-');

  beforeAll(async () => {
    requireTools('openssl', 'bsdtar', 'python3');
    keys = await testKeys();
    pipeline = await startLocalPipeline({ formats: ['apk'], keys, visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS, faults: DUPLICATES });
  });
  afterAll(async () => {
    await pipeline?.stop();
    temp.remove();
  });

  async function apk(name: string, version = '1.0-r0') {
    const spec = {
      name,
      version,
      arch: 'x86_64',
      description: `${name} through the local pipeline`,
      license: 'MIT',
      buildTime: 1_700_000_000,
      files: [{ path: `/usr/share/${name}/README`, contents: `${name}\n` }],
    };
    return { name, file: apkFileName(spec), body: await buildApk(spec, { signer: keys.rsa }) };
  }

  /**
   * Verifies the served APKINDEX.tar.gz with openssl and the published public key, recomputes
   * the C: of every package it lists from the served package, and returns the listed names.
   */
  async function verifiedNames(repo: string): Promise<string[]> {
    const base = `${only(pipeline).url}v3.20/${repo}/x86_64/`;
    const keyName = keys.rsa!.keyName;
    const publicKey = temp.file(keyName, await fetchBytes(`${only(pipeline).url}keys/${keyName}`));
    const index = temp.file(`${repo}-APKINDEX.tar.gz`, await fetchBytes(`${base}APKINDEX.tar.gz`));
    const { blocks } = verifyIndexWithTools(index, publicKey, `.SIGN.RSA.${keyName}`, '-sha1');
    for (const block of blocks) {
      const bytes = await fetchBytes(`${base}${block.get('P')}-${block.get('V')}.apk`);
      expect(String(bytes.length)).toBe(block.get('S'));
      expect(pythonCheck('identity', temp.file('package.apk', bytes))).toBe(block.get('C'));
      expect(apkIdentity(bytes)).toBe(block.get('C'));
    }
    return blocks.map((b) => b.get('P')!).sort();
  }

  it('uploads are indexed and signed; the signature verifies and every C: matches; a deletion removes the package', async () => {
    const packages = [await apk('hello'), await apk('pkgrepo-c++-tools', '0.9-r1')];
    for (const p of packages) await pipeline.upload(`apk/v3.20/main/x86_64/${p.file}`, p.body);
    await pipeline.waitForIdle();
    expect(await verifiedNames('main')).toEqual(['hello', 'pkgrepo-c++-tools']);

    await pipeline.delete(`apk/v3.20/main/x86_64/${packages[0].file}`);
    await pipeline.waitForIdle();
    expect(await verifiedNames('main')).toEqual(['pkgrepo-c++-tools']);
    expect(only(pipeline).deadLetterQueue.messages()).toEqual([]);
  });

  it('50 concurrent uploads with duplicate deliveries end with exactly 50 packages indexed', async () => {
    const before = only(pipeline).queue.stats;
    const packages = await Promise.all(BULK.map((n) => apk(`bulk-${n}`)));
    await inParallel(packages, 8, (p) => pipeline.upload(`apk/v3.20/bulk/x86_64/${p.file}`, p.body));
    await pipeline.waitForIdle();
    expect(statsSince(only(pipeline), before)).toMatchObject({ queued: 50, deduplicated: 50, lostDeletes: 50, deleted: 50, deadLettered: 0 });
    expect(await verifiedNames('bulk')).toEqual(packages.map((p) => p.name).sort());
  });
});
