import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSsm, type FakeSsm } from './support/fake-ssm';
import { SIGNATURE_HEADER } from '../../src/detached-signatures';
import { createToken, memoryTokenStore, TokenStoreUnavailableError } from '../../src/edge/access';
import {
  handleOriginResponse, handleRequest, handler, handleViewerRequest, SIGNATURE_OF_HEADER,
  type CloudFrontOriginResponse, type CloudFrontRequest, type CloudFrontResponse, type OriginRequestEvent,
} from '../../src/edge/origin-request';
import type { EdgeConfig } from '../../src/edge/router';

const config: EdgeConfig = {
  repositories: [
    { prefix: 'arch/', format: 'pacman', name: 'arch' },
    { prefix: 'yum/', format: 'yum', name: 'acme', setup: { path: 'el/$releasever/$basearch/' } },
    { prefix: 'apt/', format: 'apt', name: 'acme-apt', setup: { distribution: 'bookworm', components: ['main'] } },
    { prefix: 'private/', format: 'apt', name: 'secret', private: true },
  ],
  tokens: { ssmRegion: 'eu-west-1', ssmParameterPath: '/cdk-package-repos/Test/tokens/', cacheSeconds: 60 },
  manifestMaxAge: 60,
};

type EventKind = 'viewer-request' | 'origin-request' | 'origin-response';

/** A CloudFront event as Lambda@Edge delivers it (the AWS documentation's examples), with this path and headers. */
function event(kind: EventKind, uri: string, headers: Record<string, string> = {}): OriginRequestEvent {
  const fixture = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', `${kind}.json`), 'utf8')) as OriginRequestEvent;
  const { request } = fixture.Records[0].cf;
  request.uri = uri;
  for (const [name, value] of Object.entries(headers)) request.headers![name.toLowerCase()] = [{ key: name, value }];
  return fixture;
}

const requestOf = (e: OriginRequestEvent) => e.Records[0].cf.request;
const isResponse = (r: unknown): r is CloudFrontResponse => typeof r === 'object' && r !== null && 'status' in r && 'body' in r;

/** The path the AWS SDK (what S3 is built to accept) sends for a key: the reference for what OAC must sign. */
async function sdkPath(key: string): Promise<string> {
  let captured = '';
  const client = new S3Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestHandler: {
      handle: async (request: { path: string }) => {
        captured = request.path;
        throw new Error('captured');
      },
    } as never,
  });
  await client.send(new HeadObjectCommand({ Bucket: 'example-bucket', Key: key })).catch(() => undefined);
  return captured;
}

