import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStorage } from '../../src/storage/local';
import { MeteredStorage } from '../../src/storage/metered';

describe('MeteredStorage', () => {
  let dir: string;
  let metered: MeteredStorage;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(tmpdir(), 'pkgrepo-metered-'));
    metered = new MeteredStorage(new LocalStorage(dir));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('counts writes and written bytes (UTF-8 for strings)', async () => {
    await metered.put('a', 'héllo');
    await metered.put('b', new Uint8Array(1000));
    await expect(metered.put('a', 'x', { ifNoneMatch: '*' })).rejects.toThrow();
    expect(metered).toMatchObject({ writes: 2, bytesWritten: 1006, keysWritten: ['a', 'b'], reads: 0, bytesRead: 0 });
  });

  it('counts get calls that found an object, and their bytes', async () => {
    await metered.put('pkg.rpm', new Uint8Array(4096));
    await metered.put('repodata/repomd.xml', '<repomd/>');
    metered.reset();
    await metered.get('pkg.rpm');
    await metered.get('missing');
    await metered.head('pkg.rpm');
    for await (const _ of metered.list('')) { /* listing is not reading */ }
    await metered.get('repodata/repomd.xml');
    expect(metered).toMatchObject({ reads: 2, bytesRead: 4096 + 9, keysRead: ['pkg.rpm', 'repodata/repomd.xml'], writes: 0 });
  });

  it('counts scans that found an object and the bytes they delivered, over a storage with or without scan', async () => {
    const inner = new LocalStorage(dir);
    // the same storage seen without its own scan: scanObject falls back to its stream
    const streamOnly = new MeteredStorage({
      get: (k) => inner.get(k),
      stream: (k) => inner.stream(k),
      head: (k) => inner.head(k),
      put: (k, b, o) => inner.put(k, b, o),
      delete: (k) => inner.delete(k),
      list: (p) => inner.list(p),
    });
    await metered.put('pkg.rpm', new Uint8Array(3 * 1024 * 1024));
    for (const storage of [metered, streamOnly]) {
      storage.reset();
      let delivered = 0;
      expect(await storage.scan('pkg.rpm', (piece) => { delivered += piece.length; })).toBe(true);
      expect(await storage.scan('missing', () => undefined)).toBe(false);
      expect(storage).toMatchObject({ reads: 1, bytesRead: delivered, keysRead: ['pkg.rpm'] });
      expect(delivered).toBe(3 * 1024 * 1024);
      // a reader that stops early: what it was given counts
      let first = 0;
      await expect(storage.scan('pkg.rpm', (piece) => {
        first = piece.length;
        throw new Error('enough');
      })).rejects.toThrow('enough');
      expect(storage).toMatchObject({ reads: 2, bytesRead: delivered + first, keysRead: ['pkg.rpm', 'pkg.rpm'] });
    }
  });

  it('counts only the stream bytes actually consumed', async () => {
    await metered.put('big', new Uint8Array(1024 * 1024));
    metered.reset();
    const stream = (await metered.stream('big'))!;
    expect(metered).toMatchObject({ reads: 1, keysRead: ['big'], bytesRead: 0 });
    let consumed = 0;
    for await (const chunk of stream) {
      consumed += (chunk as Buffer).length;
      if (consumed >= 100_000) break; // leaving the loop destroys the stream
    }
    expect(metered.bytesRead).toBe(consumed);
    expect(consumed).toBeLessThan(1024 * 1024);
    expect(await metered.stream('missing')).toBeUndefined();
    expect(metered.reads).toBe(1);
  });

  it('counts a full stream exactly and passes source errors on', async () => {
    await metered.put('file', new Uint8Array(300_000));
    metered.reset();
    let total = 0;
    for await (const chunk of (await metered.stream('file'))!) total += (chunk as Buffer).length;
    expect(total).toBe(300_000);
    expect(metered.bytesRead).toBe(300_000);


    // a failing source must fail the consumer
    class BrokenDisk extends LocalStorage {
      public override async stream(): Promise<Readable> {
        return Readable.from((async function* () {
          yield Buffer.alloc(10);
          throw new Error('disk gone');
        })());
      }
    }
    const broken = new MeteredStorage(new BrokenDisk(dir));
    const consume = async () => {
      for await (const _ of (await broken.stream('file'))!) { /* drain */ }
    };
    await expect(consume()).rejects.toThrow('disk gone');
    expect(broken.bytesRead).toBe(10);
  });
});
