import * as path from 'node:path/posix';
import { PackageFormatError } from '../../formats/errors';
import {
  DEFAULT_PACKAGE_LIMITS, entryOfPackage, isPackageFileName, measureStream, packageCompression,
  type PackageLimits, type PacmanDbEntry, readDatabase, readPacmanPackage, vercmp, writeDatabase,
} from '../../formats/pacman';
import type { SigningKeys } from '../../signing/signer';
import { compareKeys } from '../../storage/keys';
import type { Storage } from '../../storage/storage';
import type { IndexedPackage, OutputFile, PackageObject, RenderContext, RepositoryFormat, RepositoryUnit, UnitIndex } from '../format';

/** One package of a pacman repository: its database entry. */
export interface PacmanEntry extends IndexedPackage {
  readonly entry: PacmanDbEntry;
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
    isPackage: (key) => isPackageFileName(path.basename(key)),
    unitOf: (key) => unitOfDirectory(directoryOf(key)),
    unitsOfMetadata: (key) => {
      const root = directoryOf(key);
      const unit = unitOfDirectory(root);
      return unit && DATABASE_SUFFIXES.some((suffix) => key === `${root}${unit.params.repo}.db${suffix}`) ? unit : undefined;
    },
    metadataPrefixes: (unit) => [`${unit.root}${unit.params.repo}.`],
    isOwnedMetadata: (unit, key) => isOwnedMetadata(unit, key),
    loadIndex: (storage, unit) => loadIndex(storage, unit),
    readPackage: (pkg, unit) => readPackage(pkg, unit, limits, options.includePackageSignatures ?? false),
    render: (unit, entries, _previous, ctx) => render(unit, entries, ctx, options.localLinks ?? false),
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
  if (!key.startsWith(unit.root)) return false;
  const name = key.slice(unit.root.length);
  const repo = unit.params.repo;
  if (!name.startsWith(`${repo}.`)) return false;
  // what we write, and what repo-add leaves: compressed variants, `.old` backups, signatures
  return /^(db|files)(\.tar(\.(gz|zst|xz|bz2|Z))?)?(\.old)?(\.sig)?$/.test(name.slice(repo.length + 1));
}

async function loadIndex(storage: Storage, unit: RepositoryUnit): Promise<UnitIndex<PacmanEntry>> {
  const entries = new Map<string, PacmanEntry>();
  const prefix = `${unit.root}${unit.params.repo}.`;
  const present = new Set<string>();
  for await (const info of storage.list(prefix)) present.add(info.key);
  // the files database has everything; the package database alone lacks the file lists
  const key = ['files', 'db'].flatMap((kind) => DATABASE_SUFFIXES.map((suffix) => `${prefix}${kind}${suffix}`))
    .find((candidate) => present.has(candidate));
  if (key === undefined) return { entries };
  const bytes = await storage.get(key);
  if (bytes === undefined) return { entries };
  let dbEntries: PacmanDbEntry[];
  try {
    dbEntries = await readDatabase(bytes);
  } catch (e) {
    if (!(e instanceof PackageFormatError)) throw e;
    // publishing from an empty index would drop packages: refuse, loudly
    throw new Error(`${key} is not a readable pacman database (${e.message}); remove it to rebuild the index from the packages`, { cause: e });
  }
  for (const entry of dbEntries) {
    const indexed = indexedEntry(unit, entry);
    entries.set(indexed.key, indexed);
  }
  // adopted from repo-add without a signature (or under another name): publish ours even if no package changed
  return { entries, stale: !present.has(`${prefix}db.tar.gz.sig`) || !present.has(`${prefix}files.tar.gz.sig`) };
}

function indexedEntry(unit: RepositoryUnit, entry: PacmanDbEntry): PacmanEntry {
  return {
    key: unit.root + entry.filename,
    size: entry.csize,
    name: entry.name,
    version: entry.version,
    arch: entry.arch ?? '',
    entry,
  };
}

async function readPackage(pkg: PackageObject, unit: RepositoryUnit, limits: PackageLimits, withSignature: boolean): Promise<PacmanEntry> {
  const filename = path.basename(pkg.key);
  const compression = packageCompression(filename);
  const measured = measureStream(await pkg.stream());
  const read = await readPacmanPackage(measured.chunks, compression, limits);
  const { size, sha256 } = measured.result();
  const signature = withSignature ? await pkg.readRelated(`${pkg.key}.sig`) : undefined;
  return indexedEntry(unit, entryOfPackage(read, { filename, csize: size, sha256sum: sha256, signature }));
}

/**
 * One entry per package name, the newest version (pacman keeps the first of duplicate names
 * and repo-add keeps the last added; neither is what a repository owner means).
 */
function newestByName(entries: ReadonlyMap<string, PacmanEntry>): PacmanDbEntry[] {
  const chosen = new Map<string, PacmanEntry>();
  for (const candidate of entries.values()) {
    const current = chosen.get(candidate.name);
    const order = current === undefined ? 1 : vercmp(candidate.version, current.version) || compareKeys(candidate.key, current.key);
    if (order > 0) chosen.set(candidate.name, candidate);
  }
  return [...chosen.values()].map((e) => e.entry);
}

async function render(
  unit: RepositoryUnit,
  entries: ReadonlyMap<string, PacmanEntry>,
  ctx: RenderContext,
  localLinks: boolean,
): Promise<OutputFile[]> {
  const signer = requirePgp(ctx.keys);
  const dbEntries = newestByName(entries);
  const base = `${unit.root}${unit.params.repo}`;
  const out: OutputFile[] = [];
  // the files database first: the package database is what `pacman -Sy` starts from
  for (const kind of ['files', 'db'] as const) {
    const archive = await writeDatabase(dbEntries, { withFiles: kind === 'files', mtime: ctx.now });
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
