/**
 * Streaming readers of existing rpm-md metadata (ours or createrepo_c's) with saxes, and the
 * merge of the three files back into packages. Reading what createrepo_c wrote and writing it
 * again with the writers gives the same bytes.
 */
import { SaxesParser } from 'saxes';
import { parseChunkSummary, renderChunkSummary } from '../chunk-summary';
import { check, PackageFormatError } from '../errors';
import type { RpmChangelog, RpmDependency, RpmDependencyFlag, RpmFile, RpmFileType, RpmPackage } from './model';

/** XML text as a stream of chunks: strings, or UTF-8 bytes (e.g. from `decompress`). */
export type XmlSource = string | AsyncIterable<string | Uint8Array>;

/** Caps on what a metadata reader accepts. */
export interface MetadataLimits {
  /** Most packages in one file. @default 1_000_000 */
  readonly maxPackages?: number;
  /** Most files, dependencies or changelog entries in one package. @default 1_000_000 */
  readonly maxItemsPerPackage?: number;
  /** Longest text of one element, characters. @default 16 MiB */
  readonly maxTextLength?: number;
}

/** The package identity every metadata file repeats. */
export interface PackageIdentity {
  readonly pkgId: string;
  readonly name: string;
  readonly arch: string;
  readonly epoch: string;
  readonly version: string;
  readonly release: string;
}

/** One package of filelists.xml. */
export interface FilelistsEntry extends PackageIdentity {
  readonly files: readonly RpmFile[];
}

/** One package of other.xml. */
export interface OtherEntry extends PackageIdentity {
  readonly changelogs: readonly RpmChangelog[];
}

const DEFAULTS = { maxPackages: 1_000_000, maxItemsPerPackage: 1_000_000, maxTextLength: 16 * 1024 * 1024 };

type Attrs = Readonly<Record<string, string>>;

/** Element events of one metadata file, with the path of open elements. */
interface Handler {
  open(path: readonly string[], attrs: Attrs): void;
  close(path: readonly string[], text: string): void;
}