describe('origin-request', () => {
  it('rewrites the uri and forwards the rest of the request untouched', () => {
    const request = requestOf(event('origin-request', '/arch/core/os/x86_64/core.db'));
    const copy = JSON.parse(JSON.stringify(request)) as CloudFrontRequest;
    const result = handleRequest(request, config);
    expect(result).toEqual({ ...copy, uri: '/arch/core/os/x86_64/core.db.tar.gz' });
  });

  it.each([
    ['/arch/core/os/x86_64/core.files.sig', '/arch/core/os/x86_64/core.files.tar.gz'],
    ['/yum/el/9/x86_64/', '/yum/el/9/x86_64/index.html'],
    ['/yum/keys/RPM-GPG-KEY-acme', '/yum/keys/repository.asc'],
    ['/apt/keys/acme-apt.gpg', '/apt/keys/repository.gpg'],
  ])('%s -> %s', (uri, expected) => {
    expect((handleRequest(requestOf(event('origin-request', uri)), config) as CloudFrontRequest).uri).toBe(expected);
  });

  it.each([
    // dnf and pacman send '+' as is; apt sends %2b and %7e; a space is %20; an epoch's ':' raw or %3a
    ['yum/el/9/x86_64/Packages/pkgrepo-c++-tools-0.9-1.noarch.rpm', '/yum/el/9/x86_64/Packages/pkgrepo-c++-tools-0.9-1.noarch.rpm'],
    ['yum/el/9/x86_64/Packages/pkgrepo-c++-tools-0.9-1.noarch.rpm', '/yum/el/9/x86_64/Packages/pkgrepo-c%2b%2b-tools-0.9-1.noarch.rpm'],
    ['yum/el/9/x86_64/Packages/pkgrepo-hello-data-2.0~rc1-1.noarch.rpm', '/yum/el/9/x86_64/Packages/pkgrepo-hello-data-2.0%7erc1-1.noarch.rpm'],
    ['apt/pool/bookworm/main/hello_1:2.0~rc1+git1-1_all.deb', '/apt/pool/bookworm/main/hello_1:2.0~rc1+git1-1_all.deb'],
    ['apt/pool/bookworm/main/hello_1:2.0~rc1+git1-1_all.deb', '/apt/pool/bookworm/main/hello_1%3a2.0%7erc1%2bgit1-1_all.deb'],
    ['arch/extra/os/x86_64/my package-1.0-1-x86_64.pkg.tar.zst', '/arch/extra/os/x86_64/my%20package-1.0-1-x86_64.pkg.tar.zst'],
  ])('%s reaches S3 as the SDK would ask for it, from %s', async (key, uri) => {
    const result = handleRequest(requestOf(event('origin-request', uri)), config) as CloudFrontRequest;
    expect(result.uri).toBe(await sdkPath(key));
  });

  it('fetches the manifest in place of its detached signature, and says so to the origin response', () => {
    const request = requestOf(event('origin-request', '/yum/el/9/x86_64/repodata/repomd.xml.asc'));
    const result = handleRequest(request, config) as CloudFrontRequest;
    expect(result.uri).toBe('/yum/el/9/x86_64/repodata/repomd.xml');
    expect(result.headers?.[SIGNATURE_OF_HEADER]).toEqual([{ key: SIGNATURE_OF_HEADER, value: '/yum/el/9/x86_64/repodata/repomd.xml.asc' }]);
    // a viewer cannot plant the marker on other requests
    const planted = requestOf(event('origin-request', '/yum/el/9/x86_64/repodata/repomd.xml', { [SIGNATURE_OF_HEADER]: '/yum/x.asc' }));
    expect((handleRequest(planted, config) as CloudFrontRequest).headers?.[SIGNATURE_OF_HEADER]).toBeUndefined();
  });

  it('answers 404 itself for paths outside the repositories, naming nothing', () => {
    const result = handleRequest(requestOf(event('origin-request', '/elsewhere/x')), config);
    expect(result).toMatchObject({ status: '404', statusDescription: 'Not Found' });
    expect((result as CloudFrontResponse).body).toContain('not under a repository prefix');
  });

  it('answers 400 for a dot segment (CloudFront would normalise it away, past the prefix check)', () => {
    expect(handleRequest(requestOf(event('origin-request', '/yum/%2e%2e/elsewhere/x')), config)).toMatchObject({ status: '400' });
  });
});

