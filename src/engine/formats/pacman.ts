import { createHash } from 'node:crypto';
import * as path from 'node:path/posix';
import { check, PackageFormatError } from '../../formats/errors';
import {
  chunkMembers, compareDirectories, compressChunk, DATABASE_COMPRESSION_LEVEL, DB_WRITER_VERSION, dbChunkLengths, DEFAULT_PACKAGE_LIMITS,
  descSummary, endMember, entryDirectory, entryOfPackage, gunzipChunk, isPackageFileName, measureStream, memberCrc, packageCompression,
  type ChunkMember, type PackageLimits, type PacmanDbEntry, parseDbSummary, readDatabase, readPacmanPackage, type RenderedEntry, renderDbSummary,
  renderEntry, splitChunk, type SummaryEntry, vercmp,
} from '../../formats/pacman';
import type { SigningKeys } from '../../signing/signer';
import { compareKeys } from '../../storage/keys';
import type { Storage } from '../../storage/storage';
import type { IndexedPackage, OutputFile, PackageObject, RenderContext, RepositoryFormat, RepositoryUnit, UnitIndex } from '../format';
import { inOrder } from '../in-order';

/**
 * One package of a pacman repository. The engine keeps thousands: an entry holds the package's
 * rendered `desc` and `files` texts (a package read in this run, or an entry of another tool's
 * database) or the number of the chunk of our loaded databases that holds them, never the
 * parsed model.
 */
export interface PacmanEntry extends IndexedPackage {
  /** `<name>-<version>`: its directory in the databases. */
  readonly directory: string;
  /** Its database texts, rendered once. */
  readonly rendered?: RenderedEntry;
  /** An entry of our own loaded databases: which of their chunks holds it. */
  readonly chunk?: number;
}

/** A chunk of our own loaded databases: the same entries in one gzip member of each. */
interface LoadedChunk {
  /** Directories of its entries, in order. */
  readonly directories: readonly string[];
  /** Its `.db` and `.files` gzip members. */
  readonly db: Uint8Array;
  readonly files: Uint8Array;
}

/** What the engine carries from the loaded index to the next render. */
interface PacmanState {
  /** Chunks of our own databases, reused where their entries did not change; none for another tool's. */
  readonly chunks: readonly LoadedChunk[];
}

export interface PacmanFormatOptions {
  /**
   * Name of every repository (the `[name]` section of pacman.conf, the `<name>.db` file).
   * @default - the first path segment under the storage root: `extra/os/x86_64/` is `extra`
   */
  readonly repoName?: string;
  /**
   * Also write `<repo>.db`, `<repo>.db.sig`, `<repo>.files` and `<repo>.files.sig` as copies
   * of the `.tar.gz` files (repo-add makes them symlinks), so that any static server works.
   * On S3 the edge function maps these names instead.
   * @default false
   */
  readonly localLinks?: boolean;
  /**
   * Embed each package's detached signature (`<package>.sig` beside it) in the database as
   * PGPSIG, like `repo-add --include-sigs`; pacman then checks that one. pacman 6 downloads
   * `<package>.sig` either way when packages must be signed, so the files stay needed. A
   * signature uploaded after its package is only picked up when the package is read again.
   * @default false
   */
  readonly includePackageSignatures?: boolean;
  /** Bounds for reading one package. @default DEFAULT_PACKAGE_LIMITS */
  readonly packageLimits?: Partial<PackageLimits>;
}

/** Database archives of an adopted repository, in order of preference (the files database has the file lists). */
const DATABASE_SUFFIXES = ['.tar.gz', '.tar.zst', '.tar.xz', '.tar', ''];

/**
 * pacman. Layout: every directory holding packages is a repository, named after the first
 * path segment under the root unless `repoName` says otherwise; its `<repo>.db.tar.gz` and
 * `<repo>.files.tar.gz` (with binary detached `.sig` signatures) sit beside the packages.
 */
