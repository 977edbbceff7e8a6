/**
 * Writing a small but valid binary .rpm without rpmbuild: lead, signature header (sizes,
 * SHA-1/SHA-256 header digests, MD5 of header and payload), main header, gzip-compressed
 * cpio (newc) payload with the payload digest. For demos and benchmarks; `rpm -K` accepts
 * the result and rpm installs it.
 */
/* eslint-disable no-bitwise -- dependency senses and file modes are bit sets */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { encodeHeader, type HeaderEntry } from './header';
import type { RpmChangelog, RpmDependency } from './model';
import { RPM_LEAD_SIZE } from './rpm-file';
import { HashAlgo, RegionTag, RpmTagType, Sense, SigTag, Tag } from './tags';

/** One file, directory or symlink in the package. */
export interface RpmBuildFile {
  /** Absolute path, e.g. `/usr/bin/hello`. */
  readonly path: string;
  /** @default 'file' */
  readonly type?: 'file' | 'dir' | 'symlink';
  /** File content (type 'file'). @default empty */
  readonly contents?: Uint8Array | string;
  /** Symlink target (type 'symlink'). */
  readonly target?: string;
  /** Permission bits. @default 0o644 for files, 0o755 for directories, 0o777 for symlinks */
  readonly mode?: number;
}