describe('viewer-request', () => {
  const { token, record } = createToken('ci');
  const tokens = memoryTokenStore([record]);
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('lets public object requests through, without the Authorization header', async () => {
    const request = requestOf(event('viewer-request', '/yum/el/9/x86_64/repodata/repomd.xml', { Authorization: basic('x', 'y') }));
    const result = await handleViewerRequest(request, config, tokens);
    expect(isResponse(result)).toBe(false);
    expect((result as CloudFrontRequest).headers!.authorization).toBeUndefined();
    expect((result as CloudFrontRequest).uri).toBe('/yum/el/9/x86_64/repodata/repomd.xml');
  });

  it('generates setup files for the host the viewer asked for', async () => {
    const result = await handleViewerRequest(requestOf(event('viewer-request', '/yum/setup/acme.repo', { Host: 'packages.example.com' })), config, tokens);
    expect(result).toMatchObject({ status: '200', headers: { 'cache-control': [{ value: 'no-store' }] } });
    const body = (result as CloudFrontResponse).body;
    expect(body).toContain('[acme]\n');
    expect(body).toContain('baseurl=https://packages.example.com/yum/el/$releasever/$basearch/\n');
    expect(body).toContain('gpgkey=https://packages.example.com/yum/keys/RPM-GPG-KEY-acme\n');
  });

  it('refuses a Host header that is not a host name (it would be written into a shell script)', async () => {
    const result = await handleViewerRequest(requestOf(event('viewer-request', '/yum/setup/setup.sh', { Host: 'x;rm -rf /' })), config, tokens);
    expect(result).toMatchObject({ status: '400' });
  });

  it.each([
    ['no credentials', undefined],
    ['a wrong token', basic('ci', 'wrong')],
    ['an unknown name', basic('nobody', token)],
    ['a malformed header', 'Bearer abc'],
  ])('answers a private repository with 401 and nothing else for %s', async (_what, authorization) => {
    const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
    const result = await handleViewerRequest(requestOf(event('viewer-request', '/private/dists/stable/InRelease', headers)), config, tokens);
    expect(result).toEqual({
      status: '401',
      statusDescription: 'Unauthorized',
      headers: {
        'content-type': [{ key: 'Content-Type', value: 'text/plain; charset=utf-8' }],
        'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
        'www-authenticate': [{ key: 'WWW-Authenticate', value: 'Basic realm="package repository", charset="UTF-8"' }],
      },
      body: '',
    });
  });

  it('lets a valid token through and writes it into the setup files it generates', async () => {
    const through = await handleViewerRequest(requestOf(event('viewer-request', '/private/dists/stable/InRelease', { Authorization: basic('ci', token) })), config, tokens);
    expect((through as CloudFrontRequest).uri).toBe('/private/dists/stable/InRelease');
    const auth = await handleViewerRequest(requestOf(event('viewer-request', '/private/setup/auth.conf', { Authorization: basic('ci', token) })), config, tokens);
    expect((auth as CloudFrontResponse).body).toBe(`machine d111111abcdef8.cloudfront.net/private/ login ci password ${token}\n`);
  });

  it.each([
    '/yum/../private/dists/stable/InRelease',
    '/yum/%2e%2e/private/dists/stable/InRelease',
    '//private/dists/stable/InRelease',
    '/private//dists/stable/InRelease',
    '/private/./dists/stable/InRelease',
    '/private/%ZZ',
  ])('refuses %s at the viewer request: CloudFront could match and cache it as another path', async (uri) => {
    const result = await handleViewerRequest(requestOf(event('viewer-request', uri)), config, tokens);
    expect(result).toMatchObject({ status: '400' });
  });

  it('answers 503 (not 401) when the tokens cannot be read', async () => {
    const broken = { lookup: async () => Promise.reject(new TokenStoreUnavailableError('down')) };
    const result = await handleViewerRequest(requestOf(event('viewer-request', '/private/x', { Authorization: basic('ci', token) })), config, broken);
    expect(result).toMatchObject({ status: '503', headers: { 'retry-after': [{ value: '5' }] } });
  });
});

