/**
 * The layout of our own sync databases, which lets an update reuse what a previous run wrote
 * instead of re-reading and re-compressing every entry:
 *
 * - the entries (sorted by `<name>-<version>` directory) are cut into chunks at points that
 *   depend only on the directory names, so that adding or removing one package changes one
 *   chunk and leaves every other chunk, and its compressed bytes, as they were;
 * - each chunk is one gzip member (RFC 1952 §2.2: a gzip file is a series of members; libarchive,
 *   and so pacman, repo-add and bsdtar, read them as one stream) holding the chunk's tar members,
 *   and a last member holds the tar end-of-archive blocks. The `.db` and `.files` archives are cut
 *   the same way;
 * - every member carries a small FEXTRA subfield (`../gzip-members.ts`), `Pm`: writer version, entries in the member,
 *   member length, and for a `.files` member the CRC-32 of the `.db` member's tar bytes of the
 *   same chunk, which ties the two files together (a `.files` from one publish and a `.db` from
 *   another are never mixed up). Clients ignore the extra field.
 *
 * The tar members are plain ustar (a pax `path` record for names longer than 100 bytes), which
 * `splitChunk` reads back without a general tar parser.
 */
import * as zlib from 'node:zlib';
import { check, PackageFormatError } from '../errors';
import { chunkEndsAfter, gunzipMember, gzipTaggedMember, taggedMemberList, trailerCrc, type MemberTagKind } from '../gzip-members';
import { quote } from './fields';

/**
 * Version of the chunk layout and of the desc and files rendering. Bump it whenever either
 * changes, so that members of an older writer are rendered again, not reused.
 */
export const DB_WRITER_VERSION = 1;

/** Average entries per chunk. */
export const DB_CHUNK_TARGET = 64;
/** Most entries in one chunk (a cut is forced after this many). */
export const DB_CHUNK_MAX = 4 * DB_CHUNK_TARGET;

/** One database entry as tar members: its directory name, rendered `desc` and (files database) `files`. */
export interface RenderedEntry {
  /** `<name>-<version>`. */
  readonly directory: string;
  /** UTF-8 text of `desc` (`renderDesc`). */
  readonly desc: Uint8Array;
  /** UTF-8 text of `files` (`renderFiles`), when the entry has a file list. */
  readonly files?: Uint8Array;
}

/**
 * Whether a chunk ends after `directory`, the `length`th entry of its chunk: when the name's hash
 * is a multiple of the target, or the chunk is full. The same entries always give the same chunks.
 */
export function isDbChunkEnd(directory: string, length: number): boolean {
  return chunkEndsAfter(directory, length, DB_CHUNK_TARGET, DB_CHUNK_MAX);
}

/** Cut directories (in archive order) into chunks; returns the chunk lengths. */
export function dbChunkLengths(directories: readonly string[]): number[] {
  const lengths: number[] = [];
  let length = 0;
  for (const directory of directories) {
    length++;
    if (isDbChunkEnd(directory, length)) {
      lengths.push(length);
      length = 0;
    }
  }
  if (length > 0) lengths.push(length);
  return lengths;
}

/** Orders directory names by their UTF-8 bytes (the archive order). */
export function compareDirectories(a: string, b: string): number {
  // code points compare like UTF-8 bytes; UTF-16 code units do too below the surrogates, which
  // is every character of most names: no encoding (this sorts every entry of a database)
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 && y < 0xd800) return x < y ? -1 : 1;
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const BLOCK = 512;
/** The tar end-of-archive: two zero blocks. */
export const TAR_END = new Uint8Array(2 * BLOCK);
/** Largest tar member this writer writes (11 octal digits of size). */
const MAX_MEMBER = 8 ** 11 - 1;

function writeString(block: Buffer, text: string, at: number, length: number): void {
  block.write(text, at, length, 'utf8');
}

function writeOctal(block: Buffer, value: number, at: number, length: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, at, length, 'latin1');
}

/** One ustar header block. */
function ustarHeader(name: string, type: '0' | '5' | 'x', size: number, mode: number, mtime: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, name, 0, 100);
  writeOctal(block, mode, 100, 8);
  writeOctal(block, 0, 108, 8);
  writeOctal(block, 0, 116, 8);
  writeOctal(block, size, 124, 12);
  writeOctal(block, mtime, 136, 12);
  block.fill(0x20, 148, 156);
  block.write(type, 156, 1, 'latin1');
  block.write('ustar\u000000', 257, 8, 'latin1');
  writeString(block, 'root', 265, 32);
  writeString(block, 'root', 297, 32);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i];
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

