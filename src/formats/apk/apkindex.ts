import * as zlib from 'node:zlib';
import type { RsaSigner } from '../../signing/signer';
import { check, PackageFormatError } from '../errors';
import { normalizeDependencies } from './dependency';
import {
  checkArch, checkChecksum, checkPackageName, checkText, checkUnsigned, checkVersion, MAX_FIELD_LENGTH, parseUnsigned,
} from './fields';
import { splitGzipMembers } from './gzip-members';
import type { ApkIndexEntry, ApkPackage, ApkSignatureInfo } from './model';
import { packTar, tarEntries } from './tar-io';
import { compareApkVersions } from './version';

/**
 * APKINDEX (apk-tools 2.14 `apk_pkg_write_index_header`, `apk_db_index_read`, `app_index.c`)
 * and APKINDEX.tar.gz: a gzip member holding a tar of DESCRIPTION and APKINDEX, signed
 * the way abuild-sign does it (a cut tar of `.SIGN.RSA.<key name>` holding a PKCS#1 v1.5
 * signature over the whole unsigned .tar.gz, gzipped and prepended).
 */

/** The APKINDEX entry of a package read from a file; `arch` overrides the package's (`apk index --rewrite-arch`). */
export function indexEntryOf(pkg: ApkPackage, arch?: string): ApkIndexEntry {
  const i = pkg.info;
  return {
    checksum: pkg.checksum,
    name: i.name,
    version: i.version,
    arch: arch ?? i.arch,
    size: pkg.size,
    installedSize: i.installedSize,
    description: i.description,
    url: i.url,
    license: i.license,
    origin: i.origin,
    maintainer: i.maintainer,
    buildTime: i.buildDate,
    commit: i.commit,
    providerPriority: i.providerPriority,
    depends: i.depends,
    provides: i.provides,
    installIf: i.installIf,
  };
}

/** The order `apk index` writes packages in: name (case-insensitive, then exact), then version. */
export function compareIndexEntries(a: ApkIndexEntry, b: ApkIndexEntry): number {
  const byName = Buffer.compare(Buffer.from(a.name.toLowerCase()), Buffer.from(b.name.toLowerCase()))
    || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
  return byName || compareApkVersions(a.version, b.version);
}

/** apk-tools 2 reads index lines into its 128 KiB I/O buffer (`apk_io_bufsize`, `apk_istream_get_delim`). */
const MAX_LINE_BYTES = 128 * 1024;

function entryLines(e: ApkIndexEntry): string[] {
  const lines = [
    `C:${checkChecksum(e.checksum, 'C (checksum)')}`,
    `P:${checkPackageName(e.name, 'P (name)')}`,
    `V:${checkVersion(e.version, 'V (version)')}`,
  ];
  if (e.arch !== undefined) lines.push(`A:${checkArch(e.arch, 'A (arch)')}`);
  lines.push(
    `S:${checkUnsigned(e.size, 'S (size)')}`,
    `I:${checkUnsigned(e.installedSize, 'I (installed size)')}`,
    `T:${checkText(e.description, 'T (description)')}`,
    `U:${checkText(e.url, 'U (url)')}`,
    `L:${checkText(e.license, 'L (license)')}`,
  );
  if (e.origin !== undefined) lines.push(`o:${checkText(e.origin, 'o (origin)')}`);
  if (e.maintainer !== undefined) lines.push(`m:${checkText(e.maintainer, 'm (maintainer)')}`);
  if (e.buildTime) lines.push(`t:${checkUnsigned(e.buildTime, 't (build time)')}`);
  if (e.commit !== undefined) lines.push(`c:${checkText(e.commit, 'c (commit)')}`);
  if (e.providerPriority) lines.push(`k:${checkUnsigned(e.providerPriority, 'k (provider priority)')}`);
  const deps = (field: string, values: readonly string[]) => {
    if (values.length) lines.push(`${field}:${normalizeDependencies(values, field).join(' ')}`);
  };
  deps('D', e.depends);
  deps('p', e.provides);
  deps('i', e.installIf);
  for (const line of lines) {
    check(Buffer.byteLength(line) < MAX_LINE_BYTES,
      `${e.name}: the ${line[0]}: line is longer than the ${MAX_LINE_BYTES} bytes apk-tools reads in one line`);
  }
  return lines;
}

