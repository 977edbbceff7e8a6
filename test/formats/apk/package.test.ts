import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_APK_LIMITS, readApk } from '../../../src/formats/apk/package';
import { PackageFormatError } from '../../../src/formats/errors';
import {
  buildApk, makeRsaKey, pkginfoText, pythonCheck, requireTools, tempDir, type ApkFixture, type ApkTestKey,
} from '../../support/apk-fixtures';

const MiB = 1024 * 1024;
const KiB = 1024;

/** The packages every test below reads, built by the real tools in this run. */
interface Built {
  readonly fixture: ApkFixture;
  readonly path: string;
  readonly fields: Record<string, string | number | string[]>;
}

const LONG_PATH = `usr/share/doc/hello/${'very-long-directory-name/'.repeat(5)}README`;

function fieldsOf(name: string, version: string, arch: string, extra: Record<string, string | number | string[]> = {}) {
  return {
    pkgname: name,
    pkgver: version,
    pkgdesc: `The ${name} package`,
    url: `https://example.org/${name}`,
    builddate: 1700000000,
    packager: 'Test <test@example.org>',
    size: 4096,
    arch,
    origin: name,
    commit: '0123456789abcdef0123456789abcdef01234567',
    maintainer: 'Jane Doe <jane@example.org>',
    license: 'MIT AND (Apache-2.0 OR GPL-2.0-or-later)',
    ...extra,
  };
}

