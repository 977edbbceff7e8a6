import { createHash } from 'node:crypto';
import { compressionOfName, decompress } from '../../formats/compression';
import { check, PackageFormatError } from '../../formats/errors';
import {
  chunkLengths, eachFilelistsPackage, eachOtherPackage, eachPrimaryPackage,
  filelistsPackageXml, filelistsXmlFooter, filelistsXmlHeader, gunzipMember, gzipMember, isChunkEnd, memberOpenSize,
  METADATA_WRITER_VERSION, otherPackageXml, otherXmlFooter, otherXmlHeader, parsePrimarySummary, parseRepomd, parseRpm, pkgIdOf,
  primaryPackageXml, primarySummary, type PrimarySummaryEntry, renderPrimarySummary, primaryXmlFooter, primaryXmlHeader, rpmHeaderSpan,
  sameIdentity, splitPackages,
  rpmvercmp, taggedMembers, writeRepomd,
  type PackageIdentity, type Repomd, type RepomdRecord, type RpmPackage, type TaggedMember,
} from '../../formats/rpm';
import type { Storage } from '../../storage/storage';
import type { IndexedPackage, OutputFile, PackageObject, RenderContext, RepositoryFormat, RepositoryUnit, UnitIndex } from '../format';
import { inOrder } from '../in-order';
import type { PackageParser } from '../parallel';

/** The three metadata files of an rpm-md repository, in the order they are written. */
type DataType = 'primary' | 'filelists' | 'other';
const DATA_TYPES: readonly DataType[] = ['primary', 'filelists', 'other'];

/**
 * One package's elements in primary.xml, filelists.xml and other.xml, as the writers render
 * them, UTF-8 encoded (compact, and outside the JavaScript heap the garbage collector scans).
 */
export type PackageXml = Readonly<Record<DataType, Buffer>>;

/**
 * One package of an rpm-md index. The engine keeps thousands: an entry holds the package's
 * rendered XML (a package read in this run, or one of an index another tool made) or the
 * number of the chunk of our loaded index that holds it, never the parsed package model.
 */
export interface YumEntry extends IndexedPackage {
  /** SHA-256 of the package file (`pkgid`). */
  readonly pkgId: string;
  /** Its XML, rendered once when it was read. */
  readonly xml?: PackageXml;
  /** A package of our own loaded index: which of its chunks holds its XML. */
  readonly chunk?: number;
}

/** A chunk of our own loaded index: the same packages in one gzip member of each file. */
interface LoadedChunk {
  /** Storage keys of its packages, in order. */
  readonly keys: readonly string[];
  readonly pkgIds: readonly string[];
  readonly members: Readonly<Record<DataType, Uint8Array>>;
  /**
   * primary.xml's text of the chunk, when it was inflated on load (to list its packages; split
   * again for a changed chunk); absent when the packages were listed from the summary.
   */
  readonly primaryText?: Buffer;
}

/** What the engine carries from the loaded index to the next render. */
interface YumState {
  /** Records of the published repomd.xml that we do not write ourselves (comps, updateinfo, modules): kept. */
  readonly foreignRecords: readonly RepomdRecord[];
  /** Chunks of our own index, reused where their packages did not change; none for another tool's index. */
  readonly chunks: readonly LoadedChunk[];
}

export interface YumFormatOptions {
  /** Changelog entries kept per package. @default 10 (createrepo_c's default) */
  readonly changelogLimit?: number;
  /** gzip level of the metadata files. @default 6 */
  readonly compressionLevel?: number;
  /**
   * Where packages are parsed (parallelFormat: in worker threads); the bookkeeping around each
   * read stays here. @default on this thread
   */
  readonly parse?: PackageParser;
}

/** The most metadata (uncompressed) one repository may have: 4 GiB. */
const MAX_METADATA_BYTES = 4 * 1024 ** 3;
/** The most one chunk of metadata (one gzip member) may hold uncompressed: 256 MiB. */
const MAX_CHUNK_BYTES = 256 * 1024 ** 2;
/** The largest header region an .rpm may have before its payload: 256 MiB. */
const MAX_HEADER_SPAN = 256 * 1024 ** 2;
/** Chunks being inflated or compressed ahead of the one being hashed, per file. */
const CHUNK_WINDOW = 6;
/** Records this format writes; everything else in an adopted repomd.xml is carried over. */
const OWN_RECORDS = new Set(['primary', 'filelists', 'other']);
/** SQLite databases of an adopted repository: dropped, since they would go stale. */
const DROPPED_RECORDS = new Set(['primary_db', 'filelists_db', 'other_db', 'primary_zck', 'filelists_zck', 'other_zck']);

