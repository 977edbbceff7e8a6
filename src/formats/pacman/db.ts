import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { decompress, detectCompression } from '../compression';
import { check, PackageFormatError } from '../errors';
import { chunkTar, compareDirectories, dbChunkLengths, endMember, gzipChunk, type RenderedEntry, tarCrc } from './db-chunks';
import { checkArch, checkFullVersion, checkPackageName, checkText, parseCount, quote } from './fields';
import type { PacmanPackage } from './package';

/**
 * One package as a sync database describes it: the `desc` entry (repo-add
 * `db_write_entry`, libalpm `be_sync.c`) and, in the files database, the `files` entry.
 */
export interface PacmanDbEntry {
  /** The package file name, relative to the database's directory. */
  readonly filename: string;
  readonly name: string;
  readonly base?: string;
  /** `[epoch:]pkgver-pkgrel`. */
  readonly version: string;
  readonly desc?: string;
  readonly groups: readonly string[];
  /** Size of the package file in bytes (pacman caps the download at it). */
  readonly csize: number;
  /** Installed size in bytes. */
  readonly isize?: number;
  /** Only kept from databases that have it (repo-add before pacman 7); never computed. */
  readonly md5sum?: string;
  readonly sha256sum?: string;
  /** Base64 of the package's binary detached signature. */
  readonly pgpsig?: string;
  readonly url?: string;
  readonly licenses: readonly string[];
  readonly arch?: string;
  readonly builddate?: number;
  readonly packager?: string;
  readonly replaces: readonly string[];
  readonly conflicts: readonly string[];
  readonly provides: readonly string[];
  readonly depends: readonly string[];
  readonly optdepends: readonly string[];
  readonly makedepends: readonly string[];
  readonly checkdepends: readonly string[];
  /** Paths in the package, sorted by bytes, unique (files database only). */
  readonly files?: readonly string[];
}

/** What the database records about the package file itself. */
export interface PackageFileFacts {
  /** Base name of the package file. */
  readonly filename: string;
  /** Size of the file in bytes. */
  readonly csize: number;
  /** Lower-case hex SHA-256 of the file. */
  readonly sha256sum: string;
  /** The package's binary detached signature (`<file>.sig`), to embed as PGPSIG. */
  readonly signature?: Uint8Array;
}

/** repo-add refuses package signatures larger than this. */
export const MAX_PACKAGE_SIGNATURE_BYTES = 16384;

/** The database entry of a package read with `readPacmanPackage`, as repo-add writes it. */
export function entryOfPackage(pkg: PacmanPackage, file: PackageFileFacts): PacmanDbEntry {
  const { info } = pkg;
  checkFilename(file.filename);
  if (!/^[0-9a-f]{64}$/.test(file.sha256sum)) throw new PackageFormatError(`invalid SHA-256 ${quote(file.sha256sum)}`);
  return {
    filename: file.filename,
    name: info.pkgname,
    base: info.pkgbase,
    version: info.pkgver,
    desc: info.pkgdesc,
    groups: info.groups,
    csize: file.csize,
    isize: info.size,
    sha256sum: file.sha256sum,
    pgpsig: file.signature === undefined ? undefined : encodeSignature(file.signature),
    url: info.url,
    licenses: info.licenses,
    arch: info.arch,
    builddate: info.builddate,
    packager: info.packager,
    replaces: info.replaces,
    conflicts: info.conflicts,
    provides: info.provides,
    depends: info.depends,
    optdepends: info.optdepends,
    makedepends: info.makedepends,
    checkdepends: info.checkdepends,
    files: sortFileList(pkg.files),
  };
}

/** The directory of an entry in the database archive: `<name>-<version>`. */
export function entryDirectory(entry: Pick<PacmanDbEntry, 'name' | 'version'>): string {
  return `${entry.name}-${entry.version}`;
}

/** Sorts paths by their UTF-8 bytes and drops duplicates (repo-add: `LC_ALL=C sort -u`). */
export function sortFileList(files: readonly string[]): string[] {
  const sorted = files.map((f) => Buffer.from(f, 'utf8')).sort(Buffer.compare);
  const out: string[] = [];
  for (const path of sorted) {
    const text = path.toString('utf8');
    if (out[out.length - 1] !== text) out.push(text);
  }
  return out;
}

type FieldValue = string | number | undefined | readonly string[];

