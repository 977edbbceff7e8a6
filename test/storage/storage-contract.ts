import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { InvalidKeyError } from '../../src/storage/keys';
import { PreconditionFailedError, scanObject, type ObjectInfo, type Storage } from '../../src/storage/storage';

export interface ContractOptions {
  /** Whether the backend enforces ifMatch / ifNoneMatch (s3rver ignores them). */
  readonly enforcesConditions: boolean;
  /**
   * Whether listings come in UTF-8 byte order of the whole key, as S3 and LocalStorage list.
   * s3rver does not: it walks its directory tree, so 'a/x' comes before 'a-b' there.
   */
  readonly listsInByteOrder: boolean;
  /**
   * Whether etags are the content's MD5, as S3 reports for single-part uploads. Otherwise
   * they are opaque version tags (LocalStorage: inode, size and times).
   */
  readonly md5Etags: boolean;
}

const md5 = (bytes: Uint8Array | string) => createHash('md5').update(bytes).digest('hex');

async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of iterable) out.push(info);
  return out;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Runs `action` over `items`, at most `limit` at a time. */
async function inBatches<T>(items: T[], limit: number, action: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(action));
}

/** Keys that break naive URL handling or path handling; all must round-trip. */
export const SPECIAL_KEYS = [
  'pool/main/h/hello/hello_1.0+git20240101~rc1-1_amd64.deb',
  'x86_64/foo-1:2.3-4.el9.x86_64.rpm',
  'dir with spaces/file name (1).txt',
  'unicode/päckage-ü-日本.apk',
  'odd/a%2Fb?c=d&e#f.txt',
  'odd/+plus+~tilde~:colon:@at$dollar!.pkg.tar.zst',
];

/**
 * The Storage contract every backend must meet. `create` returns an empty storage, fresh for
 * each test.
 */