/**
 * rpm-md (yum/dnf). Layout: every directory holding .rpm files is a repository root, except that
 * a `Packages/` directory (and anything below it) belongs to the root above it.
 */
export function yumFormat(options: YumFormatOptions = {}): RepositoryFormat<YumEntry> {
  const level = options.compressionLevel ?? 6;
  const precompressions = new Map<string, Precompression>();
  return {
    name: 'yum',
    compareVersions: compareEvr,
    manifestKeys: (u) => [`${u.root}repodata/repomd.xml`, `${u.root}repodata/repomd.xml.asc`],
    isPackage: (key) => key.endsWith('.rpm'),
    unitOf: (key) => unit(rootOfPackage(key)),
    unitsOfMetadata: (key) => (key.endsWith('repodata/repomd.xml') ? unit(key.slice(0, -'repodata/repomd.xml'.length)) : undefined),
    metadataPrefixes: (u) => [`${u.root}repodata/`, summaryPrefix(u)],
    isOwnedMetadata: (u, key) => {
      if (key.startsWith(summaryPrefix(u))) return /^[0-9a-f]{64}\.json$/.test(key.slice(summaryPrefix(u).length));
      if (!key.startsWith(`${u.root}repodata/`)) return false;
      const name = key.slice(u.root.length + 'repodata/'.length);
      return /^[0-9a-f]{64}-(primary|filelists|other)\.xml(\.(gz|zst|xz|bz2))?$/.test(name);
    },
    loadIndex: async (storage, u) => {
      const index = await loadIndex(storage, u);
      // a new index: compress chunks while packages are still being read (see Precompression)
      if (index.entries.size === 0) precompressions.set(u.id, new Precompression(level));
      else precompressions.delete(u.id);
      return index;
    },
    readPackage: async (pkg, u) => {
      const precompression = precompressions.get(u.id);
      const slot = precompression?.reserve();
      let entry: YumEntry | undefined;
      try {
        const here = () => readPackage(pkg, u, options.changelogLimit);
        entry = await (options.parse ? options.parse(pkg, u, here) as Promise<YumEntry> : here());
        return entry;
      } finally {
        if (slot !== undefined) precompression!.settle(slot, entry);
      }
    },
    render: (u, entries, previous, ctx) => {
      const precompression = precompressions.get(u.id);
      precompressions.delete(u.id);
      return render(u, entries, previous, ctx, level, precompression);
    },
  };
}

function unit(root: string): RepositoryUnit {
  return { id: `yum:${root}`, root, params: {} };
}

/** `a/b/x.rpm` → `a/b/`; `a/Packages/x.rpm` and `a/Packages/x/y.rpm` → `a/`. */
export function rootOfPackage(key: string): string {
  const segments = key.split('/');
  segments.pop();
  const packagesAt = segments.lastIndexOf('Packages');
  const dirs = packagesAt >= 0 ? segments.slice(0, packagesAt) : segments;
  return dirs.length ? `${dirs.join('/')}/` : '';
}

function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

function evrOf(p: Pick<PackageIdentity, 'epoch' | 'version' | 'release'>): string {
  return `${p.epoch && p.epoch !== '0' ? `${p.epoch}:` : ''}${p.version}-${p.release}`;
}

/** Orders two `[epoch:]version-release` strings (as evrOf writes them) the way rpm and dnf do. */
export function compareEvr(a: string, b: string): number {
  const split = (evr: string) => {
    const colon = evr.indexOf(':');
    const epoch = colon >= 0 ? evr.slice(0, colon) : '0';
    const rest = colon >= 0 ? evr.slice(colon + 1) : evr;
    const dash = rest.lastIndexOf('-');
    return dash >= 0 ? [epoch, rest.slice(0, dash), rest.slice(dash + 1)] : [epoch, rest, ''];
  };
  const left = split(a);
  const right = split(b);
  return rpmvercmp(left[0], right[0]) || rpmvercmp(left[1], right[1]) || rpmvercmp(left[2], right[2]);
}

