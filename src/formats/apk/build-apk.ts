/**
 * Writing a small but valid apk v2 package without abuild, laid out as abuild's
 * `create_apks` and `abuild-sign` lay it out: three gzip members, `[signature]` + control
 * + data. The data tar lists every path sorted bytewise, each regular file and symlink
 * with the PAX record `APK-TOOLS.checksum.SHA1` (of the content, or of the link target)
 * that `abuild-tar --hash` adds: apk-tools 2 marks a package without them as broken. The
 * control tar holds `.PKGINFO`, whose `datahash` is the SHA-256 of the data member, and is
 * cut (no end-of-archive blocks, `abuild-tar --cut`) so that apk reads on into the data.
 * The signature (`.SIGN.RSA.<key name>`, PKCS#1 v1.5) covers the control member's bytes.
 * For demos and benchmarks; apk-tools verifies and installs the result.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { RsaSigner } from '../../signing/signer';
import { buildTree, tarMemberOf, writeTar, type PackageBuildFile, type TreeEntry } from '../build-tree';
import type { ApkSignatureType } from './apkindex';
import { normalizeDependencies } from './dependency';
import { checkArch, checkPackageName, checkText, checkUnsigned, checkVersion } from './fields';
import { packTar } from './tar-io';

/** What `buildApk` makes a package from. */
export interface ApkBuildSpec {
  /** `pkgname`, e.g. `hello-tool`. */
  readonly name: string;
  /** `pkgver` with the release, e.g. `1.2.3_rc1-r0`. */
  readonly version: string;
  /** @default 'noarch' */
  readonly arch?: string;
  /** `pkgdesc`: one line. */
  readonly description: string;
  /** @default '' */
  readonly url?: string;
  /** @default 'MIT' */
  readonly license?: string;
  /** The source package name. @default the name */
  readonly origin?: string;
  /** @default none */
  readonly maintainer?: string;
  /** @default 'Unknown' (as abuild writes it) */
  readonly packager?: string;
  /** @default none */
  readonly commit?: string;
  /** `depend` tokens: `name`, `name>=1.2`, `so:libc.musl-x86_64.so.1`, `!conflicting`. @default [] */
  readonly depends?: readonly string[];
  /** `provides` tokens, e.g. `cmd:hello=1.2.3-r0`. @default [] */
  readonly provides?: readonly string[];
  /** `replaces` tokens. @default [] */
  readonly replaces?: readonly string[];
  /** `install_if` tokens. @default [] */
  readonly installIf?: readonly string[];
  /** `size`: installed bytes. @default - the regular files' sizes added up (1 when that is 0 but files exist, as abuild does) */
  readonly installedSize?: number;
  /** `builddate` and the modification time of every entry, seconds since the epoch. @default 0 */
  readonly buildTime?: number;
  /** @default [] */
  readonly files?: readonly PackageBuildFile[];
}

/** How to sign the package. */
export interface ApkBuildOptions {
  /** Signs the control member as abuild-sign does; the entry is named after `signer.keyName`. @default - unsigned */
  readonly signer?: RsaSigner;
  /** `RSA` = SHA-1 (abuild-sign's default, every apk-tools 2), `RSA256` = SHA-256. @default 'RSA' */
  readonly signatureType?: ApkSignatureType;
}

const BUILDER = 'buildApk';

const sha1 = (data: string | Uint8Array) => createHash('sha1').update(data).digest('hex');

/** The data tar: every entry with its path, regular files and symlinks with their SHA-1 record. */
async function dataTar(tree: readonly TreeEntry[], mtime: number): Promise<Buffer> {
  return writeTar(tree.map((e) => {
    if (e.type === 'dir') return tarMemberOf(e, '');
    return tarMemberOf(e, '', { 'APK-TOOLS.checksum.SHA1': e.type === 'file' ? sha1(e.data) : sha1(e.target) });
  }), mtime);
}

