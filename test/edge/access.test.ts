import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSsm, type FakeSsm } from './support/fake-ssm';
import {
  authorize, createToken, formatTokenFile, memoryTokenStore, parseBasicAuth, parseTokenFile, TokenStoreUnavailableError, verifyToken,
} from '../../src/edge/access';
import { addFileToken, FileTokenStore, readTokenFile, removeFileToken } from '../../src/edge/file-token-store';
import { addSsmToken, listSsmTokens, removeSsmToken, SsmTokenStore } from '../../src/edge/ssm-token-store';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('tokens', () => {
  it('stores a salted SHA-256 that openssl agrees with, never the token', () => {
    const { token, record } = createToken('ci', { now: new Date('2030-01-02T03:04:05Z') });
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits
    expect(JSON.stringify(record)).not.toContain(token);
    expect(record).toMatchObject({ name: 'ci', scheme: 'sha256', created: '2030-01-02T03:04:05.000Z' });
    // an independent digest of salt || token
    const input = Buffer.concat([Buffer.from(record.salt, 'base64url'), Buffer.from(token)]);
    const openssl = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input });
    expect(Buffer.from(record.hash, 'base64url').equals(openssl)).toBe(true);
  });

  it('verifies the token and nothing else; salts differ between tokens', () => {
    const a = createToken('a');
    const b = createToken('b');
    expect(verifyToken(a.record, a.token)).toBe(true);
    expect(verifyToken(a.record, b.token)).toBe(false);
    expect(verifyToken(a.record, `${a.token}x`)).toBe(false);
    expect(verifyToken(a.record, '')).toBe(false);
    expect(a.record.salt).not.toBe(b.record.salt);
  });

  it.each(['', 'a b', 'a:b', '-x', 'x'.repeat(65), 'ü'])('refuses the name %j', (name) => {
    expect(() => createToken(name)).toThrow(/token name/);
  });
});

describe('parseBasicAuth', () => {
  it.each([
    [basic('ci', 'tok:en'), { user: 'ci', password: 'tok:en' }],
    [`basic   ${Buffer.from('a:').toString('base64')}`, { user: 'a', password: '' }],
    ['Bearer abc', undefined],
    ['Basic !!!', undefined],
    [`Basic ${Buffer.from('nocolon').toString('base64')}`, undefined],
    [undefined, undefined],
  ])('%j', (header, expected) => {
    expect(parseBasicAuth(header)).toEqual(expected);
  });
});

describe('authorize', () => {
  const all = createToken('all');
  const scoped = createToken('scoped', { prefixes: ['apt/'] });
  const store = memoryTokenStore([all.record, scoped.record]);

  it.each([
    ['a valid token', basic('all', all.token), 'yum/', 'granted'],
    ['a token scoped to this prefix', basic('scoped', scoped.token), 'apt/', 'granted'],
    ['a token scoped to another prefix', basic('scoped', scoped.token), 'yum/', 'denied'],
    ['another name\'s token', basic('scoped', all.token), 'apt/', 'denied'],
    ['no header', undefined, 'yum/', 'denied'],
    ['a name that cannot be a token name', basic('../x', all.token), 'yum/', 'denied'],
  ])('%s: %s', async (_what, header, prefix, verdict) => {
    expect((await authorize(header, prefix, store)).kind).toBe(verdict);
  });

  it('is unavailable, not denied, when the store fails', async () => {
    const failing = { lookup: () => Promise.reject(new TokenStoreUnavailableError('down')) };
    expect(await authorize(basic('all', all.token), 'yum/', failing)).toEqual({ kind: 'unavailable', reason: 'down' });
  });
});

