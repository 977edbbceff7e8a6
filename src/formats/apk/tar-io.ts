import * as tar from 'tar-stream';
import { check, PackageFormatError } from '../errors';

/**
 * Thin adapters over tar-stream for the tars inside apk files: ustar headers (apk-tools
 * refuses anything without the `ustar` magic, and so does tar-stream), PAX `x` headers
 * merged into the entry they describe, GNU long names.
 */

/** One tar entry's header, PAX and GNU long-name records already applied. */
export interface TarEntryHeader {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  /** Offset just past this entry's data and padding, from the start of the tar. */
  readonly end: number;
}

/** One entry while walking a tar; its body is skipped unless `read` is called. */
export interface TarEntry {
  readonly header: TarEntryHeader;
  /** Collects the body; PackageFormatError when it is larger than `maxBytes`. */
  read(maxBytes: number): Promise<Buffer>;
}

const BLOCK = 512;

async function* chunksOf(source: Uint8Array | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) yield source;
  else yield* source;
}

function wrap(e: unknown, what: string): PackageFormatError {
  if (e instanceof PackageFormatError) return e;
  return new PackageFormatError(`${what}: ${(e as Error).message ?? String(e)}`, { cause: e });
}

function settled(target: object, events: string[]): Promise<void> {
  const stream = target as NodeJS.EventEmitter;
  return new Promise((resolve, reject) => {
    const done = (err?: unknown) => {
      for (const e of events) stream.off(e, done);
      stream.off('error', done);
      if (err instanceof Error) reject(err);
      else resolve();
    };
    for (const e of events) stream.once(e, done);
    stream.once('error', done);
  });
}

/**
 * Walks the entries of a tar (bodies not read are skipped without buffering). `what`
 * names the tar in error messages. Bad headers, truncation and more than `maxEntries`
 * entries raise PackageFormatError; errors of `source` pass through unchanged.
 */
export async function* tarEntries(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  what: string,
  maxEntries: number,
): AsyncGenerator<TarEntry> {
  const extract = tar.extract();
  let feedError: unknown;
  const feeding = (async () => {
    try {
      for await (const chunk of chunksOf(source)) {
        if (extract.destroyed) return;
        if (!extract.write(chunk)) await settled(extract, ['drain', 'close']).catch(() => undefined);
      }
      extract.end(undefined);
    } catch (e) {
      feedError = e;
      extract.destroy(e as Error);
    }
  })();

  let count = 0;
  try {
    for await (const entry of extract) {
      count++;
      check(count <= maxEntries, `${what} has more than ${maxEntries} entries`);
      const h = entry.header;
      const size = h.size ?? 0;
      let consumed = false;
      // listen before the consumer runs: the entry may end, or be destroyed, while it holds it
      let reachedEnd = false;
      entry.once('end', () => {
        reachedEnd = true;
      });
      const finished = settled(entry, ['end', 'close']).catch(() => undefined);
      yield {
        header: {
          name: h.name,
          type: h.type ?? 'file',
          size,
          end: ((h as { byteOffset?: number }).byteOffset ?? 0) + Math.ceil(size / BLOCK) * BLOCK,
        },
        read: async (maxBytes) => {
          check(h.type !== 'directory', `${what}: ${h.name} is a directory, not a file`);
          check(size <= maxBytes, `${what}: ${h.name} is ${size} bytes, more than the limit of ${maxBytes}`);
          consumed = true;
          const parts: Buffer[] = [];
          try {
            for await (const part of entry) parts.push(part as Buffer);
          } catch (e) {
            // the entry stream only reports "destroyed"; a failing source passes through unchanged
            throw feedError ?? new PackageFormatError(`${what}: ${h.name} ends before its ${size} bytes: truncated or corrupt tar`, { cause: e });
          }
          return Buffer.concat(parts);
        },
      };
      // tar-stream never ends the body stream of a directory entry (it has none, whatever its size says)
      if (!consumed && h.type !== 'directory') {
        entry.resume();
        await finished;
        // 'close' without 'end': the extract was destroyed under the entry (the tar ends inside it)
        if (!reachedEnd) throw feedError ?? new PackageFormatError(`${what}: ${h.name} ends before its ${size} bytes: truncated or corrupt tar`);
      }
    }
  } catch (e) {
    extract.destroy(null);
    await feeding;
    throw feedError ?? wrap(e, what);
  } finally {
    if (!extract.destroyed) extract.destroy(null);
  }
  await feeding;
  if (feedError) throw feedError;
}

/** A file to put into a tar. */
export interface TarFile {
  readonly name: string;
  readonly data: Uint8Array;
  readonly mtime: Date;
}

/**
 * A ustar archive of regular files owned by root:root, mode 0644 (as `apk index` and
 * abuild-sign write them). With `endOfArchive: false` the two zero blocks that end a tar
 * are left out (abuild-tar --cut), so another gzip member can continue the tar stream.
 */
export async function packTar(files: readonly TarFile[], endOfArchive: boolean): Promise<Buffer> {
  const pack = tar.pack();
  const parts: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => {
      parts.push(c as Buffer);
    });
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const f of files) {
    pack.entry({ name: f.name, size: f.data.length, mode: 0o644, mtime: f.mtime, uid: 0, gid: 0, uname: 'root', gname: 'root', type: 'file' },
      Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength));
  }
  pack.finalize();
  await done;
  const all = Buffer.concat(parts);
  return endOfArchive ? all : all.subarray(0, all.length - 2 * BLOCK);
}
