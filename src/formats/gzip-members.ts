/**
 * Gzip members (RFC 1952 §2.2: a gzip file is a series of members, and gunzip, zlib, libarchive,
 * apt and libsolv read them as one stream). Two uses share this module:
 *
 * - tagged members: our writers put a small FEXTRA subfield (RFC 1952 §2.3.1.1) with a 2-letter
 *   id in each member they emit, whose payload records the member's length and what it holds, so
 *   that a later update finds the members without inflating them and re-compresses only those
 *   that changed (as BGZF does for bioinformatics files). The ids and what the counts and extra
 *   words mean belong to the formats (`rpm/gzip-members.ts`, `pacman/db-chunks.ts`); clients
 *   ignore the extra field;
 * - splitting any multi-member file at its member boundaries by inflating each member (apk-tools,
 *   `src/io_gunzip.c`, does this, because apk identities and signatures cover single members).
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { check, PackageFormatError } from './errors';

const ID1 = 0x1f;
const ID2 = 0x8b;
const DEFLATE = 8;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
/** Flag values from here up use reserved bits. */
const RESERVED_FLAGS = 0x20;
/** zlib's OS code on Unix, as createrepo_c's gzip files have it. */
const OS_UNIX = 3;
/** ID1 ID2 CM FLG MTIME(4) XFL OS. */
const FIXED_HEADER = 10;
/** XLEN, then the subfield's SI1 SI2 LEN. */
const SUBFIELD_AT = FIXED_HEADER + 2;
const SUBFIELD_HEADER = 4;
/** CRC32 and ISIZE. */
export const GZIP_TRAILER = 8;

/** Output pieces of zlib calls: at least zlib's default, at most 8 MiB. */
const MIN_PIECE = 16 * 1024;
const MAX_PIECE = 8 * 1024 ** 2;

const deflateRaw = promisify(zlib.deflateRaw);
const gunzip = promisify(zlib.gunzip);

/** A zlib output piece size for about `expected` bytes of output, within zlib's default and 8 MiB. */
export function outputPieceSize(expected: number): number {
  return Math.min(MAX_PIECE, Math.max(MIN_PIECE, expected));
}

/**
 * A kind of tag: the FEXTRA subfield our writers put in each member. Its payload is a head of
 * u8 writer version, u32 LE count of the items in the member and u32 LE member length (what a
 * reader needs to walk the members without inflating them and to tell whether it may reuse
 * one), then `words` u32 LE values of the format's own.
 */
export interface MemberTagKind {
  /** The subfield id, two ASCII letters (`Pk`). */
  readonly id: string;
  /** u32 LE words after the head. */
  readonly words: number;
  /**
   * Whether the extra field must hold this subfield alone (XLEN exactly 4 + payload); otherwise
   * it must come first and further subfields may follow.
   */
  readonly alone: boolean;
}

/** What a member's tag says. */
export interface MemberTagValues {
  /** Version of the writer that made the member (a changed writer must not reuse old members). */
  readonly writer: number;
  /** Items in the member, in the format's sense. */
  readonly count: number;
  /** The format's own words (`kind.words` of them). */
  readonly words: readonly number[];
}

/** Payload bytes before the format's own words: u8 writer, u32 count, u32 member length. */
const TAG_HEAD = 9;

/** Bytes of a member header our writer makes for a tag of `kind`: fixed header, XLEN, subfield. */
export function taggedHeaderLength(kind: MemberTagKind): number {
  return SUBFIELD_AT + SUBFIELD_HEADER + TAG_HEAD + 4 * kind.words;
}

/**
 * Compress `data` into one gzip member carrying a tag of `kind` in an FEXTRA subfield (deflate
 * runs on the libuv thread pool, so several members compress in parallel).
 */
export async function gzipTaggedMember(data: Uint8Array, kind: MemberTagKind, tag: MemberTagValues, level: number): Promise<Buffer> {
  // one output buffer for the whole member (zlib's default is 16 KiB pieces, concatenated after)
  const body = await deflateRaw(data, { level, chunkSize: outputPieceSize(data.length + (data.length >> 8) + 64) });
  const header = taggedHeaderLength(kind);
  const length = header + body.length + GZIP_TRAILER;
  const out = Buffer.allocUnsafe(length);
  out[0] = ID1;
  out[1] = ID2;
  out[2] = DEFLATE;
  out[3] = FEXTRA;
  out.writeUInt32LE(0, 4); // no modification time
  out[8] = level >= 9 ? 2 : level <= 1 ? 4 : 0;
  out[9] = OS_UNIX;
  out.writeUInt16LE(header - SUBFIELD_AT, FIXED_HEADER);
  out.write(kind.id, SUBFIELD_AT, 2, 'latin1');
  const payload = SUBFIELD_AT + SUBFIELD_HEADER;
  out.writeUInt16LE(header - payload, SUBFIELD_AT + 2);
  out[payload] = tag.writer;
  out.writeUInt32LE(tag.count, payload + 1);
  out.writeUInt32LE(length, payload + 5);
  for (let w = 0; w < kind.words; w++) out.writeUInt32LE(tag.words[w], payload + TAG_HEAD + 4 * w);
  body.copy(out, header);
  out.writeUInt32LE(zlib.crc32(data), header + body.length);
  out.writeUInt32LE(data.length % 2 ** 32, header + body.length + 4);
  return out;
}

