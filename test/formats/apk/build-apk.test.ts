import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { apkFileName, buildApk, type ApkBuildSpec } from '../../../src/formats/apk/build-apk';
import { readApk } from '../../../src/formats/apk/package';
import { loadRsaSigner } from '../../../src/signing/rsa';
import type { RsaSigner } from '../../../src/signing/signer';
import {
  buildApk as buildWithTools, makeRsaKey, pythonCheck, requireTools, tempDir, type ApkTestKey,
} from '../../support/apk-fixtures';

const BUILD_TIME = 1_700_000_000;

const SPEC: ApkBuildSpec = {
  name: 'demo-tool',
  version: '2.1_rc1-r3',
  arch: 'x86_64',
  description: 'A demo tool & friends',
  url: 'https://example.org/demo',
  license: 'MIT AND Apache-2.0',
  maintainer: 'Jane Doe <jane@example.org>',
  packager: 'Builder <builder@example.org>',
  commit: '0123456789abcdef0123456789abcdef01234567',
  depends: ['!old-demo', 'so:libc.musl-x86_64.so.1', 'busybox>=1.36'],
  provides: ['cmd:demo-tool=2.1_rc1-r3'],
  replaces: ['demo-legacy'],
  installIf: ['demo-base', 'openrc'],
  buildTime: BUILD_TIME,
  files: [
    { path: '/usr/bin/demo-tool', contents: '#!/bin/sh\necho demo\n', mode: 0o755 },
    { path: '/usr/bin/demo', type: 'symlink', target: 'demo-tool' },
    { path: '/etc/demo-tool/café.conf', contents: 'level=1\n' },
    { path: '/var/lib/demo-tool', type: 'dir', mode: 0o700 },
    { path: `/usr/share/demo-tool/${'nested-directory-name/'.repeat(5)}README`, contents: Buffer.from([0, 1, 2, 255]) },
  ],
};

/** Each gzip member of a package, listed by Python's tarfile: name, type flag, mode, link target, SHA-1 PAX record. */
const LIST_MEMBERS = `
import io, json, sys, tarfile, zlib
data = open(sys.argv[1], 'rb').read()
out = []
for start, end in json.loads(sys.argv[2]):
    raw = zlib.decompress(data[start:end], wbits=31)
    with tarfile.open(fileobj=io.BytesIO(raw), mode='r:') as t:
        out.append([[m.name, m.type.decode(), oct(m.mode), m.linkname, m.pax_headers.get('APK-TOOLS.checksum.SHA1')] for m in t.getmembers()])
print(json.dumps(out))
`;

type Listed = [name: string, type: string, mode: string, linkname: string, sha1: string | null][];