/**
 * The APKINDEX text: entries sorted like `apk index`, fields in apk-tools' order, every
 * entry followed by a blank line (the last one too: apk drops an unterminated entry).
 * Any value with a newline or control character raises PackageFormatError.
 */
export function writeApkIndex(entries: Iterable<ApkIndexEntry>): string {
  const sorted = [...entries].sort(compareIndexEntries);
  return sorted.map((e) => `${entryLines(e).join('\n')}\n\n`).join('');
}

/** Limits for reading an APKINDEX. */
export interface ApkIndexLimits {
  /** Most entries. */
  readonly maxEntries: number;
  /** Most bytes the whole APKINDEX.tar.gz may inflate to. */
  readonly maxBytes: number;
}

/** Defaults: Alpine's biggest index (community) has ~20k entries and inflates to ~20 MB. */
export const DEFAULT_APKINDEX_LIMITS: ApkIndexLimits = { maxEntries: 500_000, maxBytes: 512 * 1024 * 1024 };

type Fields = Map<string, string>;

function entryOfFields(f: Fields, where: string): ApkIndexEntry {
  const req = (k: string) => {
    const v = f.get(k);
    check(v !== undefined, `${where} has no ${k}: field`);
    return v;
  };
  const num = (k: string) => {
    const v = f.get(k);
    return v === undefined ? undefined : parseUnsigned(v, `${where} ${k}:`);
  };
  const text = (k: string) => {
    const v = f.get(k);
    return v === undefined ? undefined : checkText(v, `${where} ${k}:`);
  };
  const list = (k: string) => normalizeDependencies(f.has(k) ? [f.get(k)!] : [], `${where} ${k}:`);
  const arch = f.get('A');
  return {
    checksum: checkChecksum(req('C'), `${where} C:`),
    name: checkPackageName(req('P'), `${where} P:`),
    version: checkVersion(req('V'), `${where} V:`),
    arch: arch === undefined ? undefined : checkArch(arch, `${where} A:`),
    size: num('S') ?? 0,
    installedSize: num('I') ?? 0,
    description: text('T') ?? '',
    url: text('U') ?? '',
    license: text('L') ?? '',
    origin: text('o'),
    maintainer: text('m'),
    buildTime: num('t'),
    commit: text('c'),
    providerPriority: num('k'),
    depends: list('D'),
    provides: list('p'),
    installIf: list('i'),
  };
}

/**
 * Parses APKINDEX text (ours or `apk index`'s) back into entries. Fields apk-tools 2
 * does not know are dropped, as `apk index --index` drops them; a last entry without
 * its blank line is kept.
 */
export function parseApkIndex(text: string, limits: ApkIndexLimits = DEFAULT_APKINDEX_LIMITS): ApkIndexEntry[] {
  const entries: ApkIndexEntry[] = [];
  let fields: Fields = new Map();
  let startLine = 1;
  const finish = () => {
    if (fields.size === 0) return;
    check(entries.length < limits.maxEntries, `APKINDEX has more than ${limits.maxEntries} entries`);
    entries.push(entryOfFields(fields, `APKINDEX entry at line ${startLine}`));
    fields = new Map();
  };
  const lines = text.split('\n');
  lines.forEach((line, n) => {
    if (line.length < 2) {
      finish();
      startLine = n + 2;
      return;
    }
    check(line[1] === ':', `APKINDEX line ${n + 1} is not a "X:value" field: ${JSON.stringify(line.slice(0, 40))}`);
    check(line.length <= MAX_FIELD_LENGTH * 64, `APKINDEX line ${n + 1} is too long`);
    const key = line[0];
    if ('CPVASITULomtckDpi'.includes(key)) {
      check(!fields.has(key), `APKINDEX line ${n + 1} repeats field ${key}:`);
      fields.set(key, line.slice(2));
    }
  });
  finish();
  return entries;
}

/** What an APKINDEX.tar.gz holds. */
export interface ApkIndexArchive {
  readonly description?: string;
  readonly entries: ApkIndexEntry[];
  /** Signatures found in the leading signature member(s) (not verified here). */
  readonly signatures: readonly ApkSignatureInfo[];
  /** The bytes the signatures cover: everything after the signature member(s). */
  readonly signedBytes: Uint8Array;
}