/** A pax `path` record: `<length> path=<name>\n`, the length counting itself. */
function paxPathRecord(name: string): Buffer {
  const rest = Buffer.byteLength(` path=${name}\n`);
  let length = rest + 1;
  while (String(length).length + rest !== length) length = String(length).length + rest;
  return Buffer.from(`${length} path=${name}\n`, 'utf8');
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** Tar blocks of one member; a pax header first when the name does not fit in 100 bytes. */
function pushMember(out: Buffer[], name: string, type: '0' | '5', body: Uint8Array | undefined, mtime: number): void {
  const size = body?.length ?? 0;
  check(size <= MAX_MEMBER, `database member ${quote(name)} is ${size} bytes, more than a tar member holds`);
  const mode = type === '5' ? 0o755 : 0o644;
  if (Buffer.byteLength(name) > 100) {
    const record = paxPathRecord(name);
    out.push(ustarHeader('PaxHeader', 'x', record.length, 0o644, mtime), record, padding(record.length));
  }
  out.push(ustarHeader(name, type, size, mode, mtime));
  if (body !== undefined && size > 0) out.push(Buffer.from(body.buffer, body.byteOffset, body.byteLength), padding(size));
}

/**
 * The tar bytes of a run of entries (no end-of-archive): for each, the `<dir>/` directory, `<dir>/desc`
 * and, with `withFiles`, `<dir>/files` when the entry has a file list.
 */
export function chunkTar(entries: readonly RenderedEntry[], withFiles: boolean, mtime: Date): Buffer {
  const seconds = Math.max(0, Math.floor(mtime.getTime() / 1000));
  const out: Buffer[] = [];
  for (const entry of entries) {
    pushMember(out, `${entry.directory}/`, '5', undefined, seconds);
    pushMember(out, `${entry.directory}/desc`, '0', entry.desc, seconds);
    if (withFiles && entry.files !== undefined) pushMember(out, `${entry.directory}/files`, '0', entry.files, seconds);
  }
  return Buffer.concat(out);
}

/** Why a chunk was refused (messages are built only on failure: this runs for every member). */
function refuse(file: string, at: number, what: string): never {
  throw new PackageFormatError(`${file}: tar member at offset ${at} of a chunk ${what}`);
}

/** An octal tar number: up to 11 digits, then NUL or space padding (what `writeOctal` writes); -1 if it is not one. */
function readOctal(tar: Buffer, at: number, length: number): number {
  let value = 0;
  let i = at;
  for (; i < at + length && tar[i] >= 0x30 && tar[i] <= 0x37; i++) value = value * 8 + (tar[i] - 0x30);
  const digits = i - at;
  for (; i < at + length; i++) {
    if (tar[i] !== 0 && tar[i] !== 0x20) return -1;
  }
  return digits === 0 || digits > 11 ? -1 : value;
}

const USTAR_MAGIC = Buffer.from('ustar\0', 'latin1');

/** One tar member of a chunk: its name, type and body (a view of the chunk). */
function* tarMembers(tar: Buffer, file: string): Generator<{ name: string; type: number; body: Buffer }> {
  let at = 0;
  let paxPath: string | undefined;
  while (at < tar.length) {
    if (tar.length - at < BLOCK) refuse(file, at, 'is truncated');
    if (tar.compare(USTAR_MAGIC, 0, 6, at + 257, at + 263) !== 0) refuse(file, at, 'is not a ustar header');
    const claimed = readOctal(tar, at + 148, 8);
    let sum = 8 * 0x20;
    for (let i = at; i < at + 148; i++) sum += tar[i];
    for (let i = at + 156; i < at + BLOCK; i++) sum += tar[i];
    if (sum !== claimed) refuse(file, at, 'has a wrong header checksum');
    const size = readOctal(tar, at + 124, 12);
    if (size < 0) refuse(file, at, `has an invalid size ${quote(tar.toString('latin1', at + 124, at + 136))}`);
    const type = tar[at + 156];
    const start = at + BLOCK;
    if (size > tar.length - start) refuse(file, at, `claims ${size} bytes, ${tar.length - start} are left`);
    const next = start + size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (next > tar.length) refuse(file, at, 'is truncated');
    const body = tar.subarray(start, start + size);
    if (type === TYPE_PAX) {
      const record = /^\d+ path=(.*)\n$/s.exec(body.toString('utf8'));
      if (record === null || paxPath !== undefined) refuse(file, at, 'is an unexpected pax header');
      paxPath = record[1];
    } else {
      const nul = tar.indexOf(0, at);
      const name = paxPath ?? tar.toString('utf8', at, nul < 0 || nul > at + 100 ? at + 100 : nul);
      paxPath = undefined;
      yield { name, type, body };
    }
    at = next;
  }
  check(paxPath === undefined, `${file}: a chunk ends with a pax header`);
}

/** Type flags: regular file, directory, pax extended header. */
const TYPE_FILE = 0x30;
const TYPE_DIRECTORY = 0x35;
const TYPE_PAX = 0x78;

/**
 * Splits the tar bytes of one chunk our writer made (`chunkTar`) back into its `count` entries,
 * the texts as views of `tar`. PackageFormatError for anything else.
 */
export function splitChunk(tar: Uint8Array, count: number, file: string): RenderedEntry[] {
  const bytes = Buffer.from(tar.buffer, tar.byteOffset, tar.byteLength);
  const out: Array<{ directory: string; desc?: Buffer; files?: Buffer }> = [];
  const unexpected = (name: string): never => {
    throw new PackageFormatError(`${file}: unexpected member ${quote(name)} in a chunk`);
  };
  for (const { name, type, body } of tarMembers(bytes, file)) {
    const last = out[out.length - 1];
    if (type === TYPE_DIRECTORY) {
      if (!name.endsWith('/') || name.length < 2 || name.indexOf('/') !== name.length - 1) unexpected(name);
      if (last !== undefined && last.desc === undefined) throw new PackageFormatError(`${file}: ${last.directory}/ has no desc`);
      out.push({ directory: name.slice(0, -1) });
      continue;
    }
    if (type !== TYPE_FILE || last === undefined) unexpected(name);
    else if (last.desc === undefined && name === `${last.directory}/desc`) last.desc = body;
    else if (last.desc !== undefined && last.files === undefined && name === `${last.directory}/files`) last.files = body;
    else unexpected(name);
  }
  check(out.length === count, `${file}: a chunk holds ${out.length} entries, its gzip member says ${count}`);
  return out.map((e) => {
    if (e.desc === undefined) throw new PackageFormatError(`${file}: ${e.directory}/ has no desc`);
    return { directory: e.directory, desc: e.desc, ...(e.files === undefined ? {} : { files: e.files }) };
  });
}

/** What the `Pm` subfield of a member says. */
export interface ChunkTag {
  /** Entries in the member (0 for the end-of-archive member). */
  readonly entries: number;
  /** `.files` members: CRC-32 of the `.db` member's tar bytes of the same chunk; 0 in `.db` members. */
  readonly link: number;
}

/** One member found in a database file. */
export interface ChunkMember extends ChunkTag {
  readonly writer: number;
  /** The whole member: header, deflate data, trailer. */
  readonly bytes: Uint8Array;
}

/** The `Pm` subfield, alone in the extra field: u8 writer version, u32 LE entries, u32 LE member length, u32 LE link. */
const PM: MemberTagKind = { id: 'Pm', words: 1, alone: true };

/** Compress `data` into one `Pm`-tagged gzip member (deflate runs on the libuv thread pool). */
export function gzipChunk(data: Uint8Array, tag: ChunkTag, level: number): Promise<Buffer> {
  return gzipTaggedMember(data, PM, { writer: DB_WRITER_VERSION, count: tag.entries, words: [tag.link >>> 0] }, level);
}

/** CRC-32 of tar bytes (what a `.files` member's link holds for its `.db` member). */
export function tarCrc(data: Uint8Array): number {
  return zlib.crc32(data);
}

/** The CRC-32 of a member's uncompressed bytes, from its trailer. */
export function memberCrc(member: Uint8Array): number {
  return trailerCrc(member);
}

/**
 * The members of a database our writer made, or undefined when its first member carries no
 * `Pm` tag (another tool's database, or not gzip). Throws PackageFormatError when the tags do
 * not add up to the file.
 */
export function chunkMembers(gz: Uint8Array, file: string): ChunkMember[] | undefined {
  return taggedMemberList(gz, file, PM)?.map((m) => ({ writer: m.writer, entries: m.count, link: m.words[0], bytes: m.bytes }));
}

/** Inflate one member (on the thread pool), at most `maxBytes` of output; PackageFormatError when corrupt. */
export function gunzipChunk(member: Uint8Array, maxBytes: number, file: string): Promise<Buffer> {
  return gunzipMember(member, maxBytes, file);
}

/** The gzip member of the tar end-of-archive, the last member of every database. */
export function endMember(level: number): Promise<Buffer> {
  return gzipChunk(TAR_END, { entries: 0, link: 0 }, level);
}
