/**
 * The `Packages` index of one component and architecture: one stanza per .deb, the control
 * fields plus what the archive knows about the file (Filename, Size, MD5sum, SHA1, SHA256),
 * fields in apt's canonical order (apt `apt-pkg/tagfile-order.c`, applied the way
 * `pkgTagSection::Write` does in `ftparchive/writer.cc`), every stanza followed by an empty
 * line.
 *
 * SHA512 is not written: the Release file lists SHA256 only (the strongest hash Debian's own
 * archive lists), and apt takes by-hash names from the strongest hash of the Release, so one
 * hash family keeps the by-hash tree single. A SHA512 line in an index we read back (as
 * apt-ftparchive writes it) is dropped.
 */
import { check } from '../errors';
import { ARCHIVE_FIELDS, packageIdentity, type DebPackage } from './deb-package';
import { Deb822Paragraph, formatParagraphs, parseDeb822Bytes, type Deb822Limits } from './deb822';

/** apt's canonical field order for binary package stanzas (tagfile-order.c, apt 3.x). */
export const PACKAGE_FIELD_ORDER: readonly string[] = [
  'Package', 'Package-Type', 'Architecture', 'Architecture-Variant', 'Subarchitecture', 'Version',
  'Kernel-Version', 'Built-Using', 'Static-Built-Using', 'Built-For-Profiles', 'Auto-Built-Package',
  'Multi-Arch', 'Status', 'Priority', 'Build-Essential', 'Protected', 'Important', 'Essential',
  'Installer-Menu-Item', 'Section', 'Source', 'Origin', 'Phased-Update-Percentage', 'Maintainer',
  'Original-Maintainer', 'Bugs', 'Config-Version', 'Conffiles', 'Triggers-Awaited', 'Triggers-Pending',
  'Installed-Size', 'Provides', 'Pre-Depends', 'Depends', 'Recommends', 'Suggests', 'Conflicts',
  'Breaks', 'Replaces', 'Enhances', 'Filename', 'MSDOS-Filename', 'Size', 'MD5sum', 'SHA1', 'SHA256',
  'SHA512', 'Homepage', 'Description', 'Description-md5', 'Tag', 'Task',
];

const CANONICAL = new Map(PACKAGE_FIELD_ORDER.map((name, i) => [name.toLowerCase(), { name, rank: i }]));
const ARCHIVE = new Set(ARCHIVE_FIELDS.map((f) => f.toLowerCase()));
/** Fields a Packages index never carries (apt-ftparchive removes Status the same way). */
const DROPPED = new Set(['status']);

/** One package as a Packages index lists it. */
export interface PackagesEntry {
  /** Control fields (everything but the archive's file fields), in their own order. */
  readonly control: Deb822Paragraph;
  /** Path of the .deb relative to the archive root (`pool/...`). */
  readonly filename: string;
  readonly size: number;
  /** Lower-case hex digests; an index read back may lack some. */
  readonly md5?: string;
  readonly sha1?: string;
  readonly sha256?: string;
}

/** The entry for a .deb read by `readDeb`, stored at `filename`. */
export function packagesEntryOf(deb: DebPackage, filename: string): PackagesEntry {
  checkFilename(filename);
  return { control: deb.control, filename, size: deb.size, md5: deb.md5, sha1: deb.sha1, sha256: deb.sha256 };
}

/** Throws a PackageFormatError unless `filename` is a clean relative path. */
export function checkFilename(filename: string): void {
  check(filename.length > 0 && !filename.startsWith('/') && !/[\u0000-\u0020\u007f]/.test(filename)
    && filename.split('/').every((s) => s !== '' && s !== '.' && s !== '..'),
  `invalid Filename ${JSON.stringify(filename)}: must be a relative path without empty, '.' or '..' segments or whitespace`);
}

/**
 * The stanza of an entry in canonical order: known fields in apt's order under their
 * canonical spelling, unknown fields after them in their original order.
 */
export function packagesStanza(entry: PackagesEntry): Deb822Paragraph {
  const fields: Array<{ name: string; value: string; rank: number; seq: number }> = [];
  entry.control.fields.forEach((f, seq) => {
    const key = f.name.toLowerCase();
    if (ARCHIVE.has(key) || DROPPED.has(key)) return;
    const known = CANONICAL.get(key);
    fields.push({ name: known?.name ?? f.name, value: f.value, rank: known?.rank ?? PACKAGE_FIELD_ORDER.length, seq });
  });
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined) fields.push({ name, value, rank: CANONICAL.get(name.toLowerCase())!.rank, seq: -1 });
  };
  add('Filename', entry.filename);
  add('Size', String(entry.size));
  add('MD5sum', entry.md5);
  add('SHA1', entry.sha1);
  add('SHA256', entry.sha256);
  fields.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
  return Deb822Paragraph.of(fields.map((f) => [f.name, f.value] as const));
}

function compareEntries(a: PackagesEntry, b: PackagesEntry): number {
  const key = (e: PackagesEntry) => [e.control.get('Package') ?? '', e.control.get('Version') ?? '', e.filename];
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i]) return ka[i] < kb[i] ? -1 : 1;
  }
  return 0;
}

/** A whole Packages file: stanzas sorted by package, version and file name. */
export function writePackages(entries: Iterable<PackagesEntry>): string {
  return formatParagraphs([...entries].sort(compareEntries).map(packagesStanza));
}

const HEX = { md5: /^[0-9a-f]{32}$/, sha1: /^[0-9a-f]{40}$/, sha256: /^[0-9a-f]{64}$/ };

function digest(stanza: Deb822Paragraph, field: string, kind: keyof typeof HEX, what: string): string | undefined {
  const value = stanza.get(field);
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  check(HEX[kind].test(lower), `${what}: invalid ${field} ${JSON.stringify(value.slice(0, 80))}`);
  return lower;
}

/**
 * Reads a Packages file (ours, apt-ftparchive's or dpkg-scanpackages'), uncompressed bytes.
 * Every stanza needs a valid Package, Version, Architecture, Filename and Size; digests are
 * checked when present. Throws PackageFormatError naming the stanza for anything else.
 */
export function readPackages(bytes: Uint8Array, what = 'Packages', limits?: Deb822Limits): PackagesEntry[] {
  return parseDeb822Bytes(bytes, what, limits).map((stanza, i) => {
    const where = `${what} stanza ${i + 1}`;
    packageIdentity(stanza, where);
    const filename = stanza.get('Filename');
    const size = stanza.get('Size');
    check(filename !== undefined, `${where} has no Filename`);
    checkFilename(filename);
    check(size !== undefined && /^[0-9]{1,15}$/.test(size), `${where}: invalid or missing Size`);
    const control = new Deb822Paragraph();
    for (const f of stanza.fields) {
      if (!ARCHIVE.has(f.name.toLowerCase())) control.set(f.name, f.value);
    }
    return {
      control,
      filename,
      size: Number(size),
      md5: digest(stanza, 'MD5sum', 'md5', where),
      sha1: digest(stanza, 'SHA1', 'sha1', where),
      sha256: digest(stanza, 'SHA256', 'sha256', where),
    };
  });
}
