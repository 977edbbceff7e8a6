/**
 * The fuzz targets: every reader that takes bytes from a bucket (packages and index or
 * metadata files), its seeds (valid files made with the package builders and the index
 * writers) and how the reader is called, as the engine calls it.
 */
import { createHash } from 'node:crypto';
import { type Codec, codecOf, decode, encode, readArchive, readTar, replaceTarEntry, writeArchive } from './codec';
import type { Dictionary, Layer, Seed } from './mutators';
import type { Prng } from './prng';
import { arStructure, gzipStructure, merge, rpmStructure, type Structure, tarStructure, textStructure, zstdStructure } from './structure';
import { buildApkIndexArchive, indexEntryOf, parseApkIndex, readApkIndexArchive, signApkIndexArchive, writeApkIndex } from '../../src/formats/apk/apkindex';
import { buildApk } from '../../src/formats/apk/build-apk';
import type { ApkIndexEntry } from '../../src/formats/apk/model';
import { readApk } from '../../src/formats/apk/package';
import { parsePkgInfo as parseApkPkgInfo } from '../../src/formats/apk/pkginfo';
import { type Compression, decompress, decompressAll, detectCompression } from '../../src/formats/compression';
import { buildDeb, type DebBuildSpec } from '../../src/formats/deb/build-deb';
import { parseControlFile, readDeb } from '../../src/formats/deb/deb-package';
import { formatParagraph } from '../../src/formats/deb/deb822';
import { cutChunks, compareStanzas, PACKAGES_WRITER_VERSION, readPackagesChunks, renderStanza } from '../../src/formats/deb/packages-chunks';
import { packagesEntryOf, readPackages, writePackages, type PackagesEntry } from '../../src/formats/deb/packages-index';
import { clearsignedText, readRelease, writeRelease } from '../../src/formats/deb/release';
import { check } from '../../src/formats/errors';
import { buildPacmanPackage, type PacmanBuildSpec } from '../../src/formats/pacman/build-pacman';
import { entryOfPackage, readDatabase, writeDatabase, type PacmanDbEntry } from '../../src/formats/pacman/db';
import { descSummary } from '../../src/formats/pacman/db';
import { chunkMembers, DB_WRITER_VERSION, gunzipChunk, splitChunk } from '../../src/formats/pacman/db-chunks';
import { parseDbSummary, renderDbSummary } from '../../src/formats/pacman/db-summary';
import { readPacmanPackage } from '../../src/formats/pacman/package';
import { parsePkgInfo as parsePacmanPkgInfo } from '../../src/formats/pacman/pkginfo';
import { buildRpm, type RpmBuildSpec } from '../../src/formats/rpm/build-rpm';
import { writeFilelistsXml } from '../../src/formats/rpm/filelists-xml';
import { gunzipMember, gzipMember, taggedMembers } from '../../src/formats/rpm/gzip-members';
import { METADATA_WRITER_VERSION, primarySummary, splitPackages } from '../../src/formats/rpm/metadata-chunks';
import type { RpmPackage } from '../../src/formats/rpm/model';
import { writeOtherXml } from '../../src/formats/rpm/other-xml';
import { writePrimaryXml, primaryPackageXml, primaryXmlFooter, primaryXmlHeader } from '../../src/formats/rpm/primary-xml';
import { parseFilelists, parseOther, parsePrimary, parsePrimarySummary, renderPrimarySummary } from '../../src/formats/rpm/read-metadata';
import { parseRepomd, writeRepomd } from '../../src/formats/rpm/repomd-xml';
import { parseRpm, rpmHeaderSpan } from '../../src/formats/rpm/rpm-file';
import type { RsaSigner } from '../../src/signing/signer';

/** The formats of the Hostile input table. */
export type FuzzFormat = 'rpm' | 'deb' | 'pacman' | 'apk' | 'compression';

/** One reader under fuzz. */
export interface FuzzTarget {
  readonly name: string;
  readonly format: FuzzFormat;
  /** The reader as RELIABILITY.md names it. */
  readonly reader: string;
  readonly dictionary: Dictionary;
  seeds(): Promise<Seed[]>;
  /** Call the reader on one input; `rng` decides how a stream is cut into chunks. */
  run(bytes: Buffer, rng: Prng): Promise<unknown>;
}

const MiB = 1024 * 1024;
/** Decompression cap for index files in these targets (the engine's are larger; the cap is a parameter). */
const INDEX_CAP = 256 * MiB;

