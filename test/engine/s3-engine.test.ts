import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnfSandbox } from '../../src/cli/clients/dnf';
import { applyChanges, syncAll } from '../../src/engine/engine';
import { yumFormat } from '../../src/engine/formats/yum';
import { buildRpm } from '../../src/formats/rpm';
import { generatePgpKey, loadPgpSigner } from '../../src/signing/pgp';
import type { PgpSigner } from '../../src/signing/signer';
import { MeteredStorage } from '../../src/storage/metered';
import { S3Storage } from '../../src/storage/s3';
import { startS3rver, type S3rverHandle } from '../support/s3rver';

/**
 * The engine over the S3 API, as the indexer Lambda runs it: a real S3 API server on 127.0.0.1
 * holds the bucket, packages arrive as objects, and dnf reads the repository straight from it.
 */
describe('yum repository published to an S3 API server (s3rver)', () => {
  let s3: S3rverHandle;
  let signer: PgpSigner;
  let publicKey: string;

  beforeAll(async () => {
    s3 = await startS3rver();
    const key = await generatePgpKey({ name: 's3 engine test', type: 'ed25519' });
    signer = await loadPgpSigner(key.privateKeyArmored);
    publicKey = key.publicKeyArmored;
  });
  afterAll(async () => s3?.stop());

  const pkg = (name: string, version: string) => buildRpm({
    name,
    version,
    release: '1',
    arch: 'x86_64',
    summary: `${name} over S3`,
    files: [{ path: `/usr/bin/${name}`, contents: '#!/bin/sh\n', mode: 0o755 }],
  });

  it('indexes uploads under a prefix, applies deletes, and dnf accepts what the bucket serves', async () => {
    const storage = new MeteredStorage(new S3Storage({ client: s3.client, bucket: s3.bucket, prefix: 'repos/' }));
    const options = { storage, format: yumFormat(), keys: { pgp: signer } };
    await storage.put('el9/x86_64/Packages/alpha-1.0-1.x86_64.rpm', pkg('alpha', '1.0'));
    await storage.put('el9/x86_64/Packages/g++-wrapper-2.0+b1-1.x86_64.rpm', pkg('g++-wrapper', '2.0+b1'));
    const first = await syncAll(options);
    expect(first.units.map((u) => [u.unit.root, u.packageCount])).toEqual([['el9/x86_64/', 2]]);

    // an event batch: one upload, one delete, one duplicate of an indexed object
    await storage.put('el9/x86_64/Packages/beta-1.0-1.x86_64.rpm', pkg('beta', '1.0'));
    await storage.delete('el9/x86_64/Packages/alpha-1.0-1.x86_64.rpm');
    storage.reset();
    const batch = await applyChanges(options, {
      upserted: ['el9/x86_64/Packages/beta-1.0-1.x86_64.rpm', 'el9/x86_64/Packages/g++-wrapper-2.0+b1-1.x86_64.rpm'],
      deleted: ['el9/x86_64/Packages/alpha-1.0-1.x86_64.rpm'],
    });
    expect(batch.units[0].added.map((e) => e.name)).toEqual(['beta']);
    expect(batch.units[0].removed).toEqual(['el9/x86_64/Packages/alpha-1.0-1.x86_64.rpm']);
    expect(storage.keysRead.filter((k) => k.endsWith('.rpm'))).toEqual(['el9/x86_64/Packages/beta-1.0-1.x86_64.rpm']);

    await storage.put('keys/RPM-GPG-KEY-test', publicKey);
    // s3rver answers anonymous GETs, standing in for the CDN in front of the bucket
    const base = `${s3.endpoint}/${s3.bucket}/repos`;
    const dnf = await DnfSandbox.create({ baseUrl: `${base}/el9/x86_64/`, gpgKeyUrl: `${base}/keys/RPM-GPG-KEY-test` });
    try {
      await dnf.dnf(['makecache']);
      const { stdout } = await dnf.dnf(['-q', 'repoquery', '--qf', '%{name}-%{version}']);
      expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['beta-1.0', 'g++-wrapper-2.0+b1']);
      await dnf.dnf(['download', '--destdir', `${dnf.dir}/dl`, 'g++-wrapper', 'beta']);
      const got = execFileSync('ls', [`${dnf.dir}/dl`], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
      expect(got).toEqual(['beta-1.0-1.x86_64.rpm', 'g++-wrapper-2.0+b1-1.x86_64.rpm']);
    } finally {
      await dnf.dispose();
    }
  });
});