/** The entry of a package read in this run: its XML rendered now, the model let go. */
function entryOf(root: string, pkg: RpmPackage): YumEntry {
  return {
    key: root + pkg.location.href,
    size: pkg.size.package,
    digest: pkg.pkgId,
    name: pkg.name,
    version: evrOf(pkg),
    arch: pkg.arch,
    pkgId: pkg.pkgId,
    xml: { primary: utf8(primaryPackageXml(pkg)), filelists: utf8(filelistsPackageXml(pkg)), other: utf8(otherPackageXml(pkg)) },
  };
}

/** The packages of a loaded index, and its chunks when we wrote it. */
interface LoadedIndex {
  readonly entries: Map<string, YumEntry>;
  readonly chunks: LoadedChunk[];
}

/** One metadata file named by repomd.xml, as stored. */
interface StoredFile {
  readonly type: DataType;
  readonly record: RepomdRecord;
  readonly bytes: Uint8Array;
}

async function loadIndex(storage: Storage, u: RepositoryUnit): Promise<UnitIndex<YumEntry>> {
  const repomdBytes = await storage.get(`${u.root}repodata/repomd.xml`);
  if (!repomdBytes) return { entries: new Map(), state: { foreignRecords: [], chunks: [] } satisfies YumState };
  const repomd = parseRepomd(Buffer.from(repomdBytes).toString('utf8'));
  const files = await Promise.all(DATA_TYPES.map(async (type): Promise<StoredFile> => {
    const record = repomd.records.find((r) => r.type === type);
    if (!record) throw new Error(`${u.root}repodata/repomd.xml has no ${type} record`);
    const key = u.root + record.href;
    const bytes = await storage.get(key);
    if (!bytes) throw new Error(`${key}, named by repomd.xml, is missing`);
    return { type, record, bytes };
  }));
  const loaded = (await loadOwnIndex(storage, u, files)) ?? { entries: await loadOtherIndex(u, files), chunks: [] };
  const foreignRecords = repomd.records.filter((r) => !OWN_RECORDS.has(r.type) && !DROPPED_RECORDS.has(r.type));
  // adopted without a signature (createrepo_c alone): sign it even if no package changed
  const stale = (await storage.head(`${u.root}repodata/repomd.xml.asc`)) === undefined;
  return { entries: loaded.entries, state: { foreignRecords, chunks: loaded.chunks } satisfies YumState, stale };
}

/**
 * An index this writer made (every gzip member tagged by this writer version): only primary's
 * chunks are inflated, to list the packages; nothing is parsed into package models.
 * Undefined for any other index.
 */
async function loadOwnIndex(storage: Storage, u: RepositoryUnit, files: readonly StoredFile[]): Promise<LoadedIndex | undefined> {
  const members = files.map((f) => (f.record.href.endsWith('.gz') ? taggedMembers(f.bytes, `${f.type}.xml`) : undefined));
  if (!members.every((m): m is TaggedMember[] => m !== undefined && m.every((x) => x.writer === METADATA_WRITER_VERSION))) return undefined;
  const [primary, filelists, other] = members;
  check(primary.length >= 2 && filelists.length === primary.length && other.length === primary.length,
    `repodata: primary, filelists and other have ${primary.length}, ${filelists.length} and ${other.length} gzip members`);
  primary.forEach((m, i) => {
    const inner = i > 0 && i < primary.length - 1;
    check(inner ? m.packages > 0 : m.packages === 0, `primary.xml: gzip member ${i} claims ${m.packages} packages`);
    check(filelists[i].packages === m.packages && other[i].packages === m.packages,
      `repodata: gzip member ${i} holds ${m.packages}, ${filelists[i].packages} and ${other[i].packages} packages in primary, filelists and other`);
  });
  const inner = primary.slice(1, -1);
  const summarized = await loadSummary(storage, u, files[0].bytes, inner, filelists, other);
  if (summarized) return summarized;
  const texts = await boundedInflate(inner.map((m) => m.bytes), 'primary.xml');
  const entries = new Map<string, YumEntry>();
  const chunks = inner.map((m, c): LoadedChunk => {
    const keys: string[] = [];
    const pkgIds: string[] = [];
    for (const element of splitPackages(texts[c], m.packages, 'primary.xml')) {
      const s = primarySummary(element, 'primary.xml');
      const entry: YumEntry = {
        key: u.root + s.href, size: s.size, name: s.name, version: evrOf(s), arch: s.arch, pkgId: s.pkgId, digest: s.pkgId, chunk: c,
      };
      entries.set(entry.key, entry);
      keys.push(entry.key);
      pkgIds.push(s.pkgId);
    }
    return { keys, pkgIds, members: { primary: m.bytes, filelists: filelists[c + 1].bytes, other: other[c + 1].bytes }, primaryText: texts[c] };
  });
  return { entries, chunks };
}