/** The tag and length of the member starting at `at`, or undefined when it has no tag of `kind`. */
function tagAt(gz: Uint8Array, at: number, kind: MemberTagKind): (MemberTagValues & { length: number }) | undefined {
  const header = taggedHeaderLength(kind);
  if (gz.length - at < header || gz[at] !== ID1 || gz[at + 1] !== ID2 || gz[at + 2] !== DEFLATE || !(gz[at + 3] & FEXTRA)) return undefined;
  const view = Buffer.from(gz.buffer, gz.byteOffset + at, header);
  const xlen = view.readUInt16LE(FIXED_HEADER);
  const payload = SUBFIELD_AT + SUBFIELD_HEADER;
  if (!(kind.alone ? xlen === header - SUBFIELD_AT : xlen >= header - SUBFIELD_AT)
    || view[SUBFIELD_AT] !== kind.id.charCodeAt(0) || view[SUBFIELD_AT + 1] !== kind.id.charCodeAt(1)
    || view.readUInt16LE(SUBFIELD_AT + 2) !== header - payload) return undefined;
  const words: number[] = [];
  for (let w = 0; w < kind.words; w++) words.push(view.readUInt32LE(payload + TAG_HEAD + 4 * w));
  return { writer: view[payload], count: view.readUInt32LE(payload + 1), length: view.readUInt32LE(payload + 5), words };
}

/** One member found in a file: its tag and its bytes. */
export interface FoundTaggedMember extends MemberTagValues {
  /** The whole member: header, deflate data, trailer. */
  readonly bytes: Uint8Array;
}

/**
 * The members of a file our writer made, or undefined when the first member carries no tag
 * of `kind` (a file of another tool, or not gzip). Throws PackageFormatError when the tags do
 * not add up to the file.
 */
export function taggedMemberList(gz: Uint8Array, file: string, kind: MemberTagKind): FoundTaggedMember[] | undefined {
  if (!tagAt(gz, 0, kind)) return undefined;
  const shortest = taggedHeaderLength(kind) + GZIP_TRAILER;
  const members: FoundTaggedMember[] = [];
  for (let at = 0; at < gz.length;) {
    const tag = tagAt(gz, at, kind);
    check(tag, `${file}: the gzip member at offset ${at} has no ${kind.id} tag, though the first one has`);
    check(tag.length >= shortest && tag.length <= gz.length - at,
      `${file}: the gzip member at offset ${at} claims ${tag.length} bytes, ${gz.length - at} are left`);
    members.push({ writer: tag.writer, count: tag.count, words: tag.words, bytes: gz.subarray(at, at + tag.length) });
    at += tag.length;
  }
  return members;
}

/** The CRC-32 of a member's uncompressed bytes, from its trailer (the member must have one). */
export function trailerCrc(member: Uint8Array): number {
  return Buffer.from(member.buffer, member.byteOffset, member.byteLength).readUInt32LE(member.length - GZIP_TRAILER);
}

/** The uncompressed length a member's trailer states (ISIZE: the length modulo 2^32; the member must have one). */
export function trailerIsize(member: Uint8Array): number {
  return Buffer.from(member.buffer, member.byteOffset, member.byteLength).readUInt32LE(member.length - 4);
}

/** Inflate one member (on the thread pool), at most `maxBytes` of output; PackageFormatError when corrupt. */
export async function gunzipMember(member: Uint8Array, maxBytes: number, file: string): Promise<Buffer> {
  // the trailer says how long the output is (modulo 2^32, and unchecked yet): size the output pieces by it
  const claimed = member.length >= 4 ? trailerIsize(member) : 0;
  try {
    return await gunzip(member, { maxOutputLength: maxBytes, chunkSize: outputPieceSize(claimed) });
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    throw new PackageFormatError(`${file}: corrupt gzip member (or more than ${maxBytes} bytes uncompressed): ${message}`, { cause: e });
  }
}

/** One gzip member: its raw byte range in the input and what it inflates to. */
export interface GzipMember {
  /** Offset of the member's first byte (the 1f 8b magic). */
  readonly start: number;
  /** Offset just past the member's 8-byte trailer. */
  readonly end: number;
  /** The inflated content, CRC-32 and length checked against the trailer. */
  readonly data: Buffer;
}

/** Thrown internally when the input ends inside a member; callers with more input may retry. */
export class IncompleteGzipMemberError extends PackageFormatError {
  constructor(message: string) {
    super(message);
    this.name = 'IncompleteGzipMemberError';
  }
}

const hasFlag = (flags: number, flag: number) => Math.floor(flags / flag) % 2 === 1;

function need(bytes: Uint8Array, offset: number, length: number, what: string): void {
  if (offset + length > bytes.length) {
    throw new IncompleteGzipMemberError(
      `truncated gzip member: ${what} needs ${length} bytes at offset ${offset}, have ${Math.max(0, bytes.length - offset)}`);
  }
}

