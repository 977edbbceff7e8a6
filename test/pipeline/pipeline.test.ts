import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, statsSince, testKeys, VISIBILITY_TIMEOUT_MS, yumIndexNames } from './support';
import { buildRpm } from '../../src/formats/rpm';
import type { SqsEvent } from '../../src/handlers/indexer';
import { startLocalPipeline, type LocalPipeline } from '../../src/pipeline/local-pipeline';
import { startS3rver, type ObjectEvent } from '../../src/pipeline/s3rver';
import type { SigningKeys } from '../../src/signing/signer';

const rpm = (name: string) => buildRpm({ name, version: '1.0', release: '1', arch: 'x86_64', summary: `${name} for the pipeline test` });
const rpmKey = (name: string) => `yum/el/x86_64/${name}-1.0-1.x86_64.rpm`;

describe('s3rver object events', () => {
  it('PUT, copy and DELETE become Object Created / Object Deleted with the key as stored, in order, with increasing sequencers', async () => {
    const s3 = await startS3rver({ bucket: 'events' });
    try {
      const events: ObjectEvent[] = [];
      s3.onObjectEvent((e) => events.push(e));
      const key = 'yum/dir with space/c++ & ü.rpm';
      await s3.client.send(new PutObjectCommand({ Bucket: 'events', Key: key, Body: 'x' }));
      await s3.client.send(new PutObjectCommand({ Bucket: 'events', Key: 'yum/plain.rpm', Body: 'y' }));
      await s3.client.send(new CopyObjectCommand({ Bucket: 'events', Key: 'yum/copy.rpm', CopySource: 'events/yum/plain.rpm' }));
      await s3.client.send(new DeleteObjectCommand({ Bucket: 'events', Key: key }));
      await s3.client.send(new DeleteObjectCommand({ Bucket: 'events', Key: 'yum/never-existed.rpm' }));
      await s3.flushEvents();
      expect(events.map((e) => [e.detailType, e.bucket, e.key])).toEqual([
        ['Object Created', 'events', key],
        ['Object Created', 'events', 'yum/plain.rpm'],
        ['Object Created', 'events', 'yum/copy.rpm'],
        ['Object Deleted', 'events', key],
      ]);
      expect(events[0]).toMatchObject({ size: 1 });
      const sequencers = events.map((e) => e.sequencer);
      expect(sequencers.every((s) => /^[0-9A-F]{16}$/.test(s))).toBe(true);
      expect([...sequencers].sort()).toEqual(sequencers);
      expect(new Set(sequencers).size).toBe(4);
    } finally {
      await s3.stop();
    }
  });
});

describe('startLocalPipeline refuses', () => {
  it.each([
    ['no repository', [], /needs at least one repository/],
    ['nested prefixes', ['yum', { format: 'apt', prefix: 'yum/debian/' }], /the prefixes 'yum\/' and 'yum\/debian\/' overlap/],
    ['a prefix without a trailing slash', [{ format: 'yum', prefix: 'yum' }], /prefix "yum" must be '' or end in '\/'/],
  ] as const)('%s', async (_, formats, error) => {
    await expect(startLocalPipeline({ formats, keys: {} })).rejects.toThrow(error);
  });

  it('a repository without its kind of key', async () => {
    const { pgp } = await testKeys();
    await expect(startLocalPipeline({ formats: ['yum', 'apk'], keys: { pgp } })).rejects.toThrow(/the apk repository under 'apk\/' needs an RSA signing key/);
    await expect(startLocalPipeline({ formats: ['pacman'], keys: {} })).rejects.toThrow(/the pacman repository under 'pacman\/' needs an OpenPGP signing key/);
  });
});