/** Where the summaries of a unit's primary.xml are kept (`<prefix><SHA-256 of primary.xml.gz>.json`). */
function summaryPrefix(u: RepositoryUnit): string {
  return `${u.root}.pkgrepo/yum-primary-summary-`;
}

/**
 * The packages from the summary of this very primary.xml.gz (written by `render`), without
 * inflating it; undefined when there is none or it does not fit (then primary is inflated).
 */
async function loadSummary(
  storage: Storage,
  u: RepositoryUnit,
  primaryGz: Uint8Array,
  inner: readonly TaggedMember[],
  filelists: readonly TaggedMember[],
  other: readonly TaggedMember[],
): Promise<LoadedIndex | undefined> {
  const key = `${summaryPrefix(u)}${createHash('sha256').update(primaryGz).digest('hex')}.json`;
  const bytes = await storage.get(key);
  if (bytes === undefined) return undefined;
  let summary: PrimarySummaryEntry[][];
  try {
    summary = parsePrimarySummary(bytes, inner.map((m) => m.packages), key);
  } catch (e) {
    if (e instanceof PackageFormatError) return undefined;
    throw e;
  }
  const entries = new Map<string, YumEntry>();
  const chunks = summary.map((rows, c): LoadedChunk => {
    const keys: string[] = [];
    const pkgIds: string[] = [];
    for (const s of rows) {
      const entry: YumEntry = {
        key: u.root + s.href, size: s.size, name: s.name, version: s.evr, arch: s.arch, pkgId: s.pkgId, digest: s.pkgId, chunk: c,
      };
      entries.set(entry.key, entry);
      keys.push(entry.key);
      pkgIds.push(s.pkgId);
    }
    return { keys, pkgIds, members: { primary: inner[c].bytes, filelists: filelists[c + 1].bytes, other: other[c + 1].bytes } };
  });
  // two rows of one location: not a summary this writer made
  return entries.size === summary.reduce((n, rows) => n + rows.length, 0) ? { entries, chunks } : undefined;
}

/** The summary `render` writes beside primary.xml.gz (named by its SHA-256) for the next update. */
function summaryFile(u: RepositoryUnit, primaryChecksum: string, plan: readonly PlannedChunk[]): OutputFile {
  const chunks = plan.map((chunk) => chunk.entries.map((e): PrimarySummaryEntry => ({
    href: e.key.slice(u.root.length), size: e.size, name: e.name, evr: e.version, arch: e.arch, pkgId: e.pkgId,
  })));
  return { key: `${summaryPrefix(u)}${primaryChecksum}.json`, body: renderPrimarySummary(chunks), contentType: 'application/json', kind: 'immutable' };
}

/** Inflate members (on the thread pool), keeping the total within MAX_METADATA_BYTES. */
async function boundedInflate(members: readonly Uint8Array[], file: string): Promise<Buffer[]> {
  let total = 0;
  return Promise.all(members.map(async (m) => {
    const text = await gunzipMember(m, MAX_CHUNK_BYTES, file);
    total += text.length;
    check(total <= MAX_METADATA_BYTES, `${file} expands beyond the limit of ${MAX_METADATA_BYTES} bytes`);
    return text;
  }));
}

/**
 * An index another tool made (createrepo_c, or an older writer of ours): parsed package by
 * package, and each package rendered again by the writers, so the next publish is
 * createrepo_c's layout. Only the rendered XML is kept, not the parsed models.
 */