export function pacmanFormat(options: PacmanFormatOptions = {}): RepositoryFormat<PacmanEntry> {
  if (options.repoName !== undefined) checkRepoName(options.repoName);
  const limits: PackageLimits = { ...DEFAULT_PACKAGE_LIMITS, ...options.packageLimits };
  const unitOfDirectory = (root: string): RepositoryUnit | undefined => {
    const repo = options.repoName ?? (root === '' ? undefined : root.split('/')[0]);
    return repo === undefined ? undefined : { id: `pacman:${root}`, root, params: { repo } };
  };
  return {
    name: 'pacman',
    compareVersions: vercmp,
    // a database holds one entry per package name, as repo-add keeps it: the newest version
    versionsPerName: 1,
    manifestKeys: (unit) => manifestKeys(unit, options.localLinks ?? false),
    isPackage: (key) => isPackageFileName(path.basename(key)),
    unitOf: (key) => unitOfDirectory(directoryOf(key)),
    companionKeys: (key) => [`${key}.sig`],
    unitsOfMetadata: (key) => {
      const root = directoryOf(key);
      const unit = unitOfDirectory(root);
      return unit && DATABASE_SUFFIXES.some((suffix) => key === `${root}${unit.params.repo}.db${suffix}`) ? unit : undefined;
    },
    metadataPrefixes: (unit) => [`${unit.root}${unit.params.repo}.`, summaryPrefix(unit)],
    isOwnedMetadata: (unit, key) => isOwnedMetadata(unit, key),
    loadIndex: (storage, unit) => loadIndex(storage, unit),
    readPackage: (pkg, unit) => readPackage(pkg, unit, limits, options.includePackageSignatures ?? false),
    render: (unit, entries, previous, ctx) => render(unit, entries, previous, ctx, options.localLinks ?? false),
  };
}

/** `a/b/c.pkg.tar.zst` → `a/b/`; `c.pkg.tar.zst` → ''. */
function directoryOf(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash + 1);
}

function checkRepoName(name: string): void {
  if (!/^[A-Za-z0-9@._+-]+$/.test(name) || name.startsWith('.')) {
    throw new Error(`invalid pacman repository name ${JSON.stringify(name)}: use letters, digits and @ . _ + -`);
  }
}

function isOwnedMetadata(unit: RepositoryUnit, key: string): boolean {
  if (key.startsWith(summaryPrefix(unit))) return /^[0-9a-f]{64}\.json$/.test(key.slice(summaryPrefix(unit).length));
  if (!key.startsWith(unit.root)) return false;
  const name = key.slice(unit.root.length);
  const repo = unit.params.repo;
  if (!name.startsWith(`${repo}.`)) return false;
  // what we write, and what repo-add leaves: compressed variants, `.old` backups, signatures
  return /^(db|files)(\.tar(\.(gz|zst|xz|bz2|Z))?)?(\.old)?(\.sig)?$/.test(name.slice(repo.length + 1));
}

/** The most a database may hold uncompressed: 4 GiB. */
const MAX_DATABASE_BYTES = 4 * 1024 ** 3;
/** The most one chunk (one gzip member) may hold uncompressed: 256 MiB. */
const MAX_CHUNK_BYTES = 256 * 1024 ** 2;
/** Chunks being inflated or compressed ahead of the one being written. */
const CHUNK_WINDOW = 8;

async function loadIndex(storage: Storage, unit: RepositoryUnit): Promise<UnitIndex<PacmanEntry>> {
  const prefix = `${unit.root}${unit.params.repo}.`;
  const present = new Set<string>();
  for await (const info of storage.list(prefix)) present.add(info.key);
  // the files database has everything; the package database alone lacks the file lists
  const key = ['files', 'db'].flatMap((kind) => DATABASE_SUFFIXES.map((suffix) => `${prefix}${kind}${suffix}`))
    .find((candidate) => present.has(candidate));
  if (key === undefined) return { entries: new Map() };
  const bytes = await storage.get(key);
  if (bytes === undefined) return { entries: new Map() };
  // adopted from repo-add without a signature (or under another name): publish ours even if no package changed
  const stale = !present.has(`${prefix}db.tar.gz.sig`) || !present.has(`${prefix}files.tar.gz.sig`);
  try {
    const own = key === `${prefix}files.tar.gz` && present.has(`${prefix}db.tar.gz`)
      ? await loadOwnIndex(storage, unit, bytes, `${prefix}db.tar.gz`)
      : undefined;
    if (own) return { ...own, stale };
    const entries = new Map<string, PacmanEntry>();
    for (const dbEntry of await readDatabase(bytes)) {
      const rendered = renderEntry(dbEntry);
      const indexed = indexedEntry(unit, dbEntry, rendered);
      entries.set(indexed.key, indexed);
    }
    return { entries, state: { chunks: [] } satisfies PacmanState, stale };
  } catch (e) {
    if (!(e instanceof PackageFormatError)) throw e;
    // publishing from an empty index would drop packages: refuse, loudly
    throw new Error(`${key} is not a readable pacman database (${e.message}); remove it to rebuild the index from the packages`, { cause: e });
  }
}

