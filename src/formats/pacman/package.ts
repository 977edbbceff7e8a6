import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { type Compression, decompress } from '../compression';
import { check, PackageFormatError } from '../errors';
import { quote } from './fields';
import { parsePkgInfo, type PkgInfo } from './pkginfo';

/** Bounds for reading one package. */
export interface PackageLimits {
  /** Cap on the decompressed tar stream (decompression bombs). */
  readonly maxUncompressedBytes: number;
  /** Cap on the `.PKGINFO` member. */
  readonly maxPkginfoBytes: number;
  /** Cap on the number of archive members. */
  readonly maxEntries: number;
  /** Cap on one member path. */
  readonly maxPathLength: number;
}

/**
 * Defaults: 16 GiB decompressed (the largest Arch packages install a few GiB; reading is
 * streamed, so this bounds CPU time, not memory), 256 KiB `.PKGINFO` (makepkg writes a few
 * KiB), one million members, PATH_MAX paths.
 */
export const DEFAULT_PACKAGE_LIMITS: PackageLimits = {
  maxUncompressedBytes: 16 * 1024 ** 3,
  maxPkginfoBytes: 256 * 1024,
  maxEntries: 1_000_000,
  maxPathLength: 4096,
};

/** What the database needs from a package file. */
export interface PacmanPackage {
  readonly info: PkgInfo;
  /**
   * Member paths in archive order, metadata members (names starting with '.') left out, as
   * repo-add lists them for the files database (directories end in '/').
   */
  readonly files: readonly string[];
}

const PACKAGE_SUFFIX = /\.pkg\.tar(\.(gz|xz|zst|bz2|lz4|lzo|lrz|lz|Z))?$/;

/** Is `name` a pacman package file name (`*.pkg.tar`, `*.pkg.tar.zst`, ...)? */
export function isPackageFileName(name: string): boolean {
  return PACKAGE_SUFFIX.test(name);
}

/**
 * The compression of a package file from its name. Throws a PackageFormatError for suffixes
 * pacman knows but this reader does not (bzip2, lz4, lzo, lrzip, lzip, compress).
 */
export function packageCompression(name: string): Compression {
  const suffix = PACKAGE_SUFFIX.exec(name)?.[2];
  switch (suffix) {
    case undefined: return 'none';
    case 'gz': return 'gzip';
    case 'xz': return 'xz';
    case 'zst': return 'zstd';
    default: throw new PackageFormatError(`unsupported package compression .${suffix} (use .zst, .xz or .gz)`);
  }
}

/**
 * Reads a package archive as a stream: parses `.PKGINFO` and lists the members, holding only
 * tar headers and `.PKGINFO` in memory. Consumes `chunks` to the end on success. Throws a
 * PackageFormatError for a corrupt, truncated, oversized or invalid package.
 */
export async function readPacmanPackage(
  chunks: AsyncIterable<Uint8Array>,
  compression: Compression,
  limits: PackageLimits = DEFAULT_PACKAGE_LIMITS,
): Promise<PacmanPackage> {
  const input = Readable.from(decompress(chunks, compression, limits.maxUncompressedBytes));
  const extract = tarStream.extract();
  const feeding = pipeline(input, extract);
  // failures of the feeding side reach us through the entry iterator
  feeding.catch(() => undefined);

  let pkginfo: Buffer | undefined;
  const files: string[] = [];
  let entries = 0;
  try {
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      entries++;
      check(entries <= limits.maxEntries, `package has more than ${limits.maxEntries} archive members`);
      checkMemberPath(name, limits.maxPathLength);
      if (name === '.PKGINFO') {
        check(pkginfo === undefined, 'package has more than one .PKGINFO');
        check(type === 'file', `.PKGINFO is a ${type}, not a regular file`);
        check(size <= limits.maxPkginfoBytes,
          `.PKGINFO is ${size} bytes, more than the limit of ${limits.maxPkginfoBytes}`);
        pkginfo = await collect(entry);
      } else {
        if (!name.startsWith('.')) files.push(name);
        entry.resume();
      }
    }
    await feeding;
  } catch (e) {
    input.destroy();
    throw asFormatError(e);
  }
  check(pkginfo !== undefined, 'package has no .PKGINFO member (not a pacman package)');
  return { info: parsePkgInfo(pkginfo), files };
}

/**
 * Passes a byte stream through while measuring it, for the database's CSIZE and SHA256SUM,
 * which are of the package file as stored. `result()` is valid once the stream is consumed.
 */
export function measureStream(source: AsyncIterable<Uint8Array>): {
  chunks: AsyncIterable<Uint8Array>;
  result(): { size: number; sha256: string };
} {
  const hash = createHash('sha256');
  let size = 0;
  let done = false;
  async function* tee(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
    done = true;
  }
  return {
    chunks: tee(),
    result() {
      if (!done) throw new Error('measureStream: the stream was not consumed to the end');
      return { size, sha256: hash.digest('hex') };
    },
  };
}

// eslint-disable-next-line no-control-regex
const BAD_PATH_CHAR = /[\u0000-\u001f\u007f\ufffd]/;

function checkMemberPath(name: string, maxLength: number): void {
  check(name.length > 0, 'package has a member with an empty name');
  check(name.length <= maxLength, `package member name is longer than ${maxLength} characters`);
  if (BAD_PATH_CHAR.test(name)) throw new PackageFormatError(`package member name has a control character or invalid UTF-8: ${quote(name)}`);
  if (name.startsWith('/')) throw new PackageFormatError(`package member has an absolute path: ${quote(name)}`);
  if (name.includes('..') && name.split('/').includes('..')) throw new PackageFormatError(`package member path escapes the root: ${quote(name)}`);
}

/** Concatenates a stream (tar-stream's streamx streams yield untyped Buffers). */
async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part as Uint8Array);
  return Buffer.concat(parts);
}

function asFormatError(e: unknown): PackageFormatError {
  if (e instanceof PackageFormatError) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (message === 'Unexpected end of data') {
    return new PackageFormatError('truncated package: the tar archive ends inside a member', { cause: e });
  }
  return new PackageFormatError(`malformed package archive: ${message}`, { cause: e });
}
