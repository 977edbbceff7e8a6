/**
 * A LocalStorage whose `list` and `head` describe files by `stat` alone, with a stand-in etag
 * instead of reading every file for its MD5 as LocalStorage does. The engine never uses
 * etags; S3 lists them for free. The benchmark runs our indexer over this storage as well,
 * to separate the engine's own cost from LocalStorage's MD5 listing (see BENCHMARKS.md).
 * Reads and writes go to LocalStorage unchanged. Benchmark trees only: no symlink checks.
 */
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { compareKeys } from '../src/storage/keys';
import { LocalStorage, TEMP_FILE_PREFIX } from '../src/storage/local';
import type { ObjectInfo, PutOptions, Storage } from '../src/storage/storage';

export class StatListedStorage implements Storage {
  private readonly local: LocalStorage;

  constructor(private readonly rootDir: string) {
    this.local = new LocalStorage(rootDir);
  }

  public get(key: string): Promise<Uint8Array | undefined> {
    return this.local.get(key);
  }

  public stream(key: string): Promise<Readable | undefined> {
    return this.local.stream(key);
  }

  public async head(key: string): Promise<ObjectInfo | undefined> {
    return this.describe(key);
  }

  public put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<ObjectInfo> {
    return this.local.put(key, body, options);
  }

  public delete(key: string): Promise<void> {
    return this.local.delete(key);
  }

  public async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const keys: string[] = [];
    const walk = async (dirKey: string): Promise<void> => {
      const entries = await readdir(path.join(this.rootDir, dirKey), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (e.name.startsWith(TEMP_FILE_PREFIX)) continue;
        const key = dirKey + e.name;
        if (e.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(`${key}/`);
        } else if (e.isFile() && key.startsWith(prefix)) {
          keys.push(key);
        }
      }
    };
    await walk(base);
    keys.sort(compareKeys);
    for (const key of keys) {
      const info = await this.describe(key);
      if (info) yield info;
    }
  }

  private async describe(key: string): Promise<ObjectInfo | undefined> {
    const s = await stat(path.join(this.rootDir, key)).catch(() => undefined);
    if (!s?.isFile()) return undefined;
    return { key, size: s.size, lastModified: s.mtime, etag: `${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}` };
  }
}