/** `desc` fields in repo-add's order, with the entry property each comes from. */
const DESC_FIELDS: readonly (readonly [field: string, key: Exclude<keyof PacmanDbEntry, 'files'>])[] = [
  ['FILENAME', 'filename'],
  ['NAME', 'name'],
  ['BASE', 'base'],
  ['VERSION', 'version'],
  ['DESC', 'desc'],
  ['GROUPS', 'groups'],
  ['CSIZE', 'csize'],
  ['ISIZE', 'isize'],
  ['MD5SUM', 'md5sum'],
  ['SHA256SUM', 'sha256sum'],
  ['PGPSIG', 'pgpsig'],
  ['URL', 'url'],
  ['LICENSE', 'licenses'],
  ['ARCH', 'arch'],
  ['BUILDDATE', 'builddate'],
  ['PACKAGER', 'packager'],
  ['REPLACES', 'replaces'],
  ['CONFLICTS', 'conflicts'],
  ['PROVIDES', 'provides'],
  ['DEPENDS', 'depends'],
  ['OPTDEPENDS', 'optdepends'],
  ['MAKEDEPENDS', 'makedepends'],
  ['CHECKDEPENDS', 'checkdepends'],
];

const LIST_PROPERTIES: ReadonlySet<string> = new Set(['groups', 'licenses', 'replaces', 'conflicts', 'provides',
  'depends', 'optdepends', 'makedepends', 'checkdepends']);
const NUMBER_PROPERTIES: ReadonlySet<string> = new Set(['csize', 'isize', 'builddate']);

/**
 * The `desc` entry text: `%FIELD%` blocks in repo-add's order, empty fields left out. Values
 * are checked again here, since a line break in one would inject fields.
 */
export function renderDesc(entry: PacmanDbEntry): string {
  // what the reader checks, checked before writing: an entry it would refuse wedges the database
  checkPackageName(entry.name, 'database entry %NAME%');
  checkFullVersion(entry.version, `%VERSION% of ${entry.name}`);
  checkFilename(entry.filename);
  if (entry.base !== undefined) checkPackageName(entry.base, `%BASE% of ${entry.name}`);
  if (entry.arch !== undefined) checkArch(entry.arch, `%ARCH% of ${entry.name}`);
  let out = '';
  for (const [field, key] of DESC_FIELDS) {
    const value: FieldValue = entry[key];
    const lines = value === undefined ? [] : typeof value === 'object' ? value : [String(value)];
    if (lines.length === 0 || lines[0] === '') continue;
    for (const line of lines) checkText(line, `%${field}% of ${entryDirectory(entry)}`);
    out += `%${field}%\n${lines.join('\n')}\n\n`;
  }
  return out;
}

/** The `files` entry text of the files database. */
export function renderFiles(files: readonly string[]): string {
  for (const file of files) {
    checkText(file, 'file list entry');
    // the message is built only on failure: this runs for every file of every package
    if (!isRelativeInside(file)) throw new PackageFormatError(`file list entry ${quote(file)} is not a relative path inside the package`);
  }
  return `%FILES%\n${files.map((f) => `${f}\n`).join('')}`;
}

/**
 * Parses a `desc` entry (ours or repo-add's) back into an entry. `directory` is its
 * `<name>-<version>` directory in the archive, checked against NAME and VERSION.
 */