/**
 * Databases this writer made (every gzip member tagged by this writer version, each `.files`
 * member linked to its `.db` member): only the `.db` chunks are inflated, to list the entries
 * from their desc; the `.files` chunks are kept compressed. Undefined for anything else (another
 * tool's databases, or a `.db` and a `.files` of different publishes): then the files database
 * is read as a whole.
 */
async function loadOwnIndex(
  storage: Storage, unit: RepositoryUnit, filesBytes: Uint8Array, dbKey: string,
): Promise<UnitIndex<PacmanEntry> | undefined> {
  const filesName = `${unit.params.repo}.files.tar.gz`;
  const files = ownMembers(filesBytes, filesName);
  if (!files) return undefined;
  const dbBytes = await storage.get(dbKey);
  const db = dbBytes && ownMembers(dbBytes, `${unit.params.repo}.db.tar.gz`);
  // the end-of-archive members (last) have no link
  const linked = (m: ChunkMember, i: number) => m.entries === files[i].entries && (m.entries === 0 || files[i].link === memberCrc(m.bytes));
  if (!db || db.length !== files.length || !db.every(linked)) return undefined;
  const dbName = `${unit.params.repo}.db.tar.gz`;
  const summarized = await loadSummary(storage, unit, dbBytes, db, files);
  if (summarized) return summarized;
  let total = 0;
  const texts = await Promise.all(db.slice(0, -1).map(async (m) => {
    const text = await gunzipChunk(m.bytes, MAX_CHUNK_BYTES, dbName);
    total += text.length;
    check(total <= MAX_DATABASE_BYTES, `${dbName} expands beyond the limit of ${MAX_DATABASE_BYTES} bytes`);
    return text;
  }));
  const entries = new Map<string, PacmanEntry>();
  const chunks = texts.map((text, c): LoadedChunk => {
    const directories: string[] = [];
    for (const { directory, desc } of splitChunk(text, db[c].entries, dbName)) {
      const s = descSummary(Buffer.from(desc.buffer, desc.byteOffset, desc.byteLength).toString('utf8'), directory);
      const entry: PacmanEntry = {
        key: unit.root + s.filename, size: s.csize, digest: s.sha256sum ?? '', name: s.name, version: s.version, arch: s.arch ?? '', directory, chunk: c,
      };
      entries.set(entry.key, entry);
      directories.push(directory);
    }
    return { directories, db: db[c].bytes, files: files[c].bytes };
  });
  return { entries, state: { chunks } satisfies PacmanState };
}

/** Where the summaries of a unit's package databases are kept (`<prefix><SHA-256 of the .db>.json`). */
function summaryPrefix(unit: RepositoryUnit): string {
  return `${unit.root}.pkgrepo/${unit.params.repo}.db-summary-`;
}

function summaryKey(unit: RepositoryUnit, db: Uint8Array): string {
  return `${summaryPrefix(unit)}${createHash('sha256').update(db).digest('hex')}.json`;
}

/**
 * The index from the summary of this very `.db` (see `renderDbSummary`), without inflating
 * it; undefined when there is none or it does not fit the database (then the `.db` is read).
 */
async function loadSummary(
  storage: Storage, unit: RepositoryUnit, dbBytes: Uint8Array, db: readonly ChunkMember[], files: readonly ChunkMember[],
): Promise<UnitIndex<PacmanEntry> | undefined> {
  const key = summaryKey(unit, dbBytes);
  const bytes = await storage.get(key);
  if (bytes === undefined) return undefined;
  let summary: SummaryEntry[][];
  try {
    summary = parseDbSummary(bytes, db.slice(0, -1).map((m) => m.entries), key);
  } catch (e) {
    if (e instanceof PackageFormatError) return undefined;
    throw e;
  }
  const entries = new Map<string, PacmanEntry>();
  const chunks = summary.map((rows, c): LoadedChunk => {
    const directories = rows.map((s) => {
      const directory = entryDirectory(s);
      const entry: PacmanEntry = {
        key: unit.root + s.filename, size: s.csize, digest: s.sha256sum, name: s.name, version: s.version, arch: s.arch, directory, chunk: c,
      };
      entries.set(entry.key, entry);
      return directory;
    });
    return { directories, db: db[c].bytes, files: files[c].bytes };
  });
  // two rows of one key: not a summary this writer made
  if (entries.size !== chunks.reduce((n, c) => n + c.directories.length, 0)) return undefined;
  return { entries, state: { chunks } satisfies PacmanState };
}

