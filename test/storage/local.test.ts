import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { storageContract } from './storage-contract';
import { InvalidKeyError } from '../../src/storage/keys';
import { LocalStorage, TEMP_FILE_PREFIX } from '../../src/storage/local';
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

/** Every file name under `dir`, recursively, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

storageContract('LocalStorage', async () => new LocalStorage(path.join(await tempDir(), 'root')), { enforcesConditions: true, listsInByteOrder: true });

storageContract('LocalStorage (durable)', async () => new LocalStorage(await tempDir(), { durable: true }), { enforcesConditions: true, listsInByteOrder: true });

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

  it('computes the etag of files written by others as their MD5, and notices changes', async () => {
    await fs.mkdir(path.join(root, 'in'), { recursive: true });
    await fs.writeFile(path.join(root, 'in/pkg.rpm'), 'from outside');
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    expect((await storage.head('in/pkg.rpm'))!.etag).toBe(md5('from outside'));
    await fs.writeFile(path.join(root, 'in/pkg.rpm'), 'changed from outside, longer');
    expect((await storage.head('in/pkg.rpm'))!.etag).toBe(md5('changed from outside, longer'));
  });

  it('never lists temporary files and refuses keys that look like them', async () => {
    await storage.put('a/real', 'x');
    await fs.writeFile(path.join(root, 'a', `${TEMP_FILE_PREFIX}abandoned`), 'partial');
    expect(await keysOf(storage.list(''))).toEqual(['a/real']);
    await expect(storage.put(`a/${TEMP_FILE_PREFIX}x`, 'x')).rejects.toThrow(InvalidKeyError);
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