/** The input as a stream of chunks of random sizes (down to single bytes for small inputs). */
async function* chunked(bytes: Buffer, rng: Prng): AsyncGenerator<Uint8Array> {
  const max = rng.pick([bytes.length < 16384 ? 1 : 16, 16, 512, 4096, 65536, bytes.length || 1]);
  for (let at = 0; at < bytes.length;) {
    const n = rng.range(1, max);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

const head = (bytes: Uint8Array): Compression => detectCompression(bytes.subarray(0, 6));

function codecStructure(bytes: Buffer, codec: Codec, inner: Buffer): Structure {
  if (codec === 'gzip') return gzipStructure(bytes);
  if (codec === 'zstd') return zstdStructure(bytes);
  if (codec === 'none') return tarStructure(inner);
  return { boundaries: [0, 6, bytes.length], lengths: [] };
}

function seed(name: string, bytes: Uint8Array, structure: Structure, layers: Layer[] = [], text = false): Seed {
  return { name, bytes: Buffer.from(bytes), structure, layers, text };
}

function textSeed(name: string, text: string | Uint8Array): Seed {
  const bytes = Buffer.from(text);
  return seed(name, bytes, textStructure(bytes), [], true);
}

/** A compressed text file: the text is a layer that can be mutated and re-wrapped. */
function compressedTextSeed(name: string, text: string, codec: Codec): Seed {
  const payload = Buffer.from(text);
  const bytes = encode(payload, codec);
  return seed(name, bytes, codecStructure(bytes, codec, payload), [
    { name: 'text', payload, structure: textStructure(payload), codec, text: true, rebuild: (p) => p },
  ]);
}

/** A tar (cut or whole) compressed with `codec`: the tar and each named text entry are layers. */
function compressedTarLayers(tar: Buffer, codec: Codec, textEntries: readonly string[], put: (encoded: Buffer) => Buffer): Layer[] {
  const layers: Layer[] = [{ name: 'tar', payload: tar, structure: tarStructure(tar), codec, rebuild: put }];
  for (const name of textEntries) {
    const entry = readTar(tar).find((r) => r.name === name);
    if (!entry) continue;
    const rebuild = (p: Buffer) => put(encode(replaceTarEntry(tar, name, p), codec));
    layers.push({ name, payload: entry.data, structure: textStructure(entry.data), text: true, rebuild });
  }
  return layers;
}

// ---------------------------------------------------------------------------------------------
// dictionaries

const BINARY_TOKENS: Dictionary = ['ustar\u000000', '\u001f\u008b\u0008', '!<arch>\n', 'debian-binary', 'control.tar.gz', 'data.tar.xz', '.PKGINFO', '../', '/', '.SIGN.RSA.', '\u0000'.repeat(16)];

/** Tokens of the engine's JSON state (the index summaries). */
const JSON_TOKENS: Dictionary = [
  '{"version":1,"chunks":[', ']]}', '[[', '],[', '"', '\\"', '\\u0000', 'null', 'true', '-1', '1e400', '9007199254740993',
  '"../../etc/passwd"', '"/abs.rpm"', '"a/./b.rpm"', '"x.pkg.tar.zst"', '"\\u202e"', '{}', '[]',
];

const XML_TOKENS: Dictionary = [
  '<', '>', '&', '&amp;', '&#0;', '&#x1F;', '&#xFFFE;', '&#xD800;', '&unknown;', ']]>', '<![CDATA[x]]>', '<!-- c -->', '<?xml version="1.0"?>',
  '<!DOCTYPE metadata [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>', '&a;', '&b;',
  '<package type="rpm">', '</package>', '<package pkgid="x" name="n" arch="a">', '<file>', '</file>', '<file type="dir">/etc/x</file>',
  '<rpm:entry name="x" flags="EQ" epoch="99999999999999999999" ver="1" rel="1"/>', '<version epoch="0" ver="1" rel="1"/>',
  '<changelog author="a" date="99999999999999999999">t</changelog>', '<data type="primary">', '<location href="../../etc/passwd"/>',
  '<size>18446744073709551616</size>', 'xmlns="x"', 'xmlns:rpm="y"', '"', "'", '\u0000', '\uffff', '\ud800', '\r\n', '\r', 'packages="4294967295"',
  '<a>'.repeat(2000), '</a>', ' xml:base="file:///"', '<time file="-1" build="1e9"/>',
];

const DEB822_TOKENS: Dictionary = [
  '\n', '\n\n', ' ', '\t', ':', ' .', '#', '\r', '\u0000', '\u007f', '\ufeff', '\ud800', 'Package: x\n', 'Package: ../../x\n', 'Version: 1:\n', 'Architecture: ../\n',
  'Size: 99999999999999999999\n', 'Filename: ../../etc/passwd\n', 'Filename: /etc/passwd\n', 'Filename: pool/ x\n', 'MD5sum: zz\n', 'SHA256: \n',
  'Description: x\n .\n', ' e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 99999999999999999 main/binary-amd64/Packages\n',
  'Date: Thu, 31 Feb 2026 25:61:61 UTC\n', 'Date: Sat, 01 Jan 10000 00:00:00 +9999\n', '-----BEGIN PGP SIGNATURE-----\n', '- ', '-----BEGIN PGP SIGNED MESSAGE-----\n',
  'SHA256:\n', ' x'.repeat(500), 'Conffiles:\n /etc/x 0\n',
];

const PACMAN_TOKENS: Dictionary = [
  '\n', '\n\n', '%NAME%\n', '%FILENAME%\n../x\n', '%FILENAME%\n', '%VERSION%\n', '%CSIZE%\n99999999999999999999\n', '%ISIZE%\n-1\n', '%FILES%\n', '%FILES%\n/etc/passwd\n',
  '%FILES%\n../../x\n', '%', '%%', '%DEPENDS%\n', '\r', '\u0000', '\u0085', '\ufffd', 'pkgname = x\n', 'pkgname = ../x\n', 'pkgver = 1-1\n', 'pkgver = 1:2:3-1\n',
  ' = ', '=', '#', 'size = 99999999999999999999\n', 'builddate = -1\n', 'arch = ../\n', 'depend = \n', 'xdata = pkgtype=pkg\n', '\t', ' ',
  '%PGPSIG%\n!!!\n', '%SHA256SUM%\nZZ\n',
];

const APK_TOKENS: Dictionary = [
  '\n', '\n\n', 'C:', 'P:', 'V:', 'A:', 'S:', 'I:', 'T:', 'D:', 'p:', 'i:', 'k:', ':', 'C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n', 'P:../x\n', 'V:1.0-r0\n', 'V:1..0-r0\n',
  'S:99999999999999999999\n', 'I:-1\n', 'D:so:x>=1.0 !y<2 z><Q1abc\n', 'D:' + 'a '.repeat(3000) + '\n', ' = ', 'pkgname = x\n', 'pkgname = ../x\n', 'pkgver = 1.0-r0\n',
  'datahash = 00\n', 'depend = x>>1\n', 'size = 99999999999999999999\n', '#', '\r', '\u0000', '\u007f', '.SIGN.RSA.key.pub', 'DESCRIPTION', 'APKINDEX',
];

// ---------------------------------------------------------------------------------------------
// rpm

const RPM_SPECS: RpmBuildSpec[] = [
  { name: 'tiny', version: '1', release: '1', summary: 'tiny' },
  {
    name: 'hello-tool',
    version: '2.10',
    release: '3.el9',
    epoch: 2,
    arch: 'x86_64',
    summary: 'Says <hello> & "goodbye"',
    description: 'A multi-line\ndescription with ünïcödé and <xml/> & entities.',
    license: 'MIT or GPL-2.0+',
    url: 'https://example.org/?a=1&b=2',
    vendor: 'Example',
    packager: 'Jane <jane@example.org>',
    buildTime: 1700000000,
    files: [
      { path: '/usr/bin/hello', contents: '#!/bin/sh\necho hello\n', mode: 0o755 },
      { path: '/usr/share/doc/hello', type: 'dir' },
      { path: '/usr/share/doc/hello/README', contents: 'read me' },
      { path: '/etc/hello.conf', contents: 'x=1\n' },
      { path: '/usr/bin/hi', type: 'symlink', target: 'hello' },
    ],
    requires: [{ name: 'bash', flags: 'GE', ver: '4.0' }, { name: '/bin/sh', pre: true }, { name: 'libc.so.6()(64bit)' }],
    provides: [{ name: 'hello', flags: 'EQ', epoch: '2', ver: '2.10', rel: '3.el9' }],
    conflicts: [{ name: 'goodbye', flags: 'LT', ver: '1' }],
    obsoletes: [{ name: 'hello-old' }],
    changelog: [
      { author: 'Jane <jane@example.org> - 2.10-3', date: 1700000000, text: '- third & <last>' },
      { author: 'Jane <jane@example.org> - 2.10-2', date: 1600000000, text: '- second' },
      { author: 'Jane <jane@example.org> - 2.10-1', date: 1600000000, text: '- first' },
    ],
  },
  {
    name: 'many-files',
    version: '0.1',
    release: '1',
    arch: 'aarch64',
    summary: 'many files',
    files: Array.from({ length: 40 }, (_, i) => ({ path: `/usr/lib/many/f${i}`, contents: `${i}` })),
    requires: Array.from({ length: 20 }, (_, i) => ({ name: `dep${i}`, flags: 'GE' as const, ver: `${i}.0` })),
  },
];

let rpmPackages: Promise<Array<{ name: string; bytes: Uint8Array; pkg: RpmPackage }>> | undefined;

function rpmSeeds(): Promise<Array<{ name: string; bytes: Uint8Array; pkg: RpmPackage }>> {
  rpmPackages ??= Promise.resolve(RPM_SPECS.map((spec) => {
    const bytes = buildRpm(spec);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const pkg = parseRpm(bytes, { href: `Packages/${spec.name}.rpm`, size: bytes.length, mtime: 1700000000, sha256 });
    return { name: spec.name, bytes, pkg };
  }));
  return rpmPackages;
}

function xmlSeeds(what: string, render: (pkgs: RpmPackage[]) => string): () => Promise<Seed[]> {
  return async () => {
    const pkgs = (await rpmSeeds()).map((s) => s.pkg);
    const all = render(pkgs);
    return [
      textSeed(`${what}.xml`, all),
      textSeed(`${what}-one.xml`, render(pkgs.slice(1, 2))),
      compressedTextSeed(`${what}.xml.gz`, all, 'gzip'),
      compressedTextSeed(`${what}.xml.zst`, all, 'zstd'),
    ];
  };
}

function metadataSource(bytes: Buffer, rng: Prng) {
  return decompress(chunked(bytes, rng), head(bytes), INDEX_CAP);
}

const rpmInfo = (bytes: Buffer) => ({ href: 'Packages/x.rpm', size: bytes.length, mtime: 1700000000, sha256: createHash('sha256').update(bytes).digest('hex') });

// ---------------------------------------------------------------------------------------------
// deb

const DEB_SPECS: DebBuildSpec[] = [
  { name: 'tiny', version: '1.0', maintainer: 'A <a@example.org>', summary: 'tiny' },
  {
    name: 'hello-tool',
    version: '1:2.0~rc1-3',
    architecture: 'amd64',
    maintainer: 'Jane Doe <jane@example.org>',
    summary: 'says hello',
    description: 'A longer description.\n\nWith a blank line and ünïcödé.',
    section: 'utils',
    priority: 'optional',
    homepage: 'https://example.org',
    depends: ['libc6 (>= 2.34)', 'mail-transport-agent | postfix'],
    conflicts: ['goodbye'],
    provides: ['hello'],
    buildTime: 1700000000,
    files: [
      { path: '/usr/bin/hello', contents: '#!/bin/sh\necho hello\n', mode: 0o755 },
      { path: '/usr/share/doc/hello-tool/copyright', contents: 'MIT' },
      { path: '/usr/bin/hi', type: 'symlink', target: 'hello' },
    ],
  },
];

const memberCodec = (name: string): Codec => (name.endsWith('.gz') ? 'gzip' : name.endsWith('.xz') ? 'xz' : name.endsWith('.zst') ? 'zstd' : 'none');

/** A .deb with its members re-compressed as `control`/`data` name them. */
function recompressDeb(deb: Uint8Array, control: string, data: string): Buffer {
  return writeArchive(readArchive(deb).map((m) => {
    const target = m.name.startsWith('control.') ? control : m.name.startsWith('data.') ? data : undefined;
    if (!target) return m;
    const header = Buffer.from(m.header);
    header.write(target.padEnd(16), 0, 'latin1');
    return { header, data: encode(decode(m.data, memberCodec(m.name)), memberCodec(target)) };
  }));
}

function debSeed(name: string, deb: Buffer): Seed {
  const members = readArchive(deb);
  const structures: Structure[] = [arStructure(deb)];
  const layers: Layer[] = [];
  members.forEach((m, index) => {
    const codec = memberCodec(m.name);
    const base = m.offset + 60;
    if (codec === 'gzip') structures.push(gzipStructure(m.data, base));
    if (codec === 'zstd') structures.push(zstdStructure(m.data, base));
    if (!m.name.startsWith('control.') && !m.name.startsWith('data.')) return;
    const put = (encoded: Buffer) => writeArchive(members.map((x, i) => (i === index ? { header: x.header, data: encoded } : x)));
    layers.push(...compressedTarLayers(decode(m.data, codec), codec, m.name.startsWith('control.') ? ['./control'] : [], put)
      .map((l) => ({ ...l, name: `${m.name}: ${l.name}` })));
  });
  return seed(name, deb, merge(...structures), layers);
}

let debPackages: Promise<Array<{ name: string; bytes: Uint8Array }>> | undefined;

function debBuilt(): Promise<Array<{ name: string; bytes: Uint8Array }>> {
  debPackages ??= Promise.all(DEB_SPECS.map(async (spec) => ({ name: spec.name, bytes: await buildDeb(spec) })));
  return debPackages;
}

async function debEntries(): Promise<PackagesEntry[]> {
  const built = await debBuilt();
  return Promise.all(built.map(async ({ name, bytes }) => packagesEntryOf(await readDeb(bytes), `pool/main/${name[0]}/${name}/${name}.deb`)));
}

function clearsign(text: string): string {
  const escaped = text.split('\n').map((l) => (l.startsWith('-') ? `- ${l}` : l)).join('\n');
  return `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n${escaped}\n-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCgAdFiEE\n=abcd\n-----END PGP SIGNATURE-----\n`;
}

// ---------------------------------------------------------------------------------------------
// pacman

const PACMAN_SPECS: PacmanBuildSpec[] = [
  { name: 'tiny', version: '1', description: 'tiny' },
  {
    name: 'hello-tool',
    version: '2.1rc1',
    release: '3',
    epoch: 1,
    arch: 'x86_64',
    description: 'says hello & ünïcödé',
    url: 'https://example.org',
    packager: 'Jane <jane@example.org>',
    licenses: ['MIT'],
    groups: ['tools'],
    depends: ['glibc>=2.34', 'bash'],
    provides: ['hello=2.1'],
    conflicts: ['goodbye'],
    optdepends: ['zsh: for completion'],
    backup: ['etc/hello.conf'],
    buildTime: 1700000000,
    files: [
      { path: '/usr/bin/hello', contents: '#!/bin/sh\necho hello\n', mode: 0o755 },
      { path: '/etc/hello.conf', contents: 'x=1\n' },
      { path: '/usr/bin/hi', type: 'symlink', target: 'hello' },
    ],
  },
];

let pacmanPackages: Promise<Array<{ name: string; tar: Buffer; gz: Uint8Array }>> | undefined;

function pacmanBuilt(): Promise<Array<{ name: string; tar: Buffer; gz: Uint8Array }>> {
  pacmanPackages ??= Promise.all(PACMAN_SPECS.map(async (spec) => {
    const gz = await buildPacmanPackage(spec, 'gzip');
    return { name: spec.name, tar: decode(gz, 'gzip'), gz };
  }));
  return pacmanPackages;
}

function compressedTarSeed(name: string, tar: Buffer, codec: Codec, textEntries: readonly string[]): Seed {
  const bytes = encode(tar, codec);
  return seed(name, bytes, codecStructure(bytes, codec, tar), compressedTarLayers(tar, codec, textEntries, (p) => p));
}

async function pacmanDbEntries(): Promise<PacmanDbEntry[]> {
  return Promise.all((await pacmanBuilt()).map(async ({ name, gz }) => {
    const pkg = await readPacmanPackage((async function* one() { yield gz; })(), 'gzip');
    return entryOfPackage(pkg, { filename: `${name}.pkg.tar.gz`, csize: gz.length, sha256sum: createHash('sha256').update(gz).digest('hex') });
  }));
}

// ---------------------------------------------------------------------------------------------
// apk

/** A signer with fixed output: readers never verify signatures, and seeds must not change between runs. */
const FAKE_SIGNER: RsaSigner = {
  keyName: 'fuzz@example.org-00000000.rsa.pub',
  publicKeyPem: '',
  sign: (data) => Buffer.concat(Array.from({ length: 8 }, (_, i) => createHash('sha256').update(data).update(String(i)).digest())),
};

const APK_SPECS = [
  { name: 'tiny', version: '1.0-r0', description: 'tiny' },
  {
    name: 'hello-tool',
    version: '2.1_rc1-r3',
    arch: 'x86_64',
    description: 'says hello & ünïcödé',
    url: 'https://example.org',
    license: 'MIT',
    maintainer: 'Jane <jane@example.org>',
    commit: 'abc123',
    depends: ['so:libc.musl-x86_64.so.1', 'busybox>=1.36', '!goodbye'],
    provides: ['cmd:hello=2.1_rc1-r3'],
    installIf: ['hello-tool=2.1_rc1-r3', 'bash'],
    buildTime: 1700000000,
    files: [
      { path: '/usr/bin/hello', contents: '#!/bin/sh\necho hello\n', mode: 0o755 },
      { path: '/etc/hello.conf', contents: 'x=1\n' },
      { path: '/usr/bin/hi', type: 'symlink' as const, target: 'hello' },
    ],
  },
];

let apkPackages: Promise<Array<{ name: string; bytes: Uint8Array }>> | undefined;

function apkBuilt(): Promise<Array<{ name: string; bytes: Uint8Array }>> {
  apkPackages ??= Promise.all([
    ...APK_SPECS.map(async (spec) => ({ name: spec.name, bytes: await buildApk(spec) })),
    (async () => ({ name: 'hello-tool-signed', bytes: await buildApk(APK_SPECS[1], { signer: FAKE_SIGNER }) }))(),
  ]);
  return apkPackages;
}

/** Concatenated gzip members: each member's tar is a layer, and each named text entry. */
function gzipMembersSeed(name: string, bytes: Uint8Array, textEntries: readonly string[]): Seed {
  const whole = Buffer.from(bytes);
  const ranges = gzipStructure(whole);
  const members: Buffer[] = [];
  for (let i = 0; i < ranges.boundaries.length; i += 5) members.push(whole.subarray(ranges.boundaries[i], ranges.boundaries[i + 4]));
  const layers: Layer[] = [];
  members.forEach((m, index) => {
    const put = (encoded: Buffer) => Buffer.concat(members.map((x, i) => (i === index ? encoded : x)));
    layers.push(...compressedTarLayers(decode(m, 'gzip'), 'gzip', textEntries, put).map((l) => ({ ...l, name: `member ${index}: ${l.name}` })));
  });
  return seed(name, whole, ranges, layers);
}

async function apkIndexEntries(): Promise<ApkIndexEntry[]> {
  return Promise.all((await apkBuilt()).slice(0, 2).map(async ({ bytes }) => indexEntryOf(await readApk(bytes))));
}

async function pkginfoOf(tarGz: Uint8Array, codec: Codec): Promise<Buffer> {
  const entry = readTar(decode(tarGz, codec)).find((r) => r.name === '.PKGINFO');
  if (!entry) throw new Error('seed has no .PKGINFO');
  return entry.data;
}


// ---------------------------------------------------------------------------------------------
// our own chunked indexes (read back from the bucket)

/** Number of packages in the chunked seeds: several gzip members each. */
const CHUNKED_COPIES = 300;

/** `n` copies of `items`, each made distinct by `vary`. */
function copies<T>(items: readonly T[], n: number, vary: (item: T, i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => vary(items[i % items.length], i));
}

/** A chunked Packages.gz as distribution.ts writes it: `Pk`-tagged members of cut chunks. */
async function chunkedPackagesGz(): Promise<Buffer> {
  const entries = copies(await debEntries(), CHUNKED_COPIES, (e, i) => ({ ...e, filename: `pool/main/c/c${i}/c${i}.deb` }));
  const sorted = entries.map(renderStanza).sort(compareStanzas);
  const members = await Promise.all(cutChunks(sorted).map((chunk) =>
    gzipMember(Buffer.concat(chunk.map((c) => c.stanza)), { writer: PACKAGES_WRITER_VERSION, packages: chunk.length }, 6)));
  return Buffer.concat(members);
}

/** What pacman.ts `ownMembers` + `loadOwnIndex` do with one database's bytes. */
async function loadPacmanChunks(bytes: Buffer, file: string, withFiles: boolean): Promise<number> {
  const members = chunkMembers(bytes, file);
  if (!members || !members.every((m) => m.writer === DB_WRITER_VERSION)) return 0;
  members.forEach((m, i) => check(i === members.length - 1 ? m.entries === 0 : m.entries > 0, `${file}: gzip member ${i} claims ${m.entries} entries`));
  let total = 0;
  for (const m of members.slice(0, -1)) {
    const text = await gunzipChunk(m.bytes, INDEX_CAP, file);
    total += text.length;
    check(total <= INDEX_CAP, `${file} expands beyond the limit of ${INDEX_CAP} bytes`);
    for (const { directory, desc } of splitChunk(text, m.entries, file)) {
      if (!withFiles) descSummary(Buffer.from(desc.buffer, desc.byteOffset, desc.byteLength).toString('utf8'), directory);
    }
  }
  return total;
}

/** A chunked primary.xml.gz as yum.ts renders it: header member, tagged chunk members, footer member. */
async function chunkedPrimaryGz(): Promise<Buffer> {
  const pkgs = copies((await rpmSeeds()).map((s) => s.pkg), CHUNKED_COPIES, (p, i) => ({
    ...p, name: `${p.name}c${i}`, pkgId: createHash('sha256').update(`${p.pkgId}${i}`).digest('hex'), location: { href: `Packages/c/c${i}.rpm` },
  }));
  const tag = (packages: number) => ({ writer: METADATA_WRITER_VERSION, packages });
  const members = [await gzipMember(Buffer.from(primaryXmlHeader(pkgs.length)), tag(0), 6)];
  for (let i = 0; i < pkgs.length; i += 100) {
    const chunk = pkgs.slice(i, i + 100);
    members.push(await gzipMember(Buffer.from(chunk.map(primaryPackageXml).join('')), tag(chunk.length), 6));
  }
  members.push(await gzipMember(Buffer.from(primaryXmlFooter()), tag(0), 6));
  return Buffer.concat(members);
}

/** What yum.ts `loadOwnIndex` does with primary.xml.gz (the counts of filelists and other aside). */
async function loadPrimaryChunks(bytes: Buffer): Promise<number> {
  const members = taggedMembers(bytes, 'primary.xml');
  if (!members || !members.every((m) => m.writer === METADATA_WRITER_VERSION)) return 0;
  check(members.length >= 2, `repodata: primary has ${members.length} gzip members`);
  members.forEach((m, i) => {
    const inner = i > 0 && i < members.length - 1;
    check(inner ? m.packages > 0 : m.packages === 0, `primary.xml: gzip member ${i} claims ${m.packages} packages`);
  });
  let total = 0;
  let count = 0;
  for (const m of members.slice(1, -1)) {
    const text = await gunzipMember(m.bytes, INDEX_CAP, 'primary.xml');
    total += text.length;
    check(total <= INDEX_CAP, `primary.xml expands beyond the limit of ${INDEX_CAP} bytes`);
    for (const element of splitPackages(text, m.packages, 'primary.xml')) {
      primarySummary(element, 'primary.xml');
      count++;
    }
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// the targets

const date = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));

/** Every target, by name. */
export const TARGETS: readonly FuzzTarget[] = [
  {
    name: 'rpm-package',
    format: 'rpm',
    reader: 'rpmHeaderSpan + parseRpm',
    dictionary: BINARY_TOKENS,
    seeds: async () => (await rpmSeeds()).map((s) => seed(`${s.name}.rpm`, s.bytes, rpmStructure(s.bytes))),
    run: async (bytes) => {
      rpmHeaderSpan(bytes);
      return parseRpm(bytes, rpmInfo(bytes));
    },
  },
  {
    name: 'rpm-primary',
    format: 'rpm',
    reader: 'parsePrimary',
    dictionary: XML_TOKENS,
    seeds: xmlSeeds('primary', writePrimaryXml),
    run: (bytes, rng) => parsePrimary(metadataSource(bytes, rng)),
  },
  {
    name: 'rpm-filelists',
    format: 'rpm',
    reader: 'parseFilelists',
    dictionary: XML_TOKENS,
    seeds: xmlSeeds('filelists', writeFilelistsXml),
    run: (bytes, rng) => parseFilelists(metadataSource(bytes, rng)),
  },
  {
    name: 'rpm-other',
    format: 'rpm',
    reader: 'parseOther',
    dictionary: XML_TOKENS,
    seeds: xmlSeeds('other', writeOtherXml),
    run: (bytes, rng) => parseOther(metadataSource(bytes, rng)),
  },
  {
    name: 'rpm-repomd',
    format: 'rpm',
    reader: 'parseRepomd',
    dictionary: XML_TOKENS,
    seeds: async () => {
      const record = (type: string, n: number) => ({
        type, href: `repodata/${'ab'.repeat(32)}-${type}.xml.gz`, checksum: 'cd'.repeat(32), openChecksum: 'ef'.repeat(32), size: 1000 + n, openSize: 5000 + n, timestamp: 1700000000,
      });
      return [
        textSeed('repomd.xml', writeRepomd({ revision: '1700000000', records: [record('primary', 1), record('filelists', 2), record('other', 3)] })),
        textSeed('repomd-comps.xml', writeRepomd({ revision: 'r<1>', records: [{ type: 'group', href: 'repodata/comps.xml', checksum: '00'.repeat(32), size: 10, timestamp: 1 }] })),
      ];
    },
    run: async (bytes) => parseRepomd(bytes.toString('utf8')),
  },
  {
    name: 'deb-package',
    format: 'deb',
    reader: 'readDeb',
    dictionary: BINARY_TOKENS,
    seeds: async () => {
      const built = await debBuilt();
      const seeds = built.map(({ name, bytes }) => debSeed(`${name}.deb`, Buffer.from(bytes)));
      seeds.push(debSeed('hello-tool-xz.deb', recompressDeb(built[1].bytes, 'control.tar.xz', 'data.tar.xz')));
      seeds.push(debSeed('hello-tool-zst.deb', recompressDeb(built[1].bytes, 'control.tar.zst', 'data.tar.zst')));
      seeds.push(debSeed('tiny-plain.deb', recompressDeb(built[0].bytes, 'control.tar', 'data.tar')));
      return seeds;
    },
    run: (bytes, rng) => readDeb(chunked(bytes, rng)),
  },
  {
    name: 'deb-control',
    format: 'deb',
    reader: 'parseControlFile (deb822)',
    dictionary: DEB822_TOKENS,
    seeds: async () => Promise.all((await debBuilt()).map(async ({ name, bytes }) => textSeed(`${name}/control`, formatParagraph((await readDeb(bytes)).control)))),
    run: async (bytes) => parseControlFile(bytes),
  },
  {
    name: 'deb-packages',
    format: 'deb',
    reader: 'readPackages (deb822)',
    dictionary: DEB822_TOKENS,
    seeds: async () => {
      const text = writePackages(await debEntries());
      return [textSeed('Packages', text), compressedTextSeed('Packages.gz', text, 'gzip'), compressedTextSeed('Packages.xz', text, 'xz')];
    },
    run: async (bytes) => readPackages(await decompressAll(bytes, head(bytes), INDEX_CAP)),
  },
  {
    name: 'deb-release',
    format: 'deb',
    reader: 'readRelease, clearsignedText',
    dictionary: DEB822_TOKENS,
    seeds: async () => {
      const text = writeRelease({
        origin: 'Example',
        label: 'Example',
        suite: 'stable',
        codename: 'stable',
        date,
        validUntil: new Date(date.getTime() + 86400_000),
        architectures: ['amd64', 'arm64'],
        components: ['main'],
        acquireByHash: true,
        description: 'fuzz',
        files: [
          { path: 'main/binary-amd64/Packages', size: 1234, sha256: 'ab'.repeat(32) },
          { path: 'main/binary-amd64/Packages.gz', size: 567, sha256: 'cd'.repeat(32) },
        ],
      });
      return [textSeed('Release', text), textSeed('InRelease', clearsign(text))];
    },
    run: async (bytes) => readRelease(bytes.subarray(0, 5).toString() === '-----' ? clearsignedText(bytes) : bytes),
  },
  {
    name: 'pacman-package',
    format: 'pacman',
    reader: 'readPacmanPackage',
    dictionary: BINARY_TOKENS,
    seeds: async () => {
      const built = await pacmanBuilt();
      return [
        ...built.map(({ name, tar }) => compressedTarSeed(`${name}.pkg.tar.gz`, tar, 'gzip', ['.PKGINFO'])),
        compressedTarSeed('hello-tool.pkg.tar.zst', built[1].tar, 'zstd', ['.PKGINFO']),
        compressedTarSeed('hello-tool.pkg.tar.xz', built[1].tar, 'xz', ['.PKGINFO']),
        compressedTarSeed('tiny.pkg.tar', built[0].tar, 'none', ['.PKGINFO']),
      ];
    },
    run: (bytes, rng) => readPacmanPackage(chunked(bytes, rng), head(bytes)),
  },
  {
    name: 'pacman-db',
    format: 'pacman',
    reader: 'readDatabase',
    dictionary: PACMAN_TOKENS,
    seeds: async () => {
      const entries = await pacmanDbEntries();
      const db = decode(await writeDatabase(entries, { withFiles: false, mtime: date }), 'gzip');
      const files = decode(await writeDatabase(entries, { withFiles: true, mtime: date }), 'gzip');
      const texts = readTar(files).filter((r) => r.type === '0').map((r) => r.name);
      return [
        compressedTarSeed('repo.db.tar.gz', db, 'gzip', texts),
        compressedTarSeed('repo.files.tar.gz', files, 'gzip', texts),
        compressedTarSeed('repo.db.tar.zst', db, 'zstd', texts),
        compressedTarSeed('repo.files.tar.xz', files, 'xz', texts),
        compressedTarSeed('repo.db.tar', db, 'none', texts),
      ];
    },
    run: (bytes, rng) => readDatabase(rng.chance(0.5) ? bytes : chunked(bytes, rng)),
  },
  {
    name: 'pacman-pkginfo',
    format: 'pacman',
    reader: 'parsePkgInfo',
    dictionary: PACMAN_TOKENS,
    seeds: async () => Promise.all((await pacmanBuilt()).map(async ({ name, gz }) => textSeed(`${name}/.PKGINFO`, await pkginfoOf(gz, 'gzip')))),
    run: async (bytes) => parsePacmanPkgInfo(bytes),
  },
  {
    name: 'apk-package',
    format: 'apk',
    reader: 'readApk',
    dictionary: BINARY_TOKENS,
    seeds: async () => (await apkBuilt()).map(({ name, bytes }) => gzipMembersSeed(`${name}.apk`, bytes, ['.PKGINFO'])),
    run: (bytes, rng) => readApk(rng.chance(0.3) ? bytes : chunked(bytes, rng)),
  },
  {
    name: 'apk-index',
    format: 'apk',
    reader: 'parseApkIndex',
    dictionary: APK_TOKENS,
    seeds: async () => [textSeed('APKINDEX', writeApkIndex(await apkIndexEntries()))],
    run: async (bytes) => parseApkIndex(new TextDecoder().decode(bytes)),
  },
  {
    name: 'apk-index-archive',
    format: 'apk',
    reader: 'readApkIndexArchive (gzip members)',
    dictionary: APK_TOKENS,
    seeds: async () => {
      const unsigned = await buildApkIndexArchive(await apkIndexEntries(), { description: 'fuzz repository', mtime: date });
      const signed = await signApkIndexArchive(unsigned, FAKE_SIGNER, 'RSA256', date);
      return [gzipMembersSeed('APKINDEX.tar.gz', unsigned, ['APKINDEX', 'DESCRIPTION']), gzipMembersSeed('APKINDEX-signed.tar.gz', signed, ['APKINDEX', 'DESCRIPTION'])];
    },
    run: (bytes) => readApkIndexArchive(bytes),
  },
  {
    name: 'apk-pkginfo',
    format: 'apk',
    reader: 'parsePkgInfo',
    dictionary: APK_TOKENS,
    seeds: async () => Promise.all((await apkBuilt()).slice(0, 2).map(async ({ name, bytes }) => {
      const control = gzipStructure(bytes);
      return textSeed(`${name}/.PKGINFO`, await pkginfoOf(Buffer.from(bytes).subarray(control.boundaries[0], control.boundaries[4]), 'gzip'));
    })),
    run: async (bytes) => parseApkPkgInfo(bytes),
  },
  {
    name: 'compression',
    format: 'compression',
    reader: 'decompress / decompressAll',
    dictionary: BINARY_TOKENS,
    seeds: async () => {
      const payload = Buffer.from(writePrimaryXml((await rpmSeeds()).map((s) => s.pkg)));
      return (['gzip', 'xz', 'zstd', 'none'] as const).map((codec) => {
        const bytes = encode(payload, codec);
        const layer: Layer = { name: 'payload', payload, structure: textStructure(payload), codec, text: true, rebuild: (p) => p };
        return seed(`primary.xml.${codec}`, bytes, codecStructure(bytes, codec, payload), [layer]);
      });
    },
    run: async (bytes, rng) => {
      const kind = rng.chance(0.75) ? codecOf(bytes) : rng.pick(['gzip', 'xz', 'zstd', 'none'] as const);
      if (rng.chance(0.5)) return (await decompressAll(bytes, kind, 64 * MiB)).length;
      // the streaming form, fed in chunks
      let streamed = 0;
      for await (const c of decompress(chunked(bytes, rng), kind, 64 * MiB)) streamed += c.length;
      return streamed;
    },
  },
  {
    name: 'deb-packages-chunks',
    format: 'deb',
    reader: 'readPackagesChunks',
    dictionary: DEB822_TOKENS,
    seeds: async () => {
      const gz = await chunkedPackagesGz();
      return [seed('Packages.gz (chunked)', gz, gzipStructure(gz))];
    },
    run: (bytes) => readPackagesChunks(bytes, 'Packages.gz', INDEX_CAP),
  },
  {
    name: 'pacman-db-chunks',
    format: 'pacman',
    reader: 'chunkMembers + gunzipChunk + splitChunk + descSummary',
    dictionary: PACMAN_TOKENS,
    seeds: async () => {
      const entries = copies(await pacmanDbEntries(), CHUNKED_COPIES, (e, i) => ({ ...e, name: `${e.name}-c${i}`, filename: `${e.name}-c${i}-${e.version}.pkg.tar.gz` }));
      const db = Buffer.from(await writeDatabase(entries, { withFiles: false, mtime: date }));
      const files = Buffer.from(await writeDatabase(entries, { withFiles: true, mtime: date }));
      return [seed('repo.db.tar.gz (chunked)', db, gzipStructure(db)), seed('repo.files.tar.gz (chunked)', files, gzipStructure(files))];
    },
    run: (bytes, rng) => (rng.chance(0.5) ? loadPacmanChunks(bytes, 'repo.db.tar.gz', false) : loadPacmanChunks(bytes, 'repo.files.tar.gz', true)),
  },
  {
    name: 'rpm-metadata-chunks',
    format: 'rpm',
    reader: 'taggedMembers + gunzipMember + splitPackages + primarySummary',
    dictionary: XML_TOKENS,
    seeds: async () => {
      const gz = await chunkedPrimaryGz();
      return [seed('primary.xml.gz (chunked)', gz, gzipStructure(gz))];
    },
    run: (bytes) => loadPrimaryChunks(bytes),
  },
  {
    name: 'rpm-primary-summary',
    format: 'rpm',
    reader: 'parsePrimarySummary',
    dictionary: JSON_TOKENS,
    seeds: async () => [textSeed('yum-primary-summary.json', renderPrimarySummary(SUMMARY_CHUNKS.map((chunk) => chunk.map((n, i) => ({
      href: `Packages/${n}-1.${i}-1.x86_64.rpm`, size: 1000 + i, name: n, evr: i ? `${i}:1.${i}-1` : '1.0-1', arch: 'x86_64', pkgId: createHash('sha256').update(n).digest('hex'),
    })))))],
    run: async (bytes, rng) => parsePrimarySummary(bytes, rng.chance(0.9) ? SUMMARY_CHUNKS.map((c) => c.length) : [rng.below(5)], 'summary'),
  },
  {
    name: 'pacman-db-summary',
    format: 'pacman',
    reader: 'parseDbSummary',
    dictionary: JSON_TOKENS,
    seeds: async () => [textSeed('pacman-db-summary.json', renderDbSummary(SUMMARY_CHUNKS.map((chunk) => chunk.map((n, i) => ({
      filename: `${n}-1.${i}-1-x86_64.pkg.tar.zst`, csize: 1000 + i, sha256sum: i % 2 ? '' : createHash('sha256').update(n).digest('hex'), name: n, version: `1.${i}-1`, arch: i % 3 ? 'x86_64' : '',
    })))))],
    run: async (bytes, rng) => parseDbSummary(bytes, rng.chance(0.9) ? SUMMARY_CHUNKS.map((c) => c.length) : [rng.below(5)], 'summary'),
  },
];

/** The package names of the summaries' seed, chunk by chunk. */
const SUMMARY_CHUNKS = [['alpha', 'beta', 'gamma'], ['delta'], ['epsilon', 'zeta']];

/** A target by name; throws for an unknown one. */
export function targetNamed(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown fuzz target ${name}: ${TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}
