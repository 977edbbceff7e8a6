import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageContract } from './storage-contract';
import { S3Storage } from '../../src/storage/s3';
import { PreconditionFailedError, type ObjectInfo } from '../../src/storage/storage';
import { startS3rver, type S3rverHandle } from '../support/s3rver';

let server: S3rverHandle;
beforeAll(async () => {
  server = await startS3rver();
});
afterAll(async () => {
  await server?.stop();
});

let prefixCounter = 0;
storageContract(
  'S3Storage (under a prefix)',
  async () => new S3Storage({ client: server.client, bucket: server.bucket, prefix: `run-${++prefixCounter}/nested/` }),
  { enforcesConditions: false, listsInByteOrder: false, md5Etags: true },
);
storageContract(
  'S3Storage (whole bucket)',
  async () => new S3Storage({ client: server.client, bucket: await server.createBucket() }),
  { enforcesConditions: false, listsInByteOrder: false, md5Etags: true },
);

async function keysOf(iterable: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of iterable) keys.push(info.key);
  return keys;
}

/** A client for s3rver that records the headers of every request it sends. */
interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, unknown>;
  readonly headers: Record<string, string>;
}

function recordingClient(): { client: S3Client; requests: RecordedRequest[] } {
  const requests: RecordedRequest[] = [];
  const client = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  client.middlewareStack.add((next) => async (args) => {
    const request = args.request as Omit<RecordedRequest, 'query'> & { query?: Record<string, unknown> };
    const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]));
    requests.push({ method: request.method, path: request.path, query: { ...request.query }, headers });
    return next(args);
  }, { step: 'finalizeRequest', priority: 'low', name: 'recordRequests' });
  return { client, requests };
}

describe('S3Storage against s3rver', () => {
  it('stores Content-Type and Cache-Control', async () => {
    const storage = new S3Storage({ client: server.client, bucket: server.bucket, prefix: 'meta/' });
    await storage.put('dists/stable/InRelease', 'signed', { contentType: 'text/plain; charset=utf-8', cacheControl: 'max-age=60' });
    await storage.put('pool/a.deb', new Uint8Array([1]), { contentType: 'application/vnd.debian.binary-package' });
    const manifest = await server.client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'meta/dists/stable/InRelease' }));
    expect(manifest.ContentType).toBe('text/plain; charset=utf-8');
    expect(manifest.CacheControl).toBe('max-age=60');
    const pkg = await server.client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'meta/pool/a.deb' }));
    expect(pkg.ContentType).toBe('application/vnd.debian.binary-package');
    expect(pkg.CacheControl).toBeUndefined();
  });

  it('keeps to its prefix: keys are stored under it and listed without it', async () => {
    const bucket = await server.createBucket();
    const raw = (key: string) => server.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    await raw('repo-sibling/x');
    await raw('repo');
    await raw('outside/y');
    await raw('repo/');
    const storage = new S3Storage({ client: server.client, bucket, prefix: 'repo/' });
    await storage.put('x86_64/a+b~c.rpm', 'rpm');
    const head = await server.client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'repo/x86_64/a+b~c.rpm' }));
    expect(head.ContentLength).toBe(3);
    expect(await keysOf(storage.list(''))).toEqual(['x86_64/a+b~c.rpm']);
    // the folder marker 'repo/' is not an object; (s3rver's listing order is not S3's: compare as sets)
    const whole = await keysOf(new S3Storage({ client: server.client, bucket }).list(''));
    expect(whole.sort()).toEqual(['outside/y', 'repo', 'repo-sibling/x', 'repo/x86_64/a+b~c.rpm']);
  });

  it('rejects prefixes that are not a folder', () => {
    expect(() => new S3Storage({ client: server.client, bucket: 'b', prefix: 'repo' })).toThrow(/must be '' or end with '\/'/);
    expect(() => new S3Storage({ client: server.client, bucket: 'b', prefix: '/repo/' })).toThrow(/leading/);
    expect(() => new S3Storage({ client: server.client, bucket: 'b', prefix: 'a/../' })).toThrow(/\.\./);
  });

  it('reports a missing bucket as an error, not as a missing object', async () => {
    const storage = new S3Storage({ client: server.client, bucket: 'no-such-bucket' });
    await expect(storage.get('a')).rejects.toThrow(/bucket/i);
  });

  it('pages through ListObjectsV2 with continuation tokens', async () => {
    const { client, requests } = recordingClient();
    try {
      const storage = new S3Storage({ client, bucket: await server.createBucket(), prefix: 'p/' });
      const keys = Array.from({ length: 1001 }, (_, i) => `k${String(i).padStart(4, '0')}`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => storage.put(k, k)));
      requests.length = 0;
      expect(await keysOf(storage.list(''))).toEqual(keys);
      const lists = requests.filter((r) => r.query['list-type'] === '2');
      expect(lists).toHaveLength(2);
      expect(lists[0].query.prefix).toBe('p/');
      expect(lists[0].query['continuation-token']).toBeUndefined();
      expect(lists[1].query['continuation-token']).toEqual(expect.any(String));
    } finally {
      client.destroy();
    }
  });

  it('sends If-None-Match and If-Match on conditional writes', async () => {
    const { client, requests } = recordingClient();
    try {
      const storage = new S3Storage({ client, bucket: server.bucket, prefix: 'cond/' });
      const first = await storage.put('manifest', 'v1', { ifNoneMatch: '*' });
      await storage.put('manifest', 'v2', { ifMatch: first.etag });
      await storage.put('manifest', 'v3');
      const puts = requests.filter((r) => r.method === 'PUT');
      expect(puts).toHaveLength(3);
      expect(puts[0].path).toBe(`/${server.bucket}/cond/manifest`);
      expect(puts[0].headers['if-none-match']).toBe('*');
      expect(puts[0].headers['if-match']).toBeUndefined();
      expect(puts[1].headers['if-match']).toBe(`"${first.etag}"`);
      expect(puts[1].headers['if-none-match']).toBeUndefined();
      expect(puts[2].headers['if-match']).toBeUndefined();
      expect(puts[2].headers['if-none-match']).toBeUndefined();
    } finally {
      client.destroy();
    }
  });
});

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** A tiny HTTP server on 127.0.0.1 that gives every request the same answer, and records them. */
interface AnsweringServer {
  readonly endpoint: string;
  readonly requests: { method?: string; url?: string; headers: IncomingHttpHeaders }[];
  readonly server: Server;
}

