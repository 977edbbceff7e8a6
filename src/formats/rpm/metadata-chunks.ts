/**
 * The package-by-package layout of our own rpm-md files, which lets an update reuse what a
 * previous run wrote instead of parsing and re-serializing every package:
 *
 * - the packages (sorted by location) are cut into chunks at content-defined points (a hash
 *   of the package's key), so that adding or removing one package changes one chunk and
 *   leaves every other chunk, and its compressed bytes, as they were;
 * - each chunk is one tagged gzip member in each of primary, filelists and other (see
 *   gzip-members.ts), holding the same packages in the three files;
 * - inside a chunk, each package is exactly what the writers (`primaryPackageXml`, ...) make:
 *   a `<package ...>` element and a line break. Text and attribute values are escaped, so
 *   `</package>\n` only ever closes a package.
 */
import { check, PackageFormatError } from '../errors';
import { chunkEndsAfter } from '../gzip-members';

/**
 * Version of the XML the writers produce, recorded in every member. Bump it whenever a
 * writer's output changes, so that members of an older writer are re-rendered, not reused.
 */
export const METADATA_WRITER_VERSION = 1;

/** Average packages per chunk. */
export const CHUNK_TARGET = 64;
/** Most packages in one chunk (a cut is forced after this many). */
export const CHUNK_MAX = 4 * CHUNK_TARGET;

/**
 * Whether a chunk ends after `key`, the `length`th key of its chunk: when the key's hash is a
 * multiple of `target`, or the chunk has `max` keys. The cuts depend only on the keys, so the
 * same packages give the same chunks however the repository got there.
 */
export function isChunkEnd(key: string, length: number, target = CHUNK_TARGET, max = CHUNK_MAX): boolean {
  return chunkEndsAfter(key, length, target, max);
}

/** Cut `keys` (in metadata order) into chunks (see `isChunkEnd`); returns the chunk lengths. */
export function chunkLengths(keys: readonly string[], target = CHUNK_TARGET, max = CHUNK_MAX): number[] {
  const lengths: number[] = [];
  let length = 0;
  for (const key of keys) {
    length++;
    if (isChunkEnd(key, length, target, max)) {
      lengths.push(length);
      length = 0;
    }
  }
  if (length > 0) lengths.push(length);
  return lengths;
}

const PACKAGE_START = Buffer.from('<package');
const PACKAGE_END = Buffer.from('</package>\n');

/**
 * Split the UTF-8 text of one chunk into its `count` package elements (views of `text`, not
 * copies); PackageFormatError if it holds anything else or another number of packages.
 */
export function splitPackages(text: Uint8Array, count: number, file: string): Buffer[] {
  const bytes = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf(PACKAGE_END, at);
    if (end < 0 || bytes.compare(PACKAGE_START, 0, PACKAGE_START.length, at, at + PACKAGE_START.length) !== 0) {
      throw new PackageFormatError(`${file}: a chunk holds text that is not a <package> element at byte ${at}`);
    }
    out.push(bytes.subarray(at, end + PACKAGE_END.length));
    at = end + PACKAGE_END.length;
  }
  check(out.length === count, `${file}: a chunk holds ${out.length} packages, its gzip member says ${count}`);
  return out;
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Resolve the entity and character references the writers emit. */
export function unescapeXml(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

/** What the engine needs to know about a package of primary.xml, without parsing all of it. */
export interface PrimarySummary {
  readonly pkgId: string;
  readonly name: string;
  readonly arch: string;
  readonly epoch: string;
  readonly version: string;
  readonly release: string;
  /** `size package`. */
  readonly size: number;
  /** `location href`. */
  readonly href: string;
}

const PRIMARY_HEAD = /^<package type="rpm">\n {2}<name>([^<]*)<\/name>\n {2}<arch>([^<]*)<\/arch>\n {2}<version epoch="([^"]*)" ver="([^"]*)" rel="([^"]*)"\/>\n {2}<checksum type="[^"]*" pkgid="YES">([^<]*)<\/checksum>\n/;
const PRIMARY_SIZE = /\n {2}<size package="(\d{1,15})" [^\n]*\n {2}<location (?:xml:base="[^"]*" )?href="([^"]*)"\/>\n/g;

const SUMMARY_START = Buffer.from('\n  <summary>');
const SIZE_START = Buffer.from('\n  <size package="');
const EMPTY_ELEMENT_END = Buffer.from('/>\n');

/**
 * The identity, size and location of one `<package>` element of primary.xml as the writer
 * lays it out (`primaryPackageXml`). PackageFormatError when it is laid out otherwise. Of
 * an element given as bytes, only the lines it reads are decoded: its head (up to the
 * checksum) and the size and location lines (descriptions are most of primary.xml).
 */
export function primarySummary(element: Uint8Array | string, file: string): PrimarySummary {
  const bytes = typeof element === 'string' ? Buffer.from(element, 'utf8') : Buffer.from(element.buffer, element.byteOffset, element.byteLength);
  const headEnd = bytes.indexOf(SUMMARY_START);
  const headText = bytes.toString('utf8', 0, headEnd < 0 ? bytes.length : headEnd + 1);
  const head = PRIMARY_HEAD.exec(headText);
  if (!head) throw new PackageFormatError(`${file}: a <package> element is not laid out as this writer lays it out: ${JSON.stringify(headText.slice(0, 80))}`);
  // text never holds a raw '<': the first size line after the head is the element's own
  const sizeAt = bytes.indexOf(SIZE_START, Math.max(headEnd, 0));
  const sizeEnd = sizeAt < 0 ? -1 : bytes.indexOf(EMPTY_ELEMENT_END, sizeAt);
  const locationEnd = sizeEnd < 0 ? -1 : bytes.indexOf(EMPTY_ELEMENT_END, sizeEnd + EMPTY_ELEMENT_END.length);
  PRIMARY_SIZE.lastIndex = 0;
  const tail = locationEnd < 0 ? null : PRIMARY_SIZE.exec(bytes.toString('utf8', sizeAt, locationEnd + EMPTY_ELEMENT_END.length));
  if (!tail || tail.index !== 0) throw new PackageFormatError(`${file}: the <package> element of ${unescapeXml(head[1])} has no <size> and <location> where this writer puts them`);
  return {
    name: unescapeXml(head[1]),
    arch: unescapeXml(head[2]),
    epoch: unescapeXml(head[3]),
    version: unescapeXml(head[4]),
    release: unescapeXml(head[5]),
    pkgId: unescapeXml(head[6]),
    size: Number(tail[1]),
    href: unescapeXml(tail[2]),
  };
}

const PKGID_ATTRIBUTE = /^<package pkgid="([^"]*)"/;

/** The `pkgid` of a `<package>` element of filelists.xml or other.xml. */
export function pkgIdOf(element: Uint8Array, file: string): string {
  // the attribute comes first, and attribute values are ASCII (escapeAttr)
  const head = Buffer.from(element.buffer, element.byteOffset, Math.min(element.byteLength, 200)).toString('latin1');
  const m = PKGID_ATTRIBUTE.exec(head);
  if (!m) throw new PackageFormatError(`${file}: a <package> element has no pkgid where this writer puts it: ${JSON.stringify(head.slice(0, 80))}`);
  return unescapeXml(m[1]);
}