export function storageContract(name: string, create: () => Promise<Storage>, options: ContractOptions): void {
  /** The etag of an object holding `content`: its MD5, or any non-empty tag. */
  const etagOf = (content: Uint8Array | string) => (options.md5Etags ? md5(content) : expect.stringMatching(/^\S+$/));
  describe(`${name}: Storage contract`, () => {
    let storage: Storage;
    beforeEach(async () => {
      storage = await create();
    });

    it('reports missing objects as undefined and lists nothing', async () => {
      expect(await storage.get('nope/missing.rpm')).toBeUndefined();
      expect(await storage.head('nope/missing.rpm')).toBeUndefined();
      expect(await storage.stream('nope/missing.rpm')).toBeUndefined();
      expect(await collect(storage.list(''))).toEqual([]);
      expect(await collect(storage.list('nope/'))).toEqual([]);
    });

    it('keeps user metadata with the version it was written with', async () => {
      const signature = Buffer.from('-----BEGIN PGP SIGNATURE-----\n\nwnUEABYKAB0WIQ==\n-----END PGP SIGNATURE-----\n').toString('base64');
      await storage.put('repodata/repomd.xml', '<repomd>1</repomd>', { metadata: { 'pkgrepo-signature': signature } });
      expect((await storage.head('repodata/repomd.xml'))?.metadata).toEqual({ 'pkgrepo-signature': signature });
      // listings do not carry metadata, and do not show where it is kept
      expect((await collect(storage.list('repodata/'))).map((i) => [i.key, i.metadata])).toEqual([['repodata/repomd.xml', undefined]]);
      // a new version has its own metadata, or none
      await storage.put('repodata/repomd.xml', '<repomd>2</repomd>', { metadata: { 'pkgrepo-signature': 'AAAA' } });
      expect((await storage.head('repodata/repomd.xml'))?.metadata).toEqual({ 'pkgrepo-signature': 'AAAA' });
      await storage.put('repodata/repomd.xml', '<repomd>3</repomd>');
      expect((await storage.head('repodata/repomd.xml'))?.metadata).toBeUndefined();
      await storage.put('repodata/repomd.xml', '<repomd>4</repomd>', { metadata: { 'pkgrepo-signature': 'BBBB' } });
      await storage.delete('repodata/repomd.xml');
      expect(await storage.head('repodata/repomd.xml')).toBeUndefined();
      expect(await collect(storage.list(''))).toEqual([]);
    });

    it('stores, describes and returns an object', async () => {
      const before = Date.now();
      const put = await storage.put('repo/a.txt', 'hello world\n');
      const bytes = await storage.get('repo/a.txt');
      expect(Buffer.from(bytes!).toString('utf8')).toBe('hello world\n');
      const head = await storage.head('repo/a.txt');
      expect(head).toMatchObject({ key: 'repo/a.txt', size: 12, etag: etagOf('hello world\n') });
      expect(put).toMatchObject({ key: 'repo/a.txt', size: 12, etag: head!.etag });
      // second precision on the server side, and a little clock skew between client and server
      expect(head!.lastModified.getTime()).toBeGreaterThan(before - 5_000);
      expect(head!.lastModified.getTime()).toBeLessThan(Date.now() + 5_000);
    });

    it('round-trips binary content byte for byte', async () => {
      const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const random = randomBytes(1024 * 1024);
      await storage.put('bin/all-bytes', allBytes);
      await storage.put('bin/random', random);
      expect(Buffer.compare(Buffer.from((await storage.get('bin/all-bytes'))!), Buffer.from(allBytes))).toBe(0);
      expect(Buffer.compare(Buffer.from((await storage.get('bin/random'))!), random)).toBe(0);
      expect((await storage.head('bin/random'))!.etag).toEqual(etagOf(random));
      expect((await storage.head('bin/random'))!.size).toBe(random.length);
    });

    it('streams an object', async () => {
      const content = randomBytes(300_000);
      await storage.put('s/big.bin', content);
      const stream = await storage.stream('s/big.bin');
      expect(stream).toBeInstanceOf(Readable);
      expect(Buffer.compare(await readAll(stream!), content)).toBe(0);
    });

    it('scans an object piece by piece, each piece seen once, in order', async () => {
      // larger than one piece of LocalStorage's scan, to cross a piece boundary
      const content = randomBytes(2.5 * 1024 ** 2);
      await storage.put('s/scanned.bin', content);
      await storage.put('s/empty', new Uint8Array(0));
      const hash = createHash('sha256');
      const copies: Buffer[] = [];
      // two scans at once: a storage that shares its read buffer must not mix them up
      const other = createHash('sha256');
      const [found, alsoFound] = await Promise.all([
        scanObject(storage, 's/scanned.bin', (piece) => {
          hash.update(piece);
          copies.push(Buffer.from(piece));
        }),
        scanObject(storage, 's/scanned.bin', (piece) => other.update(piece)),
      ]);
      expect([found, alsoFound]).toEqual([true, true]);
      expect(Buffer.compare(Buffer.concat(copies), content)).toBe(0);
      const expected = createHash('sha256').update(content).digest('hex');
      expect([hash.digest('hex'), other.digest('hex')]).toEqual([expected, expected]);
      let pieces = 0;
      expect(await scanObject(storage, 's/empty', () => pieces++)).toBe(true);
      expect(await scanObject(storage, 's/missing', () => pieces++)).toBe(false);
      expect(pieces).toBe(0);
      // what the visitor throws ends the scan and comes out as it is
      const stop = new Error('seen enough');
      let seen = 0;
      await expect(scanObject(storage, 's/scanned.bin', () => {
        seen++;
        throw stop;
      })).rejects.toBe(stop);
      expect(seen).toBe(1);
    });

    it('replaces an object on put, with a new etag', async () => {
      const first = await storage.put('m/manifest', 'one');
      const second = await storage.put('m/manifest', 'two, longer');
      expect(second.etag).not.toBe(first.etag);
      expect(Buffer.from((await storage.get('m/manifest'))!).toString()).toBe('two, longer');
      expect(await storage.head('m/manifest')).toMatchObject({ size: 11, etag: second.etag });
      expect(second.etag).toEqual(etagOf('two, longer'));
      expect((await collect(storage.list('m/'))).map((o) => o.key)).toEqual(['m/manifest']);
    });

    it('deletes objects; deleting a missing object is not an error', async () => {
      await storage.put('d/x', 'x');
      await storage.put('d/y', 'y');
      await storage.delete('d/x');
      await storage.delete('d/x');
      await storage.delete('never/was');
      expect(await storage.get('d/x')).toBeUndefined();
      expect(await storage.head('d/x')).toBeUndefined();
      expect((await collect(storage.list(''))).map((o) => o.key)).toEqual(['d/y']);
    });

    it('lists recursively in UTF-8 byte order, with the same facts as head', async () => {
      // a directory sorts among its siblings as name + '/': 'a-c' < 'a.b' < 'a/...' < 'a0'
      const keys = ['b', 'a/b', 'a-c', 'a.b', 'a0', 'B', 'a/c/d/e', 'a/ba', 'Z/z', 'é', 'a/c/d-e', 'a/c/d.e', 'a/c/d0', 'a/c/d/f'];
      await Promise.all(keys.map((k) => storage.put(k, `content of ${k}`)));
      const listed = await collect(storage.list(''));
      const byteOrder = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      if (options.listsInByteOrder) {
        expect(listed.map((o) => o.key)).toEqual(byteOrder);
      } else {
        expect(listed.map((o) => o.key).sort()).toEqual([...keys].sort());
      }
      for (const info of listed) {
        expect(info).toEqual(await storage.head(info.key));
        expect(info.etag).toEqual(etagOf(`content of ${info.key}`));
      }
    });

    it('lists by prefix, on and off "/" boundaries', async () => {
      const keys = ['pool/foo_1.deb', 'pool/foo_2.deb', 'pool/fab.deb', 'pool/sub/foo.deb', 'poolside', 'dists/stable/Release'];
      await Promise.all(keys.map((k) => storage.put(k, k)));
      const keysOf = async (prefix: string) => (await collect(storage.list(prefix))).map((o) => o.key);
      expect(await keysOf('pool/')).toEqual(['pool/fab.deb', 'pool/foo_1.deb', 'pool/foo_2.deb', 'pool/sub/foo.deb']);
      expect(await keysOf('pool/f')).toEqual(['pool/fab.deb', 'pool/foo_1.deb', 'pool/foo_2.deb']);
      expect(await keysOf('pool/foo_')).toEqual(['pool/foo_1.deb', 'pool/foo_2.deb']);
      expect(await keysOf('pool')).toEqual(['pool/fab.deb', 'pool/foo_1.deb', 'pool/foo_2.deb', 'pool/sub/foo.deb', 'poolside']);
      expect(await keysOf('dists/stable/Release')).toEqual(['dists/stable/Release']);
      expect(await keysOf('dists/stable/Release.gpg')).toEqual([]);
      expect(await keysOf('nothing/here/')).toEqual([]);
    });

    it('lists more than 1000 objects (several pages on S3) completely and in order', async () => {
      const keys = Array.from({ length: 1234 }, (_, i) => `many/pkg-${String(i).padStart(5, '0')}.rpm`);
      await inBatches(keys, 32, (k) => storage.put(k, k));
      await storage.put('other/outside', 'x');
      const listed = await collect(storage.list('many/'));
      expect(listed.length).toBe(keys.length);
      expect(listed.map((o) => o.key)).toEqual(keys);
      expect(listed[1233]).toMatchObject({ size: keys[1233].length, etag: etagOf(keys[1233]) });
    });

    it.each(SPECIAL_KEYS)('round-trips the key %s', async (key) => {
      const content = `content of ${key}`;
      await storage.put(key, content);
      expect(Buffer.from((await storage.get(key))!).toString()).toBe(content);
      expect(await storage.head(key)).toMatchObject({ key, size: Buffer.byteLength(content), etag: etagOf(content) });
      expect(Buffer.from(await readAll((await storage.stream(key))!)).toString()).toBe(content);
      expect((await collect(storage.list(''))).map((o) => o.key)).toEqual([key]);
      expect((await collect(storage.list(key))).map((o) => o.key)).toEqual([key]);
      await storage.delete(key);
      expect(await storage.head(key)).toBeUndefined();
    });

    it.each([
      ['', /empty/],
      ['/abs/path', /leading/],
      ['a//b', /empty path segment/],
      ['a/b/', /empty path segment/],
      ['../escape', /"\.\." segments/],
      ['a/../../b', /"\.\." segments/],
      ['a/./b', /"\." segments/],
      ['nul\0byte', /NUL/],
    ])('rejects the key %j', async (key, message) => {
      await expect(storage.put(key, 'x')).rejects.toThrow(InvalidKeyError);
      await expect(storage.put(key, 'x')).rejects.toThrow(message);
      await expect(storage.get(key)).rejects.toThrow(InvalidKeyError);
      await expect(storage.head(key)).rejects.toThrow(InvalidKeyError);
      await expect(storage.delete(key)).rejects.toThrow(InvalidKeyError);
    });

    it('rejects listing prefixes that escape', async () => {
      await expect(collect(storage.list('../'))).rejects.toThrow(InvalidKeyError);
      await expect(collect(storage.list('/abs'))).rejects.toThrow(InvalidKeyError);
    });

    if (options.enforcesConditions) {
      it('ifNoneMatch "*" writes only a new object', async () => {
        await storage.put('c/new', 'first', { ifNoneMatch: '*' });
        await expect(storage.put('c/new', 'second', { ifNoneMatch: '*' })).rejects.toThrow(PreconditionFailedError);
        expect(Buffer.from((await storage.get('c/new'))!).toString()).toBe('first');
      });

      it('ifMatch writes only over the expected version', async () => {
        const v1 = await storage.put('c/manifest', 'v1');
        const v2 = await storage.put('c/manifest', 'v2', { ifMatch: v1.etag });
        await expect(storage.put('c/manifest', 'v3', { ifMatch: v1.etag })).rejects.toThrow(PreconditionFailedError);
        await expect(storage.put('c/missing', 'v1', { ifMatch: v1.etag })).rejects.toThrow(PreconditionFailedError);
        expect(await storage.head('c/missing')).toBeUndefined();
        expect(await storage.head('c/manifest')).toMatchObject({ etag: v2.etag });
        await storage.put('c/manifest', 'v3', { ifMatch: `"${v2.etag}"` });
        expect(Buffer.from((await storage.get('c/manifest'))!).toString()).toBe('v3');
      });

      it('gives every version its own etag, even of the same size written quickly', async () => {
        const etags = [];
        for (let i = 0; i < 20; i++) etags.push((await storage.put('v/manifest', `version ${i % 10}`)).etag);
        expect(new Set(etags).size).toBe(etags.length);
        const current = etags[etags.length - 1];
        for (const stale of etags.slice(0, -1)) await expect(storage.put('v/manifest', 'late', { ifMatch: stale })).rejects.toThrow(PreconditionFailedError);
        await storage.put('v/manifest', 'on time', { ifMatch: current });
      });

      it('lets exactly one of many concurrent conditional writers win', async () => {
        const base = await storage.put('race/manifest', 'base');
        const racers = Array.from({ length: 12 }, (_, i) => i);
        const created = await Promise.allSettled(racers.map((i) => storage.put('race/new', `writer ${i}`, { ifNoneMatch: '*' })));
        const replaced = await Promise.allSettled(racers.map((i) => storage.put('race/manifest', `writer ${i}`, { ifMatch: base.etag })));
        for (const results of [created, replaced]) {
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          for (const r of results) {
            if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(PreconditionFailedError);
          }
        }
        const winner = replaced.findIndex((r) => r.status === 'fulfilled');
        expect(Buffer.from((await storage.get('race/manifest'))!).toString()).toBe(`writer ${winner}`);
      });
    }
  });
}
