import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSignatureMetadata, SIGNATURE_METADATA } from '../../src/detached-signatures';
import { syncAll } from '../../src/engine/engine';
import { pacmanFormat } from '../../src/engine/formats/pacman';
import { yumFormat } from '../../src/engine/formats/yum';
import { buildPacmanPackage, pacmanPackageFileName } from '../../src/formats/pacman/build-pacman';
import { buildRpm } from '../../src/formats/rpm';
import { generatePgpKey, loadPgpSigner } from '../../src/signing/pgp';
import type { PgpSigner } from '../../src/signing/signer';
import { LocalStorage } from '../../src/storage/local';
import { S3Storage } from '../../src/storage/s3';
import type { Storage } from '../../src/storage/storage';
import { startS3rver, type S3rverHandle } from '../support/s3rver';

/**
 * Each detached signature of a manifest travels inside the manifest too (S3 user metadata,
 * written in the same PUT), so the edge can answer for it from the one object: see
 * src/detached-signatures.ts.
 */
describe('detached signatures embedded in the manifests they sign', () => {
  let s3: S3rverHandle;
  let signer: PgpSigner;
  const dirs: string[] = [];

  beforeAll(async () => {
    s3 = await startS3rver();
    signer = await loadPgpSigner((await generatePgpKey({ name: 'embedded signatures', type: 'ed25519' })).privateKeyArmored);
  });
  afterAll(async () => {
    await s3?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** The manifest's embedded signature equals the signature object, for every pair. */
  async function expectEmbedded(storage: Storage, pairs: ReadonlyArray<readonly [string, string]>): Promise<void> {
    for (const [manifest, signature] of pairs) {
      const head = await storage.head(manifest);
      const embedded = decodeSignatureMetadata(head?.metadata?.[SIGNATURE_METADATA]);
      expect(embedded, manifest).toBeDefined();
      expect(embedded!.equals(Buffer.from((await storage.get(signature))!)), `${manifest} carries ${signature}`).toBe(true);
    }
  }

  it('yum over the S3 API: repomd.xml carries repomd.xml.asc; one published without it is published again', async () => {
    const storage = new S3Storage({ client: s3.client, bucket: await s3.createBucket(), prefix: 'el9/' });
    const options = { storage, format: yumFormat(), keys: { pgp: signer } };
    const rpm = (name: string) => buildRpm({ name, version: '1.0', release: '1', arch: 'noarch', summary: name, files: [{ path: `/usr/share/${name}`, contents: name }] });
    await storage.put('Packages/alpha-1.0-1.noarch.rpm', rpm('alpha'));
    await syncAll(options);
    const pair = [['repodata/repomd.xml', 'repodata/repomd.xml.asc']] as const;
    await expectEmbedded(storage, pair);

    // a new package: a new signature, embedded again
    const before = (await storage.head('repodata/repomd.xml'))!.metadata![SIGNATURE_METADATA];
    await storage.put('Packages/beta-1.0-1.noarch.rpm', rpm('beta'));
    await syncAll(options);
    await expectEmbedded(storage, pair);
    expect((await storage.head('repodata/repomd.xml'))!.metadata![SIGNATURE_METADATA]).not.toBe(before);

    // what an older version left: the same manifest without the metadata
    await storage.put('repodata/repomd.xml', (await storage.get('repodata/repomd.xml'))!);
    const repair = await syncAll(options);
    expect(repair.units[0].published).toBe(true);
    expect(repair.units[0].added).toEqual([]);
    await expectEmbedded(storage, pair);
    expect((await syncAll(options)).units[0].published).toBe(false);
  });

  it('pacman in a directory: both databases carry their .sig (and the local links theirs)', async () => {
    const spec = { name: 'hello', version: '1.0', description: 'hello', files: [{ path: '/usr/share/hello/data', contents: 'hi' }] };
    for (const localLinks of [false, true]) {
      const root = mkdtempSync(path.join(tmpdir(), 'embedded-pacman-'));
      dirs.push(root);
      const storage = new LocalStorage(root);
      await storage.put(`extra/${pacmanPackageFileName(spec)}`, await buildPacmanPackage(spec));
      await syncAll({ storage, format: pacmanFormat({ localLinks }), keys: { pgp: signer } });
      const names = localLinks ? ['extra.db.tar.gz', 'extra.db', 'extra.files.tar.gz', 'extra.files'] : ['extra.db.tar.gz', 'extra.files.tar.gz'];
      await expectEmbedded(storage, names.map((name) => [`extra/${name}`, `extra/${name}.sig`] as const));
    }
  });
});

describe('a change of signing key', () => {
  it('publishes again with the new key although no package changed, and then no more', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'rotation-'));
    try {
      const storage = new LocalStorage(root);
      const [first, second] = await Promise.all(['old key', 'new key'].map(async (name) => loadPgpSigner((await generatePgpKey({ name, type: 'ed25519' })).privateKeyArmored)));
      await storage.put('Packages/alpha-1.0-1.noarch.rpm', buildRpm({ name: 'alpha', version: '1.0', release: '1', arch: 'noarch', summary: 'a', files: [] }));
      const run = (pgp: PgpSigner) => syncAll({ storage, format: yumFormat(), keys: { pgp } });
      await run(first);
      expect((await run(first)).units[0].published).toBe(false);
      const signedBy = async () => {
        const armored = decodeSignatureMetadata((await storage.head('repodata/repomd.xml'))?.metadata?.[SIGNATURE_METADATA])!.toString();
        const openpgp = await import('openpgp');
        return (await openpgp.readSignature({ armoredSignature: armored })).getSigningKeyIDs().map((id) => id.toHex().toUpperCase());
      };
      expect(await signedBy()).toEqual([first.keyId]);
      const rotated = await run(second);
      expect([rotated.units[0].published, rotated.units[0].added]).toEqual([true, []]);
      expect(await signedBy()).toEqual([second.keyId]);
      expect(Buffer.from((await storage.get('repodata/repomd.xml.asc'))!).toString()).toBe(
        decodeSignatureMetadata((await storage.head('repodata/repomd.xml'))!.metadata![SIGNATURE_METADATA])!.toString());
      expect((await run(second)).units[0].published).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