describe('origin-response', () => {
  const respond = (uri: string, status = '200'): CloudFrontOriginResponse => {
    const e = event('origin-response', uri);
    const response = { ...e.Records[0].cf.response!, status };
    return handleOriginResponse(e.Records[0].cf.request, response, config);
  };
  const header = (r: CloudFrontOriginResponse, name: string) => r.headers[name]?.[0]?.value;

  it.each([
    ['/yum/el/9/x86_64/Packages/pkgrepo-c%2B%2B-tools-0.9-1.noarch.rpm', 'application/x-rpm', 'public, max-age=31536000, immutable'],
    ['/yum/el/9/x86_64/repodata/repomd.xml', 'application/xml', 'public, no-cache'],
    [`/yum/el/9/x86_64/repodata/${'a'.repeat(64)}-primary.xml.gz`, 'application/gzip', 'public, max-age=31536000, immutable'],
    ['/apt/dists/bookworm/InRelease', 'text/plain; charset=utf-8', 'public, max-age=60, must-revalidate'],
    [`/apt/dists/bookworm/main/binary-amd64/by-hash/SHA256/${'b'.repeat(64)}`, 'application/octet-stream', 'public, max-age=31536000, immutable'],
    ['/arch/core/os/x86_64/core.db.tar.gz', 'application/gzip', 'public, no-cache'],
    ['/apt/keys/repository.gpg', 'application/pgp-keys', 'public, max-age=60, must-revalidate'],
    ['/private/pool/stable/main/h_1.0_all.deb', 'application/vnd.debian.binary-package', 'private, max-age=31536000, immutable'],
    ['/private/dists/stable/InRelease', 'text/plain; charset=utf-8', 'private, max-age=60'],
  ])('%s: %s, %s', (uri, type, cache) => {
    const response = respond(uri);
    expect(header(response, 'content-type')).toBe(type);
    expect(header(response, 'cache-control')).toBe(cache);
    // the rest of S3's response passes through
    expect(header(response, 'etag')).toBe('"9d3a8e9b6f5a8c1b0c7d2e3f4a5b6c7d"');
  });

  it('leaves error responses as S3 sent them', () => {
    expect(header(respond('/yum/x.rpm', '404'), 'cache-control')).toBe('public, max-age=30, must-revalidate');
  });

  describe('a detached signature, answered from the manifest fetched in its place', () => {
    const signature = '-----BEGIN PGP SIGNATURE-----\n\nwnUEABYKAB0WIQ\n-----END PGP SIGNATURE-----\n';
    const embedded = Buffer.from(signature).toString('base64');
    /** origin-request, then S3's answer for the manifest (with or without the metadata), then origin-response. */
    const roundTrip = (uri: string, status = '200', metadata: string | null = embedded) => {
      const e = event('origin-response', uri);
      const request = handleRequest(e.Records[0].cf.request, config) as CloudFrontRequest;
      const response: CloudFrontOriginResponse = { ...e.Records[0].cf.response!, status, headers: { ...e.Records[0].cf.response!.headers } };
      if (metadata !== null) response.headers[SIGNATURE_HEADER] = [{ key: 'x-amz-meta-pkgrepo-signature', value: metadata }];
      return { request, response: handleOriginResponse(request, response, config) };
    };

    it('replaces the body with the embedded signature, with the signature\'s headers', () => {
      const { request, response } = roundTrip('/arch/core/os/x86_64/core.db.sig');
      expect(request.uri).toBe('/arch/core/os/x86_64/core.db.tar.gz');
      expect(response).toMatchObject({ status: '200', body: embedded, bodyEncoding: 'base64' });
      expect(Buffer.from(response.body!, 'base64').toString()).toBe(signature);
      expect(header(response, 'content-type')).toBe('application/pgp-signature');
      expect(header(response, 'cache-control')).toBe('public, no-cache');
      expect(response.headers[SIGNATURE_HEADER]).toBeUndefined();
      // the manifest's etag: CloudFront revalidates the signature by the manifest it came from
      expect(header(response, 'etag')).toBe('"9d3a8e9b6f5a8c1b0c7d2e3f4a5b6c7d"');
    });

    it('keeps a revalidation (304) as it is, with the signature\'s headers', () => {
      const { response } = roundTrip('/yum/el/9/x86_64/repodata/repomd.xml.asc', '304', null);
      expect(response.status).toBe('304');
      expect(response.body).toBeUndefined();
      expect(header(response, 'content-type')).toBe('application/pgp-signature');
    });

    it('answers 404, never cached, when the manifest carries no signature (published by an older version)', () => {
      for (const metadata of [null, '', 'not base64!']) {
        const { response } = roundTrip('/yum/el/9/x86_64/repodata/repomd.xml.asc', '200', metadata);
        expect(response).toMatchObject({ status: '404', bodyEncoding: 'text' });
        expect(response.body).toContain('is not embedded in the manifest it signs yet');
        expect(header(response, 'cache-control')).toBe('no-store');
        expect(header(response, 'etag')).toBeUndefined();
      }
    });

    it('passes a missing manifest on as a 404', () => {
      const { response } = roundTrip('/yum/el/9/x86_64/repodata/repomd.xml.asc', '404', null);
      expect(response.status).toBe('404');
      expect(response.body).toBeUndefined();
    });

    it('serves the manifest itself untouched, without the metadata header', () => {
      const { response } = roundTrip('/yum/el/9/x86_64/repodata/repomd.xml');
      expect(response.status).toBe('200');
      expect(response.body).toBeUndefined();
      expect(response.headers[SIGNATURE_HEADER]).toBeUndefined();
      expect(header(response, 'content-type')).toBe('application/xml');
    });
  });
});