async function loadOtherIndex(u: RepositoryUnit, files: readonly StoredFile[]): Promise<Map<string, YumEntry>> {
  const source = (f: StoredFile) => decompress(f.bytes, compressionOfName(f.record.href), MAX_METADATA_BYTES);
  const [primaryFile, filelistsFile, otherFile] = files;
  type Rendered = { readonly identity: PackageIdentity; readonly xml: Buffer };
  const byPkgId = (into: Map<string, Rendered[]>, identity: PackageIdentity, xml: Buffer) => {
    const list = into.get(identity.pkgId);
    if (list) list.push({ identity, xml });
    else into.set(identity.pkgId, [{ identity, xml }]);
  };
  const primary: Array<{ pkg: PackageIdentity & { size: number; href: string }; xml: Buffer }> = [];
  const filelists = new Map<string, Rendered[]>();
  const other = new Map<string, Rendered[]>();
  await Promise.all([
    eachPrimaryPackage(source(primaryFile), (pkg) => {
      const { pkgId, name, arch, epoch, version, release } = pkg;
      const identity = { pkgId, name, arch, epoch, version, release, size: pkg.size.package, href: pkg.location.href };
      primary.push({ pkg: identity, xml: utf8(primaryPackageXml(pkg)) });
    }),
    eachFilelistsPackage(source(filelistsFile), (entry) => byPkgId(filelists, identityOf(entry), utf8(filelistsPackageXml(entry)))),
    eachOtherPackage(source(otherFile), (entry) => byPkgId(other, identityOf(entry), utf8(otherPackageXml(entry)))),
  ]);
  // joined by pkgid (a pkgid listed twice is matched in order), as mergeMetadata does
  const entries = new Map<string, YumEntry>();
  for (const { pkg, xml } of primary) {
    const joined = (file: string, from: Map<string, Rendered[]>) => {
      const found = from.get(pkg.pkgId)?.shift();
      check(found, `${file} has no package with pkgid ${pkg.pkgId} (${pkg.name})`);
      const f = found.identity;
      check(sameIdentity(pkg, f), `${file} describes pkgid ${pkg.pkgId} as ${f.name}-${f.version}-${f.release}.${f.arch}, primary.xml as ${pkg.name}-${pkg.version}-${pkg.release}.${pkg.arch}`);
      return found.xml;
    };
    const entry: YumEntry = {
      key: u.root + pkg.href,
      size: pkg.size,
      digest: pkg.pkgId,
      name: pkg.name,
      version: evrOf(pkg),
      arch: pkg.arch,
      pkgId: pkg.pkgId,
      xml: { primary: xml, filelists: joined('filelists.xml', filelists), other: joined('other.xml', other) },
    };
    entries.set(entry.key, entry);
  }
  return entries;
}

function identityOf(p: PackageIdentity): PackageIdentity {
  return { pkgId: p.pkgId, name: p.name, arch: p.arch, epoch: p.epoch, version: p.version, release: p.release };
}

/**
 * Read one .rpm piece by piece: hash the whole file (pkgid) and parse the headers before its
 * payload as soon as they are in. The payload, most of the file, is only hashed, so no buffer
 * of the whole package is ever made.
 */
async function readPackage(obj: PackageObject, u: RepositoryUnit, changelogLimit: number | undefined): Promise<YumEntry> {
  const href = obj.key.slice(u.root.length);
  const mtime = Math.floor(obj.lastModified.getTime() / 1000);
  // the file's size and digest are known at its end: they are filled in then
  const { parsed, total, sha256 } = await scanRpm(obj, (head) => parseRpm(head, { href, size: 0, mtime, sha256: '' }, { changelogLimit }));
  return entryOf(u.root, { ...parsed, pkgId: sha256, size: { ...parsed.size, package: total } });
}

interface ScannedRpm<T> {
  /** What `parse` made of the headers. */
  readonly parsed: T;
  readonly total: number;
  readonly sha256: string;
}

function checkSpan(span: number | undefined, have: number, total: number): void {
  if (span === undefined) {
    throw new PackageFormatError(total === 0 ? 'empty file' : `truncated: ${total} bytes end before the package headers do`);
  }
  if (span > MAX_HEADER_SPAN) throw new PackageFormatError(`headers span ${span} bytes, more than the limit of ${MAX_HEADER_SPAN}`);
  if (have < span) throw new PackageFormatError(`truncated: the headers need ${span} bytes, the file has ${total}`);
}