describe('readApk', () => {
  let dir: string;
  let key: ApkTestKey;
  const built: Record<string, Built> = {};

  const build = (label: string, spec: Parameters<typeof buildApk>[0], fields: Built['fields']) => {
    const fixture = buildApk(spec);
    const path = join(dir, `${label}.apk`);
    writeFileSync(path, fixture.bytes);
    built[label] = { fixture, path, fields };
  };

  beforeAll(() => {
    requireTools('tar', 'gzip', 'openssl', 'bsdtar', 'python3');
    dir = tempDir();
    key = makeRsaKey(dir, 'packager-5f3a');
    const hello = fieldsOf('hello', '1.0_rc1-r0', 'x86_64', {
      depend: ['!hello-legacy', 'so:libc.musl-x86_64.so.1', 'bar>=2.0', 'baz<3 qux~1.2'],
      provides: ['cmd:hello=1.0_rc1-r0', 'hello-virtual=2'],
      replaces: ['hello-old'],
      install_if: ['hello-base=1.0_rc1-r0 docs'],
      triggers: ['/usr/share/hello/*'],
      provider_priority: 100,
    });
    build('signed', {
      pkginfo: pkginfoText(hello),
      files: { 'usr/bin/hello': '#!/bin/sh\necho hello\n', [LONG_PATH]: 'read me\n' },
      scripts: { '.post-install': '#!/bin/sh\nexit 0\n' },
      signWith: key,
    }, hello);
    const world = fieldsOf('world', '2.3.4-r12', 'aarch64');
    build('unsigned', { pkginfo: pkginfoText(world), files: { 'usr/lib/libworld.so.2': randomBytes(20_000) } }, world);
    const docs = fieldsOf('docs-thing', '0.1_p2-r1', 'noarch');
    build('noarch', {
      pkginfo: pkginfoText(docs), files: { 'usr/share/docs-thing/index.html': '<html></html>\n' }, signWith: key, signatureType: 'RSA256',
    }, docs);
    const legacy = fieldsOf('legacy', '0.9-r3', 'x86_64');
    build('legacy', { pkginfo: pkginfoText(legacy), files: { 'etc/legacy.conf': 'x=1\n' }, dataHash: false }, legacy);
  });

  describe.each(['signed', 'unsigned', 'noarch', 'legacy'])('the %s package', (label) => {
    it('has the identity an independent reader computes (python: SHA-1 of the raw control member)', async () => {
      const pkg = await readApk(built[label].fixture.bytes);
      expect(pkg.checksum).toBe(pythonCheck('identity', built[label].path));
      expect(pkg.checksum).toMatch(/^Q1[A-Za-z0-9+/]{27}=$/);
    });

    it('has S = the file size and the .PKGINFO values it was built with', async () => {
      const { fixture, path, fields } = built[label];
      const pkg = await readApk(fixture.bytes);
      expect(pkg.size).toBe(statSync(path).size);
      expect(pkg.info).toMatchObject({
        name: fields.pkgname,
        version: fields.pkgver,
        description: fields.pkgdesc,
        url: fields.url,
        installedSize: fields.size,
        arch: fields.arch,
        license: fields.license,
        origin: fields.origin,
        maintainer: fields.maintainer,
        packager: fields.packager,
        buildDate: fields.builddate,
        commit: fields.commit,
      });
      expect(pkg.info.dataHash === undefined).toBe(label === 'legacy');
    });

    it('sees the same entries as bsdtar reading all members as one tar stream', async () => {
      const pkg = await readApk(built[label].fixture.bytes);
      const listing = execFileSync('bsdtar', ['-tf', built[label].path], { encoding: 'utf8' }).trim().split('\n');
      const ours = [...pkg.signatures.map((s) => `.SIGN.${s.type}.${s.keyName}`), ...pkg.controlEntries];
      expect(listing.slice(0, ours.length)).toEqual(ours);
      expect(listing.length).toBe(ours.length + pkg.dataEntries);
    });

    it('reads the same from a stream in small and large chunks', async () => {
      const bytes = built[label].fixture.bytes;
      const whole = await readApk(bytes);
      for (const size of [7, 512, 65536]) {
        async function* chunks() {
          for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
        }
        expect(await readApk(chunks())).toEqual(whole);
      }
    });
  });

  it('recognises the package signatures and skips them', async () => {
    expect((await readApk(built.signed.fixture.bytes)).signatures).toEqual([{ type: 'RSA', keyName: key.keyName }]);
    expect((await readApk(built.noarch.fixture.bytes)).signatures).toEqual([{ type: 'RSA256', keyName: key.keyName }]);
    expect((await readApk(built.unsigned.fixture.bytes)).signatures).toEqual([]);
  });

  it('reads repeated keys, conflicts, versioned provides, install_if and scripts', async () => {
    const pkg = await readApk(built.signed.fixture.bytes);
    expect(pkg.info.depends).toEqual(['!hello-legacy', 'so:libc.musl-x86_64.so.1', 'bar>=2.0', 'baz<3', 'qux~1.2']);
    expect(pkg.info.provides).toEqual(['cmd:hello=1.0_rc1-r0', 'hello-virtual=2']);
    expect(pkg.info.installIf).toEqual(['hello-base=1.0_rc1-r0', 'docs']);
    expect(pkg.info.replaces).toEqual(['hello-old']);
    expect(pkg.info.triggers).toEqual(['/usr/share/hello/*']);
    expect(pkg.info.providerPriority).toBe(100);
    expect(pkg.controlEntries).toEqual(['.PKGINFO', '.post-install']);
  });

  it('reads PAX headers in the data member (a path longer than ustar allows)', async () => {
    const data = execFileSync('bsdtar', ['-tvf', '-'], { input: built.signed.fixture.data, encoding: 'utf8' });
    expect(data).toContain(LONG_PATH);
    // the raw tar has PAX 'x' records (typeflag at offset 156 of a header)
    const raw = execFileSync('gzip', ['-dc'], { input: built.signed.fixture.data });
    expect(raw.subarray(156, 157).toString()).toBe('x');
    expect((await readApk(built.signed.fixture.bytes)).dataEntries).toBe(data.trim().split('\n').length);
  });

  describe('bad input', () => {
    const rejects = async (bytes: Uint8Array, reason: RegExp, limits = DEFAULT_APK_LIMITS) => {
      const error = await readApk(bytes, limits).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PackageFormatError);
      expect((error as Error).message).toMatch(reason);
    };

    it('rejects truncation in every member with a clear reason', async () => {
      const { signature, control, data, bytes } = built.signed.fixture;
      const s = signature!.length;
      const c = control.length;
      await rejects(bytes.subarray(0, 0), /truncated gzip member: the header needs 10 bytes at offset 0, have 0/);
      await rejects(bytes.subarray(0, s - 20), /truncated gzip member/);
      await rejects(bytes.subarray(0, s + c / 2), /truncated gzip member at offset \d+/);
      await rejects(bytes.subarray(0, s + c), /no data member after the control member/);
      await rejects(bytes.subarray(0, s + c + data.length / 2), /unexpected end of file|Unexpected end of data/);
      await rejects(bytes.subarray(0, bytes.length - 1), /unexpected end of file|Unexpected end of data|datahash/);
    });

    it('rejects a signature-only file', async () => {
      await rejects(built.signed.fixture.signature!, /truncated gzip member: the header needs 10 bytes/);
    });

    it('rejects a control member without .PKGINFO', async () => {
      const f = buildApk({ pkginfo: '', files: { a: 'a' }, scripts: { '.pre-install': '#!/bin/sh\n' }, withoutPkgInfo: true });
      await rejects(f.bytes, /control member \(gzip member at offset 0\) has no \.PKGINFO; entries: \.pre-install/);
    });

    it('rejects a control tar that was not cut (apk would stop at its end-of-archive blocks)', async () => {
      const f = buildApk({ pkginfo: pkginfoText(fieldsOf('uncut', '1.0-r0', 'x86_64')), files: { a: 'a' }, uncutControl: true });
      await rejects(f.bytes, /ends with end-of-archive blocks/);
    });

    it('rejects a data member that does not match datahash', async () => {
      const { signature, control } = built.signed.fixture;
      await rejects(Buffer.concat([signature!, control, built.unsigned.fixture.data]), /does not match \.PKGINFO datahash/);
    });

    it('rejects input that is not gzip, and a data member that is not gzip', async () => {
      await rejects(randomBytes(100), /not a gzip member at offset 0/);
      const { control } = built.unsigned.fixture;
      await rejects(Buffer.concat([control, Buffer.from('plain text, not gzip')]), /data member is not gzip data/);
    });

    it.each([
      ['a carriage return in pkgdesc', { pkgdesc: 'nice\rC:Q1forgedforgedforgedforgedforg=' }, /newline or control character/],
      ['an escape sequence in maintainer', { maintainer: 'x \u001b[31mred' }, /newline or control character/],
      ['a slash in pkgname', { pkgname: 'foo/bar' }, /pkgname contains '\/'/],
      ['a path traversal in pkgname', { pkgname: '..' }, /pkgname contains '\.\.'/],
      ['a NUL in pkgver', { pkgver: '1.0\u0000' }, /\.PKGINFO pkgver \(line \d+\) contains a newline or control character/],
      ['a version apk rejects', { pkgver: '1.0-1' }, /pkgver is not a valid apk version/],
      ['a bad arch', { arch: 'x86_64/../../etc' }, /arch is not a valid architecture name/],
      ['a bad dependency version', { depend: ['foo>=1.0-x'] }, /depend: dependency "foo>=1\.0-x" has an invalid version/],
      ['a dependency without a name', { depend: ['!'] }, /dependency without a name/],
      ['a non-numeric size', { size: '12kB' }, /size is not an unsigned decimal number/],
    ])('rejects %s', async (_what, override, reason) => {
      const f = buildApk({ pkginfo: pkginfoText(fieldsOf('bad', '1.0-r0', 'x86_64', override)), files: { a: 'a' } });
      await rejects(f.bytes, reason);
    });

    it('rejects a repeated single-valued key and a missing pkgver', async () => {
      const twice = buildApk({ pkginfo: `${pkginfoText(fieldsOf('twice', '1.0-r0', 'x86_64'))}pkgname = other\n`, files: { a: 'a' } });
      await rejects(twice.bytes, /\.PKGINFO repeats 'pkgname'/);
      const none = buildApk({ pkginfo: 'pkgname = nover\narch = x86_64\n', files: { a: 'a' } });
      await rejects(none.bytes, /\.PKGINFO has no pkgver/);
    });

    it('caps a gzip bomb in the data member', async () => {
      const f = buildApk({ pkginfo: pkginfoText(fieldsOf('bomb', '1.0-r0', 'x86_64')), files: { zeros: Buffer.alloc(64 * MiB) } });
      expect(f.bytes.length).toBeLessThan(200 * KiB);
      await rejects(f.bytes, /gzip data expands beyond the limit of 4194304 bytes/, { ...DEFAULT_APK_LIMITS, maxDataBytes: 4 * MiB });
    });

    it('caps a gzip bomb in the control member', async () => {
      const pkginfo = `${pkginfoText(fieldsOf('cbomb', '1.0-r0', 'x86_64'))}# ${'a'.repeat(8 * MiB)}\n`;
      const f = buildApk({ pkginfo, files: { a: 'a' } });
      await rejects(f.bytes, /expands beyond the limit of 1048576 bytes/, { ...DEFAULT_APK_LIMITS, maxControlBytes: 1 * MiB });
    });

    it('caps the number of data entries', async () => {
      await rejects(built.signed.fixture.bytes, /data tar has more than 3 entries/, { ...DEFAULT_APK_LIMITS, maxDataEntries: 3 });
    });
  });
});