async function answeringServer(answer: Answer): Promise<AnsweringServer> {
  const requests: AnsweringServer['requests'] = [];
  const http = createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    req.resume();
    req.on('end', () => {
      res.writeHead(answer.status, { 'content-type': 'application/xml', 'x-amz-request-id': 'TEST' });
      res.end(answer.body);
    });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  return { endpoint: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, requests, server: http };
}

const s3Error = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>TEST</RequestId></Error>`;

describe('S3Storage error mapping over HTTP', () => {
  it.each([
    ['412 PreconditionFailed', { status: 412, body: s3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold') }],
    ['412 without a body', { status: 412, body: '' }],
    ['409 ConditionalRequestConflict', { status: 409, body: s3Error('ConditionalRequestConflict', 'A conflicting conditional operation is currently in progress') }],
  ])('maps %s to PreconditionFailedError', async (_name, answer) => {
    const { endpoint, requests, server: http } = await answeringServer(answer);
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      const storage = new S3Storage({ client, bucket: 'bucket', prefix: 'p/' });
      const failure = storage.put('dists/stable/InRelease', 'x', { ifNoneMatch: '*' });
      await expect(failure).rejects.toThrow(PreconditionFailedError);
      await expect(failure).rejects.toThrow(/dists\/stable\/InRelease.*If-None-Match/);
      expect(requests[0]).toMatchObject({ method: 'PUT', url: expect.stringMatching(/^\/bucket\/p\/dists\/stable\/InRelease(\?|$)/) });
      expect(requests[0].headers['if-none-match']).toBe('*');
    } finally {
      client.destroy();
      http.close();
    }
  });

  it('passes other errors through', async () => {
    const { endpoint, server: http } = await answeringServer({ status: 403, body: s3Error('AccessDenied', 'Access Denied') });
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      const storage = new S3Storage({ client, bucket: 'bucket' });
      const failure = storage.put('a', 'x', { ifMatch: 'abc' });
      await expect(failure).rejects.toThrow(S3ServiceException);
      await expect(failure).rejects.not.toThrow(PreconditionFailedError);
      await expect(storage.get('a')).rejects.toThrow(/Access Denied/);
    } finally {
      client.destroy();
      http.close();
    }
  });
});