function skipZeroTerminated(bytes: Uint8Array, offset: number, what: string): number {
  const nul = bytes.indexOf(0, offset);
  if (nul < 0) throw new IncompleteGzipMemberError(`truncated gzip member: unterminated ${what} at offset ${offset}`);
  return nul + 1;
}

function hex(b: number | undefined): string {
  return b === undefined ? 'EOF' : `0x${b.toString(16).padStart(2, '0')}`;
}

/** Offset of the deflate stream of the member that starts at `start` (RFC 1952 §2.3). */
function deflateStart(bytes: Uint8Array, start: number): number {
  need(bytes, start, FIXED_HEADER, 'the header');
  check(bytes[start] === ID1 && bytes[start + 1] === ID2,
    `not a gzip member at offset ${start} (magic ${hex(bytes[start])} ${hex(bytes[start + 1])})`);
  check(bytes[start + 2] === DEFLATE, `gzip member at offset ${start} uses compression method ${bytes[start + 2]}, not deflate`);
  const flags = bytes[start + 3];
  check(flags < RESERVED_FLAGS, `gzip member at offset ${start} sets reserved flag bits ${hex(flags)}`);
  let pos = start + FIXED_HEADER;
  if (hasFlag(flags, FEXTRA)) {
    need(bytes, pos, 2, 'the extra field length');
    const xlen = bytes[pos] + 256 * bytes[pos + 1];
    need(bytes, pos + 2, xlen, 'the extra field');
    pos += 2 + xlen;
  }
  if (hasFlag(flags, FNAME)) pos = skipZeroTerminated(bytes, pos, 'file name');
  if (hasFlag(flags, FCOMMENT)) pos = skipZeroTerminated(bytes, pos, 'comment');
  if (hasFlag(flags, FHCRC)) {
    need(bytes, pos, 2, 'the header CRC');
    pos += 2;
  }
  return pos;
}

/**
 * Reads the gzip member that starts at `start`. Inflating more than `maxOutputBytes`
 * raises a PackageFormatError (decompression bombs); input that ends inside the member
 * raises an {@link IncompleteGzipMemberError}.
 */
export function readGzipMember(bytes: Uint8Array, start: number, maxOutputBytes: number): GzipMember {
  const body = deflateStart(bytes, start);
  let inflated: { buffer: Buffer; engine: zlib.InflateRaw };
  try {
    inflated = zlib.inflateRawSync(bytes.subarray(body), { info: true, maxOutputLength: maxOutputBytes }) as unknown as {
      buffer: Buffer; engine: zlib.InflateRaw;
    };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new PackageFormatError(`gzip member at offset ${start} expands beyond the limit of ${maxOutputBytes} bytes`);
    }
    if (err.code === 'Z_BUF_ERROR') {
      throw new IncompleteGzipMemberError(`truncated gzip member at offset ${start}: the deflate stream ends early`);
    }
    throw new PackageFormatError(`corrupt gzip member at offset ${start}: ${err.message}`, { cause: e });
  }
  const trailer = body + inflated.engine.bytesWritten;
  need(bytes, trailer, GZIP_TRAILER, 'the trailer');
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const crc = view.readUInt32LE(trailer);
  const isize = view.readUInt32LE(trailer + 4);
  const data = inflated.buffer;
  check(zlib.crc32(data) === crc, `gzip member at offset ${start}: CRC-32 mismatch`);
  check(data.length % 2 ** 32 === isize, `gzip member at offset ${start}: length ${data.length} does not match the trailer's ${isize}`);
  return { start, end: trailer + GZIP_TRAILER, data };
}

/** Limits for {@link splitGzipMembers}. */
export interface GzipSplitLimits {
  /** Most members accepted. */
  readonly maxMembers: number;
  /** Most bytes all members may inflate to, together. */
  readonly maxOutputBytes: number;
}

/**
 * Splits a complete buffer of concatenated gzip members. Every byte must belong to a
 * member: trailing garbage, a truncated member or a member beyond the limits raise a
 * PackageFormatError.
 */
export function splitGzipMembers(bytes: Uint8Array, limits: GzipSplitLimits): GzipMember[] {
  check(bytes.length > 0, 'empty input: expected gzip data');
  const members: GzipMember[] = [];
  let offset = 0;
  let total = 0;
  while (offset < bytes.length) {
    check(members.length < limits.maxMembers, `more than ${limits.maxMembers} gzip members`);
    const member = readGzipMember(bytes, offset, Math.max(1, limits.maxOutputBytes - total));
    total += member.data.length;
    check(total <= limits.maxOutputBytes, `gzip members expand beyond the limit of ${limits.maxOutputBytes} bytes`);
    members.push(member);
    offset = member.end;
  }
  return members;
}

/** 32-bit FNV-1a of the UTF-16 code units of `s`. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Whether a chunk of members ends after the item named `name`, the `length`th of its chunk: when
 * the name's hash is a multiple of `target`, or the chunk has `max` items. The cuts depend only on
 * the names, so the same items give the same chunks however the index got there.
 */
export function chunkEndsAfter(name: string, length: number, target: number, max: number): boolean {
  return fnv1a(name) % target === 0 || length >= max;
}