/** The tagged members of a database of this writer version: entries in every member but the last, the end of the archive. */
function ownMembers(bytes: Uint8Array, file: string): ChunkMember[] | undefined {
  const members = chunkMembers(bytes, file);
  if (!members || !members.every((m) => m.writer === DB_WRITER_VERSION)) return undefined;
  members.forEach((m, i) => {
    const last = i === members.length - 1;
    check(last ? m.entries === 0 : m.entries > 0, `${file}: gzip member ${i} claims ${m.entries} entries`);
  });
  return members;
}

function indexedEntry(unit: RepositoryUnit, entry: PacmanDbEntry, rendered: RenderedEntry): PacmanEntry {
  return {
    key: unit.root + entry.filename,
    size: entry.csize,
    digest: entry.sha256sum ?? '',
    name: entry.name,
    version: entry.version,
    arch: entry.arch ?? '',
    directory: entryDirectory(entry),
    rendered,
  };
}

async function readPackage(pkg: PackageObject, unit: RepositoryUnit, limits: PackageLimits, withSignature: boolean): Promise<PacmanEntry> {
  const filename = path.basename(pkg.key);
  const compression = packageCompression(filename);
  const measured = measureStream(await pkg.stream());
  const read = await readPacmanPackage(measured.chunks, compression, limits);
  const { size, sha256 } = measured.result();
  const signature = withSignature ? await pkg.readRelated(`${pkg.key}.sig`) : undefined;
  const entry = entryOfPackage(read, { filename, csize: size, sha256sum: sha256, signature });
  // rendered (and so checked) now: a package the database cannot hold is rejected, not published
  return indexedEntry(unit, entry, renderEntry(entry));
}

/**
 * One entry per package name, the newest version (pacman keeps the first of duplicate names
 * and repo-add keeps the last added; neither is what a repository owner means), in archive order.
 */
function newestByName(entries: ReadonlyMap<string, PacmanEntry>): PacmanEntry[] {
  const chosen = new Map<string, PacmanEntry>();
  for (const candidate of entries.values()) {
    const current = chosen.get(candidate.name);
    const order = current === undefined ? 1 : vercmp(candidate.version, current.version) || compareKeys(candidate.key, current.key);
    if (order > 0) chosen.set(candidate.name, candidate);
  }
  return [...chosen.values()].sort((a, b) => compareDirectories(a.directory, b.directory));
}

/** The loaded chunk `entries` are exactly (same entries, none read again), if any. */
function reusable(entries: readonly PacmanEntry[], loaded: readonly LoadedChunk[]): LoadedChunk | undefined {
  const c = entries[0].chunk;
  const candidate = c === undefined ? undefined : loaded[c];
  if (!candidate || candidate.directories.length !== entries.length) return undefined;
  return entries.every((e, i) => e.chunk === c && e.rendered === undefined && e.directory === candidate.directories[i]) ? candidate : undefined;
}

/**
 * The texts of entries of loaded chunks, inflated from the `.files` member and split on demand.
 * Chunks are asked for in order, so only the last few are remembered.
 */
class LoadedTexts {
  private readonly cache = new Map<number, Promise<Map<string, RenderedEntry>>>();

  constructor(private readonly chunks: readonly LoadedChunk[], private readonly file: string) {}

  public async of(entry: PacmanEntry): Promise<RenderedEntry> {
    const found = (await this.ofChunk(entry.chunk!)).get(entry.directory);
    check(found !== undefined, `${this.file}: chunk ${entry.chunk} does not hold ${entry.directory}`);
    return found;
  }

  private ofChunk(c: number): Promise<Map<string, RenderedEntry>> {
    let texts = this.cache.get(c);
    if (!texts) {
      texts = this.split(this.chunks[c]);
      texts.catch(() => undefined);
      this.cache.set(c, texts);
      if (this.cache.size > 2 * CHUNK_WINDOW) this.cache.delete(this.cache.keys().next().value!);
    }
    return texts;
  }