/**
 * Hashes the whole .rpm and runs `parse` over its headers (the bytes up to the end of the main
 * header, and maybe more) once they are in: over the piece itself when it holds them (the
 * usual case), else over a copy of the pieces that do.
 */
async function scanRpm<T>(obj: PackageObject, parse: (head: Uint8Array) => T): Promise<ScannedRpm<T>> {
  const hash = createHash('sha256');
  // copies: a piece is valid only while it is visited
  const head: Buffer[] = [];
  let headBytes = 0;
  let span: number | undefined;
  let total = 0;
  let parsed: { readonly value: T } | undefined;
  await obj.scan((piece) => {
    hash.update(piece);
    total += piece.length;
    if (parsed) return;
    if (headBytes === 0) {
      span = rpmHeaderSpan(piece);
      if (span !== undefined && span <= piece.length) {
        parsed = { value: parse(piece) };
        return;
      }
    }
    head.push(Buffer.from(piece));
    headBytes += piece.length;
    span ??= rpmHeaderSpan(Buffer.concat(head));
    if (span !== undefined && span > MAX_HEADER_SPAN) checkSpan(span, headBytes, total);
    if (span !== undefined && headBytes >= span) parsed = { value: parse(Buffer.concat(head)) };
  });
  if (!parsed) checkSpan(span, headBytes, total);
  return { parsed: parsed!.value, total, sha256: hash.digest('hex') };
}

interface Compressed {
  readonly gz: Buffer;
  readonly openSize: number;
  /** SHA-256 of `gz`, hex. */
  readonly checksum: string;
}

const XML_HEADERS: Readonly<Record<DataType, (count: number) => string>> = {
  primary: primaryXmlHeader,
  filelists: filelistsXmlHeader,
  other: otherXmlHeader,
};
const XML_FOOTERS: Readonly<Record<DataType, () => string>> = { primary: primaryXmlFooter, filelists: filelistsXmlFooter, other: otherXmlFooter };

/** A chunk of the new index: its packages, and the loaded or precompressed chunk it equals, if one does. */
interface PlannedChunk {
  readonly entries: readonly YumEntry[];
  readonly reuse?: LoadedChunk;
  readonly precompressed?: Promise<CompressedChunk>;
}

/** One chunk in the three files: the XML and its gzip member. */
type CompressedChunk = Readonly<Record<DataType, { readonly text: Buffer; readonly member: Buffer }>>;

/**
 * Compress the chunk of `entries` (on the thread pool), all three files. The entries' XML is
 * copied into one text per file and each entry then points into those texts, so the chunk's
 * XML is held once.
 */
function compressChunk(entries: readonly YumEntry[], level: number): Promise<CompressedChunk> {
  const texts = DATA_TYPES.map((type) => Buffer.concat(entries.map((e) => e.xml![type])));
  const offsets = [0, 0, 0];
  for (const e of entries) {
    const views = DATA_TYPES.map((type, i) => {
      const length = e.xml![type].length;
      offsets[i] += length;
      return texts[i].subarray(offsets[i] - length, offsets[i]);
    });
    (e as { xml?: PackageXml }).xml = { primary: views[0], filelists: views[1], other: views[2] };
  }
  const tag = { writer: METADATA_WRITER_VERSION, packages: entries.length };
  return Promise.all(texts.map((text) => gzipMember(text, tag, level)))
    .then(([p, f, o]) => ({
      primary: { text: texts[0], member: p },
      filelists: { text: texts[1], member: f },
      other: { text: texts[2], member: o },
    }));
}

/**
 * Chunks of a new index compressed while its packages are still being read, so that gzip
 * runs on the thread pool (other cores) during the read instead of after it. The engine
 * reads packages in the order they are listed in; the chunk cuts depend only on the keys, so
 * each run of consecutive packages that ends at a cut is a chunk the render will ask for.
 * A rejected package just leaves its chunk. The render uses a precompressed chunk only when
 * it holds exactly the render's packages (the very same entries); any other chunk (packages
 * read out of order, say) is compressed then. A run that publishes nothing leaves its
 * precompression until the next `loadIndex` of the unit replaces it.
 */