async function* textChunks(source: XmlSource): AsyncGenerator<string> {
  if (typeof source === 'string') {
    yield source;
    return;
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of source) {
      yield typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    }
    const rest = decoder.decode();
    if (rest) yield rest;
  } catch (e) {
    if (e instanceof TypeError) throw new PackageFormatError(`metadata is not valid UTF-8: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Run saxes over the source, collecting text per element and reporting open/close. */
async function runParser(file: string, root: string, source: XmlSource, maxText: number, handler: Handler): Promise<void> {
  const parser = new SaxesParser({ position: true });
  const path: string[] = [];
  let text = '';
  let failure: unknown;
  let sawRoot = false;
  const addText = (t: string) => {
    if (path.length === 0) return;
    if (text.length + t.length > maxText) throw new PackageFormatError(`${file}: text of <${path[path.length - 1]}> is longer than the limit of ${maxText} characters`);
    text += t;
  };
  parser.on('opentag', (tag) => {
    if (path.length === 0) {
      check(tag.name === root, `${file}: root element is <${tag.name}>, expected <${root}>`);
      sawRoot = true;
    }
    path.push(tag.name);
    text = '';
    handler.open(path, tag.attributes as Attrs);
  });
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.on('closetag', () => {
    handler.close(path, text);
    path.pop();
    text = '';
  });
  parser.on('error', (e) => {
    failure ??= e;
    // stop at the first error: saxes would otherwise go on and build one per bad character
    throw e;
  });
  const fail = (e: unknown): never => {
    if (e instanceof PackageFormatError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    throw new PackageFormatError(`${file} is not well-formed XML: ${message}`, { cause: e });
  };
  try {
    for await (const chunk of textChunks(source)) {
      parser.write(chunk);
      if (failure) fail(failure);
    }
    parser.close();
  } catch (e) {
    fail(e);
  }
  if (failure) fail(failure);
  check(sawRoot, `${file} has no <${root}> element`);
}

function integer(file: string, value: string | undefined, what: string): number {
  check(value !== undefined, `${file}: missing ${what}`);
  if (!/^\d{1,15}$/.test(value)) throw new PackageFormatError(`${file}: ${what} is not a non-negative integer: ${JSON.stringify(value.slice(0, 40))}`);
  return Number(value);
}

function required(file: string, value: string | undefined, what: string): string {
  check(value !== undefined, `${file}: missing ${what}`);
  return value;
}

const FLAGS: ReadonlySet<string> = new Set(['EQ', 'LT', 'LE', 'GT', 'GE']);
const FILE_TYPES: ReadonlySet<string> = new Set(['file', 'dir', 'ghost']);

function fileEntry(file: string, attrs: Attrs, path: string): RpmFile {
  const type = attrs.type ?? 'file';
  if (!FILE_TYPES.has(type)) throw new PackageFormatError(`${file}: unknown file type ${JSON.stringify(type)} of ${path}`);
  return { path, type: type as RpmFileType };
}

function dependencyEntry(file: string, a: Attrs): RpmDependency {
  const name = required(file, a.name, 'name of an <rpm:entry>');
  if (a.flags !== undefined && !FLAGS.has(a.flags)) throw new PackageFormatError(`${file}: unknown dependency flags ${JSON.stringify(a.flags)} of ${name}`);
  return {
    name,
    ...(a.flags ? { flags: a.flags as RpmDependencyFlag } : {}),
    ...(a.epoch ? { epoch: a.epoch } : {}),
    ...(a.ver ? { ver: a.ver } : {}),
    ...(a.rel ? { rel: a.rel } : {}),
    ...(a.pre === '1' ? { pre: true } : {}),
  };
}

/** Counts packages and items per package against the limits. */
class Budget {
  private packages = 0;
  private items = 0;
  constructor(private readonly file: string, private readonly limits: typeof DEFAULTS) {}
  package(): void {
    this.packages++;
    this.items = 0;
    if (this.packages > this.limits.maxPackages) throw new PackageFormatError(`${this.file} lists more than ${this.limits.maxPackages} packages`);
  }
  item(): void {
    this.items++;
    if (this.items > this.limits.maxItemsPerPackage) throw new PackageFormatError(`${this.file}: a package has more than ${this.limits.maxItemsPerPackage} entries`);
  }
}

const DEPENDENCY_ELEMENTS = ['provides', 'requires', 'conflicts', 'obsoletes', 'suggests', 'enhances', 'recommends', 'supplements'] as const;
type DependencyKind = typeof DEPENDENCY_ELEMENTS[number];

interface PrimaryDraft {
  attrs: Record<string, Attrs>;
  texts: Record<string, string>;
  deps: Record<DependencyKind, RpmDependency[]>;
  files: RpmFile[];
}

function newPrimaryDraft(): PrimaryDraft {
  return {
    attrs: {},
    texts: {},
    deps: { provides: [], requires: [], conflicts: [], obsoletes: [], suggests: [], enhances: [], recommends: [], supplements: [] },
    files: [],
  };
}

function finishPrimary(file: string, d: PrimaryDraft): RpmPackage {
  const version = d.attrs.version ?? {};
  const checksum = d.attrs.checksum ?? {};
  const name = required(file, d.texts.name, '<name> of a package');
  const where = `${file}: package ${name}`;
  const checksumType = checksum.type ?? 'sha256';
  check(checksumType === 'sha256', `${where}: unsupported checksum type ${JSON.stringify(checksumType)} (only sha256)`);
  const pkgId = required(where, d.texts.checksum, '<checksum>').trim();
  const range = d.attrs['rpm:header-range'] ?? {};
  const location = d.attrs.location ?? {};
  return {
    pkgId,
    checksumType: 'sha256',
    name,
    arch: required(where, d.texts.arch, '<arch>'),
    epoch: version.epoch || '0',
    version: required(where, version.ver, '<version ver>'),
    release: required(where, version.rel, '<version rel>'),
    summary: d.texts.summary ?? '',
    description: d.texts.description ?? '',
    packager: d.texts.packager ?? '',
    url: d.texts.url ?? '',
    time: { file: integer(where, d.attrs.time?.file, '<time file>'), build: integer(where, d.attrs.time?.build, '<time build>') },
    size: {
      package: integer(where, d.attrs.size?.package, '<size package>'),
      installed: integer(where, d.attrs.size?.installed ?? '0', '<size installed>'),
      archive: integer(where, d.attrs.size?.archive ?? '0', '<size archive>'),
    },
    location: {
      href: required(where, location.href, '<location href>'),
      ...(location['xml:base'] ? { base: location['xml:base'] } : {}),
    },
    format: {
      license: d.texts['rpm:license'] ?? '',
      vendor: d.texts['rpm:vendor'] ?? '',
      group: d.texts['rpm:group'] ?? '',
      buildhost: d.texts['rpm:buildhost'] ?? '',
      sourcerpm: d.texts['rpm:sourcerpm'] ?? '',
      headerRange: { start: integer(where, range.start ?? '0', '<rpm:header-range start>'), end: integer(where, range.end ?? '0', '<rpm:header-range end>') },
      ...d.deps,
    },
    files: d.files,
    changelogs: [],
  };
}

function identity(file: string, attrs: Attrs, version: Attrs | undefined): PackageIdentity {
  const name = required(file, attrs.name, 'name of a <package>');
  const where = `${file}: package ${name}`;
  return {
    pkgId: required(where, attrs.pkgid, 'pkgid'),
    name,
    arch: required(where, attrs.arch, 'arch'),
    epoch: version?.epoch || '0',
    version: required(where, version?.ver, '<version ver>'),
    release: required(where, version?.rel, '<version rel>'),
  };
}

/**
 * Read primary.xml. The packages carry primary's (partial) file list and no changelogs until
 * merged with `mergeMetadata`.
 */
export async function parsePrimary(source: XmlSource, limits: MetadataLimits = {}): Promise<RpmPackage[]> {
  const out: RpmPackage[] = [];
  await eachPrimaryPackage(source, (pkg) => out.push(pkg), limits);
  return out;
}

/** Read primary.xml package by package, holding one at a time (see `parsePrimary`). */
export async function eachPrimaryPackage(
  source: XmlSource, onPackage: (pkg: RpmPackage) => void, limits: MetadataLimits = {},
): Promise<void> {
  const file = 'primary.xml';
  const l = { ...DEFAULTS, ...limits };
  const budget = new Budget(file, l);
  let d: PrimaryDraft | undefined;
  let fileAttrs: Attrs = {};
  await runParser(file, 'metadata', source, l.maxTextLength, {
    open(path, attrs) {
      const depth = path.length;
      const name = path[depth - 1];
      if (depth === 2 && name === 'package') {
        budget.package();
        d = newPrimaryDraft();
      } else if (d && depth === 3) {
        d.attrs[name] = attrs;
      } else if (d && depth === 4 && path[2] === 'format') {
        if (name === 'file') {
          budget.item();
          fileAttrs = attrs;
        } else {
          d.attrs[name] = attrs;
        }
      } else if (d && depth === 5 && name === 'rpm:entry' && path[2] === 'format') {
        const kind = path[3].replace(/^rpm:/, '') as DependencyKind;
        if (DEPENDENCY_ELEMENTS.includes(kind)) {
          budget.item();
          d.deps[kind].push(dependencyEntry(file, attrs));
        }
      }
    },
    close(path, text) {
      const depth = path.length;
      const name = path[depth - 1];
      if (!d) return;
      if (depth === 2 && name === 'package') {
        onPackage(finishPrimary(file, d));
        d = undefined;
      } else if (depth === 3 && name !== 'format') {
        d.texts[name] = text;
      } else if (depth === 4 && path[2] === 'format') {
        if (name === 'file') d.files.push(fileEntry(file, fileAttrs, text));
        else d.texts[name] = text;
      }
    },
  });
}

/** Read filelists.xml. */
export async function parseFilelists(source: XmlSource, limits: MetadataLimits = {}): Promise<FilelistsEntry[]> {
  const out: FilelistsEntry[] = [];
  await eachFilelistsPackage(source, (entry) => out.push(entry), limits);
  return out;
}

/** Read filelists.xml package by package. */
export async function eachFilelistsPackage(
  source: XmlSource, onPackage: (entry: FilelistsEntry) => void, limits: MetadataLimits = {},
): Promise<void> {
  const file = 'filelists.xml';
  await eachListPackage(source, limits, { file, root: 'filelists', item: 'file' },
    (attrs, text) => fileEntry(file, attrs, text),
    (id, files) => onPackage({ ...id, files }));
}

/** Read other.xml. */
export async function parseOther(source: XmlSource, limits: MetadataLimits = {}): Promise<OtherEntry[]> {
  const out: OtherEntry[] = [];
  await eachOtherPackage(source, (entry) => out.push(entry), limits);
  return out;
}

/** Read other.xml package by package. */
export async function eachOtherPackage(source: XmlSource, onPackage: (entry: OtherEntry) => void, limits: MetadataLimits = {}): Promise<void> {
  const file = 'other.xml';
  await eachListPackage(source, limits, { file, root: 'otherdata', item: 'changelog' },
    (attrs, text, pkg) => ({
      author: attrs.author ?? '',
      date: integer(file, attrs.date, `date of a changelog entry of ${pkg.name}`),
      text,
    }),
    (id, changelogs) => onPackage({ ...id, changelogs }));
}

/**
 * filelists.xml and other.xml share one shape: `<package pkgid name arch><version/>` followed by
 * a list of one kind of item. Reads it package by package, within the limits.
 */
async function eachListPackage<T>(
  source: XmlSource,
  limits: MetadataLimits,
  shape: { readonly file: string; readonly root: string; readonly item: string },
  itemOf: (attrs: Attrs, text: string, pkg: Attrs) => T,
  onPackage: (id: PackageIdentity, items: T[]) => void,
): Promise<void> {
  const { file } = shape;
  const l = { ...DEFAULTS, ...limits };
  const budget = new Budget(file, l);
  let pkgAttrs: Attrs | undefined;
  let version: Attrs | undefined;
  let items: T[] = [];
  let itemAttrs: Attrs = {};
  await runParser(file, shape.root, source, l.maxTextLength, {
    open(path, attrs) {
      const name = path[path.length - 1];
      if (path.length === 2 && name === 'package') {
        budget.package();
        pkgAttrs = attrs;
        version = undefined;
        items = [];
      } else if (pkgAttrs && path.length === 3) {
        if (name === 'version') version = attrs;
        if (name === shape.item) {
          budget.item();
          itemAttrs = attrs;
        }
      }
    },
    close(path, text) {
      const name = path[path.length - 1];
      if (!pkgAttrs) return;
      if (path.length === 3 && name === shape.item) items.push(itemOf(itemAttrs, text, pkgAttrs));
      if (path.length === 2 && name === 'package') {
        onPackage(identity(file, pkgAttrs, version), items);
        pkgAttrs = undefined;
      }
    },
  });
}

/** Same name, arch, epoch, version and release. */
export function sameIdentity(a: PackageIdentity, b: PackageIdentity): boolean {
  return a.name === b.name && a.arch === b.arch && a.epoch === b.epoch && a.version === b.version && a.release === b.release;
}

function byPkgId<T extends PackageIdentity>(entries: readonly T[]): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const e of entries) {
    const list = map.get(e.pkgId);
    if (list) list.push(e);
    else map.set(e.pkgId, [e]);
  }
  return map;
}

/**
 * Join the three files by pkgid: files from filelists, changelogs from other (a pkgid listed
 * twice is matched in order). Throws PackageFormatError when a primary package is missing from
 * either or its name/version/arch differ.
 */
export function mergeMetadata(
  primary: readonly RpmPackage[],
  filelists: readonly FilelistsEntry[],
  other: readonly OtherEntry[],
): RpmPackage[] {
  const files = byPkgId(filelists);
  const changes = byPkgId(other);
  return primary.map((pkg) => {
    const f = files.get(pkg.pkgId)?.shift();
    const o = changes.get(pkg.pkgId)?.shift();
    check(f, `filelists.xml has no package with pkgid ${pkg.pkgId} (${pkg.name})`);
    check(o, `other.xml has no package with pkgid ${pkg.pkgId} (${pkg.name})`);
    check(sameIdentity(pkg, f), `filelists.xml describes pkgid ${pkg.pkgId} as ${f.name}-${f.version}-${f.release}.${f.arch}, primary.xml as ${pkg.name}-${pkg.version}-${pkg.release}.${pkg.arch}`);
    check(sameIdentity(pkg, o), `other.xml describes pkgid ${pkg.pkgId} as ${o.name}-${o.version}-${o.release}.${o.arch}, primary.xml as ${pkg.name}-${pkg.version}-${pkg.release}.${pkg.arch}`);
    return { ...pkg, files: f.files, changelogs: o.changelogs };
  });
}

/**
 * What a summary of our own primary.xml keeps of one package: the fields an update lists
 * packages by (location, size, name, `[epoch:]version-release`, arch, pkgid).
 */
export interface PrimarySummaryEntry {
  readonly href: string;
  readonly size: number;
  readonly name: string;
  /** `[epoch:]version-release`. */
  readonly evr: string;
  readonly arch: string;
  readonly pkgId: string;
}

/** Version of the primary summary layout. */
export const PRIMARY_SUMMARY_VERSION = 1;

/** A location with an empty, `.` or `..` segment (or a leading `/`). */
const DOT_OR_EMPTY_SEGMENT = /(?:^|\/)\.{0,2}(?:\/|$)/;

type PrimarySummaryRow = [href: string, size: number, name: string, evr: string, arch: string, pkgId: string];

/**
 * The summary of a primary.xml's chunks (gzip members with packages, in order) as JSON text:
 * kept as engine state beside the metadata and named by the primary file's SHA-256, it lets an
 * update list the packages without inflating primary.xml.
 */
export function renderPrimarySummary(chunks: ReadonlyArray<readonly PrimarySummaryEntry[]>): string {
  const rows = chunks.map((chunk) => chunk.map((e): PrimarySummaryRow => [e.href, e.size, e.name, e.evr, e.arch, e.pkgId]));
  return renderChunkSummary(PRIMARY_SUMMARY_VERSION, rows);
}

/**
 * Reads a summary back; `packages` are the package counts of primary's chunks (from their
 * gzip member tags). PackageFormatError when it does not describe chunks of those counts, or
 * an entry is malformed (a location that is not a relative path below the repository root).
 */
export function parsePrimarySummary(bytes: Uint8Array, packages: readonly number[], file: string): PrimarySummaryEntry[][] {
  const expected = { version: PRIMARY_SUMMARY_VERSION, counts: packages, width: 6 };
  return parseChunkSummary(bytes, expected, file, { item: 'package', index: 'primary.xml' }, (row) => {
    const [href, size, name, evr, arch, pkgId] = row;
    const valid = typeof href === 'string' && href !== '' && !DOT_OR_EMPTY_SEGMENT.test(href)
      && typeof size === 'number' && Number.isSafeInteger(size) && size >= 0
      && typeof name === 'string' && name !== '' && typeof evr === 'string' && evr !== '' && typeof arch === 'string' && arch !== ''
      && typeof pkgId === 'string' && PKGID.test(pkgId);
    return valid ? { href, size, name, evr, arch, pkgId } as PrimarySummaryEntry : undefined;
  });
}

/** A package checksum in hex (SHA-1 to SHA-512). */
const PKGID = /^[0-9a-f]{40,128}$/;