describe('the local pipeline\'s parts (yum and apt on one bucket, no client)', () => {
  let keys: SigningKeys;
  let pipeline: LocalPipeline;
  let failNextInvocation = false;
  const invocations: SqsEvent[] = [];

  beforeAll(async () => {
    keys = await testKeys();
    pipeline = await startLocalPipeline({
      formats: ['yum', { format: 'apt', prefix: 'debian/' }],
      keys,
      visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS,
      maxReceiveCount: 3,
      faults: {
        aroundIndexer: async (event, indexer) => {
          invocations.push(event);
          if (event.Records.some((r) => r.body.includes('poison'))) throw new Error('this package always breaks the indexer');
          if (failNextInvocation) {
            failNextInvocation = false;
            throw new Error('the indexer crashed');
          }
          return indexer(event);
        },
      },
    });
  });
  afterAll(async () => pipeline?.stop());

  const yum = () => pipeline.repositories.find((r) => r.format === 'yum')!;
  const apt = () => pipeline.repositories.find((r) => r.format === 'apt')!;

  it('the public keys are published under each prefix, as the key-generation custom resource does', async () => {
    expect((await fetchBytes(`${yum().url}keys/repository.asc`)).toString()).toBe(keys.pgp!.publicKeyArmored);
    expect(new Uint8Array(await fetchBytes(`${apt().url}keys/repository.gpg`))).toEqual(keys.pgp!.publicKeyBinary);
    // they are no package uploads: nothing was queued
    expect(yum().queue.stats.queued + apt().queue.stats.queued).toBe(0);
  });

  it('only package keys under a repository\'s prefix reach its queue, with its message group and the rule\'s message body', async () => {
    const before = { yum: yum().queue.stats, apt: apt().queue.stats };
    invocations.length = 0;
    await pipeline.upload(rpmKey('routed'), rpm('routed'));
    await pipeline.upload('yum/el/x86_64/routed.rpm.txt', 'not a package name');
    await pipeline.upload('debian/pool/stable/main/misplaced.rpm', rpm('misplaced'));
    await pipeline.upload('elsewhere/x86_64/stray-1.0-1.x86_64.rpm', rpm('stray'));
    await pipeline.waitForIdle();
    expect(statsSince(yum(), before.yum)).toMatchObject({ queued: 1, deleted: 1 });
    expect(statsSince(apt(), before.apt)).toMatchObject({ queued: 0 });
    const [record] = invocations.flatMap((e) => e.Records);
    expect(record.attributes?.MessageGroupId).toBe('yum:yum/');
    expect(JSON.parse(record.body)).toEqual({ 'detail-type': 'Object Created', 'bucket': pipeline.bucket, 'key': rpmKey('routed'), 'sequencer': expect.any(String) });
    expect(await yumIndexNames(`${yum().url}el/x86_64/`)).toEqual(['routed']);
  });

  it('a batch whose indexer invocation threw comes back after the visibility timeout and is indexed', async () => {
    const before = yum().queue.stats;
    failNextInvocation = true;
    await pipeline.upload(rpmKey('retried'), rpm('retried'));
    await pipeline.waitForIdle();
    expect(statsSince(yum(), before)).toMatchObject({ queued: 1, received: 2, redelivered: 1, deleted: 1, deadLettered: 0 });
    expect(await yumIndexNames(`${yum().url}el/x86_64/`)).toEqual(['retried', 'routed']);
  });

  it('an upload that always fails goes to the dead-letter queue after maxReceiveCount receives, and later uploads are indexed', async () => {
    const before = yum().queue.stats;
    await pipeline.upload(rpmKey('poison'), rpm('poison'));
    await pipeline.waitForIdle();
    expect(statsSince(yum(), before)).toMatchObject({ queued: 1, received: 3, deadLettered: 1, deleted: 0 });
    expect(yum().deadLetterQueue.messages().map((m) => JSON.parse(m.body).key)).toEqual([rpmKey('poison')]);
    await pipeline.upload(rpmKey('after'), rpm('after'));
    await pipeline.waitForIdle();
    expect(await yumIndexNames(`${yum().url}el/x86_64/`)).toEqual(['after', 'retried', 'routed']);
  });

  it('the edge server applies the edge rules: repository prefixes only, keys decoded, per-class headers, HEAD', async () => {
    const key = 'yum/el/x86_64/c++ tools-1.0-1.x86_64.rpm';
    const bytes = rpm('c++');
    await pipeline.client.send(new PutObjectCommand({ Bucket: pipeline.bucket, Key: key, Body: bytes, CacheControl: 'public, max-age=60' }));
    const url = `${pipeline.url}/yum/el/x86_64/c++%20tools-1.0-1.x86_64.rpm`;
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
    // as the origin-response function does: a package is immutable, whatever the object said
    expect(got.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(got.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    const head = await fetch(url, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, String(bytes.length)]);
    // a manifest gets the edge's short manifest policy (the host's manifest TTL, 60 s by default);
    // one checked against a detached signature is revalidated every time, and its signature comes from it
    expect((await fetch(`${yum().url}el/x86_64/`)).headers.get('cache-control')).toBe('public, max-age=60, must-revalidate');
    expect((await fetch(`${yum().url}el/x86_64/repodata/repomd.xml`)).headers.get('cache-control')).toBe('public, no-cache');
    const asc = await fetch(`${yum().url}el/x86_64/repodata/repomd.xml.asc`);
    expect([asc.status, asc.headers.get('content-type'), asc.headers.get('cache-control')]).toEqual([200, 'application/pgp-signature', 'public, no-cache']);
    const stored = await pipeline.client.send(new GetObjectCommand({ Bucket: pipeline.bucket, Key: 'yum/el/x86_64/repodata/repomd.xml.asc' }));
    expect(await asc.text()).toBe(await stored.Body!.transformToString());
    expect((await fetch(`${yum().url}el/x86_64/missing.rpm`)).status).toBe(404);
    expect((await fetch(`${pipeline.url}/elsewhere/x86_64/stray-1.0-1.x86_64.rpm`)).status).toBe(404); // outside every prefix
    expect((await fetch(`${pipeline.url}/yum/%E0%A4%A.rpm`)).status).toBe(400);
    expect((await fetch(`${yum().url}keys/repository.asc`, { method: 'DELETE' })).status).toBe(405);
  });
});
