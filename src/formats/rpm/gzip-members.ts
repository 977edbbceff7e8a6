/**
 * rpm-md metadata as a series of tagged gzip members (`../gzip-members.ts`; gunzip, zlib's
 * gzread, Python's gzip and libsolv read them as one stream). Each member our writer emits
 * carries a small FEXTRA subfield, `Pk`, with its own length and the number of `<package>`
 * elements in it, so that a later update finds the members without inflating them and
 * re-compresses only those whose packages changed. apt's chunked Packages.gz uses the same tag.
 * Clients ignore the extra field; the uncompressed XML is unchanged.
 */
import { check } from '../errors';
import { GZIP_TRAILER, gzipTaggedMember, taggedHeaderLength, taggedMemberList, trailerIsize, type MemberTagKind } from '../gzip-members';

export { gunzipMember } from '../gzip-members';

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

/** The `Pk` subfield: u8 writer version, u32 LE packages, u32 LE member length; further subfields may follow. */
const PK: MemberTagKind = { id: 'Pk', words: 0, alone: false };

/**
 * Compress `data` into one `Pk`-tagged gzip member (deflate runs on the libuv thread pool, so
 * several members compress in parallel).
 */
export function gzipMember(data: Uint8Array, tag: MemberTag, level: number): Promise<Buffer> {
  return gzipTaggedMember(data, PK, { writer: tag.writer, count: tag.packages, words: [] }, level);
}

/**
 * The members of a file our writer made, or undefined when its first member carries no `Pk`
 * tag (metadata of another tool: read it as one stream). Throws PackageFormatError when the
 * tags do not add up to the file.
 */
export function taggedMembers(gz: Uint8Array, file: string): TaggedMember[] | undefined {
  return taggedMemberList(gz, file, PK)?.map((m) => ({ writer: m.writer, packages: m.count, bytes: m.bytes }));
}

/** The uncompressed length a member's trailer states (ISIZE: the length modulo 2^32). */
export function memberOpenSize(member: Uint8Array): number {
  check(member.length >= taggedHeaderLength(PK) + GZIP_TRAILER, `a gzip member of ${member.length} bytes is too short to have a trailer`);
  return trailerIsize(member);
}
