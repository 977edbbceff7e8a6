/**
 * rpm-md metadata as a series of gzip members (RFC 1952 §2.2: a gzip file is a series of
 * members; gunzip, zlib's gzread, Python's gzip and libsolv read them as one stream). Each
 * member our writer emits carries a small FEXTRA subfield, `Pk`, with its own length and the
 * number of `<package>` elements in it, so that a later update finds the members without
 * inflating them and re-compresses only those whose packages changed (as BGZF does for
 * bioinformatics files). Clients ignore the extra field; the uncompressed XML is unchanged.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { check, PackageFormatError } from '../errors';

/** What the `Pk` subfield of a member says. */
export interface MemberTag {
  /** Version of the XML writer that made the member (a changed writer must not reuse old members). */
  readonly writer: number;
  /** `<package>` elements in the member (0 for the XML header and footer members). */
  readonly packages: number;
}

/** One member found in a file. */
export interface TaggedMember extends MemberTag {
  /** The whole member: header, deflate data, trailer. */
  readonly bytes: Uint8Array;
}

const ID1 = 0x1f;
const ID2 = 0x8b;
const DEFLATE = 8;
const FEXTRA = 4;
/** zlib's OS code on Unix, as createrepo_c's gzip files have it. */
const OS_UNIX = 3;
/** Subfield id: 'P', 'k'. */
const SI1 = 0x50;
const SI2 = 0x6b;
/** Subfield payload: u8 writer version, u32 LE packages, u32 LE member length. */
const PAYLOAD = 9;
const XLEN = 4 + PAYLOAD;
const HEADER = 10 + 2 + XLEN;
const TRAILER = 8;

/** Output pieces of zlib calls: at least zlib's default, at most 8 MiB. */
const MIN_PIECE = 16 * 1024;
const MAX_PIECE = 8 * 1024 ** 2;

const deflateRaw = promisify(zlib.deflateRaw);
const gunzip = promisify(zlib.gunzip);

/**
 * Compress `data` into one tagged gzip member (deflate runs on the libuv thread pool, so
 * several members compress in parallel).
 */
export async function gzipMember(data: Uint8Array, tag: MemberTag, level: number): Promise<Buffer> {
  // one output buffer for the whole member (zlib's default is 16 KiB pieces, concatenated after)
  const body = await deflateRaw(data, { level, chunkSize: Math.min(MAX_PIECE, Math.max(MIN_PIECE, data.length + (data.length >> 8) + 64)) });
  const length = HEADER + body.length + TRAILER;
  const out = Buffer.allocUnsafe(length);
  out[0] = ID1;
  out[1] = ID2;
  out[2] = DEFLATE;
  out[3] = FEXTRA;
  out.writeUInt32LE(0, 4); // no modification time
  out[8] = level >= 9 ? 2 : level <= 1 ? 4 : 0;
  out[9] = OS_UNIX;
  out.writeUInt16LE(XLEN, 10);
  out[12] = SI1;
  out[13] = SI2;
  out.writeUInt16LE(PAYLOAD, 14);
  out[16] = tag.writer;
  out.writeUInt32LE(tag.packages, 17);
  out.writeUInt32LE(length, 21);
  body.copy(out, HEADER);
  out.writeUInt32LE(zlib.crc32(data), HEADER + body.length);
  out.writeUInt32LE(data.length % 2 ** 32, HEADER + body.length + 4);
  return out;
}

/** The `Pk` tag of the member starting at `at`, or undefined when it has none. */
function tagAt(gz: Uint8Array, at: number): { writer: number; packages: number; length: number } | undefined {
  if (gz.length - at < HEADER || gz[at] !== ID1 || gz[at + 1] !== ID2 || gz[at + 2] !== DEFLATE || !(gz[at + 3] & FEXTRA)) return undefined;
  const view = new DataView(gz.buffer, gz.byteOffset + at, HEADER);
  if (view.getUint16(10, true) < 4 + PAYLOAD || gz[at + 12] !== SI1 || gz[at + 13] !== SI2 || view.getUint16(14, true) !== PAYLOAD) return undefined;
  return { writer: gz[at + 16], packages: view.getUint32(17, true), length: view.getUint32(21, true) };
}

/**
 * The members of a file our writer made, or undefined when its first member carries no `Pk`
 * tag (metadata of another tool: read it as one stream). Throws PackageFormatError when the
 * tags do not add up to the file.
 */
export function taggedMembers(gz: Uint8Array, file: string): TaggedMember[] | undefined {
  if (!tagAt(gz, 0)) return undefined;
  const members: TaggedMember[] = [];
  for (let at = 0; at < gz.length;) {
    const tag = tagAt(gz, at);
    check(tag, `${file}: the gzip member at offset ${at} has no Pk tag, though the first one has`);
    check(tag.length >= HEADER + TRAILER && tag.length <= gz.length - at,
      `${file}: the gzip member at offset ${at} claims ${tag.length} bytes, ${gz.length - at} are left`);
    members.push({ writer: tag.writer, packages: tag.packages, bytes: gz.subarray(at, at + tag.length) });
    at += tag.length;
  }
  return members;
}

/** The uncompressed length a member's trailer states (ISIZE: the length modulo 2^32). */
export function memberOpenSize(member: Uint8Array): number {
  check(member.length >= HEADER + TRAILER, `a gzip member of ${member.length} bytes is too short to have a trailer`);
  return new DataView(member.buffer, member.byteOffset + member.length - 4, 4).getUint32(0, true);
}

/** Inflate one member (on the thread pool), at most `maxBytes` of output; PackageFormatError when corrupt. */
export async function gunzipMember(member: Uint8Array, maxBytes: number, file: string): Promise<Buffer> {
  // the trailer says how long the output is (modulo 2^32, and unchecked yet): size the output pieces by it
  const claimed = member.length >= 4 ? new DataView(member.buffer, member.byteOffset + member.length - 4, 4).getUint32(0, true) : 0;
  try {
    return await gunzip(member, { maxOutputLength: maxBytes, chunkSize: Math.min(MAX_PIECE, Math.max(MIN_PIECE, claimed)) });
  } catch (e) {
    const message = (e as Error)?.message ?? String(e);
    throw new PackageFormatError(`${file}: corrupt gzip member (or more than ${maxBytes} bytes uncompressed): ${message}`, { cause: e });
  }
}
