import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyChanges } from '../../src/engine/engine';
import { engineOptionsFor, processBatch, type IndexerConfig, type SqsRecord } from '../../src/handlers/indexer';
import { generatePgpKey } from '../../src/signing/pgp';
import { bsdtarPackage, pkginfoText, removeTempDirs, requireTools, tempDir } from '../support/pacman-fixtures';
import { startS3rver, type S3rverHandle } from '../support/s3rver';

/**
 * The indexer's wiring (S3 storage under the repository prefix, format from the configuration,
 * keys from SSM, the FIFO batch adapter) against a real S3 API server: upload events in, a
 * published index under the prefix out. The whole pipeline with real clients is the local
 * pipeline's test; this one pins the adapter.
 */
describe('indexer over S3 (s3rver)', () => {
  let s3: S3rverHandle;
  let ssm: SSMClient;
  let config: IndexerConfig;
  let packageFile: string;

  beforeAll(async () => {
    requireTools('bsdtar', 'gzip');
    s3 = await startS3rver({ bucket: 'repo-bucket' });
    const key = await generatePgpKey({ name: 'Indexer Test', type: 'ed25519' });
    config = {
      format: 'pacman', formatOptions: {}, bucket: 'repo-bucket', prefix: 'arch/', pgpKeyParameter: '/keys/pgp',
    };
    ssm = { send: async (c: GetParameterCommand) => ({ Parameter: { Value: c.input.Name === '/keys/pgp' ? key.privateKeyArmored : undefined } }) } as unknown as SSMClient;
    packageFile = bsdtarPackage(path.join(tempDir('indexer'), 'hello-1.0-1-x86_64.pkg.tar.gz'), {
      '.PKGINFO': pkginfoText([['pkgname', 'hello'], ['pkgbase', 'hello'], ['pkgver', '1.0-1'], ['pkgdesc', 'hello'], ['builddate', '1700000000'], ['size', '6'], ['arch', 'x86_64']]),
      'usr/share/hello/hello.txt': 'hello\n',
    });
  });
  afterAll(async () => {
    await s3?.stop();
    removeTempDirs();
  });

  const event = (detailType: string, key: string, id: string): SqsRecord => ({
    messageId: id,
    body: JSON.stringify({ 'detail-type': detailType, 'bucket': 'repo-bucket', key, 'sequencer': id }),
    attributes: { MessageGroupId: 'pacman:arch/' },
  });

  const run = async (records: SqsRecord[]) => {
    const options = await engineOptionsFor(config, { s3: s3.client, ssm }, () => undefined);
    return processBatch({ Records: records }, {
      bucket: config.bucket, prefix: config.prefix, apply: (changes) => applyChanges(options, changes), log: () => undefined,
    });
  };

  const exists = async (key: string) => s3.client.send(new GetObjectCommand({ Bucket: 'repo-bucket', Key: key })).then(() => true, () => false);

  /** The entries of the published database, listed by bsdtar. */
  const dbEntries = async () => {
    const out = await s3.client.send(new GetObjectCommand({ Bucket: 'repo-bucket', Key: 'arch/extra/os/x86_64/extra.db.tar.gz' }));
    const file = path.join(tempDir('db'), 'extra.db.tar.gz');
    writeFileSync(file, await out.Body!.transformToByteArray());
    return execFileSync('bsdtar', ['-tzf', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
  };

  it('indexes an upload under the prefix and removes it after its deletion; duplicates are harmless', async () => {
    // GIVEN a package uploaded under the prefix
    const key = 'arch/extra/os/x86_64/hello-1.0-1-x86_64.pkg.tar.gz';
    await s3.client.send(new PutObjectCommand({ Bucket: 'repo-bucket', Key: key, Body: readFileSync(packageFile) }));
    // WHEN its event arrives twice in one batch
    const response = await run([event('Object Created', key, '1'), event('Object Created', key, '2')]);
    // THEN no failure, and the signed database is published next to it, inside the prefix
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await dbEntries()).toContain('hello-1.0-1/desc');
    expect(await exists('arch/extra/os/x86_64/extra.db.tar.gz.sig')).toBe(true);

    // WHEN the object is deleted and the deletion event arrives (after a stale creation event)
    await s3.client.send(new DeleteObjectCommand({ Bucket: 'repo-bucket', Key: key }));
    expect(await run([event('Object Created', key, '3'), event('Object Deleted', key, '4')])).toEqual({ batchItemFailures: [] });
    // THEN the database was republished without it
    expect(await dbEntries()).not.toContain('hello-1.0-1/desc');
  });
});
