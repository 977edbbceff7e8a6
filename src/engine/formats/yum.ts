import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { compressionOfName, decompress } from '../../formats/compression';
import { PackageFormatError } from '../../formats/errors';
import {
  filelistsPackageXml, filelistsXmlFooter, filelistsXmlHeader,
  mergeMetadata, otherPackageXml, otherXmlFooter, otherXmlHeader,
  parseFilelists, parseOther, parsePrimary, parseRepomd, parseRpm,
  primaryPackageXml, primaryXmlFooter, primaryXmlHeader, rpmHeaderSpan, writeRepomd,
  type Repomd, type RepomdRecord, type RpmPackage,
} from '../../formats/rpm';
import type { Storage } from '../../storage/storage';
import type { IndexedPackage, OutputFile, PackageObject, RenderContext, RepositoryFormat, RepositoryUnit, UnitIndex } from '../format';

/** One package of an rpm-md index. */
export interface YumEntry extends IndexedPackage {
  readonly pkg: RpmPackage;
}

/** What the engine carries from the loaded index to the next render. */
interface YumState {
  /** Records of the published repomd.xml that we do not write ourselves (comps, updateinfo, modules): kept. */
  readonly foreignRecords: readonly RepomdRecord[];
}

export interface YumFormatOptions {
  /** Changelog entries kept per package. @default 10 (createrepo_c's default) */
  readonly changelogLimit?: number;
  /** gzip level of the metadata files. @default 6 */
  readonly compressionLevel?: number;
}

