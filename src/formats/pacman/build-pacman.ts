/**
 * Writing a small but valid pacman package without makepkg: a compressed tar of `.MTREE`,
 * `.PKGINFO` and the files, laid out as makepkg's `create_package` lays it out (metadata
 * first, then every path sorted bytewise, all owned by root with one modification time).
 * `.MTREE` is the gzipped mtree makepkg writes with bsdtar (type, uid, gid, mode, time, size,
 * MD5, SHA-256, link target of every entry): pacman does not need it to install, but keeps it
 * in its local database, and `pacman -Qkk` verifies the installed files against it.
 * `.BUILDINFO` (reproducible-build details) is left out; nothing that installs reads it.
 * For demos and benchmarks; pacman and repo-add accept the result.
 */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { buildTree, comparePaths, tarMemberOf, writeTar, type PackageBuildFile, type TreeEntry } from '../build-tree';
import { checkArch, checkFullVersion, checkPackageName, checkText } from './fields';

/** What `buildPacmanPackage` makes a package from. */
export interface PacmanBuildSpec {
  /** `pkgname` */
  readonly name: string;
  /** `pkgbase`. @default the name */
  readonly base?: string;
  /** The upstream version (no `-`, `:`, `/` or whitespace), e.g. `2.1rc1`. */
  readonly version: string;
  /** `pkgrel`. @default '1' */
  readonly release?: string;
  /** @default none */
  readonly epoch?: number;
  /** @default 'any' */
  readonly arch?: string;
  /** `pkgdesc`: one line. */
  readonly description: string;
  /** @default none */
  readonly url?: string;
  /** @default 'Unknown Packager' (as makepkg writes it) */
  readonly packager?: string;
  /** `license` values. @default [] */
  readonly licenses?: readonly string[];
  /** `group` values. @default [] */
  readonly groups?: readonly string[];
  /** Relations, each `name[<|<=|=|>=|>version]`. @default [] */
  readonly depends?: readonly string[];
  readonly conflicts?: readonly string[];
  readonly provides?: readonly string[];
  readonly replaces?: readonly string[];
  /** Optional dependencies, `name[: reason]`. @default [] */
  readonly optdepends?: readonly string[];
  /** Configuration files to keep on upgrade: paths of files in the package, without the leading slash. @default [] */
  readonly backup?: readonly string[];
  /** `size`: installed bytes. @default - the regular files' sizes added up, as makepkg counts them */
  readonly installedSize?: number;
  /** `builddate` and the modification time of every member, seconds since the epoch. @default 0 */
  readonly buildTime?: number;
  /** @default [] */
  readonly files?: readonly PackageBuildFile[];
}

/** Package compression: gzip always; zstd where Node's zlib has a zstd encoder (Node 22.15 and later). */
export type PacmanCompression = 'gzip' | 'zstd';

const BUILDER = 'buildPacmanPackage';
const RELATION = /^[A-Za-z0-9@_+][A-Za-z0-9@._+-]*(?:(?:<|<=|=|>=|>)[^\s<>=]+)?$/;
const OPTDEPEND = /^[A-Za-z0-9@_+][A-Za-z0-9@._+-]*(?:(?:<|<=|=|>=|>)[^\s<>=:]+)?(?:: \S.*)?$/;

function fullVersion(spec: Pick<PacmanBuildSpec, 'version' | 'release' | 'epoch'>): string {
  if (spec.epoch !== undefined && (!Number.isSafeInteger(spec.epoch) || spec.epoch < 0)) {
    throw new Error(`${BUILDER}: epoch must be a non-negative integer, got ${spec.epoch}`);
  }
  return `${spec.epoch ? `${spec.epoch}:` : ''}${spec.version}-${spec.release ?? '1'}`;
}

/** `[epoch:]version-release`, validated. */
function checkedVersion(spec: PacmanBuildSpec): string {
  const full = fullVersion(spec);
  checkFullVersion(full, `${BUILDER} version (${JSON.stringify(spec.version)}, release ${JSON.stringify(spec.release ?? '1')})`);
  return full;
}

/** Validated list values for one `.PKGINFO` key. */
function listOf(values: readonly string[] | undefined, key: string, pattern?: RegExp): string[] {
  return (values ?? []).map((value) => {
    checkText(value, `${BUILDER} ${key}`);
    if (value.trim() !== value || value === '' || (pattern && !pattern.test(value))) {
      throw new Error(`${BUILDER}: invalid ${key} ${JSON.stringify(value)}`);
    }
    return value;
  });
}