/** Reads an APKINDEX.tar.gz (signed or not, ours or `apk index` + abuild-sign's). */
export async function readApkIndexArchive(
  bytes: Uint8Array,
  limits: ApkIndexLimits = DEFAULT_APKINDEX_LIMITS,
): Promise<ApkIndexArchive> {
  const members = splitGzipMembers(bytes, { maxMembers: 16, maxOutputBytes: limits.maxBytes });
  const signatures: ApkSignatureInfo[] = [];
  let signedFrom = 0;
  let description: string | undefined;
  let apkindex: string | undefined;
  for (const member of members) {
    let onlySignatures = true;
    for await (const entry of tarEntries(member.data, `APKINDEX.tar.gz member at offset ${member.start}`, 64)) {
      const name = entry.header.name;
      if (name.startsWith('.SIGN.') && signedFrom === member.start) {
        const rest = name.slice('.SIGN.'.length);
        const dot = rest.indexOf('.');
        check(dot > 0, `malformed signature entry ${JSON.stringify(name)}`);
        signatures.push({ type: rest.slice(0, dot), keyName: rest.slice(dot + 1), signature: await entry.read(64 * 1024) });
        continue;
      }
      onlySignatures = false;
      if (name === 'DESCRIPTION') description = utf8(await entry.read(64 * 1024), 'DESCRIPTION');
      if (name === 'APKINDEX') {
        check(apkindex === undefined, 'APKINDEX.tar.gz holds two APKINDEX entries');
        apkindex = utf8(await entry.read(limits.maxBytes), 'APKINDEX');
      }
    }
    if (onlySignatures && signedFrom === member.start) signedFrom = member.end;
  }
  check(apkindex !== undefined, 'APKINDEX.tar.gz has no APKINDEX entry');
  return {
    description: description === undefined ? undefined : checkText(description, 'DESCRIPTION'),
    entries: parseApkIndex(apkindex, limits),
    signatures,
    signedBytes: bytes.subarray(signedFrom),
  };
}

function utf8(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new PackageFormatError(`${what} is not valid UTF-8`, { cause: e });
  }
}

/** Options of {@link buildApkIndexArchive}. */
export interface ApkIndexArchiveOptions {
  /** DESCRIPTION (`apk index --description`), shown by `apk update`. */
  readonly description: string;
  /** Modification time of the tar entries. */
  readonly mtime: Date;
}

/** The unsigned APKINDEX.tar.gz: ONE gzip member of a ustar tar with DESCRIPTION and APKINDEX. */
export async function buildApkIndexArchive(
  entries: Iterable<ApkIndexEntry>,
  options: ApkIndexArchiveOptions,
): Promise<Buffer> {
  const tar = await packTar([
    { name: 'DESCRIPTION', data: Buffer.from(checkText(options.description, 'DESCRIPTION')), mtime: options.mtime },
    { name: 'APKINDEX', data: Buffer.from(writeApkIndex(entries)), mtime: options.mtime },
  ], true);
  return zlib.gzipSync(tar, { level: 9 });
}

/** How an index is signed: `RSA` = SHA-1 (what apk-tools 2 and abuild-sign default to), `RSA256` = SHA-256. */
export type ApkSignatureType = 'RSA' | 'RSA256';

/**
 * Signs an unsigned APKINDEX.tar.gz the way abuild-sign does: PKCS#1 v1.5 over all of its
 * bytes, stored as `.SIGN.<type>.<signer.keyName>` in a tar without end-of-archive blocks,
 * gzipped and prepended. The key name must equal the file name in the client's
 * /etc/apk/keys.
 */
export async function signApkIndexArchive(
  unsigned: Uint8Array,
  signer: RsaSigner,
  type: ApkSignatureType,
  mtime: Date,
): Promise<Buffer> {
  check(/^[\x21-\x7e]+$/.test(signer.keyName) && !signer.keyName.includes('/') && !/^\.\.?$/.test(signer.keyName),
    `key name ${JSON.stringify(signer.keyName)} is not a plain file name`);
  const name = `.SIGN.${type}.${signer.keyName}`;
  check(name.length <= 100, `signature entry name ${name} is longer than a ustar name (100 bytes)`);
  const signature = signer.sign(unsigned, type === 'RSA' ? 'sha1' : 'sha256');
  const tar = await packTar([{ name, data: signature, mtime }], false);
  return Buffer.concat([zlib.gzipSync(tar, { level: 9 }), unsigned]);
}