/** The most metadata (uncompressed) one repository may have: 4 GiB. */
const MAX_METADATA_BYTES = 4 * 1024 ** 3;
/** The largest header region an .rpm may have before its payload: 256 MiB. */
const MAX_HEADER_SPAN = 256 * 1024 ** 2;
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
  return {
    name: 'yum',
    isPackage: (key) => key.endsWith('.rpm'),
    unitOf: (key) => unit(rootOfPackage(key)),
    unitsOfMetadata: (key) => (key.endsWith('repodata/repomd.xml') ? unit(key.slice(0, -'repodata/repomd.xml'.length)) : undefined),
    metadataPrefixes: (u) => [`${u.root}repodata/`],
    isOwnedMetadata: (u, key) => {
      if (!key.startsWith(`${u.root}repodata/`)) return false;
      const name = key.slice(u.root.length + 'repodata/'.length);
      return /^[0-9a-f]{64}-(primary|filelists|other)\.xml(\.(gz|zst|xz|bz2))?$/.test(name);
    },
    loadIndex: (storage, u) => loadIndex(storage, u),
    readPackage: (pkg, u) => readPackage(pkg, u, options.changelogLimit),
    render: (u, entries, previous, ctx) => render(u, entries, previous, ctx, level),
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

function entryOf(root: string, pkg: RpmPackage): YumEntry {
  const evr = `${pkg.epoch && pkg.epoch !== '0' ? `${pkg.epoch}:` : ''}${pkg.version}-${pkg.release}`;
  return { key: root + pkg.location.href, size: pkg.size.package, name: pkg.name, version: evr, arch: pkg.arch, pkg };
}

async function loadIndex(storage: Storage, u: RepositoryUnit): Promise<UnitIndex<YumEntry>> {
  const repomdBytes = await storage.get(`${u.root}repodata/repomd.xml`);
  if (!repomdBytes) return { entries: new Map(), state: { foreignRecords: [] } satisfies YumState };
  const repomd = parseRepomd(Buffer.from(repomdBytes).toString('utf8'));
  const record = (type: string) => {
    const found = repomd.records.find((r) => r.type === type);
    if (!found) throw new Error(`${u.root}repodata/repomd.xml has no ${type} record`);
    return found;
  };
  const text = async (r: RepomdRecord) => {
    const key = u.root + r.href;
    const bytes = await storage.get(key);
    if (!bytes) throw new Error(`${key}, named by repomd.xml, is missing`);
    return decompress(bytes, compressionOfName(r.href), MAX_METADATA_BYTES);
  };
  const [primary, filelists, other] = await Promise.all([
    text(record('primary')).then((s) => parsePrimary(s)),
    text(record('filelists')).then((s) => parseFilelists(s)),
    text(record('other')).then((s) => parseOther(s)),
  ]);
  const entries = new Map<string, YumEntry>();
  for (const pkg of mergeMetadata(primary, filelists, other)) {
    const entry = entryOf(u.root, pkg);
    entries.set(entry.key, entry);
  }
  const foreignRecords = repomd.records.filter((r) => !OWN_RECORDS.has(r.type) && !DROPPED_RECORDS.has(r.type));
  // adopted without a signature (createrepo_c alone): sign it even if no package changed
  const stale = (await storage.head(`${u.root}repodata/repomd.xml.asc`)) === undefined;
  return { entries, state: { foreignRecords } satisfies YumState, stale };
}

/**
 * Read one .rpm: hash the whole stream (pkgid), keep only the bytes up to the end of the
 * main header (the payload is never buffered).
 */
async function readPackage(obj: PackageObject, u: RepositoryUnit, changelogLimit: number | undefined): Promise<YumEntry> {
  const hash = createHash('sha256');
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let span: number | undefined;
  let total = 0;
  for await (const chunk of await obj.stream()) {
    hash.update(chunk);
    total += chunk.length;
    if (span === undefined || headBytes < span) {
      head.push(chunk);
      headBytes += chunk.length;
      if (span === undefined) {
        span = rpmHeaderSpan(Buffer.concat(head));
        if (span !== undefined && span > MAX_HEADER_SPAN) {
          throw new PackageFormatError(`headers span ${span} bytes, more than the limit of ${MAX_HEADER_SPAN}`);
        }
      }
    }
  }
  if (span === undefined) {
    throw new PackageFormatError(total === 0 ? 'empty file' : `truncated: ${total} bytes end before the package headers do`);
  }
  if (headBytes < span) throw new PackageFormatError(`truncated: the headers need ${span} bytes, the file has ${total}`);
  const pkg = parseRpm(Buffer.concat(head), {
    href: obj.key.slice(u.root.length),
    size: total,
    mtime: Math.floor(obj.lastModified.getTime() / 1000),
    sha256: hash.digest('hex'),
  }, { changelogLimit });
  return entryOf(u.root, pkg);
}

interface Compressed {
  readonly gz: Buffer;
  readonly openChecksum: string;
  readonly openSize: number;
}

function gzipParts(parts: Iterable<string>, level: number): Compressed {
  const hash = createHash('sha256');
  const buffers: Buffer[] = [];
  let openSize = 0;
  for (const part of parts) {
    const b = Buffer.from(part, 'utf8');
    hash.update(b);
    openSize += b.length;
    buffers.push(b);
  }
  return { gz: zlib.gzipSync(Buffer.concat(buffers, openSize), { level }), openChecksum: hash.digest('hex'), openSize };
}

function* xmlParts(count: number, header: (n: number) => string, body: Iterable<string>, footer: () => string): Generator<string> {
  yield header(count);
  yield* body;
  yield footer();
}

async function render(
  u: RepositoryUnit,
  entries: ReadonlyMap<string, YumEntry>,
  previous: UnitIndex<YumEntry>,
  ctx: RenderContext,
  level: number,
): Promise<OutputFile[]> {
  const signer = ctx.keys.pgp;
  if (!signer) throw new Error('a yum repository needs an OpenPGP signing key');
  const pkgs = [...entries.values()].map((e) => e.pkg).sort(byLocation);
  const seconds = Math.floor(ctx.now.getTime() / 1000);

  const files: OutputFile[] = [];
  const records: RepomdRecord[] = [];
  const parts: Array<[string, Compressed]> = [
    ['primary', gzipParts(xmlParts(pkgs.length, primaryXmlHeader, pkgs.map(primaryPackageXml), primaryXmlFooter), level)],
    ['filelists', gzipParts(xmlParts(pkgs.length, filelistsXmlHeader, pkgs.map(filelistsPackageXml), filelistsXmlFooter), level)],
    ['other', gzipParts(xmlParts(pkgs.length, otherXmlHeader, pkgs.map(otherPackageXml), otherXmlFooter), level)],
  ];
  for (const [type, c] of parts) {
    const checksum = createHash('sha256').update(c.gz).digest('hex');
    const href = `repodata/${checksum}-${type}.xml.gz`;
    files.push({ key: u.root + href, body: c.gz, contentType: 'application/gzip', kind: 'immutable' });
    records.push({ type, href, checksum, openChecksum: c.openChecksum, size: c.gz.length, openSize: c.openSize, timestamp: seconds });
  }
  const state = previous.state as YumState | undefined;
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

function byLocation(a: RpmPackage, b: RpmPackage): number {
  return a.location.href < b.location.href ? -1 : a.location.href > b.location.href ? 1 : 0;
}
