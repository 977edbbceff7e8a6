/**
 * The chunked layout of our own `Packages.gz`, which lets an update reuse what a previous run
 * wrote instead of parsing and rendering every stanza again:
 *
 * - the stanzas, in Packages order (package, version, file name), are cut into chunks at
 *   content-defined points (a hash of each stanza's Filename), so that adding or removing one
 *   package changes one chunk and leaves every other chunk, and its compressed bytes, as they
 *   were;
 * - each chunk is one `Pk`-tagged gzip member (see `../rpm/gzip-members.ts`; apt reads the members
 *   as one stream through zlib, like gzip does), the tag telling how many stanzas it holds;
 * - each stanza is exactly what `renderStanza` makes: the fields and one empty line.
 *
 * The uncompressed `Packages` is the concatenation of the chunks' texts, byte for byte.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { check, PackageFormatError } from '../errors';
import { decodeUtf8, formatParagraph } from './deb822';
import { checkFilename, packagesStanza, type PackagesEntry } from './packages-index';
import { outputPieceSize, trailerIsize } from '../gzip-members';
import { taggedMembers } from '../rpm/gzip-members';

/**
 * Version of the stanza writer, recorded in every member. Bump it whenever the text of a
 * stanza changes, so that members of an older writer are rendered again, not reused.
 */
export const PACKAGES_WRITER_VERSION = 1;

/**
 * Average stanzas per chunk (about 150 KB of text): gzip restarts its dictionary at every
 * member, so larger chunks compress better (2 % larger than one stream here, 4.5 % at 64),
 * smaller ones make an update compress less (one chunk per package changed).
 */
export const CHUNK_TARGET = 128;
/** Most stanzas in one chunk (a cut is forced after this many). */
export const CHUNK_MAX = 4 * CHUNK_TARGET;

/** One package as a Packages file lists it: its sort key and its rendered stanza. */
export interface RenderedStanza {
  /** `Package`. */
  readonly name: string;
  /** `Version`. */
  readonly version: string;
  /** `Architecture`. */
  readonly arch: string;
  /** `Filename`: path of the .deb relative to the archive root. */
  readonly filename: string;
  /** The stanza as Packages holds it (UTF-8), followed by its empty line. */
  readonly stanza: Uint8Array;
}

/** A stanza of a loaded chunk: what the index records about the file, and the stanza bytes. */
export interface LoadedStanza extends RenderedStanza {
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
}

/** One chunk of a loaded Packages.gz: its stanzas, its text and its gzip member. */
export interface LoadedPackagesChunk {
  readonly stanzas: readonly LoadedStanza[];
  /** The uncompressed text (the stanzas are views of it). */
  readonly text: Uint8Array;
  readonly member: Uint8Array;
}

/** The stanza text of an entry, as Packages holds it: canonical field order, then an empty line. */
export function renderStanza(entry: PackagesEntry): RenderedStanza {
  return {
    name: entry.control.get('Package')!,
    version: entry.control.get('Version')!,
    arch: entry.control.get('Architecture')!,
    filename: entry.filename,
    stanza: Buffer.from(`${formatParagraph(packagesStanza(entry))}\n`, 'utf8'),
  };
}

/** Packages order (apt-ftparchive's): by package name, then version string, then file name. */
export function compareStanzas(a: RenderedStanza, b: RenderedStanza): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  if (a.version !== b.version) return a.version < b.version ? -1 : 1;
  if (a.filename !== b.filename) return a.filename < b.filename ? -1 : 1;
  return 0;
}

/**
 * 32-bit FNV-1a of the UTF-16 code units of `s`, finished with murmur3's mixer: FNV's low bits
 * alone are too alike for names that differ in a digit or two to cut evenly.
 */
function cutHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Cut stanzas (in Packages order) into chunks: a chunk ends after a stanza whose Filename
 * hashes to a multiple of CHUNK_TARGET, or at CHUNK_MAX stanzas. The cuts depend only on the
 * stanzas, so the same packages give the same chunks however the index got there.
 */
export function cutChunks<T extends RenderedStanza>(sorted: readonly T[]): T[][] {
  const chunks: T[][] = [];
  let open: T[] = [];
  for (const s of sorted) {
    open.push(s);
    if (cutHash(s.filename) % CHUNK_TARGET === 0 || open.length >= CHUNK_MAX) {
      chunks.push(open);
      open = [];
    }
  }
  if (open.length) chunks.push(open);
  return chunks;
}

const NEWLINE = 0x0a;
const gunzip = promisify(zlib.gunzip);

/** Offsets where each stanza of `text` starts, and the end: stanzas end in an empty line. */
function stanzaBounds(text: Uint8Array, file: string): number[] {
  const bytes = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  const bounds = [0];
  for (let at = 0; at < bytes.length;) {
    const end = bytes.indexOf('\n\n', at, 'latin1');
    if (end < 0 || bytes[at] === NEWLINE) throw new PackageFormatError(`${file}: a chunk does not end in an empty line at byte ${at}`);
    at = end + 2;
    bounds.push(at);
  }
  return bounds;
}