/** What `buildRpm` makes a package from. */
export interface RpmBuildSpec {
  readonly name: string;
  readonly version: string;
  readonly release: string;
  /** @default none */
  readonly epoch?: number;
  /** @default 'noarch' */
  readonly arch?: string;
  readonly summary: string;
  /** @default the summary */
  readonly description?: string;
  /** @default 'MIT' */
  readonly license?: string;
  /** @default 'Unspecified' */
  readonly group?: string;
  /** @default none */
  readonly url?: string;
  /** @default none */
  readonly vendor?: string;
  /** @default none */
  readonly packager?: string;
  /** @default 'localhost' */
  readonly buildHost?: string;
  /** Seconds since the epoch; also the mtime of every file. @default 0 */
  readonly buildTime?: number;
  /** @default [] */
  readonly files?: readonly RpmBuildFile[];
  /** `pre: true` marks a Requires(pre). @default [] */
  readonly requires?: readonly RpmDependency[];
  /** The package always provides `name = [epoch:]version-release` too. @default [] */
  readonly provides?: readonly RpmDependency[];
  /** @default [] */
  readonly conflicts?: readonly RpmDependency[];
  /** @default [] */
  readonly obsoletes?: readonly RpmDependency[];
  /** Newest first, as in a spec file. @default [] */
  readonly changelog?: readonly RpmChangelog[];
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** The rpmlib() features a package built this way relies on, as rpmbuild declares them. */
const RPMLIB_REQUIRES: readonly RpmDependency[] = [
  { name: 'rpmlib(CompressedFileNames)', flags: 'LE', ver: '3.0.4', rel: '1' },
  { name: 'rpmlib(FileDigests)', flags: 'LE', ver: '4.6.0', rel: '1' },
  { name: 'rpmlib(PayloadFilesHavePrefix)', flags: 'LE', ver: '4.0', rel: '1' },
];

const SENSE_OF_FLAG = { EQ: Sense.EQUAL, LT: Sense.LESS, LE: Sense.LESS | Sense.EQUAL, GT: Sense.GREATER, GE: Sense.GREATER | Sense.EQUAL } as const;

const str = (tag: number, value: string): HeaderEntry => ({ tag, value: { type: RpmTagType.STRING, value } });
const i18n = (tag: number, value: string): HeaderEntry => ({ tag, value: { type: RpmTagType.I18NSTRING, values: [value] } });
const strs = (tag: number, values: readonly string[]): HeaderEntry => ({ tag, value: { type: RpmTagType.STRING_ARRAY, values } });
const int32 = (tag: number, values: readonly number[]): HeaderEntry => ({ tag, value: { type: RpmTagType.INT32, values } });
const int16 = (tag: number, values: readonly number[]): HeaderEntry => ({ tag, value: { type: RpmTagType.INT16, values } });
const int64 = (tag: number, values: readonly bigint[]): HeaderEntry => ({ tag, value: { type: RpmTagType.INT64, values } });
const bin = (tag: number, value: Uint8Array): HeaderEntry => ({ tag, value: { type: RpmTagType.BIN, value } });

interface PreparedFile {
  readonly path: string;
  readonly mode: number;
  readonly data: Uint8Array;
  readonly linkTo: string;
  readonly digest: string;
}

function prepareFiles(files: readonly RpmBuildFile[]): PreparedFile[] {
  const seen = new Set<string>();
  const prepared = files.map((f): PreparedFile => {
    if (!f.path.startsWith('/') || f.path.length < 2 || f.path.endsWith('/') || f.path.includes('\0')) {
      throw new Error(`buildRpm: file path must be absolute without a trailing slash: ${JSON.stringify(f.path)}`);
    }
    if (seen.has(f.path)) throw new Error(`buildRpm: duplicate file path ${f.path}`);
    seen.add(f.path);
    const type = f.type ?? 'file';
    if (type === 'dir') return { path: f.path, mode: S_IFDIR | (f.mode ?? 0o755), data: new Uint8Array(0), linkTo: '', digest: '' };
    if (type === 'symlink') {
      if (!f.target) throw new Error(`buildRpm: symlink ${f.path} needs a target`);
      return { path: f.path, mode: S_IFLNK | (f.mode ?? 0o777), data: Buffer.from(f.target), linkTo: f.target, digest: '' };
    }
    const data = typeof f.contents === 'string' ? Buffer.from(f.contents) : f.contents ?? new Uint8Array(0);
    return { path: f.path, mode: S_IFREG | (f.mode ?? 0o644), data, linkTo: '', digest: createHash('sha256').update(data).digest('hex') };
  });
  // rpm looks files up by binary search: the list is sorted by path, bytewise
  return prepared.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

/** The cpio "newc" archive of the files, names prefixed with "./" as rpm expects. */
function cpioNewc(files: readonly PreparedFile[], mtime: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    length += b.length;
    const pad = (4 - (length % 4)) % 4;
    if (pad) {
      parts.push(new Uint8Array(pad));
      length += pad;
    }
  };
  const entry = (ino: number, mode: number, nlink: number, data: Uint8Array, name: string) => {
    const nameBytes = Buffer.from(`${name}\0`);
    const fields = [ino, mode, 0, 0, nlink, mtime, data.length, 0, 0, 0, 0, nameBytes.length, 0];
    push(Buffer.concat([Buffer.from(`070701${fields.map((n) => n.toString(16).padStart(8, '0')).join('')}`), nameBytes]));
    if (data.length) push(data);
  };
  files.forEach((f, i) => entry(i + 1, f.mode, (f.mode & S_IFMT) === S_IFDIR ? 2 : 1, f.data, `.${f.path}`));
  entry(0, 0, 1, new Uint8Array(0), 'TRAILER!!!');
  return Buffer.concat(parts);
}

function evrString(d: RpmDependency): string {
  if (!d.flags) return '';
  const e = d.epoch && d.epoch !== '' ? `${d.epoch}:` : '';
  return `${e}${d.ver ?? ''}${d.rel ? `-${d.rel}` : ''}`;
}

function dependencyEntries(deps: readonly RpmDependency[], nameTag: number, flagsTag: number, versionTag: number): HeaderEntry[] {
  if (deps.length === 0) return [];
  return [
    strs(nameTag, deps.map((d) => d.name)),
    int32(flagsTag, deps.map((d) => (d.flags ? SENSE_OF_FLAG[d.flags] : 0) | (d.pre ? Sense.SCRIPT_PRE : 0)
      | (d.name.startsWith('rpmlib(') ? Sense.RPMLIB : 0))),
    strs(versionTag, deps.map(evrString)),
  ];
}

function lead(nvr: string, arch: string): Uint8Array {
  const out = Buffer.alloc(RPM_LEAD_SIZE);
  out.set([0xed, 0xab, 0xee, 0xdb, 3, 0], 0);
  out.writeUInt16BE(0, 6); // binary package
  out.writeUInt16BE(arch === 'noarch' ? 0 : 1, 8);
  out.write(nvr.slice(0, 65), 10, 'latin1');
  out.writeUInt16BE(1, 76); // Linux
  out.writeUInt16BE(5, 78); // signature type: header-style signature
  return out;
}

/** Build the bytes of a binary .rpm. */
export function buildRpm(spec: RpmBuildSpec): Uint8Array {
  const arch = spec.arch ?? 'noarch';
  const buildTime = spec.buildTime ?? 0;
  const files = prepareFiles(spec.files ?? []);
  const payload = cpioNewc(files, buildTime);
  const compressed = gzipSync(payload, { level: 9 });

  const self: RpmDependency = {
    name: spec.name,
    flags: 'EQ',
    ver: spec.version,
    rel: spec.release,
    ...(spec.epoch === undefined ? {} : { epoch: String(spec.epoch) }),
  };
  const dirs: string[] = [];
  const dirIndexes: number[] = [];
  const basenames: string[] = [];
  for (const f of files) {
    const cut = f.path.lastIndexOf('/') + 1;
    const dir = f.path.slice(0, cut);
    let d = dirs.indexOf(dir);
    if (d < 0) d = dirs.push(dir) - 1;
    dirIndexes.push(d);
    basenames.push(f.path.slice(cut));
  }
  const fileSizes = files.map((f) => f.data.length);
  const installed = fileSizes.reduce((a, b) => a + b, 0);
  const changelog = spec.changelog ?? [];
  const optional = (tag: number, v: string | undefined) => (v === undefined ? [] : [str(tag, v)]);
  const n = files.length;
  const fileEntries: HeaderEntry[] = n === 0 ? [] : [
    int32(Tag.FILESIZES, fileSizes),
    int16(Tag.FILEMODES, files.map((f) => f.mode)),
    int16(Tag.FILERDEVS, files.map(() => 0)),
    int32(Tag.FILEMTIMES, files.map(() => buildTime)),
    strs(Tag.FILEDIGESTS, files.map((f) => f.digest)),
    strs(Tag.FILELINKTOS, files.map((f) => f.linkTo)),
    int32(Tag.FILEFLAGS, files.map(() => 0)),
    strs(Tag.FILEUSERNAME, files.map(() => 'root')),
    strs(Tag.FILEGROUPNAME, files.map(() => 'root')),
    int32(Tag.FILEVERIFYFLAGS, files.map(() => 0xffffffff)),
    int32(Tag.FILEDEVICES, files.map(() => 1)),
    int32(Tag.FILEINODES, files.map((_, i) => i + 1)),
    strs(Tag.FILELANGS, files.map(() => '')),
    int32(Tag.DIRINDEXES, dirIndexes),
    strs(Tag.BASENAMES, basenames),
    strs(Tag.DIRNAMES, dirs),
    int32(Tag.FILEDIGESTALGO, [HashAlgo.SHA256]),
  ];
  const main = encodeHeader([
    strs(Tag.HEADERI18NTABLE, ['C']),
    str(Tag.NAME, spec.name),
    str(Tag.VERSION, spec.version),
    str(Tag.RELEASE, spec.release),
    ...(spec.epoch === undefined ? [] : [int32(Tag.EPOCH, [spec.epoch])]),
    i18n(Tag.SUMMARY, spec.summary),
    i18n(Tag.DESCRIPTION, spec.description ?? spec.summary),
    int32(Tag.BUILDTIME, [buildTime]),
    str(Tag.BUILDHOST, spec.buildHost ?? 'localhost'),
    installed > 0xffffffff ? int64(Tag.LONGSIZE, [BigInt(installed)]) : int32(Tag.SIZE, [installed]),
    ...optional(Tag.VENDOR, spec.vendor),
    str(Tag.LICENSE, spec.license ?? 'MIT'),
    ...optional(Tag.PACKAGER, spec.packager),
    i18n(Tag.GROUP, spec.group ?? 'Unspecified'),
    ...optional(Tag.URL, spec.url),
    str(Tag.OS, 'linux'),
    str(Tag.ARCH, arch),
    ...fileEntries,
    str(Tag.SOURCERPM, `${spec.name}-${spec.version}-${spec.release}.src.rpm`),
    ...dependencyEntries([...(spec.provides ?? []), self], Tag.PROVIDENAME, Tag.PROVIDEFLAGS, Tag.PROVIDEVERSION),
    ...dependencyEntries([...(spec.requires ?? []), ...RPMLIB_REQUIRES], Tag.REQUIRENAME, Tag.REQUIREFLAGS, Tag.REQUIREVERSION),
    ...dependencyEntries(spec.conflicts ?? [], Tag.CONFLICTNAME, Tag.CONFLICTFLAGS, Tag.CONFLICTVERSION),
    ...dependencyEntries(spec.obsoletes ?? [], Tag.OBSOLETENAME, Tag.OBSOLETEFLAGS, Tag.OBSOLETEVERSION),
    ...(changelog.length === 0 ? [] : [
      int32(Tag.CHANGELOGTIME, changelog.map((c) => c.date)),
      strs(Tag.CHANGELOGNAME, changelog.map((c) => c.author)),
      strs(Tag.CHANGELOGTEXT, changelog.map((c) => c.text)),
    ]),
    str(Tag.PAYLOADFORMAT, 'cpio'),
    str(Tag.PAYLOADCOMPRESSOR, 'gzip'),
    str(Tag.PAYLOADFLAGS, '9'),
    str(Tag.ENCODING, 'utf-8'),
    strs(Tag.PAYLOADDIGEST, [createHash('sha256').update(compressed).digest('hex')]),
    int32(Tag.PAYLOADDIGESTALGO, [HashAlgo.SHA256]),
  ], { region: RegionTag.HEADERIMMUTABLE });

  const signedSize = main.length + compressed.length;
  const signature = encodeHeader([
    str(SigTag.SHA1, createHash('sha1').update(main).digest('hex')),
    str(SigTag.SHA256, createHash('sha256').update(main).digest('hex')),
    signedSize > 0xffffffff ? int64(SigTag.LONGSIZE, [BigInt(signedSize)]) : int32(SigTag.SIZE, [signedSize]),
    bin(SigTag.MD5, createHash('md5').update(main).update(compressed).digest()),
    payload.length > 0xffffffff ? int64(SigTag.LONGARCHIVESIZE, [BigInt(payload.length)]) : int32(SigTag.PAYLOADSIZE, [payload.length]),
  ], { region: RegionTag.HEADERSIGNATURES });
  const padding = new Uint8Array((8 - (signature.length % 8)) % 8);
  return Buffer.concat([lead(`${spec.name}-${spec.version}-${spec.release}`, arch), signature, padding, main, compressed]);
}