function installedSize(spec: ApkBuildSpec, tree: readonly TreeEntry[]): number {
  if (spec.installedSize !== undefined) return checkUnsigned(spec.installedSize, `${BUILDER} installedSize`);
  const size = tree.reduce((sum, e) => sum + (e.type === 'file' ? e.data.length : 0), 0);
  // apk-tools 2 takes a package of size 0 for a virtual one and extracts nothing
  return size === 0 && tree.length > 0 ? 1 : size;
}

/** `.PKGINFO` in abuild's order; every value validated as the APKINDEX writer will want it. */
function pkginfo(spec: ApkBuildSpec, tree: readonly TreeEntry[], mtime: number, dataHash: string): string {
  const text = (value: string, field: string) => checkText(value, `${BUILDER} ${field}`);
  const lines: [string, string][] = [
    ['pkgname', checkPackageName(spec.name, `${BUILDER} name`)],
    ['pkgver', checkVersion(spec.version, `${BUILDER} version`)],
    ['pkgdesc', text(spec.description, 'description')],
    ['url', text(spec.url ?? '', 'url')],
    ['builddate', String(mtime)],
    ['packager', text(spec.packager ?? 'Unknown', 'packager')],
    ['size', String(installedSize(spec, tree))],
    ['arch', checkArch(spec.arch ?? 'noarch', `${BUILDER} arch`)],
    ['origin', checkPackageName(spec.origin ?? spec.name, `${BUILDER} origin`)],
  ];
  if (spec.commit !== undefined) lines.push(['commit', text(spec.commit, 'commit')]);
  if (spec.maintainer !== undefined) lines.push(['maintainer', text(spec.maintainer, 'maintainer')]);
  lines.push(['license', text(spec.license ?? 'MIT', 'license')]);
  const tokens = (key: string, values: readonly string[] | undefined, field: string) => {
    for (const token of normalizeDependencies(values ?? [], `${BUILDER} ${field}`)) lines.push([key, token]);
  };
  tokens('replaces', spec.replaces, 'replaces');
  tokens('depend', spec.depends, 'depends');
  tokens('provides', spec.provides, 'provides');
  const installIf = normalizeDependencies(spec.installIf ?? [], `${BUILDER} installIf`);
  if (installIf.length > 0) lines.push(['install_if', installIf.join(' ')]);
  lines.push(['datahash', dataHash]);
  return lines.map(([key, value]) => `${key} = ${value}\n`).join('');
}

/** The file name apk fetches: `<name>-<version>.apk`. */
export function apkFileName(spec: Pick<ApkBuildSpec, 'name' | 'version'>): string {
  return `${spec.name}-${spec.version}.apk`;
}

/** Build the bytes of an apk v2 package, signed when `options.signer` is given. */
export async function buildApk(spec: ApkBuildSpec, options: ApkBuildOptions = {}): Promise<Uint8Array> {
  const mtime = spec.buildTime ?? 0;
  checkUnsigned(mtime, `${BUILDER} buildTime`);
  const tree = buildTree(spec.files ?? [], 'bytewise', BUILDER);
  const data = gzipSync(await dataTar(tree, mtime), { level: 9 });
  const info = pkginfo(spec, tree, mtime, createHash('sha256').update(data).digest('hex'));
  const date = new Date(mtime * 1000);
  const control = gzipSync(await packTar([{ name: '.PKGINFO', data: Buffer.from(info), mtime: date }], false), { level: 9 });
  if (!options.signer) return Buffer.concat([control, data]);

  const type = options.signatureType ?? 'RSA';
  const name = `.SIGN.${type}.${options.signer.keyName}`;
  if (!/^[\x21-\x7e]+$/.test(options.signer.keyName) || options.signer.keyName.includes('/') || name.length > 100) {
    throw new Error(`${BUILDER}: key name ${JSON.stringify(options.signer.keyName)} is not a plain file name that fits a ustar entry name`);
  }
  const signature = options.signer.sign(control, type === 'RSA' ? 'sha1' : 'sha256');
  const signatureMember = gzipSync(await packTar([{ name, data: signature, mtime: date }], false), { level: 9 });
  return Buffer.concat([signatureMember, control, data]);
}
