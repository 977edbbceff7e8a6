import {
  buildApkIndexArchive, indexEntryOf, readApkIndexArchive, signApkIndexArchive, type ApkSignatureType,
} from '../../formats/apk/apkindex';
import type { ApkIndexEntry } from '../../formats/apk/model';
import { DEFAULT_APK_LIMITS, readApk, type ApkReadLimits } from '../../formats/apk/package';
import { compareApkVersions } from '../../formats/apk/version';
import { PackageFormatError } from '../../formats/errors';
import type { RsaSigner } from '../../signing/signer';
import type { Storage } from '../../storage/storage';
import type { IndexedPackage, OutputFile, PackageObject, RenderContext, RepositoryFormat, RepositoryUnit, UnitIndex } from '../format';

/** One package of an apk index. */
export interface ApkEntry extends IndexedPackage {
  readonly entry: ApkIndexEntry;
}

export interface ApkFormatOptions {
  /**
   * The key name recorded in the index signature (`.SIGN.RSA.<keyName>`): the public key's
   * file name in the clients' /etc/apk/keys.
   * @default - the RSA signer's keyName
   */
  readonly keyName?: string;
  /**
   * `RSA` signs with SHA-1, as abuild-sign does by default and every apk-tools 2 accepts;
   * `RSA256` signs with SHA-256 (apk-tools 2.12 and later).
   * @default 'RSA'
   */
  readonly signatureType?: ApkSignatureType;
  /**
   * The index DESCRIPTION, shown by `apk update`.
   * @default - `<branch>/<repo>`
   */
  readonly description?: string;
  /** Limits for reading packages. @default DEFAULT_APK_LIMITS */
  readonly limits?: ApkReadLimits;
}

const INDEX = 'APKINDEX.tar.gz';
/** A directory segment: no empty names, no `.`/`..`. */
const SEGMENT = /^(?!\.\.?$)[^/]+$/;
/** Architecture directory names as Alpine spells them; `noarch` is not one (see unitOf). */
const ARCH_DIR = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/**
 * Alpine apk repositories (apk-tools v2 index, which apk-tools 3 still reads). Layout:
 * `<branch>/<repo>/<arch>/<name>-<version>.apk` with `APKINDEX.tar.gz` in the same
 * directory, since apk fetches `<repository URL>/<arch>/APKINDEX.tar.gz` and
 * `<repository URL>/<arch>/<name>-<version>.apk`. `noarch` packages are indexed with
 * the directory's architecture, as `apk index --rewrite-arch` does for abuild.
 */
export function apkFormat(options: ApkFormatOptions = {}): RepositoryFormat<ApkEntry> {
  return {
    name: 'apk',
    compareVersions: compareApkVersions,
    manifestKeys: (u) => [u.root + INDEX],
    isPackage: (key) => key.endsWith('.apk'),
    unitOf: (key) => unitOfDirectory(key, (file) => file.endsWith('.apk')),
    unitsOfMetadata: (key) => unitOfDirectory(key, (file) => file === INDEX),
    metadataPrefixes: (u) => [u.root + INDEX],
    isOwnedMetadata: (u, key) => key === u.root + INDEX,
    loadIndex: (storage, u) => loadIndex(storage, u),
    readPackage: (pkg, u) => readPackage(pkg, u, options.limits ?? DEFAULT_APK_LIMITS),
    render: (u, entries, _previous, ctx) => render(u, entries, ctx, options),
  };
}

/** `<branch>/<repo>/<arch>/<file>` → its unit, when `file` is wanted and the arch is a real one. */
function unitOfDirectory(key: string, wanted: (file: string) => boolean): RepositoryUnit | undefined {
  const segments = key.split('/');
  if (segments.length !== 4 || !segments.every((s) => SEGMENT.test(s))) return undefined;
  const [branch, repo, arch, file] = segments;
  // apk never fetches from a noarch/ directory: such packages belong in every arch directory
  if (!ARCH_DIR.test(arch) || arch === 'noarch' || !wanted(file)) return undefined;
  return { id: `apk:${branch}/${repo}/${arch}`, root: `${branch}/${repo}/${arch}/`, params: { branch, repo, arch } };
}

function entryOf(u: RepositoryUnit, entry: ApkIndexEntry): ApkEntry {
  return {
    key: `${u.root}${entry.name}-${entry.version}.apk`,
    size: entry.size,
    digest: entry.checksum,
    name: entry.name,
    version: entry.version,
    arch: u.params.arch,
    entry,
  };
}

/** The published APKINDEX.tar.gz (ours, or `apk index` + abuild-sign's), read alone. */
async function loadIndex(storage: Storage, u: RepositoryUnit): Promise<UnitIndex<ApkEntry>> {
  const key = u.root + INDEX;
  const bytes = await storage.get(key);
  if (!bytes) return { entries: new Map() };
  let entries: ApkIndexEntry[];
  try {
    entries = (await readApkIndexArchive(bytes)).entries;
  } catch (e) {
    throw new Error(`the published ${key} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  return { entries: new Map(entries.map((e) => entryOf(u, e)).map((e) => [e.key, e])) };
}

/** Reads one .apk, streamed; it must sit where apk will look for it. */
async function readPackage(obj: PackageObject, u: RepositoryUnit, limits: ApkReadLimits): Promise<ApkEntry> {
  const pkg = await readApk(await obj.stream(), limits);
  const { name, version, arch } = pkg.info;
  const file = obj.key.slice(u.root.length);
  const expected = `${name}-${version}.apk`;
  if (file !== expected) {
    throw new PackageFormatError(`the file is named ${file} but its .PKGINFO says ${expected}: apk would fetch ${expected}`);
  }
  if (arch !== undefined && arch !== 'noarch' && arch !== u.params.arch) {
    throw new PackageFormatError(`the package is built for ${arch}, not for the ${u.params.arch} directory it is in`);
  }
  return entryOf(u, indexEntryOf(pkg, u.params.arch));
}

/** A signer that records another key name in the signature. */
function renamed(signer: RsaSigner, keyName: string): RsaSigner {
  return { keyName, publicKeyPem: signer.publicKeyPem, sign: (data, digest) => signer.sign(data, digest) };
}

async function render(
  u: RepositoryUnit,
  entries: ReadonlyMap<string, ApkEntry>,
  ctx: RenderContext,
  options: ApkFormatOptions,
): Promise<OutputFile[]> {
  const signer = ctx.keys.rsa;
  if (!signer) throw new Error('an apk repository needs an RSA signing key');
  const unsigned = await buildApkIndexArchive([...entries.values()].map((e) => ({ ...e.entry, arch: u.params.arch })), {
    description: options.description ?? `${u.params.branch}/${u.params.repo}`,
    mtime: ctx.now,
  });
  const keyName = options.keyName ?? signer.keyName;
  const signed = await signApkIndexArchive(unsigned, renamed(signer, keyName), options.signatureType ?? 'RSA', ctx.now);
  return [{ key: u.root + INDEX, body: signed, contentType: 'application/gzip', kind: 'manifest' }];
}