class Precompression {
  private readonly slots: Array<{ settled: boolean; entry?: YumEntry } | undefined> = [];
  private consumed = 0;
  private open: YumEntry[] = [];
  /** By the first entry of each chunk. */
  private readonly chunks = new Map<YumEntry, { readonly entries: readonly YumEntry[]; readonly compressed: Promise<CompressedChunk> }>();

  constructor(private readonly level: number) {}

  /** A package is about to be read: its place in the listing order. */
  public reserve(): number {
    return this.slots.push({ settled: false }) - 1;
  }

  /** The package of `slot` was read (`entry`) or rejected (undefined). */
  public settle(slot: number, entry: YumEntry | undefined): void {
    const s = this.slots[slot]!;
    s.settled = true;
    s.entry = entry;
    while (this.consumed < this.slots.length && this.slots[this.consumed]!.settled) {
      const next = this.slots[this.consumed]!.entry;
      this.slots[this.consumed++] = undefined;
      if (!next) continue;
      this.open.push(next);
      if (isChunkEnd(next.key, this.open.length)) {
        const entries = this.open;
        this.open = [];
        const compressed = compressChunk(entries, this.level);
        compressed.catch(() => undefined); // the render awaits it, or compresses anew
        this.chunks.set(entries[0], { entries, compressed });
      }
    }
  }

  /** The precompressed chunk of exactly `entries`, if there is one. */
  public chunkOf(entries: readonly YumEntry[]): Promise<CompressedChunk> | undefined {
    const found = this.chunks.get(entries[0]);
    if (!found || found.entries.length !== entries.length || !found.entries.every((e, i) => e === entries[i])) return undefined;
    return found.compressed;
  }
}

/** The loaded chunk `entries` are exactly (same packages, none read again), if any. */
function reusable(entries: readonly YumEntry[], loaded: readonly LoadedChunk[]): LoadedChunk | undefined {
  const c = entries[0].chunk;
  const candidate = c === undefined ? undefined : loaded[c];
  if (!candidate || candidate.keys.length !== entries.length) return undefined;
  return entries.every((e, i) => e.chunk === c && e.xml === undefined && e.key === candidate.keys[i]) ? candidate : undefined;
}

/**
 * The XML elements of packages of loaded chunks, by chunk and file, inflated and split on
 * demand. Chunks are asked for in order, so only the last few are remembered.
 */
class LoadedElements {
  private readonly cache = new Map<string, Promise<Map<string, Buffer>>>();

  constructor(private readonly chunks: readonly LoadedChunk[]) {}

  public async element(entry: YumEntry, type: DataType): Promise<Buffer> {
    const found = (await this.ofChunk(entry.chunk!, type)).get(entry.key);
    check(found !== undefined, `${type}.xml: chunk ${entry.chunk} does not hold ${entry.key}`);
    return found;
  }

  private ofChunk(c: number, type: DataType): Promise<Map<string, Buffer>> {
    const id = `${type}:${c}`;
    let elements = this.cache.get(id);
    if (!elements) {
      elements = this.split(this.chunks[c], type);
      elements.catch(() => undefined);
      this.cache.set(id, elements);
      if (this.cache.size > 4 * CHUNK_WINDOW) this.cache.delete(this.cache.keys().next().value!);
    }
    return elements;
  }

  private async split(chunk: LoadedChunk, type: DataType): Promise<Map<string, Buffer>> {
    const file = `${type}.xml`;
    const text = type === 'primary' && chunk.primaryText ? chunk.primaryText : await gunzipMember(chunk.members[type], MAX_CHUNK_BYTES, file);
    const elements = splitPackages(text, chunk.keys.length, file);
    const byKey = new Map<string, Buffer>();
    elements.forEach((element, i) => {
      if (type !== 'primary') check(pkgIdOf(element, file) === chunk.pkgIds[i], `${file}: package ${i} of a chunk is not the one primary.xml lists there`);
      byKey.set(chunk.keys[i], element);
    });
    return byKey;
  }
}


/**
 * One metadata file: the XML header, each chunk (the loaded chunk's gzip member as it was
 * when its packages did not change, else the chunk's elements compressed anew), the footer.
 * A reused member is not inflated: its trailer states its uncompressed size. No
 * open-checksum is computed: a SHA-256 of all the XML would need every member inflated on
 * every update, and no client checks it (see `render`).
 */