const sha1 = (data: string | Uint8Array) => createHash('sha1').update(data).digest('hex');
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('buildApk', () => {
  let dir: string;
  let key: ApkTestKey;
  let signer: RsaSigner;
  let file: string;
  let bytes: Uint8Array;
  let ranges: [number, number][];
  let members: Listed[];

  const slice = (i: number) => Buffer.from(bytes).subarray(ranges[i][0], ranges[i][1]);

  beforeAll(async () => {
    requireTools('tar', 'gzip', 'openssl', 'bsdtar', 'python3');
    dir = tempDir('build-apk-');
    key = makeRsaKey(dir, 'builder@example.org-65a1b2c3');
    signer = loadRsaSigner(key.privatePem, key.keyName);
    bytes = await buildApk(SPEC, { signer });
    file = join(dir, apkFileName(SPEC));
    writeFileSync(file, bytes);
    ranges = JSON.parse(pythonCheck('members', file)) as [number, number][];
    members = JSON.parse(execFileSync('python3', ['-c', LIST_MEMBERS, file, JSON.stringify(ranges)], { encoding: 'utf8' })) as Listed[];
  });

  it('is three gzip members: signature, control, data', () => {
    expect(basename(file)).toBe('demo-tool-2.1_rc1-r3.apk');
    expect(ranges).toHaveLength(3);
    expect(members[0]).toEqual([[`.SIGN.RSA.${key.keyName}`, '0', '0o644', '', null]]);
    expect(members[1]).toEqual([['.PKGINFO', '0', '0o644', '', null]]);
  });

  it('bsdtar reads the members as one tar stream and lists each on its own', () => {
    const listing = execFileSync('bsdtar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
    expect(listing.slice(0, 2)).toEqual([`.SIGN.RSA.${key.keyName}`, '.PKGINFO']);
    expect(listing).toContain('usr/bin/demo');
    expect(execFileSync('bsdtar', ['-xOf', file, 'etc/demo-tool/café.conf'], { encoding: 'utf8' })).toBe('level=1\n');
    const own = ranges.map((_, i) => execFileSync('bsdtar', ['-tf', '-'], { input: slice(i), encoding: 'utf8' }).trim().split('\n'));
    expect(own[0]).toEqual([`.SIGN.RSA.${key.keyName}`]);
    expect(own[1]).toEqual(['.PKGINFO']);
    expect([...own[0], ...own[1], ...own[2]]).toEqual(listing);
  });

  it('writes .PKGINFO in abuild\'s order with the datahash of the data member', () => {
    const pkginfo = execFileSync('bsdtar', ['-xOf', file, '.PKGINFO'], { encoding: 'utf8' });
    expect(pkginfo).toBe([
      'pkgname = demo-tool', 'pkgver = 2.1_rc1-r3', 'pkgdesc = A demo tool & friends', 'url = https://example.org/demo',
      `builddate = ${BUILD_TIME}`, 'packager = Builder <builder@example.org>', 'size = 32', 'arch = x86_64', 'origin = demo-tool',
      `commit = ${SPEC.commit}`, 'maintainer = Jane Doe <jane@example.org>', 'license = MIT AND Apache-2.0',
      'replaces = demo-legacy', 'depend = !old-demo', 'depend = so:libc.musl-x86_64.so.1', 'depend = busybox>=1.36',
      'provides = cmd:demo-tool=2.1_rc1-r3', 'install_if = demo-base openrc', `datahash = ${sha256(slice(2))}`, '',
    ].join('\n'));
  });

  it('gives every file and symlink the SHA-1 record abuild-tar --hash writes, sorted paths, parents first', () => {
    const readme = `usr/share/demo-tool/${'nested-directory-name/'.repeat(5)}README`;
    expect(members[2]).toEqual([
      ['etc', '5', '0o755', '', null],
      ['etc/demo-tool', '5', '0o755', '', null],
      ['etc/demo-tool/café.conf', '0', '0o644', '', sha1('level=1\n')],
      ['usr', '5', '0o755', '', null],
      ['usr/bin', '5', '0o755', '', null],
      ['usr/bin/demo', '2', '0o777', 'demo-tool', sha1('demo-tool')],
      ['usr/bin/demo-tool', '0', '0o755', '', sha1('#!/bin/sh\necho demo\n')],
      ['usr/share', '5', '0o755', '', null],
      ['usr/share/demo-tool', '5', '0o755', '', null],
      ...[1, 2, 3, 4, 5].map((n) => [readme.split('/').slice(0, 3 + n).join('/'), '5', '0o755', '', null]),
      [readme, '0', '0o644', '', sha1(Buffer.from([0, 1, 2, 255]))],
      ['var', '5', '0o755', '', null],
      ['var/lib', '5', '0o755', '', null],
      ['var/lib/demo-tool', '5', '0o700', '', null],
    ]);
  });

  it('lists its data member as abuild\'s tar + abuild-tar --hash does for the same tree', async () => {
    const files = { 'usr/bin/tool': 'tool\n', 'usr/share/doc/tool/README': 'read me\n', 'etc/tool.conf': 'x=1\n' };
    const reference = buildWithTools({ pkginfo: 'pkgname = tool\npkgver = 1.0-r0\n', files });
    const ours = await buildApk({
      name: 'tool',
      version: '1.0-r0',
      description: 'tool',
      buildTime: BUILD_TIME,
      files: Object.entries(files).map(([p, contents]) => ({ path: `/${p}`, contents })),
    });
    const oursData = Buffer.from(ours).subarray((JSON.parse(pythonCheck('members', writeTo('ours.apk', ours))) as number[][])[1][0]);
    const listing = (data: Uint8Array) => execFileSync('bsdtar', ['-tvf', '-', '--numeric-owner'], { input: data, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    expect(listing(oursData)).toBe(listing(reference.data));
    const records = (data: Uint8Array) => JSON.parse(execFileSync('python3', ['-c', LIST_MEMBERS, writeTo('data.tar.gz', data), JSON.stringify([[0, data.length]])], { encoding: 'utf8' })) as Listed[];
    expect(records(oursData)[0].map((m) => [m[0], m[4]])).toEqual(records(reference.data)[0].map((m) => [m[0].replace(/\/$/, ''), m[4]]));
  });

  it('signs the control member: openssl verifies the signature with the public key', () => {
    const signature = join(dir, 'signature');
    writeFileSync(signature, execFileSync('bsdtar', ['-xOf', file, `.SIGN.RSA.${key.keyName}`]));
    writeFileSync(join(dir, 'control.tar.gz'), slice(1));
    expect(execFileSync('openssl', ['dgst', '-sha1', '-verify', key.publicPath, '-signature', signature, join(dir, 'control.tar.gz')], { encoding: 'utf8' }))
      .toBe('Verified OK\n');
  });

  it('signs with SHA-256 as .SIGN.RSA256.<key name>', async () => {
    const signed = await buildApk(SPEC, { signer, signatureType: 'RSA256' });
    const path256 = writeTo('rsa256.apk', signed);
    const [sig, control] = JSON.parse(pythonCheck('members', path256)) as number[][];
    const name = `.SIGN.RSA256.${key.keyName}`;
    writeFileSync(join(dir, 'signature256'), execFileSync('bsdtar', ['-xOf', path256, name]));
    writeFileSync(join(dir, 'control256.tar.gz'), Buffer.from(signed).subarray(control[0], control[1]));
    expect(sig[1]).toBe(control[0]);
    expect(execFileSync('openssl', ['dgst', '-sha256', '-verify', key.publicPath, '-signature', join(dir, 'signature256'), join(dir, 'control256.tar.gz')], { encoding: 'utf8' }))
      .toBe('Verified OK\n');
    expect((await readApk(signed)).signatures).toEqual([{ type: 'RSA256', keyName: key.keyName }]);
  });

  it('readApk reads it: the identity Python computes, size, fields, signature, entries', async () => {
    const pkg = await readApk(bytes);
    expect(pkg.checksum).toBe(pythonCheck('identity', file));
    expect(pkg.checksum).toBe(`Q1${createHash('sha1').update(slice(1)).digest('base64')}`);
    expect(pkg.size).toBe(readFileSync(file).length);
    expect(pkg.signatures).toEqual([{ type: 'RSA', keyName: key.keyName }]);
    expect(pkg.controlEntries).toEqual(['.PKGINFO']);
    expect(pkg.dataEntries).toBe(members[2].length);
    expect(pkg.info).toMatchObject({
      name: 'demo-tool',
      version: '2.1_rc1-r3',
      arch: 'x86_64',
      description: SPEC.description,
      url: SPEC.url,
      license: SPEC.license,
      origin: 'demo-tool',
      maintainer: SPEC.maintainer,
      packager: SPEC.packager,
      buildDate: BUILD_TIME,
      commit: SPEC.commit,
      installedSize: 32,
      depends: SPEC.depends,
      provides: SPEC.provides,
      replaces: SPEC.replaces,
      installIf: SPEC.installIf,
      dataHash: sha256(slice(2)),
    });
  });

  it('builds unsigned packages of two members; a package of empty files has size 1', async () => {
    const unsigned = await buildApk({ name: 'empty', version: '0', description: '', files: [{ path: '/etc/empty' }] });
    const path0 = writeTo('empty-0.apk', unsigned);
    expect(JSON.parse(pythonCheck('members', path0))).toHaveLength(2);
    const pkg = await readApk(unsigned);
    expect(pkg).toMatchObject({ signatures: [], info: { installedSize: 1, arch: 'noarch', license: 'MIT', packager: 'Unknown', origin: 'empty' } });
    expect(pkg.info.buildDate).toBe(0);
  });

  it('is deterministic', async () => {
    expect(Buffer.compare(Buffer.from(await buildApk(SPEC, { signer })), Buffer.from(bytes))).toBe(0);
  });

  it.each<[string, Partial<ApkBuildSpec>, RegExp]>([
    ['a name with a space', { name: 'demo tool' }, /name contains whitespace/],
    ['a bad version', { version: '1.0-beta' }, /version is not a valid apk version/],
    ['a newline in the description', { description: 'one\npkgname = evil' }, /description contains a newline/],
    ['a newline in the maintainer', { maintainer: 'a\nb' }, /maintainer contains a newline/],
    ['a dependency without a version', { depends: ['foo>='] }, /has an operator but no version/],
    ['an arch with a slash', { arch: 'x86/64' }, /not a valid architecture name/],
    ['a relative path', { files: [{ path: 'usr/x' }] }, /must be absolute/],
    ['a duplicate path', { files: [{ path: '/a' }, { path: '/a' }] }, /duplicate file path \/a/],
  ])('refuses %s', async (_, change, message) => {
    await expect(buildApk({ ...SPEC, ...change })).rejects.toThrow(message);
  });

  it('refuses a key name that is not a plain file name', async () => {
    await expect(buildApk(SPEC, { signer: { ...signer, keyName: 'keys/evil.pub' } })).rejects.toThrow(/not a plain file name/);
  });

  function writeTo(name: string, data: Uint8Array): string {
    const target = join(dir, name);
    writeFileSync(target, data);
    return target;
  }
});
