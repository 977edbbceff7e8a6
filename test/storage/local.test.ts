import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { storageContract } from './storage-contract';
import { InvalidKeyError } from '../../src/storage/keys';
import { LocalStorage, METADATA_FOLDER_PREFIX, TEMP_FILE_PREFIX } from '../../src/storage/local';
import { PreconditionFailedError, type ObjectInfo } from '../../src/storage/storage';

const created: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(tmpdir(), 'pkgrepo-local-'));
  created.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(created.map((dir) => fs.rm(dir, { recursive: true, force: true })));
});

async function keysOf(iterable: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of iterable) keys.push(info.key);
  return keys;
}

/** Bytes this process has read through read(2) so far (`rchar`). */
function readBytes(): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

/** Every file name under `dir`, recursively, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

storageContract('LocalStorage', async () => new LocalStorage(path.join(await tempDir(), 'root')), { enforcesConditions: true, listsInByteOrder: true, md5Etags: false });

storageContract('LocalStorage (durable)', async () => new LocalStorage(await tempDir(), { durable: true }), { enforcesConditions: true, listsInByteOrder: true, md5Etags: false });

describe('LocalStorage', () => {
  let root: string;
  let storage: LocalStorage;
  beforeEach(async () => {
    root = path.join(await tempDir(), 'root');
    storage = new LocalStorage(root);
  });

  it('writes plain files at the key paths and leaves no temporary files', async () => {
    await storage.put('dists/stable/InRelease', 'signed');
    await storage.put('pool/main/h/hello_1.0+1~2_amd64.deb', new Uint8Array([1, 2, 3]));
    await expect(storage.put('dists/stable/InRelease', 'again', { ifNoneMatch: '*' })).rejects.toThrow(PreconditionFailedError);
    expect(await filesUnder(root)).toEqual(['dists/stable/InRelease', 'pool/main/h/hello_1.0+1~2_amd64.deb']);
    expect(await fs.readFile(path.join(root, 'dists/stable/InRelease'), 'utf8')).toBe('signed');
  });

  it('notices files changed by others in place: the etag follows size and times', async () => {
    await fs.mkdir(path.join(root, 'in'), { recursive: true });
    const file = path.join(root, 'in/pkg.rpm');
    await fs.writeFile(file, 'from outside');
    const first = (await storage.head('in/pkg.rpm'))!.etag;
    await fs.writeFile(file, 'changed from outside, longer');
    const second = (await storage.head('in/pkg.rpm'))!.etag;
    await fs.writeFile(file, 'changed from outside, LONGER');
    await fs.utimes(file, new Date(2_000_000_000_000), new Date(2_000_000_000_000));
    const third = (await storage.head('in/pkg.rpm'))!.etag;
    expect(new Set([first, second, third]).size).toBe(3);
    await expect(storage.put('in/pkg.rpm', 'mine', { ifMatch: second })).rejects.toThrow(PreconditionFailedError);
    await storage.put('in/pkg.rpm', 'mine', { ifMatch: third });
  });

  it('lists and heads without reading any content', async () => {
    const big = randomBytes(4 * 1024 ** 2);
    await Promise.all(Array.from({ length: 8 }, (_, i) => fs.mkdir(path.join(root, `d${i % 2}`), { recursive: true })
      .then(() => fs.writeFile(path.join(root, `d${i % 2}/f${i}`), big))));
    const before = readBytes();
    const listed = [];
    for await (const info of storage.list('')) listed.push(info);
    for (const info of listed) expect(await storage.head(info.key)).toEqual(info);
    expect(listed.map((o) => o.size)).toEqual(Array(8).fill(big.length));
    expect(readBytes() - before).toBeLessThan(big.length); // 64 MiB listed and described
  });

  it('never lists temporary files and refuses keys that look like them', async () => {
    await storage.put('a/real', 'x');
    await fs.writeFile(path.join(root, 'a', `${TEMP_FILE_PREFIX}abandoned`), 'partial');
    expect(await keysOf(storage.list(''))).toEqual(['a/real']);
    await expect(storage.put(`a/${TEMP_FILE_PREFIX}x`, 'x')).rejects.toThrow(InvalidKeyError);
  });

  it('keeps metadata in a hidden folder beside the object: current version and two before it, gone with the object', async () => {
    for (let i = 1; i <= 5; i++) await storage.put('repo/repomd.xml', `v${i}`, { metadata: { 'pkgrepo-signature': `c2lnJ${i}` } });
    const folder = path.join(root, 'repo', `${METADATA_FOLDER_PREFIX}repomd.xml`);
    expect(await fs.readdir(folder)).toHaveLength(3);
    expect((await storage.head('repo/repomd.xml'))?.metadata).toEqual({ 'pkgrepo-signature': 'c2lnJ5' });
    expect(await keysOf(storage.list(''))).toEqual(['repo/repomd.xml']);
    await expect(storage.put(`repo/${METADATA_FOLDER_PREFIX}x/y`, 'no')).rejects.toThrow(InvalidKeyError);
    // a file replaced by another program (here: copied over) has no metadata of its own
    await fs.copyFile(path.join(root, 'repo', 'repomd.xml'), path.join(root, 'copy'));
    await fs.rename(path.join(root, 'copy'), path.join(root, 'repo', 'repomd.xml'));
    expect((await storage.head('repo/repomd.xml'))?.metadata).toBeUndefined();
    await storage.delete('repo/repomd.xml');
    expect(await filesUnder(root)).toEqual([]);
  });

  it('removes directories emptied by delete, so the name can become an object', async () => {
    await storage.put('x/y/z', 'deep');
    await storage.delete('x/y/z');
    await expect(fs.stat(path.join(root, 'x'))).rejects.toThrow(/ENOENT/);
    await fs.stat(root);
    await storage.put('x', 'now a file');
    expect(await keysOf(storage.list(''))).toEqual(['x']);
  });

  it('explains a key that would need a file and a directory of the same name', async () => {
    await storage.put('a/b', 'file');
    await expect(storage.put('a/b/c', 'under a file')).rejects.toThrow(/is a file/);
    await storage.put('d/e/f', 'deep');
    await expect(storage.put('d/e', 'over a directory')).rejects.toThrow(/is a directory/);
    expect(await storage.get('d/e')).toBeUndefined();
    expect(await filesUnder(root)).toEqual(['a/b', 'd/e/f']);
  });

  it('reads symlinked files inside the root, follows no directory link, and ignores everything outside', async () => {
    const outside = await tempDir();
    await fs.writeFile(path.join(outside, 'secret'), 'outside the root');
    await fs.mkdir(path.join(outside, 'dir'));
    await fs.writeFile(path.join(outside, 'dir/file'), 'outside too');
    await storage.put('real/target', 'inside');
    await fs.symlink(path.join(root, 'real/target'), path.join(root, 'real/link-inside'));
    await fs.symlink(path.join(outside, 'secret'), path.join(root, 'real/link-outside'));
    await fs.symlink(path.relative(path.join(root, 'real'), outside), path.join(root, 'real/dotdot'));
    await fs.symlink(path.join(outside, 'dir'), path.join(root, 'linked-dir'));
    await storage.put('other/file', 'behind a directory link');
    await fs.symlink(path.join(root, 'other'), path.join(root, 'real/alias-dir'));
    await fs.symlink('.', path.join(root, 'real/loop'));

    expect(await keysOf(storage.list(''))).toEqual(['other/file', 'real/link-inside', 'real/target']);
    expect(await keysOf(storage.list('real/alias-dir/'))).toEqual([]);
    expect(await storage.get('real/alias-dir/file')).toBeUndefined();
    expect(await storage.head('real/loop/target')).toBeUndefined();
    await expect(storage.put('real/alias-dir/new', 'x')).rejects.toThrow(/symbolic link/);
    expect(Buffer.from((await storage.get('real/link-inside'))!).toString()).toBe('inside');
    expect(await storage.get('real/link-outside')).toBeUndefined();
    expect(await storage.head('real/link-outside')).toBeUndefined();
    expect(await storage.stream('real/link-outside')).toBeUndefined();
    // scan and get take a synchronous path for plain files: links on the way get the same rules
    const scanned = async (key: string) => {
      const pieces: Buffer[] = [];
      return (await storage.scan(key, (p) => pieces.push(Buffer.from(p)))) ? Buffer.concat(pieces).toString() : undefined;
    };
    expect(await scanned('real/link-inside')).toBe('inside');
    expect(await scanned('real/target')).toBe('inside');
    expect(await scanned('real/link-outside')).toBeUndefined();
    expect(await scanned('real/alias-dir/file')).toBeUndefined();
    expect(await scanned('real/loop/target')).toBeUndefined();
    expect(await scanned('real/dotdot/secret')).toBeUndefined();
    expect(await scanned('linked-dir/file')).toBeUndefined();
    expect(await scanned('real')).toBeUndefined();
    expect(await storage.get('linked-dir/file')).toBeUndefined();
    expect(await storage.get('real/dotdot/secret')).toBeUndefined();
    expect(await keysOf(storage.list('linked-dir/'))).toEqual([]);

    await expect(storage.put('linked-dir/new', 'escape')).rejects.toThrow(/symbolic link/);
    await expect(storage.put('linked-dir/sub/new', 'escape')).rejects.toThrow(/symbolic link/);
    await storage.delete('linked-dir/file');
    expect((await fs.readdir(outside, { recursive: true })).sort()).toEqual(['dir', 'dir/file', 'secret']); // nothing created outside
    await storage.delete('real/link-outside');
    expect(await fs.readFile(path.join(outside, 'secret'), 'utf8')).toBe('outside the root');
  });

  it('gives the event loop a turn during a long listing, which it reads synchronously', async () => {
    await fs.mkdir(path.join(root, 'many'), { recursive: true });
    await Promise.all(Array.from({ length: 400 }, (_, i) => fs.writeFile(path.join(root, 'many', `f${i}`), 'x')));
    const events: string[] = [];
    for await (const _ of storage.list('many/')) {
      // set once the files are being described, which happens without the thread pool
      if (events.length === 0) setTimeout(() => events.push('timer'), 0);
      // a consumer's work: 400 files take about 200 ms
      const until = performance.now() + 0.5;
      while (performance.now() < until) { /* busy */ }
      events.push('file');
    }
    events.push('end');
    expect(events.filter((e) => e === 'file')).toHaveLength(400);
    expect(events.indexOf('timer')).toBeGreaterThan(0);
    expect(events.indexOf('timer')).toBeLessThan(events.indexOf('end') - 1);
  });

  it('queues conditional writes across instances on the same directory', async () => {
    const other = new LocalStorage(root);
    const results = await Promise.allSettled([
      storage.put('shared/lock', 'one', { ifNoneMatch: '*' }),
      other.put('shared/lock', 'two', { ifNoneMatch: '*' }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(await filesUnder(root)).toEqual(['shared/lock']);
  });

  it('treats a missing root as empty and creates it on the first write', async () => {
    const fresh = new LocalStorage(path.join(root, 'not', 'yet'));
    expect(await keysOf(fresh.list(''))).toEqual([]);
    expect(await fresh.get('a')).toBeUndefined();
    await fresh.delete('a');
    await fresh.put('a', 'x');
    expect(await fs.readFile(path.join(root, 'not/yet/a'), 'utf8')).toBe('x');
  });
});