async function renderFile(type: DataType, count: number, plan: readonly PlannedChunk[], loaded: LoadedElements, level: number): Promise<Compressed> {
  const members: Buffer[] = [];
  let openSize = 0;
  // hashed as the members come, in order: the members before a chunk still being compressed
  // are hashed while it is
  const hash = createHash('sha256');
  const add = ({ openSize: size, member }: { openSize: number; member: Uint8Array }) => {
    openSize += size;
    members.push(Buffer.from(member.buffer, member.byteOffset, member.byteLength));
    hash.update(member);
  };
  const compressed = async (text: Buffer, packages: number) => ({
    openSize: text.length,
    member: await gzipMember(text, { writer: METADATA_WRITER_VERSION, packages }, level),
  });
  add(await compressed(Buffer.from(XML_HEADERS[type](count), 'utf8'), 0));
  await inOrder(plan, CHUNK_WINDOW, async (chunk) => {
    if (chunk.precompressed) {
      const { text, member } = (await chunk.precompressed)[type];
      return { openSize: text.length, member };
    }
    if (chunk.reuse) {
      const member = chunk.reuse.members[type];
      return { member, openSize: memberOpenSize(member) };
    }
    const elements = await Promise.all(chunk.entries.map((e) => (e.xml ? e.xml[type] : loaded.element(e, type))));
    return compressed(Buffer.concat(elements), chunk.entries.length);
  }, add);
  add(await compressed(Buffer.from(XML_FOOTERS[type](), 'utf8'), 0));
  return { gz: Buffer.concat(members), openSize, checksum: hash.digest('hex') };
}

async function render(
  u: RepositoryUnit,
  entries: ReadonlyMap<string, YumEntry>,
  previous: UnitIndex<YumEntry>,
  ctx: RenderContext,
  level: number,
  precompression?: Precompression,
): Promise<OutputFile[]> {
  const signer = ctx.keys.pgp;
  if (!signer) throw new Error('a yum repository needs an OpenPGP signing key');
  const state = previous.state as YumState | undefined;
  const loadedChunks = state?.chunks ?? [];
  // createrepo_c's order: by location (every key is the unit root + the location)
  const sorted = [...entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const plan: PlannedChunk[] = [];
  let at = 0;
  for (const length of chunkLengths(sorted.map((e) => e.key))) {
    const chunk = sorted.slice(at, at + length);
    at += length;
    plan.push({ entries: chunk, reuse: reusable(chunk, loadedChunks), precompressed: precompression?.chunkOf(chunk) });
  }
  const loaded = new LoadedElements(loadedChunks);
  const seconds = Math.floor(ctx.now.getTime() / 1000);
  const rendered = await Promise.all(DATA_TYPES.map((type) => renderFile(type, sorted.length, plan, loaded, level)));

  const files: OutputFile[] = [];
  const records: RepomdRecord[] = [];
  DATA_TYPES.forEach((type, i) => {
    const c = rendered[i];
    const checksum = c.checksum;
    const href = `repodata/${checksum}-${type}.xml.gz`;
    files.push({ key: u.root + href, body: c.gz, contentType: 'application/gzip', kind: 'immutable' });
    // no open-checksum (the SHA-256 of the uncompressed XML): dnf (librepo) and yum verify the
    // checksum of the file they download; yum checks open-checksums only of the uncompressed
    // sqlite databases, which are not published here
    records.push({ type, href, checksum, size: c.gz.length, openSize: c.openSize, timestamp: seconds });
    // engine state: the next update lists the packages from it instead of inflating primary
    if (type === 'primary') files.push(summaryFile(u, checksum, plan));
  });
  const repomd: Repomd = { revision: String(seconds), records: [...records, ...(state?.foreignRecords ?? [])] };
  const repomdXml = writeRepomd(repomd);
  files.push({ key: `${u.root}repodata/repomd.xml`, body: repomdXml, contentType: 'application/xml', kind: 'manifest' });
  files.push({
    key: `${u.root}repodata/repomd.xml.asc`,
    body: await signer.signDetachedArmored(repomdXml),
    contentType: 'text/plain; charset=utf-8',
    kind: 'manifest',
  });
  return files;
}
