import * as zlib from 'node:zlib';
import { check, PackageFormatError } from '../errors';

/**
 * apk files are several gzip members back to back (RFC 1952 §2.2). A plain gunzip joins
 * them into one stream; apk-tools (`src/io_gunzip.c`) instead notices where each member
 * ends, because the package identity and the signatures cover the raw bytes of single
 * members. This module finds those boundaries.
 */

/** One gzip member: its raw byte range in the input and what it inflates to. */
export interface GzipMember {
  /** Offset of the member's first byte (the 1f 8b magic). */
  readonly start: number;
  /** Offset just past the member's 8-byte trailer. */
  readonly end: number;
  /** The inflated content, CRC-32 and length checked against the trailer. */
  readonly data: Buffer;
}

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;
/** Flag values from here up use reserved bits. */
const RESERVED_FLAGS = 0x20;
const FIXED_HEADER = 10;
const TRAILER = 8;

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

/** Offset of the deflate stream of the member that starts at `start` (RFC 1952 §2.3). */
function deflateStart(bytes: Uint8Array, start: number): number {
  need(bytes, start, FIXED_HEADER, 'the header');
  check(bytes[start] === 0x1f && bytes[start + 1] === 0x8b,
    `not a gzip member at offset ${start} (magic ${hex(bytes[start])} ${hex(bytes[start + 1])})`);
  check(bytes[start + 2] === 8, `gzip member at offset ${start} uses compression method ${bytes[start + 2]}, not deflate`);
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

function hex(b: number | undefined): string {
  return b === undefined ? 'EOF' : `0x${b.toString(16).padStart(2, '0')}`;
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
  need(bytes, trailer, TRAILER, 'the trailer');
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const crc = view.readUInt32LE(trailer);
  const isize = view.readUInt32LE(trailer + 4);
  const data = inflated.buffer;
  check(zlib.crc32(data) === crc, `gzip member at offset ${start}: CRC-32 mismatch`);
  check(data.length % 2 ** 32 === isize, `gzip member at offset ${start}: length ${data.length} does not match the trailer's ${isize}`);
  return { start, end: trailer + TRAILER, data };
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