  private async split(chunk: LoadedChunk): Promise<Map<string, RenderedEntry>> {
    const text = await gunzipChunk(chunk.files, MAX_CHUNK_BYTES, this.file);
    const byDirectory = new Map<string, RenderedEntry>();
    splitChunk(text, chunk.directories.length, this.file).forEach((e, i) => {
      check(e.directory === chunk.directories[i], `${this.file}: entry ${i} of a chunk is ${e.directory}, the package database has ${chunk.directories[i]}`);
      byDirectory.set(e.directory, e);
    });
    return byDirectory;
  }
}


/**
 * Both databases, chunk by chunk: the loaded chunk's members as they were when its entries did
 * not change, else the chunk compressed anew; then the end of the archive.
 */
async function writeDatabases(unit: RepositoryUnit, entries: ReadonlyMap<string, PacmanEntry>, state: PacmanState | undefined, mtime: Date) {
  const loaded = state?.chunks ?? [];
  const texts = new LoadedTexts(loaded, `${unit.params.repo}.files.tar.gz`);
  const sorted = newestByName(entries);
  const plan: PacmanEntry[][] = [];
  let at = 0;
  for (const length of dbChunkLengths(sorted.map((e) => e.directory))) {
    plan.push(sorted.slice(at, at + length));
    at += length;
  }
  const db: Uint8Array[] = [];
  const files: Uint8Array[] = [];
  const summary = plan.map((chunk) => chunk.map((e): SummaryEntry => ({
    filename: e.key.slice(unit.root.length), csize: e.size, sha256sum: e.digest, name: e.name, version: e.version, arch: e.arch,
  })));
  await inOrder(plan, CHUNK_WINDOW, async (chunk) => {
    const reuse = reusable(chunk, loaded);
    if (reuse) return { db: reuse.db, files: reuse.files };
    return compressChunk(await Promise.all(chunk.map((e) => e.rendered ?? texts.of(e))), mtime);
  }, (members) => {
    db.push(members.db);
    files.push(members.files);
  });
  const end = await endMember(DATABASE_COMPRESSION_LEVEL);
  return { db: Buffer.concat([...db, end]), files: Buffer.concat([...files, end]), summary };
}

async function render(
  unit: RepositoryUnit,
  entries: ReadonlyMap<string, PacmanEntry>,
  previous: UnitIndex<PacmanEntry>,
  ctx: RenderContext,
  localLinks: boolean,
): Promise<OutputFile[]> {
  const signer = requirePgp(ctx.keys);
  const archives = await writeDatabases(unit, entries, previous.state as PacmanState | undefined, ctx.now);
  const base = `${unit.root}${unit.params.repo}`;
  // engine state, named by the .db it describes: the next update lists the packages from it
  const out: OutputFile[] = [{ key: summaryKey(unit, archives.db), body: renderDbSummary(archives.summary), contentType: 'application/json', kind: 'immutable' }];
  // the files database first: the package database is what `pacman -Sy` starts from
  for (const kind of ['files', 'db'] as const) {
    const archive = archives[kind];
    const signature = await signer.signDetachedBinary(archive);
    const names = localLinks ? [`${base}.${kind}.tar.gz`, `${base}.${kind}`] : [`${base}.${kind}.tar.gz`];
    for (const name of names) {
      out.push({ key: name, body: archive, contentType: 'application/gzip', kind: 'manifest' });
      out.push({ key: `${name}.sig`, body: signature, contentType: 'application/pgp-signature', kind: 'manifest' });
    }
  }
  return out;
}

function requirePgp(keys: SigningKeys): NonNullable<SigningKeys['pgp']> {
  if (!keys.pgp) throw new Error('pacman databases are signed with an OpenPGP key, and none was given');
  return keys.pgp;
}

/** The databases and their signatures, in the order `render` writes them. */
function manifestKeys(unit: RepositoryUnit, localLinks: boolean): string[] {
  const base = `${unit.root}${unit.params.repo}`;
  return ['files', 'db'].flatMap((kind) => (localLinks ? [`${base}.${kind}.tar.gz`, `${base}.${kind}`] : [`${base}.${kind}.tar.gz`]))
    .flatMap((name) => [name, `${name}.sig`]);
}