/** The value of a one-line field our writer wrote (`Name: value`, canonical spelling) in `text[start, end)`. */
function fieldOf(text: string, start: number, end: number, name: string): string | undefined {
  const head = `${name}: `;
  let at = start;
  if (!text.startsWith(head, start)) {
    at = text.indexOf(`\n${head}`, start) + 1;
    if (at === 0 || at >= end) return undefined;
  }
  const eol = text.indexOf('\n', at);
  return text.slice(at + head.length, eol < 0 || eol > end ? end : eol);
}

const NAME = /^[a-z0-9][a-z0-9+.-]*$/;
const VERSION = /^(?:[0-9]+:)?[0-9A-Za-z][0-9A-Za-z.+~-]*$/;
const ARCH = /^[a-z0-9][a-z0-9-]*$/;
const SIZE = /^[0-9]{1,15}$/;
const HEX: Readonly<Record<'MD5sum' | 'SHA1' | 'SHA256', RegExp>> = { MD5sum: /^[0-9a-f]{32}$/, SHA1: /^[0-9a-f]{40}$/, SHA256: /^[0-9a-f]{64}$/ };

/**
 * What the stanza `text[start, end)` of our own writer records, checked as `readPackages`
 * checks it; `stanza` is its bytes.
 */
function loadedStanza(text: string, start: number, end: number, stanza: Uint8Array, file: string): LoadedStanza {
  const field = (name: string, pattern: RegExp) => {
    const value = fieldOf(text, start, end, name);
    if (value === undefined || !pattern.test(value)) {
      throw new PackageFormatError(`${file}: stanza ${JSON.stringify(text.slice(start, Math.min(end, start + 60)))}: ${value === undefined ? 'no' : 'invalid'} ${name}`);
    }
    return value;
  };
  check(text.startsWith('Package: ', start), `${file}: a stanza does not start with its Package field: ${JSON.stringify(text.slice(start, Math.min(end, start + 60)))}`);
  const filename = fieldOf(text, start, end, 'Filename');
  check(filename !== undefined, `${file}: the stanza of ${fieldOf(text, start, end, 'Package')} has no Filename`);
  checkFilename(filename);
  return {
    name: field('Package', NAME),
    version: field('Version', VERSION),
    arch: field('Architecture', ARCH),
    filename,
    size: Number(field('Size', SIZE)),
    md5: field('MD5sum', HEX.MD5sum),
    sha1: field('SHA1', HEX.SHA1),
    sha256: field('SHA256', HEX.SHA256),
    stanza,
  };
}

/**
 * The chunks of a Packages.gz our writer made, or undefined when it is not ours (no tags, or
 * another writer version: parse the Packages text instead). Inflated on the thread pool; at
 * most `maxBytes` of text in all. Throws PackageFormatError when a member is
 * corrupt or does not hold the stanzas its tag says.
 */
export async function readPackagesChunks(gz: Uint8Array, file: string, maxBytes: number): Promise<LoadedPackagesChunk[] | undefined> {
  const members = taggedMembers(gz, file);
  if (!members || !members.every((m) => m.writer === PACKAGES_WRITER_VERSION)) return undefined;
  // each member's trailer says how long its text is, and zlib checks that it is: one inflate
  // of the whole file (on the thread pool) is cut into the members' texts
  const lengths = members.map((m) => trailerIsize(m.bytes));
  const claimed = lengths.reduce((a, b) => a + b, 0);
  let whole: Buffer;
  try {
    whole = await gunzip(gz, { maxOutputLength: maxBytes, chunkSize: outputPieceSize(claimed) });
  } catch (e) {
    throw new PackageFormatError(`${file}: corrupt gzip data (or more than ${maxBytes} bytes uncompressed): ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  check(whole.length === claimed, `${file}: the gzip members hold ${whole.length} bytes, their trailers say ${claimed}`);
  let offset = 0;
  const texts = lengths.map((length) => whole.subarray(offset, (offset += length)));
  return members.map((m, i) => {
    const text = texts[i];
    const decoded = decodeUtf8(text, file);
    // ASCII text (the usual case): string offsets are byte offsets, the chunk is decoded once
    const ascii = decoded.length === text.length;
    const bounds = stanzaBounds(text, file);
    check(bounds.length - 1 === m.packages, `${file}: a gzip member holds ${bounds.length - 1} stanzas, its tag says ${m.packages}`);
    const stanzas: LoadedStanza[] = [];
    for (let s = 0; s + 1 < bounds.length; s++) {
      const bytes = text.subarray(bounds[s], bounds[s + 1]);
      stanzas.push(ascii
        ? loadedStanza(decoded, bounds[s], bounds[s + 1], bytes, file)
        : loadedStanza(text.toString('utf8', bounds[s], bounds[s + 1]), 0, bytes.length, bytes, file));
    }
    return { stanzas, text, member: m.bytes };
  });
}