/** `.PKGINFO` in makepkg's `write_pkginfo` order. */
function pkginfo(spec: PacmanBuildSpec, tree: readonly TreeEntry[], mtime: number): string {
  const text = (value: string, field: string) => {
    checkText(value, `${BUILDER} ${field}`);
    return value;
  };
  const size = spec.installedSize ?? tree.reduce((sum, e) => sum + (e.type === 'file' ? e.data.length : 0), 0);
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`${BUILDER}: installedSize must be a non-negative integer, got ${size}`);
  const files = new Set(tree.filter((e) => e.type === 'file').map((e) => e.path));
  const backup = listOf(spec.backup, 'backup');
  const missing = backup.find((p) => !files.has(p));
  if (missing !== undefined) throw new Error(`${BUILDER}: backup ${JSON.stringify(missing)} is not a file of the package (write it without a leading slash)`);
  checkPackageName(spec.name, `${BUILDER} name`);
  checkPackageName(spec.base ?? spec.name, `${BUILDER} base`);
  checkArch(spec.arch ?? 'any', `${BUILDER} arch`);
  const lines: [string, string | undefined][] = [
    ['pkgname', spec.name],
    ['pkgbase', spec.base ?? spec.name],
    ['pkgver', checkedVersion(spec)],
    ['pkgdesc', text(spec.description, 'description')],
    ['url', spec.url === undefined ? undefined : text(spec.url, 'url')],
    ['builddate', String(mtime)],
    ['packager', text(spec.packager ?? 'Unknown Packager', 'packager')],
    ['size', String(size)],
    ['arch', spec.arch ?? 'any'],
    ...listOf(spec.licenses, 'license').map((v) => ['license', v] as [string, string]),
    ...listOf(spec.replaces, 'replaces', RELATION).map((v) => ['replaces', v] as [string, string]),
    ...listOf(spec.groups, 'group').map((v) => ['group', v] as [string, string]),
    ...listOf(spec.conflicts, 'conflict', RELATION).map((v) => ['conflict', v] as [string, string]),
    ...listOf(spec.provides, 'provides', RELATION).map((v) => ['provides', v] as [string, string]),
    ...backup.map((v) => ['backup', v] as [string, string]),
    ...listOf(spec.depends, 'depend', RELATION).map((v) => ['depend', v] as [string, string]),
    ...listOf(spec.optdepends, 'optdepend', OPTDEPEND).map((v) => ['optdepend', v] as [string, string]),
  ];
  return lines.filter(([, v]) => v !== undefined).map(([k, v]) => `${k} = ${v}\n`).join('');
}

/** A path or link target as mtree writes it: bytes outside `!`..`~`, and `#`, `=`, `\`, as `\ooo`. */
function mtreeQuote(text: string): string {
  return [...Buffer.from(text)].map((b) => (b > 0x20 && b < 0x7f && b !== 0x23 && b !== 0x3d && b !== 0x5c
    ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`)).join('');
}

/**
 * The mtree makepkg writes (`bsdtar --format=mtree --options='!all,use-set,type,uid,gid,mode,time,size,md5,sha256,link'`),
 * gzipped: entries depth first, each directory sorted, as libarchive orders them.
 */
function mtree(entries: readonly TreeEntry[], mtime: number): Buffer {
  const lines = ['#mtree', '/set type=file uid=0 gid=0 mode=644'];
  for (const e of [...entries].sort(comparePaths('per-directory'))) {
    const fields = [`./${mtreeQuote(e.path)}`, `time=${mtime}.0`];
    if (e.mode !== 0o644) fields.push(`mode=${e.mode.toString(8)}`);
    if (e.type === 'dir') fields.push('type=dir');
    if (e.type === 'symlink') fields.push('type=link', `link=${mtreeQuote(e.target)}`);
    if (e.type === 'file') {
      fields.push(`size=${e.data.length}`, `md5digest=${createHash('md5').update(e.data).digest('hex')}`,
        `sha256digest=${createHash('sha256').update(e.data).digest('hex')}`);
    }
    lines.push(fields.join(' '));
  }
  return zlib.gzipSync(`${lines.join('\n')}\n`, { level: 9 });
}

function compress(tar: Buffer, compression: PacmanCompression): Buffer {
  if (compression === 'gzip') return zlib.gzipSync(tar, { level: 9 });
  const zstd = (zlib as { zstdCompressSync?: (data: Buffer) => Buffer }).zstdCompressSync;
  if (compression !== 'zstd') throw new Error(`${BUILDER}: unknown compression ${JSON.stringify(compression)}: use 'gzip' or 'zstd'`);
  if (!zstd) throw new Error(`${BUILDER}: zstd needs Node's zlib zstd encoder (Node 22.15 or later, ${process.version} has none): use 'gzip'`);
  return zstd(tar);
}

/** The file name makepkg gives the package: `<name>-<[epoch:]version-release>-<arch>.pkg.tar.gz|zst`. */
export function pacmanPackageFileName(
  spec: Pick<PacmanBuildSpec, 'name' | 'version' | 'release' | 'epoch' | 'arch'>,
  compression: PacmanCompression = 'gzip',
): string {
  return `${spec.name}-${fullVersion(spec)}-${spec.arch ?? 'any'}.pkg.tar.${compression === 'zstd' ? 'zst' : 'gz'}`;
}

/** Build the bytes of a pacman package (`.pkg.tar.gz`, or `.pkg.tar.zst` where Node can). */
export async function buildPacmanPackage(spec: PacmanBuildSpec, compression: PacmanCompression = 'gzip'): Promise<Uint8Array> {
  const mtime = spec.buildTime ?? 0;
  if (!Number.isSafeInteger(mtime) || mtime < 0) throw new Error(`${BUILDER}: buildTime must be a non-negative integer, got ${mtime}`);
  const tree = buildTree(spec.files ?? [], 'bytewise', BUILDER);
  const top = tree.find((e) => e.path.startsWith('.'));
  if (top) throw new Error(`${BUILDER}: /${top.path}: pacman takes top-level names starting with '.' for package metadata`);
  const info: TreeEntry = { path: '.PKGINFO', type: 'file', mode: 0o644, data: Buffer.from(pkginfo(spec, tree, mtime)), target: '' };
  const mtreeEntry: TreeEntry = { path: '.MTREE', type: 'file', mode: 0o644, data: mtree([info, ...tree], mtime), target: '' };
  const tar = await writeTar([mtreeEntry, info, ...tree].map((e) => tarMemberOf(e, '')), mtime);
  return compress(tar, compression);
}
