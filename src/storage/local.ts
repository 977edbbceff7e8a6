import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, openSync, read as readCallback, readdirSync, readFileSync, readSync, realpathSync, statSync, type Dirent, type Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { checkKey, checkPrefix, compareKeys, InvalidKeyError } from './keys';
import { PreconditionFailedError, type ObjectInfo, type PutOptions, type Storage } from './storage';

/** Name prefix of the temporary files `put` writes before renaming them into place; never listed. */
export const TEMP_FILE_PREFIX = '.pkgrepo-tmp-';

/**
 * Name prefix of the hidden folder, beside an object, that holds its user metadata
 * (`.pkgrepo-meta-<name>/`, one small JSON file per version that had any); never listed.
 */
export const METADATA_FOLDER_PREFIX = '.pkgrepo-meta-';

/**
 * Metadata files kept per object: the current version's and the ones before it, for a reader
 * that looked at the object a moment before it was replaced.
 */
const METADATA_GENERATIONS = 3;

export interface LocalStorageOptions {
  /**
   * fsync every written file and its directory before `put` returns, so a crash right after
   * a publish cannot leave an empty manifest behind.
   * @default false
   */
  readonly durable?: boolean;
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

/** The real path of `file`, or undefined when it does not resolve (missing, a loop, a file in the way). */
async function realpathOf(file: string): Promise<string | undefined> {
  try {
    return await fs.realpath(file);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

/** Stats of `file` (a link's target), or undefined when it is gone. */
async function statOf(file: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(file);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

/**
 * The etag of a file: its device, inode, size and modification and change times (in
 * milliseconds with their fraction: a quarter of a microsecond at today's dates). `put` replaces a file by renaming a new one (a new inode, which exists while
 * the old one still does) and sets a modification time no earlier write of this process
 * had, so every version gets its own etag without reading a byte; a write in place by
 * another program changes the times or the size.
 */
function etagOf(stats: Stats): string {
  return `${stats.dev.toString(16)}-${stats.ino.toString(16)}-${stats.size.toString(16)}-${stats.mtimeMs}-${stats.ctimeMs}`;
}

function infoOf(key: string, stats: Stats): ObjectInfo {
  return { key, size: stats.size, lastModified: new Date(stats.mtimeMs), etag: etagOf(stats) };
}

/**
 * The file name of one version's metadata: the parts of its etag that a rename keeps (inode,
 * size, the modification time `put` set), so the metadata written beside the temporary file
 * belongs to the object it becomes.
 */
function metadataFileOf(stats: Stats): string {
  return `${stats.ino.toString(16)}-${stats.size.toString(16)}-${stats.mtimeMs}.json`;
}

function metadataFolderOf(file: string): string {
  return path.join(path.dirname(file), `${METADATA_FOLDER_PREFIX}${path.basename(file)}`);
}

/** Parses a metadata file's content: an object of string values, or undefined. */
function parseMetadata(text: string): Record<string, string> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const entries = Object.entries(value as Record<string, unknown>);
    return entries.every(([, v]) => typeof v === 'string') ? Object.fromEntries(entries) as Record<string, string> : undefined;
  } catch {
    return undefined;
  }
}

/** The last modification time `put` gave a file, microseconds since the epoch. */
let lastWriteMicros = 0;

/** A modification time later than every earlier one this process wrote, seconds (microsecond steps). */
function uniqueWriteTime(): number {
  lastWriteMicros = Math.max(Date.now() * 1000, lastWriteMicros + 1);
  return lastWriteMicros / 1e6;
}

/**
 * The whole content of an open regular file of `size` bytes, read with `read` (a pread of
 * `length` bytes into `buffer` at `offset`, from file position `position`; synchronous or
 * not): one read when the size still holds (a short read of a regular file means its end),
 * more when the file grew meanwhile.
 */
async function readAll(
  read: (buffer: Buffer, offset: number, length: number, position: number) => number | Promise<number>,
  size: number,
): Promise<Uint8Array> {
  let buffer = Buffer.allocUnsafeSlow(size + 1);
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      const bigger = Buffer.allocUnsafeSlow(buffer.length * 2);
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
    const wanted = buffer.length - length;
    const bytesRead = await read(buffer, length, wanted, length);
    length += bytesRead;
    if (bytesRead < wanted) break;
  }
  return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
}

function parentIsFile(key: string, dir: string): Error {
  return new Error(`cannot write ${key}: ${dir} or one of its parents is a file (a key cannot name both an object and a prefix locally)`);
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

/**
 * A Storage in a local directory: key `a/b/c.rpm` is the file `<rootDir>/a/b/c.rpm`.
 *
 * - `put` writes a hidden temporary file (`.pkgrepo-tmp-*`) in the target directory and
 *   renames it into place, so readers see the old or the new bytes, never a mix.
 * - etags are version tags made of the file's inode, size and times (see `etagOf`), not
 *   the MD5 S3 reports: `list` and `head` never read a file's content.
 * - Conditional writes (`ifNoneMatch`, `ifMatch`) are exclusive within this process only:
 *   the check and the rename run in a per-file queue. Two processes writing the same
 *   directory can both pass a check; use S3 when several writers run at once.
 * - Nothing outside `rootDir` is read, written or listed, and no directory link is
 *   followed: a symlink to a file inside the root reads as that file; symlinks that leave
 *   the root, symlinked directories and everything behind them do not exist as objects, and
 *   writing through a symlinked directory is refused.
 * - Content-Type and Cache-Control are accepted and not stored: a directory has no place
 *   for them. User metadata is (`.pkgrepo-meta-<name>/`, beside the file, written before the
 *   rename): `head` returns the metadata of the very version it describes.
 * - A directory emptied by `delete` is removed, so a key may later name a file there.
 * - A file reached without a link is looked up, opened, described and read synchronously
 *   (`get` up to 4 MiB, `scan`, `head`), and so are listings: from the cache that costs
 *   microseconds, against tens for each step through the thread pool. Once a read is slow
 *   enough to have waited for the disk, reads go through the thread pool for a moment, so that
 *   files not in the cache are read side by side (see readPlain). The event loop gets a turn
 *   every 10 ms of synchronous work. Larger files, and paths with a link, are read
 *   asynchronously throughout.
 */
export class LocalStorage implements Storage {
  /** The absolute root directory. */
  public readonly rootDir: string;
  private readonly durable: boolean;
  private knownRealRoot?: string;

  constructor(rootDir: string, options: LocalStorageOptions = {}) {
    if (!rootDir) throw new Error('LocalStorage needs a root directory');
    this.rootDir = path.resolve(rootDir);
    this.durable = options.durable ?? false;
  }

  public async get(key: string): Promise<Uint8Array | undefined> {
    const plain = await this.openPlain(key);
    if (plain === null) return undefined;
    if (plain !== undefined) {
      try {
        // a larger file is read through the thread pool below: one long read would hold the event loop
        if (plain.stats.size <= SYNC_READ_BYTES) return await readAll((...a) => readPlain(plain.fd, ...a), plain.stats.size);
      } finally {
        closeSync(plain.fd);
      }
    }
    const opened = await this.openObject(key);
    if (!opened) return undefined;
    try {
      return await readAll(async (...a) => (await opened.handle.read(...a)).bytesRead, opened.stats.size);
    } finally {
      await opened.handle.close();
    }
  }

  public async stream(key: string): Promise<Readable | undefined> {
    const opened = await this.openObject(key);
    // the stream owns the handle and closes it at its end, on error and on destroy()
    return opened?.handle.createReadStream();
  }

  public async scan(key: string, visit: (piece: Uint8Array) => void): Promise<boolean> {
    const plain = await this.openPlain(key);
    if (plain === null) return false;
    if (plain === undefined) {
      const stream = await this.stream(key);
      if (stream === undefined) return false;
      for await (const piece of stream as AsyncIterable<Uint8Array>) visit(piece);
      return true;
    }
    const buffer = scanBuffers.pop() ?? Buffer.allocUnsafeSlow(SCAN_PIECE_BYTES);
    try {
      // a short read of a regular file is its end
      for (let position = 0; ;) {
        const n = await readPlain(plain.fd, buffer, 0, buffer.length, position);
        if (n > 0) visit(buffer.subarray(0, n));
        position += n;
        if (n < buffer.length) break;
        await turnIfDue();
      }
      return true;
    } finally {
      closeSync(plain.fd);
      if (scanBuffers.length < SCAN_BUFFERS_KEPT) scanBuffers.push(buffer);
    }
  }

  public async head(key: string): Promise<ObjectInfo | undefined> {
    const plain = await this.resolvePlain(key);
    if (plain === null) return undefined;
    if (plain !== undefined) {
      // the usual case, synchronously (see openPlain)
      const stats = statSyncOf(plain);
      if (!stats?.isFile()) return undefined;
      const metadata = readMetadataSync(plain, stats);
      return { ...infoOf(key, stats), ...(metadata ? { metadata } : {}) };
    }
    const real = await this.resolveObject(key);
    const stats = real === undefined ? undefined : await statOf(real);
    if (!stats?.isFile()) return undefined;
    // beside the file itself: a symlinked object has its target's metadata
    const metadata = await this.readMetadata(real!, stats);
    return { ...infoOf(key, stats), ...(metadata ? { metadata } : {}) };
  }

  public async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<ObjectInfo> {
    const target = this.pathOf(key);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const temp = await this.writeTemp(key, path.dirname(target), bytes);
    try {
      if (options.metadata !== undefined) await this.writeMetadata(target, temp, options.metadata);
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
        const stats = await fs.stat(target);
        if (options.metadata !== undefined) await this.pruneMetadata(target, metadataFileOf(stats));
        return infoOf(key, stats);
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
      await fs.rm(metadataFolderOf(target), { recursive: true, force: true });
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
      if (segment.startsWith(METADATA_FOLDER_PREFIX)) {
        throw new InvalidKeyError(key, `names starting with ${METADATA_FOLDER_PREFIX} are reserved for object metadata`);
      }
    }
    return path.join(this.rootDir, ...key.split('/'));
  }

  /**
   * The real path of the root, looked up once it exists (every read checks paths against it: a
   * root replaced by a link later makes reads fail the check, never leave the old root).
   */
  private async realRoot(): Promise<string | undefined> {
    if (this.knownRealRoot !== undefined) return this.knownRealRoot;
    try {
      this.knownRealRoot = await fs.realpath(this.rootDir);
      return this.knownRealRoot;
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

  /**
   * The real path of the file `key` names, when it is one this storage may read (see the class
   * notes on symlinks); undefined otherwise. Not checked: that it is a regular file.
   */
  private async resolveObject(key: string): Promise<string | undefined> {
    const file = this.pathOf(key);
    const [realRoot, real] = await Promise.all([this.realRoot(), realpathOf(file)]);
    if (realRoot === undefined || real === undefined) return undefined;
    if (real === path.join(realRoot, path.relative(this.rootDir, file))) return real; // no link on the way
    // a symlinked file inside the root counts, a symlinked directory on the way does not
    return isInside(realRoot, real) && (await this.isPlainDirectory(path.dirname(file))) ? real : undefined;
  }

  /**
   * Opens the file behind `key` synchronously when no link is on its way, the common case: a
   * lookup in the cache costs microseconds, where each of realpath, open and fstat through the
   * thread pool costs tens (a full index reads thousands of packages). Null when there is no
   * such regular file; undefined when a link is on the way (the asynchronous path applies the
   * link rules). The caller closes the descriptor.
   */
  private async openPlain(key: string): Promise<{ readonly fd: number; readonly stats: Stats } | null | undefined> {
    const real = await this.resolvePlain(key);
    if (typeof real !== 'string') return real;
    let fd: number;
    try {
      fd = openSync(real, 'r');
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
    try {
      const stats = fstatSync(fd);
      if (stats.isFile()) return { fd, stats };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    closeSync(fd);
    return null;
  }

  /**
   * The real path of the file `key` names when no link is on its way, looked up synchronously
   * (see openPlain); null when there is no such file, undefined when a link is on the way.
   */
  private async resolvePlain(key: string): Promise<string | null | undefined> {
    const file = this.pathOf(key);
    await turnIfDue();
    const realRoot = await this.realRoot();
    if (realRoot === undefined) return null;
    let real: string;
    try {
      real = realpathSync.native(file);
    } catch (e) {
      if (isMissing(e)) return null;
      throw e;
    }
    return real === path.join(realRoot, path.relative(this.rootDir, file)) ? real : undefined;
  }

  /** Opens the regular file behind `key`, or undefined when there is none. */
  private async openObject(key: string): Promise<{ handle: fs.FileHandle; stats: Stats } | undefined> {
    const real = await this.resolveObject(key);
    if (real === undefined) return undefined;
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(real, 'r');
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
    const stats = await handle.stat();
    if (!stats.isFile()) {
      await handle.close();
      return undefined;
    }
    return { handle, stats };
  }

  /** The metadata `put` stored with the version of `file` that `stats` describes, if any. */
  private async readMetadata(file: string, stats: Stats): Promise<Record<string, string> | undefined> {
    let text: string;
    try {
      text = await fs.readFile(path.join(metadataFolderOf(file), metadataFileOf(stats)), 'utf8');
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
    return parseMetadata(text);
  }

  /** Writes the metadata of the version in `temp` (not yet renamed to `target`) beside it. */
  private async writeMetadata(target: string, temp: string, metadata: Readonly<Record<string, string>>): Promise<void> {
    const folder = metadataFolderOf(target);
    await fs.mkdir(folder, { recursive: true });
    const file = path.join(folder, metadataFileOf(await fs.stat(temp)));
    await fs.writeFile(file, JSON.stringify(metadata));
    if (this.durable) {
      const handle = await fs.open(file, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  }

  /** Removes the metadata of versions of `target` older than the last few (see METADATA_GENERATIONS). */
  private async pruneMetadata(target: string, current: string): Promise<void> {
    const folder = metadataFolderOf(target);
    const names = await fs.readdir(folder).catch(() => [] as string[]);
    // the name ends in the modification time put gave the version: newest first
    const mtime = (name: string) => Number(name.replace(/\.json$/, '').split('-')[2]);
    const older = names.filter((name) => name !== current).sort((a, b) => mtime(b) - mtime(a));
    for (const name of older.slice(METADATA_GENERATIONS - 1)) await fs.rm(path.join(folder, name), { force: true });
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
          const time = uniqueWriteTime();
          await handle.utimes(time, time);
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
      // synchronously, like the lstat of each file below (see the class notes)
      await turnIfDue();
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return;
      throw e;
    }
    const items: { name: string; sortName: string; directory: boolean; link: boolean }[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_FILE_PREFIX) || entry.name.startsWith(METADATA_FOLDER_PREFIX)) continue;
      // only what can match the filter is sorted and described (a prefix such as `repo.` in a
      // directory of 10,000 packages)
      if (entry.isDirectory()) {
        const subPrefix = `${keyPrefix}${entry.name}/`;
        if (subPrefix.startsWith(filter) || filter.startsWith(subPrefix)) items.push({ name: entry.name, sortName: `${entry.name}/`, directory: true, link: false });
      } else if ((entry.isFile() || entry.isSymbolicLink()) && (keyPrefix + entry.name).startsWith(filter)) {
        items.push({ name: entry.name, sortName: entry.name, directory: false, link: entry.isSymbolicLink() });
      }
    }
    items.sort((a, b) => compareKeys(a.sortName, b.sortName));
    for (const item of items) {
      const key = keyPrefix + item.name;
      const file = path.join(dir, item.name);
      if (item.directory) {
        yield* this.walk(file, `${key}/`, filter, realRoot);
        continue;
      }
      if (item.link) {
        const info = await this.describeLink(file, key, realRoot);
        if (info) yield info;
        continue;
      }
      // a plain file in a directory reached without links: a synchronous lstat of a cached
      // inode costs a few microseconds, a round trip through the thread pool tens
      const stats = lstatSyncOf(file);
      if (stats?.isFile()) yield infoOf(key, stats);
      await turnIfDue();
    }
  }

  /** Describes a listed symlink, or undefined when it is not one to a regular file inside the root. */
  private async describeLink(file: string, key: string, realRoot: string): Promise<ObjectInfo | undefined> {
    const real = await realpathOf(file);
    if (real === undefined || !isInside(realRoot, real)) return undefined;
    const stats = await statOf(real);
    return stats?.isFile() ? infoOf(key, stats) : undefined;
  }
}

/** Files up to this size are read by `get` with the synchronous lookups (metadata, most packages). */
const SYNC_READ_BYTES = 4 * 1024 ** 2;

/** `scan` reads this much at a time, into a buffer it takes from the ones earlier scans left. */
const SCAN_PIECE_BYTES = 1024 ** 2;

/** Buffers of finished scans kept for the next ones (scans at once take one each). */
const SCAN_BUFFERS_KEPT = 16;
const scanBuffers: Buffer[] = [];

/** A pread through the thread pool: bytes read into `buffer` at `offset`, from file position `position`. */
function readAt(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => readCallback(fd, buffer, offset, length, position, (e, n) => (e ? reject(e) : resolve(n))));
}

/**
 * A pread of a plain file: synchronous while reads come from the cache (microseconds, where a
 * round trip through the thread pool costs tens); through the thread pool for a while once one
 * was slow enough to have waited for the disk, so that reads of files not in the cache overlap.
 * A full index of 10,000 rpms from a cold cache took 4.5–7 s with synchronous reads and 4.4 s
 * so; with most files cached, 3.1 s, as synchronously (always through the pool: 3.7 s and 3.4 s).
 */
function readPlain(fd: number, buffer: Buffer, offset: number, length: number, position: number): number | Promise<number> {
  if (performance.now() < coldUntil) return readAt(fd, buffer, offset, length, position);
  const started = performance.now();
  const n = readSync(fd, buffer, offset, length, position);
  if (performance.now() - started > COLD_READ_MS + n / COLD_READ_BYTES_PER_MS) coldUntil = performance.now() + COLD_SPELL_MS;
  return n;
}

/** A read slower than this (plus the time to copy its bytes at half a GB/s) waited for the disk. */
const COLD_READ_MS = 2;
const COLD_READ_BYTES_PER_MS = 500_000;
/** How long reads go through the thread pool after one came from the disk. */
const COLD_SPELL_MS = 100;
let coldUntil = 0;

/**
 * Synchronous lookups follow one another (with the caller's own work between them) for at most
 * this long before the event loop gets a turn: timers, finished compressions on the thread
 * pool and a server's requests wait no longer than that.
 */
const SYNC_TURN_MS = 10;

let lastTurn = performance.now();

/** Waits for a turn of the event loop when reads have gone on without one for SYNC_TURN_MS. */
async function turnIfDue(): Promise<void> {
  if (performance.now() - lastTurn < SYNC_TURN_MS) return;
  await new Promise((resolve) => setImmediate(resolve));
  lastTurn = performance.now();
}

/** Stats of `file` (a link's target), or undefined when it is gone; synchronously. */
function statSyncOf(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

/** The metadata `put` stored with the version of `file` that `stats` describes, if any; synchronously. */
function readMetadataSync(file: string, stats: Stats): Record<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(metadataFolderOf(file), metadataFileOf(stats)), 'utf8');
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
  return parseMetadata(text);
}

/** Stats of `file` without following a link, or undefined when it is gone. */
function lstatSyncOf(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}