export function parseDesc(text: string, directory: string): PacmanDbEntry {
  const blocks = parseBlocks(text, `${directory}/desc`);
  const known = new Map(DESC_FIELDS.map(([field, key]) => [field, key]));
  const props: Record<string, FieldValue> = {};
  for (const [field, values] of blocks) {
    const key = known.get(field);
    if (key === undefined) continue;
    const where = `${directory}/desc %${field}%`;
    if (LIST_PROPERTIES.has(key)) {
      props[key] = values;
    } else {
      check(values.length === 1, `${where} has ${values.length} lines, expected one`);
      props[key] = NUMBER_PROPERTIES.has(key) ? parseCount(values[0], where) : values[0];
    }
  }
  const list = (key: string) => (props[key] ?? []) as readonly string[];
  const text1 = (key: string) => props[key] as string | undefined;
  const filename = text1('filename');
  const name = text1('name');
  const version = text1('version');
  const csize = props.csize as number | undefined;
  check(filename !== undefined, `${directory}/desc has no %FILENAME%`);
  check(name !== undefined, `${directory}/desc has no %NAME%`);
  check(version !== undefined, `${directory}/desc has no %VERSION%`);
  check(csize !== undefined, `${directory}/desc has no %CSIZE%`);
  checkFilename(filename);
  checkPackageName(name, `${directory}/desc %NAME%`);
  checkFullVersion(version, `${directory}/desc %VERSION%`);
  check(entryDirectory({ name, version }) === directory,
    `database entry ${quote(directory)} does not match its %NAME% and %VERSION% (${quote(`${name}-${version}`)})`);
  const base = text1('base');
  if (base !== undefined) checkPackageName(base, `${directory}/desc %BASE%`);
  const arch = text1('arch');
  if (arch !== undefined) checkArch(arch, `${directory}/desc %ARCH%`);
  const md5sum = text1('md5sum');
  check(md5sum === undefined || /^[0-9a-f]{32}$/.test(md5sum), `${directory}/desc has an invalid %MD5SUM%`);
  const sha256sum = text1('sha256sum');
  check(sha256sum === undefined || /^[0-9a-f]{64}$/.test(sha256sum), `${directory}/desc has an invalid %SHA256SUM%`);
  const pgpsig = text1('pgpsig');
  check(pgpsig === undefined || /^[A-Za-z0-9+/]+={0,2}$/.test(pgpsig), `${directory}/desc has an invalid %PGPSIG%`);
  return {
    filename,
    name,
    base,
    version,
    desc: text1('desc'),
    groups: list('groups'),
    csize,
    isize: props.isize as number | undefined,
    md5sum,
    sha256sum,
    pgpsig,
    url: text1('url'),
    licenses: list('licenses'),
    arch,
    builddate: props.builddate as number | undefined,
    packager: text1('packager'),
    replaces: list('replaces'),
    conflicts: list('conflicts'),
    provides: list('provides'),
    depends: list('depends'),
    optdepends: list('optdepends'),
    makedepends: list('makedepends'),
    checkdepends: list('checkdepends'),
  };
}

/** Parses a `files` entry: the paths under `%FILES%`. */
export function parseFiles(text: string, directory: string): string[] {
  const blocks = parseBlocks(text, `${directory}/files`);
  const files = blocks.get('FILES') ?? [];
  for (const path of files) {
    if (!isRelativeInside(path)) throw new PackageFormatError(`${directory}/files has an unsafe path ${quote(path)}`);
  }
  return files;
}

/** Is `path` relative, without a `..` segment? */
function isRelativeInside(path: string): boolean {
  return !path.startsWith('/') && !(path.includes('..') && path.split('/').includes('..'));
}

/** What the engine needs to know about an entry, read from its `desc` without parsing all of it. */
export interface DescSummary {
  readonly filename: string;
  readonly name: string;
  readonly version: string;
  readonly csize: number;
  readonly arch?: string;
  readonly sha256sum?: string;
}

const SUMMARY_FIELDS: ReadonlySet<string> = new Set(['FILENAME', 'NAME', 'VERSION', 'CSIZE', 'ARCH', 'SHA256SUM']);

/**
 * The identity, size and checksum of a `desc` entry (as `parseDesc` checks them), reading only
 * those fields. `directory` is its `<name>-<version>` directory in the archive.
 */
export function descSummary(text: string, directory: string): DescSummary {
  const where = `${directory}/desc`;
  const fields = new Map<string, string>();
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\n', at);
    check(end > at + 2 && text[at] === '%' && text[end - 1] === '%', `${where} at offset ${at}: expected a %FIELD% header`);
    const field = text.slice(at + 1, end - 1);
    const close = text.indexOf('\n\n', end);
    check(close >= 0, `${where}: %${field}% is not ended by a blank line`);
    if (SUMMARY_FIELDS.has(field)) {
      const value = text.slice(end + 1, close);
      check(!fields.has(field), `${where}: %${field}% appears more than once`);
      check(!value.includes('\n'), `${where} %${field}% has several lines, expected one`);
      checkText(value, `${where} %${field}%`);
      fields.set(field, value);
    }
    at = close + 2;
  }
  const filename = fields.get('FILENAME');
  const name = fields.get('NAME');
  const version = fields.get('VERSION');
  const csize = fields.get('CSIZE');
  check(filename !== undefined, `${where} has no %FILENAME%`);
  check(name !== undefined, `${where} has no %NAME%`);
  check(version !== undefined, `${where} has no %VERSION%`);
  check(csize !== undefined, `${where} has no %CSIZE%`);
  checkFilename(filename);
  checkPackageName(name, `${where} %NAME%`);
  checkFullVersion(version, `${where} %VERSION%`);
  check(entryDirectory({ name, version }) === directory,
    `database entry ${quote(directory)} does not match its %NAME% and %VERSION% (${quote(`${name}-${version}`)})`);
  const arch = fields.get('ARCH');
  if (arch !== undefined) checkArch(arch, `${where} %ARCH%`);
  const sha256sum = fields.get('SHA256SUM');
  check(sha256sum === undefined || /^[0-9a-f]{64}$/.test(sha256sum), `${where} has an invalid %SHA256SUM%`);
  return { filename, name, version, csize: parseCount(csize, `${where} %CSIZE%`), arch, sha256sum };
}