describe('token files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tokens-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('adds, lists and removes tokens; the file is 0600 and holds no token', async () => {
    const file = path.join(dir, 'add.json');
    const a = await addFileToken(file, 'alice');
    const b = await addFileToken(file, 'bob', { prefixes: ['apt/'] });
    await expect(addFileToken(file, 'alice')).rejects.toThrow(/exists already/);
    expect((await readTokenFile(file)).map((r) => [r.name, r.prefixes])).toEqual([['alice', undefined], ['bob', ['apt/']]]);
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(a.token);
    expect(text).not.toContain(b.token);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await removeFileToken(file, 'alice')).toBe(true);
    expect(await removeFileToken(file, 'alice')).toBe(false);
    expect((await readTokenFile(file)).map((r) => r.name)).toEqual(['bob']);
  });

  it('serves lookups and sees changes to the file without a restart', async () => {
    const file = path.join(dir, 'live.json');
    const { token } = await addFileToken(file, 'ci');
    const store = new FileTokenStore(file);
    expect((await authorize(basic('ci', token), 'x/', store)).kind).toBe('granted');
    await removeFileToken(file, 'ci');
    expect((await authorize(basic('ci', token), 'x/', store)).kind).toBe('denied');
  });

  it('fails lookups (503), never grants, when the file is broken', async () => {
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{"tokens": [{"name": "x"}]}');
    await expect(new FileTokenStore(file).lookup('x')).rejects.toBeInstanceOf(TokenStoreUnavailableError);
    await expect(new FileTokenStore(path.join(dir, 'missing.json')).lookup('x')).rejects.toBeInstanceOf(TokenStoreUnavailableError);
  });

  it.each([
    ['not JSON', 'nope', /not JSON/],
    ['no tokens array', '{}', /expected \{"tokens"/],
    ['a short salt', JSON.stringify({ tokens: [{ ...createToken('a').record, salt: 'AA' }] }), /salt/],
    ['an unknown scheme', JSON.stringify({ tokens: [{ ...createToken('a').record, scheme: 'md5' }] }), /scheme/],
    ['a name twice', formatTokenFile([createToken('a').record]).replace(/\]/, `, ${JSON.stringify(createToken('a').record)}]`), /appears twice/],
  ])('rejects a file with %s', (_what, text, error) => {
    expect(() => parseTokenFile(text)).toThrow(error);
  });
});

describe('SSM token store', () => {
  let ssm: FakeSsm;
  const path_ = '/cdk-package-repos/Test/tokens/';
  beforeAll(async () => {
    ssm = await startFakeSsm();
  });
  afterAll(() => ssm.close());

  it('adds, lists and removes tokens as parameters under the path', async () => {
    const client = ssm.client();
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => addSsmToken(client, path_, `client-${String(i).padStart(2, '0')}`)));
    await expect(addSsmToken(client, path_, 'client-00')).rejects.toThrow(/exists already/);
    expect(ssm.parameters.get(`${path_}client-03`)).not.toContain(created[3].token);
    // more than one page (10 per page)
    expect((await listSsmTokens(client, path_)).map((r) => r.name)).toHaveLength(12);
    expect(await removeSsmToken(client, path_, 'client-00')).toBe(true);
    expect(await removeSsmToken(client, path_, 'client-00')).toBe(false);
    expect((await listSsmTokens(client, path_)).map((r) => r.name)).not.toContain('client-00');
  });

  it('reads the path once per cache period, whatever names are asked for, and sees revocations after it', async () => {
    const client = ssm.client();
    const { token } = await addSsmToken(client, path_, 'edge');
    let now = 1_000_000;
    const store = new SsmTokenStore({ region: 'eu-west-1', parameterPath: path_, cacheSeconds: 60, client, now: () => now });
    ssm.calls.length = 0;
    expect((await authorize(basic('edge', token), 'p/', store)).kind).toBe('granted');
    for (let i = 0; i < 20; i++) expect((await authorize(basic(`guess-${i}`, token), 'p/', store)).kind).toBe('denied');
    expect(ssm.calls.filter((c) => c.startsWith('GetParametersByPath'))).toHaveLength(2); // 12 tokens: two pages
    await removeSsmToken(client, path_, 'edge');
    now += 59_000;
    expect((await authorize(basic('edge', token), 'p/', store)).kind).toBe('granted');
    now += 2_000;
    expect((await authorize(basic('edge', token), 'p/', store)).kind).toBe('denied');
  });

  it('is unavailable without any read, and keeps the last read through a failure', async () => {
    const client = ssm.client();
    const { token } = await addSsmToken(client, path_, 'steady');
    let now = 0;
    ssm.failing = true;
    try {
      const cold = new SsmTokenStore({ region: 'eu-west-1', parameterPath: path_, client, now: () => now });
      expect((await authorize(basic('steady', token), 'p/', cold)).kind).toBe('unavailable');
      ssm.failing = false;
      const warm = new SsmTokenStore({ region: 'eu-west-1', parameterPath: path_, client, now: () => now });
      expect((await authorize(basic('steady', token), 'p/', warm)).kind).toBe('granted');
      ssm.failing = true;
      now += 120_000;
      expect((await authorize(basic('steady', token), 'p/', warm)).kind).toBe('granted');
    } finally {
      ssm.failing = false;
    }
  });
});
