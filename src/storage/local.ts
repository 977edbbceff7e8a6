import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats, Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { checkKey, checkPrefix, compareKeys, InvalidKeyError } from './keys';
import { PreconditionFailedError, type ObjectInfo, type PutOptions, type Storage } from './storage';

/** Name prefix of the temporary files `put` writes before renaming them into place; never listed. */
export const TEMP_FILE_PREFIX = '.pkgrepo-tmp-';

/** How many computed etags a LocalStorage remembers (by inode, size and times). */
const ETAG_CACHE_LIMIT = 65_536;

export interface LocalStorageOptions {
  /**
   * fsync every written file and its directory before `put` returns, so a crash right after
   * a publish cannot leave an empty manifest behind.
   * @default false
   */
  readonly durable?: boolean;
}

interface CachedEtag {
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly etag: string;
}

/**
 * Queues of pending writes per absolute file path, shared by every LocalStorage of this
 * process: a conditional `put` checks its precondition and renames while holding its path.
 */
const pathQueues = new Map<string, Promise<void>>();

async function exclusive<T>(file: string, action: () => Promise<T>): Promise<T> {
  const previous = pathQueues.get(file);
  let release!: () => void;
  const mine = new Promise<void>((resolve) => { release = resolve; });
  const tail = previous ? previous.then(() => mine) : mine;
  pathQueues.set(file, tail);
  try {
    if (previous) await previous;
    return await action();
  } finally {
    release();
    if (pathQueues.get(file) === tail) pathQueues.delete(file);
  }
}

function errorCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Errors that mean "there is no such object" when resolving a key's path. */
function isMissing(e: unknown): boolean {
  const code = errorCode(e);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EISDIR';
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith(`..${path.sep}`) && relative !== '..' && !path.isAbsolute(relative));
}

/**
 * Opens `file` for reading when it resolves (through symlinks) to a regular file inside
 * `realRoot`; undefined otherwise.
 */
async function openFileInside(file: string, realRoot: string): Promise<fs.FileHandle | undefined> {
  let handle: fs.FileHandle;
  try {
    const real = await fs.realpath(file);
    if (!isInside(realRoot, real)) return undefined;
    handle = await fs.open(real, 'r');
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    return undefined;
  }
  return handle;
}

function parentIsFile(key: string, dir: string): Error {
  return new Error(`cannot write ${key}: ${dir} or one of its parents is a file (a key cannot name both an object and a prefix locally)`);
}