/** `%NAME%` blocks of a desc or files entry; a blank line ends a block. */
function parseBlocks(text: string, where: string): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  let current: string[] | undefined;
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line === '') {
      current = undefined;
      return;
    }
    if (current === undefined) {
      const field = /^%([A-Z0-9]+)%$/.exec(line)?.[1];
      if (field === undefined) throw new PackageFormatError(`${where} line ${index + 1}: expected a %FIELD% header, got ${quote(line)}`);
      check(!blocks.has(field), `${where}: %${field}% appears more than once`);
      current = [];
      blocks.set(field, current);
      return;
    }
    checkText(line, `${where} line ${index + 1}`);
    current.push(line);
  });
  return blocks;
}

function checkFilename(filename: string): void {
  if (filename === '' || filename === '.' || filename === '..' || filename.includes('/')) throw new PackageFormatError(`invalid package file name ${quote(filename)}`);
  checkText(filename, 'package file name');
}

/**
 * PGPSIG of a package signature file, after repo-add's checks: binary (not ASCII-armored),
 * at most 16 KiB.
 */
export function encodeSignature(signature: Uint8Array): string {
  check(signature.length > 0, 'package signature file is empty');
  check(signature.length <= MAX_PACKAGE_SIGNATURE_BYTES,
    `package signature is ${signature.length} bytes, more than ${MAX_PACKAGE_SIGNATURE_BYTES}`);
  check(!Buffer.from(signature).includes('BEGIN PGP SIGNATURE'),
    'package signature is ASCII-armored; pacman needs a binary signature (gpg --detach-sign without --armor)');
  // a binary OpenPGP packet starts with a tag byte that has the high bit set
  check(signature[0] >= 0x80, 'package signature is not an OpenPGP binary signature');
  return Buffer.from(signature).toString('base64');
}

/** Options for writing a database archive. */
export interface WriteDatabaseOptions {
  /** Write the files database (`files` entries too) rather than the package database. */
  readonly withFiles: boolean;
  /** Modification time stamped on the archive members. */
  readonly mtime: Date;
}

/** gzip level of the databases (libarchive's default, which repo-add gets). */
export const DATABASE_COMPRESSION_LEVEL = 6;

/** The entry as tar member texts: its directory, desc and (when it has a file list) files. */
export function renderEntry(entry: PacmanDbEntry): RenderedEntry {
  return {
    directory: entryDirectory(entry),
    desc: ownUtf8(renderDesc(entry)),
    ...(entry.files === undefined ? {} : { files: ownUtf8(renderFiles(entry.files)) }),
  };
}

/**
 * UTF-8 of `text` in a buffer of its own (not a slice of Node's shared pool, whose whole 8 KiB
 * would be copied when the entry is sent from a worker thread, and kept alive by it).
 */
function ownUtf8(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  bytes.write(text, 0, 'utf8');
  return bytes;
}

/** One chunk of both databases: the `.db` member and the `.files` member linked to it. */
export interface CompressedChunk {
  readonly db: Buffer;
  readonly files: Buffer;
}

/**
 * Compress one chunk of entries (in archive order) into its `.db` and `.files` gzip members
 * (see db-chunks.ts), on the thread pool.
 */
export async function compressChunk(entries: readonly RenderedEntry[], mtime: Date, level = DATABASE_COMPRESSION_LEVEL): Promise<CompressedChunk> {
  const dbTar = chunkTar(entries, false, mtime);
  const filesTar = chunkTar(entries, true, mtime);
  const [db, files] = await Promise.all([
    gzipChunk(dbTar, { entries: entries.length, link: 0 }, level),
    gzipChunk(filesTar, { entries: entries.length, link: tarCrc(dbTar) }, level),
  ]);
  return { db, files };
}