describe('handler', () => {
  it('dispatches on the event type; an event without one is an origin request', async () => {
    // the handler reads config.json beside the module: only the bundle test below can give it one
    const e = event('origin-request', '/x');
    delete (e.Records[0].cf as { config?: unknown }).config;
    await expect(handler(e)).rejects.toThrow(/config\.json/);
  });
});

describe('the bundled handler (assets/edge/index.js)', () => {
  let dir: string;
  let ssm: FakeSsm;
  const { token, record } = createToken('ci');
  beforeAll(async () => {
    // GIVEN the bundle copied next to a config.json, as the constructs stage it, and the tokens in (fake) SSM
    dir = mkdtempSync(path.join(tmpdir(), 'edge-'));
    writeFileSync(path.join(dir, 'index.js'), readFileSync(path.join(__dirname, '..', '..', 'assets', 'edge', 'index.js')));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    ssm = await startFakeSsm();
    ssm.parameters.set(`${config.tokens!.ssmParameterPath}ci`, JSON.stringify(record));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await ssm.close();
  });

  /** Runs the bundle in a plain node process on these events, in order, in one execution environment. */
  async function run(...events: OriginRequestEvent[]): Promise<any[]> {
    writeFileSync(path.join(dir, 'events.json'), JSON.stringify(events));
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', `
      (async () => {
        const out = [];
        for (const e of require('./events.json')) out.push(await require('./index.js').handler(e));
        process.stdout.write(JSON.stringify(out));
      })();
    `], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, AWS_ENDPOINT_URL_SSM: ssm.endpoint, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'us-east-1' },
    });
    return JSON.parse(stdout);
  }

  it('reads config.json next to it and handles all three events', async () => {
    const [viewer, origin, response] = await run(
      event('viewer-request', '/apt/setup/acme-apt.sources', { Host: 'packages.example.com' }),
      event('origin-request', '/yum/'),
      event('origin-response', '/yum/el/9/x86_64/repodata/repomd.xml'),
    );
    expect(viewer.body).toContain('URIs: https://packages.example.com/apt/\nSuites: bookworm\n');
    expect(origin.uri).toBe('/yum/index.html');
    expect(response.headers['cache-control'][0].value).toBe('public, no-cache');
  });

  it('answers a detached signature from the manifest\'s metadata', async () => {
    const [request] = await run(event('origin-request', '/arch/core/os/x86_64/core.files.sig'));
    const answer = event('origin-response', '/');
    answer.Records[0].cf.request.uri = request.uri;
    answer.Records[0].cf.request.headers = request.headers;
    answer.Records[0].cf.response!.headers[SIGNATURE_HEADER] = [{ key: 'x-amz-meta-pkgrepo-signature', value: 'iHUEABYKAB0=' }];
    const [response] = await run(answer);
    expect(request.uri).toBe('/arch/core/os/x86_64/core.files.tar.gz');
    expect(response).toMatchObject({ status: '200', body: 'iHUEABYKAB0=', bodyEncoding: 'base64' });
    expect(response.headers['content-type'][0].value).toBe('application/pgp-signature');
  });

  it('checks tokens against SSM, once per cache period', async () => {
    const basic = (password: string) => ({ Authorization: `Basic ${Buffer.from(`ci:${password}`).toString('base64')}` });
    ssm.calls.length = 0;
    const [good, bad, none, again] = await run(
      event('viewer-request', '/private/dists/stable/InRelease', basic(token)),
      event('viewer-request', '/private/dists/stable/InRelease', basic('nope')),
      event('viewer-request', '/private/dists/stable/InRelease'),
      event('viewer-request', '/private/pool/x.deb', basic(token)),
    );
    expect(good.uri).toBe('/private/dists/stable/InRelease');
    expect(bad.status).toBe('401');
    expect(none.status).toBe('401');
    expect(again.uri).toBe('/private/pool/x.deb');
    expect(ssm.calls).toEqual([`GetParametersByPath ${config.tokens!.ssmParameterPath.replace(/\/$/, '')}`]);
  });
});