function md5Hex(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

function asUint8Array(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

/**
 * A Storage in a local directory: key `a/b/c.rpm` is the file `<rootDir>/a/b/c.rpm`.
 *
 * - `put` writes a hidden temporary file (`.pkgrepo-tmp-*`) in the target directory and
 *   renames it into place, so readers see the old or the new bytes, never a mix.
 * - etags are the hex MD5 of the content, as S3 reports for single-part uploads. They are
 *   computed by reading the file and remembered per inode, size and change time, so the
 *   first `head`/`list` of a large tree reads every file once.
 * - Conditional writes (`ifNoneMatch`, `ifMatch`) are exclusive within this process only:
 *   the check and the rename run in a per-file queue. Two processes writing the same
 *   directory can both pass a check; use S3 when several writers run at once.
 * - Nothing outside `rootDir` is read, written or listed, and no directory link is
 *   followed: a symlink to a file inside the root reads as that file; symlinks that leave
 *   the root, symlinked directories and everything behind them do not exist as objects, and
 *   writing through a symlinked directory is refused.
 * - Content-Type and Cache-Control are accepted and not stored: a directory has no place
 *   for them.
 * - A directory emptied by `delete` is removed, so a key may later name a file there.
 */
export class LocalStorage implements Storage {
  /** The absolute root directory. */
  public readonly rootDir: string;
  private readonly durable: boolean;
  private readonly etagCache = new Map<string, CachedEtag>();

  constructor(rootDir: string, options: LocalStorageOptions = {}) {
    if (!rootDir) throw new Error('LocalStorage needs a root directory');
    this.rootDir = path.resolve(rootDir);
    this.durable = options.durable ?? false;
  }

  public async get(key: string): Promise<Uint8Array | undefined> {
    const handle = await this.openObject(key);
    if (!handle) return undefined;
    try {
      return asUint8Array(await handle.readFile());
    } finally {
      await handle.close();
    }
  }

  public async stream(key: string): Promise<Readable | undefined> {
    const handle = await this.openObject(key);
    // the stream owns the handle and closes it at its end, on error and on destroy()
    return handle?.createReadStream();
  }

  public async head(key: string): Promise<ObjectInfo | undefined> {
    const handle = await this.openObject(key);
    if (!handle) return undefined;
    try {
      return await this.describe(handle, key);
    } finally {
      await handle.close();
    }
  }

  public async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<ObjectInfo> {
    const target = this.pathOf(key);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const temp = await this.writeTemp(key, path.dirname(target), bytes);
    try {
      return await exclusive(target, async () => {
        await this.checkPreconditions(key, options);
        try {
          await fs.rename(temp, target);
        } catch (e) {
          const code = errorCode(e);
          if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
            throw new Error(`cannot write ${key}: ${target} is a directory (a key cannot name both an object and a prefix locally)`);
          }
          throw e;
        }
        if (this.durable) await this.syncDirectory(path.dirname(target));
        const stats = await fs.stat(target, { bigint: true });
        const etag = md5Hex(bytes);
        this.remember(stats, etag);
        return { key, size: bytes.byteLength, lastModified: new Date(Number(stats.mtimeMs)), etag };
      });
    } catch (e) {
      await fs.rm(temp, { force: true });
      throw e;
    }
  }

  public async delete(key: string): Promise<void> {
    const target = this.pathOf(key);
    await exclusive(target, async () => {
      if (!(await this.isPlainDirectory(path.dirname(target)))) return;
      const stats = await fs.lstat(target).catch((e: unknown) => {
        if (isMissing(e)) return undefined;
        throw e;
      });
      if (!stats || stats.isDirectory()) return;
      await fs.rm(target, { force: true });
      await this.pruneEmptyDirectories(path.dirname(target));
    });
  }

  public async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    const realRoot = await this.realRoot();
    if (realRoot === undefined) return;
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash < 0 ? '' : prefix.slice(0, slash + 1);
    const baseDir = path.join(this.rootDir, ...baseKey.split('/').filter((s) => s !== ''));
    if (!(await this.isPlainDirectory(baseDir))) return;
    yield* this.walk(baseDir, baseKey, prefix, realRoot);
  }

  /** The file path of `key`, after checking the key. */
  private pathOf(key: string): string {
    checkKey(key);
    for (const segment of key.split('/')) {
      if (segment.startsWith(TEMP_FILE_PREFIX)) {
        throw new InvalidKeyError(key, `names starting with ${TEMP_FILE_PREFIX} are reserved for temporary files`);
      }
    }
    return path.join(this.rootDir, ...key.split('/'));
  }

  private async realRoot(): Promise<string | undefined> {
    try {
      return await fs.realpath(this.rootDir);
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  /**
   * Whether `dir` (a path under the root) is a directory reached without symbolic links:
   * its real path is the root's real path plus the same relative path.
   */
  private async isPlainDirectory(dir: string): Promise<boolean> {
    const realRoot = await this.realRoot();
    if (realRoot === undefined) return false;
    try {
      const real = await fs.realpath(dir);
      return real === path.join(realRoot, path.relative(this.rootDir, dir)) && (await fs.stat(real)).isDirectory();
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }

  /** Opens the regular file behind `key`, or undefined when there is none (see the class notes on symlinks). */
  private async openObject(key: string): Promise<fs.FileHandle | undefined> {
    const file = this.pathOf(key);
    const realRoot = await this.realRoot();
    if (realRoot === undefined || !(await this.isPlainDirectory(path.dirname(file)))) return undefined;
    return openFileInside(file, realRoot);
  }

  private async describe(handle: fs.FileHandle, key: string): Promise<ObjectInfo> {
    const stats = await handle.stat({ bigint: true });
    return {
      key,
      size: Number(stats.size),
      lastModified: new Date(Number(stats.mtimeMs)),
      etag: await this.etagOf(handle, stats),
    };
  }

  private async etagOf(handle: fs.FileHandle, stats: BigIntStats): Promise<string> {
    const cached = this.etagCache.get(`${stats.dev}:${stats.ino}`);
    if (cached && cached.size === stats.size && cached.mtimeNs === stats.mtimeNs && cached.ctimeNs === stats.ctimeNs) {
      return cached.etag;
    }
    const hash = createHash('md5');
    const buffer = Buffer.alloc(64 * 1024);
    let position = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    const etag = hash.digest('hex');
    this.remember(stats, etag);
    return etag;
  }

  private remember(stats: BigIntStats, etag: string): void {
    const id = `${stats.dev}:${stats.ino}`;
    this.etagCache.delete(id);
    if (this.etagCache.size >= ETAG_CACHE_LIMIT) {
      const oldest = this.etagCache.keys().next();
      if (!oldest.done) this.etagCache.delete(oldest.value);
    }
    this.etagCache.set(id, { size: stats.size, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs, etag });
  }

  private async checkPreconditions(key: string, options: PutOptions): Promise<void> {
    if (options.ifNoneMatch === undefined && options.ifMatch === undefined) return;
    const current = await this.head(key);
    if (options.ifNoneMatch !== undefined && current) {
      throw new PreconditionFailedError(key, 'the object already exists (If-None-Match: *)');
    }
    if (options.ifMatch !== undefined) {
      const expected = stripQuotes(options.ifMatch);
      if (!current) throw new PreconditionFailedError(key, `the object does not exist (If-Match: ${expected})`);
      if (current.etag !== expected) throw new PreconditionFailedError(key, `its etag is ${current.etag}, not ${expected} (If-Match)`);
    }
  }

  /**
   * Creates `dir` (refusing to create anything outside the root) and writes `bytes` to a new
   * temporary file in it. Retries when a concurrent `delete` removes the emptied directory.
   */
  private async writeTemp(key: string, dir: string, bytes: Uint8Array): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      await this.makeDirectory(key, dir);
      const temp = path.join(dir, `${TEMP_FILE_PREFIX}${randomBytes(8).toString('hex')}`);
      try {
        const handle = await fs.open(temp, 'wx');
        try {
          await handle.writeFile(bytes);
          if (this.durable) await handle.sync();
        } finally {
          await handle.close();
        }
        return temp;
      } catch (e) {
        await fs.rm(temp, { force: true });
        if (errorCode(e) !== 'ENOENT' || attempt >= 3) throw e;
      }
    }
  }

  /** mkdir -p for `dir`, after checking that its deepest existing ancestor is reached without symlinks. */
  private async makeDirectory(key: string, dir: string): Promise<void> {
    await fs.mkdir(this.rootDir, { recursive: true });
    const realRoot = await fs.realpath(this.rootDir);
    let existing = dir;
    for (;;) {
      let real: string;
      try {
        real = await fs.realpath(existing);
      } catch (e) {
        if (errorCode(e) === 'ENOTDIR') throw parentIsFile(key, dir);
        if (errorCode(e) !== 'ENOENT' || existing === this.rootDir) throw e;
        existing = path.dirname(existing);
        continue;
      }
      if (real !== path.join(realRoot, path.relative(this.rootDir, existing))) {
        throw new Error(`cannot write ${key}: ${existing} is reached through a symbolic link (LocalStorage follows no directory links)`);
      }
      break;
    }
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (e) {
      const code = errorCode(e);
      if (code === 'ENOTDIR' || code === 'EEXIST') throw parentIsFile(key, dir);
      throw e;
    }
  }

  private async syncDirectory(dir: string): Promise<void> {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Removes `dir` and its parents, up to (not including) the root, while they are empty. */
  private async pruneEmptyDirectories(dir: string): Promise<void> {
    for (let current = dir; current !== this.rootDir && isInside(this.rootDir, current); current = path.dirname(current)) {
      try {
        await fs.rmdir(current);
      } catch {
        return; // not empty (or already gone, or not ours to remove): stop
      }
    }
  }

  /**
   * Yields the objects under `dir` (whose keys start with `keyPrefix`) that match `filter`,
   * in UTF-8 byte order of their keys: a directory sorts as its name plus '/'.
   */
  private async *walk(dir: string, keyPrefix: string, filter: string, realRoot: string): AsyncGenerator<ObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    const items: { name: string; sortName: string; directory: boolean }[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_FILE_PREFIX)) continue;
      if (entry.isDirectory()) {
        items.push({ name: entry.name, sortName: `${entry.name}/`, directory: true });
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        items.push({ name: entry.name, sortName: entry.name, directory: false });
      }
    }
    items.sort((a, b) => compareKeys(a.sortName, b.sortName));
    for (const item of items) {
      const key = keyPrefix + item.name;
      const file = path.join(dir, item.name);
      if (item.directory) {
        const subPrefix = `${key}/`;
        if (subPrefix.startsWith(filter) || filter.startsWith(subPrefix)) yield* this.walk(file, subPrefix, filter, realRoot);
      } else if (key.startsWith(filter)) {
        const info = await this.describeFile(file, key, realRoot);
        if (info) yield info;
      }
    }
  }

  /** Describes a listed file or symlink, or undefined when it is not a regular file inside the root. */
  private async describeFile(file: string, key: string, realRoot: string): Promise<ObjectInfo | undefined> {
    const handle = await openFileInside(file, realRoot);
    if (!handle) return undefined;
    try {
      return await this.describe(handle, key);
    } finally {
      await handle.close();
    }
  }
}