/**
 * Writes `<repo>.db.tar.gz` (or `<repo>.files.tar.gz` with `withFiles`): a gzipped tar with a
 * `<name>-<version>/` directory per entry holding `desc` (and `files`, for entries that have a
 * file list), ordered by directory name, in chunks of gzip members (db-chunks.ts), so the same
 * entries always give the same bytes.
 */
export async function writeDatabase(entries: Iterable<PacmanDbEntry>, options: WriteDatabaseOptions): Promise<Uint8Array> {
  const byDirectory = new Map<string, RenderedEntry>();
  for (const entry of entries) {
    const directory = entryDirectory(entry);
    if (byDirectory.has(directory)) throw new Error(`two database entries named ${directory}`);
    byDirectory.set(directory, renderEntry(entry));
  }
  const sorted = [...byDirectory.keys()].sort(compareDirectories).map((d) => byDirectory.get(d)!);
  const members: Buffer[] = [];
  let at = 0;
  for (const length of dbChunkLengths(sorted.map((e) => e.directory))) {
    const chunk = await compressChunk(sorted.slice(at, at + length), options.mtime);
    at += length;
    members.push(options.withFiles ? chunk.files : chunk.db);
  }
  members.push(await endMember(DATABASE_COMPRESSION_LEVEL));
  return new Uint8Array(Buffer.concat(members));
}

/** Concatenates a stream (tar-stream's streamx streams yield untyped Buffers). */
async function collectAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part as Uint8Array);
  return Buffer.concat(parts);
}

/** Bounds for reading a database. */
export interface DatabaseLimits {
  readonly maxUncompressedBytes: number;
  readonly maxEntries: number;
  /** Cap on one `desc` or `files` member. */
  readonly maxMemberBytes: number;
}

/** Defaults: 2 GiB decompressed, 500 000 packages, 256 MiB per member. */
export const DEFAULT_DATABASE_LIMITS: DatabaseLimits = {
  maxUncompressedBytes: 2 * 1024 ** 3,
  maxEntries: 500_000,
  maxMemberBytes: 256 * 1024 ** 2,
};

/**
 * Reads a package or files database (ours or repo-add's; gzip, xz, zstd or plain tar) back
 * into entries, in archive order. Entries of a files database carry their file lists.
 */
export async function readDatabase(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  limits: DatabaseLimits = DEFAULT_DATABASE_LIMITS,
): Promise<PacmanDbEntry[]> {
  const bytes = source instanceof Uint8Array ? source : await collectAll(source);
  const compression = detectCompression(bytes.subarray(0, 6));
  const input = Readable.from(decompress(bytes, compression, limits.maxUncompressedBytes));
  const extract = tarStream.extract();
  const feeding = pipeline(input, extract);
  feeding.catch(() => undefined);

  const descs = new Map<string, string>();
  const files = new Map<string, string>();
  try {
    for await (const member of extract) {
      const { name, type, size } = member.header;
      const match = /^([^/]+)\/(desc|files)$/.exec(name);
      if (type !== 'file' || match === null) {
        member.resume();
        continue;
      }
      const [, directory, kind] = match;
      const target = kind === 'desc' ? descs : files;
      check(!target.has(directory), `database has two ${name} members`);
      check(target.size < limits.maxEntries, `database has more than ${limits.maxEntries} entries`);
      check(size <= limits.maxMemberBytes, `database member ${name} is larger than ${limits.maxMemberBytes} bytes`);
      target.set(directory, decodeText(await collectAll(member), name));
    }
    await feeding;
  } catch (e) {
    input.destroy();
    if (e instanceof PackageFormatError) throw e;
    throw new PackageFormatError(`malformed pacman database archive: ${(e as Error).message ?? String(e)}`, { cause: e });
  }
  for (const directory of files.keys()) {
    check(descs.has(directory), `database has ${directory}/files but no ${directory}/desc`);
  }
  const entries: PacmanDbEntry[] = [];
  for (const [directory, desc] of descs) {
    const entry = parseDesc(desc, directory);
    const list = files.get(directory);
    entries.push(list === undefined ? entry : { ...entry, files: parseFiles(list, directory) });
  }
  return entries;
}

function decodeText(bytes: Uint8Array, name: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (e) {
    throw new PackageFormatError(`database member ${name} is not valid UTF-8`, { cause: e });
  }
}
