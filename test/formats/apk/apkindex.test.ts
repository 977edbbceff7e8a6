import { execFileSync, spawnSync } from 'node:child_process';
import { verify as cryptoVerify } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildApkIndexArchive, indexEntryOf, parseApkIndex, readApkIndexArchive, signApkIndexArchive, writeApkIndex,
} from '../../../src/formats/apk/apkindex';
import type { ApkIndexEntry } from '../../../src/formats/apk/model';
import { readApk } from '../../../src/formats/apk/package';
import { PackageFormatError } from '../../../src/formats/errors';
import { loadRsaSigner } from '../../../src/signing/rsa';
import {
  apkIndexBlocks, buildApk, makeRsaKey, pkginfoText, pythonCheck, requireTools, tempDir, type ApkTestKey,
} from '../../support/apk-fixtures';

const MiB = 1024 * 1024;

const MTIME = new Date('2024-05-01T12:00:00Z');

describe('APKINDEX', () => {
  let dir: string;
  let key: ApkTestKey;
  const files: { path: string; pkginfo: Record<string, string | number | string[]> }[] = [];
  let entries: ApkIndexEntry[];

  beforeAll(async () => {
    requireTools('tar', 'gzip', 'openssl', 'bsdtar', 'python3');
    dir = tempDir();
    key = makeRsaKey(dir, 'repo-key-61a0');
    const specs: Record<string, string | number | string[]>[] = [
      {
        pkgname: 'zeta',
        pkgver: '2.0_rc3-r1',
        pkgdesc: 'Zeta tool',
        url: 'https://zeta.example',
        size: 1234,
        arch: 'x86_64',
        license: 'MIT',
        origin: 'zeta',
        maintainer: 'Ann <ann@example.org>',
        builddate: 1714560000,
        commit: 'abc123',
        depend: ['!zeta-old', 'so:libc.musl-x86_64.so.1', 'alpha>=1.0'],
        provides: ['cmd:zeta=2.0_rc3-r1', 'zeta-any=2'],
        install_if: ['zeta-base alpha'],
        provider_priority: 10,
      },
      { pkgname: 'Alpha', pkgver: '1.0-r0', pkgdesc: 'Capitalised name', url: '', size: 1, arch: 'x86_64', license: '' },
      { pkgname: 'alpha', pkgver: '1.0-r10', pkgdesc: 'alpha, newer', url: 'https://a', size: 2, arch: 'x86_64', license: 'BSD' },
      { pkgname: 'alpha', pkgver: '1.0-r2', pkgdesc: 'alpha, older', url: 'https://a', size: 2, arch: 'x86_64', license: 'BSD' },
      { pkgname: 'docs', pkgver: '3', pkgdesc: 'architecture independent', url: 'https://d', size: 3, arch: 'noarch', license: 'CC0-1.0' },
    ];
    for (const pkginfo of specs) {
      const fixture = buildApk({ pkginfo: pkginfoText(pkginfo), files: { [`usr/share/${pkginfo.pkgname}`]: 'x' }, signWith: key });
      const path = join(dir, `${pkginfo.pkgname}-${pkginfo.pkgver}.apk`);
      writeFileSync(path, fixture.bytes);
      files.push({ path, pkginfo });
    }
    entries = await Promise.all(files.map(async (f) => indexEntryOf(await readApk(readFileSync(f.path)), 'x86_64')));
  });

  it('writes every field in apk-tools order with a blank line after every entry, the last one too', () => {
    const blocks = apkIndexBlocks(writeApkIndex(entries));
    expect(blocks).toHaveLength(files.length);
  });

  it('writes C: as recomputed independently from each file, S: as its size, the rest from .PKGINFO', () => {
    const blocks = apkIndexBlocks(writeApkIndex(entries));
    for (const { path, pkginfo } of files) {
      const block = blocks.find((b) => b.get('P') === pkginfo.pkgname && b.get('V') === pkginfo.pkgver)!;
      expect(block.get('C')).toBe(pythonCheck('identity', path));
      expect(block.get('S')).toBe(String(statSync(path).size));
      expect(block.get('I')).toBe(String(pkginfo.size));
      expect(block.get('T')).toBe(pkginfo.pkgdesc);
      expect(block.get('U')).toBe(pkginfo.url);
      expect(block.get('L')).toBe(pkginfo.license);
      expect(block.get('A')).toBe('x86_64');
    }
  });

  it('writes the optional fields only when set, dependencies on one line', () => {
    const blocks = apkIndexBlocks(writeApkIndex(entries));
    const zeta = blocks.find((b) => b.get('P') === 'zeta')!;
    expect(Object.fromEntries(zeta)).toMatchObject({
      o: 'zeta',
      m: 'Ann <ann@example.org>',
      t: '1714560000',
      c: 'abc123',
      k: '10',
      D: '!zeta-old so:libc.musl-x86_64.so.1 alpha>=1.0',
      p: 'cmd:zeta=2.0_rc3-r1 zeta-any=2',
      i: 'zeta-base alpha',
    });
    const docs = blocks.find((b) => b.get('P') === 'docs')!;
    expect([...docs.keys()].join('')).toBe('CPVASITUL');
  });

  it('indexes a noarch package with the directory architecture (apk index --rewrite-arch)', () => {
    const docs = entries.find((e) => e.name === 'docs')!;
    expect(docs.arch).toBe('x86_64');
  });

  it('sorts like apk index: name case-insensitively, then by version', () => {
    const order = apkIndexBlocks(writeApkIndex([...entries].reverse())).map((b) => `${b.get('P')}-${b.get('V')}`);
    expect(order).toEqual(['Alpha-1.0-r0', 'alpha-1.0-r2', 'alpha-1.0-r10', 'docs-3', 'zeta-2.0_rc3-r1']);
  });

  it('parses its own output back into the same entries', () => {
    const sorted = parseApkIndex(writeApkIndex(entries));
    expect(sorted).toHaveLength(entries.length);
    for (const e of entries) expect(sorted).toContainEqual(e);
  });

  it('parses an index as apk index writes it, dropping fields apk-tools 2 does not know', () => {
    const text = [
      'C:Q1n7x1F7SeYLdb9iwS2YrNGc2gfDA=', 'P:musl', 'V:1.2.4_git20230717-r4', 'A:x86_64', 'S:407585', 'I:647168',
      'T:the musl c library (libc) implementation', 'U:https://musl.libc.org/', 'L:MIT', 'o:musl',
      'm:Timo Teräs <timo.teras@iki.fi>', 't:1701271826', 'c:bd5d8e7e4a8a3c4c1d1a6b2f8c3f1f0e9d8c7b6a',
      'p:so:libc.musl-x86_64.so.1=1', 'g:future-field', '',
      'C:Q1hbKTjFXBXlCYNC9bVLOyfSkTxXU=', 'P:busybox', 'V:1.36.1-r15', 'A:x86_64', 'S:512', 'I:1024',
      'T:Size optimized toolbox', 'U:https://busybox.net/', 'L:GPL-2.0-only', 'D:so:libc.musl-x86_64.so.1',
    ].join('\n');
    const parsed = parseApkIndex(text);
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toMatchObject({ name: 'musl', maintainer: 'Timo Teräs <timo.teras@iki.fi>', provides: ['so:libc.musl-x86_64.so.1=1'] });
    expect(parsed[1]).toMatchObject({ name: 'busybox', size: 512, depends: ['so:libc.musl-x86_64.so.1'] });
    expect(writeApkIndex(parsed)).not.toContain('g:');
  });

  describe('APKINDEX.tar.gz', () => {
    let unsigned: Buffer;
    const unsignedPath = () => join(dir, 'APKINDEX.unsigned.tar.gz');

    beforeAll(async () => {
      unsigned = await buildApkIndexArchive(entries, { description: 'test repo v1', mtime: MTIME });
      writeFileSync(unsignedPath(), unsigned);
    });

    it('is ONE gzip member holding a ustar tar of DESCRIPTION and APKINDEX', () => {
      expect(JSON.parse(pythonCheck('members', unsignedPath()))).toEqual([[0, unsigned.length]]);
      const listing = execFileSync('bsdtar', ['-tvf', unsignedPath()], { encoding: 'utf8' }).trim().split('\n');
      expect(listing.map((l) => l.split(/\s+/).pop())).toEqual(['DESCRIPTION', 'APKINDEX']);
      for (const line of listing) expect(line).toMatch(/^-rw-r--r-- +0 root +root /);
      expect(execFileSync('bsdtar', ['-xOf', unsignedPath(), 'DESCRIPTION'], { encoding: 'utf8' })).toBe('test repo v1');
      expect(execFileSync('bsdtar', ['-xOf', unsignedPath(), 'APKINDEX'], { encoding: 'utf8' })).toBe(writeApkIndex(entries));
      const tar = execFileSync('gzip', ['-dc', unsignedPath()]);
      expect(tar.subarray(257, 262).toString()).toBe('ustar');
    });

    it.each([['RSA', '-sha1'], ['RSA256', '-sha256']] as const)(
      'is signed like abuild-sign (%s): openssl verifies the prepended signature over the exact unsigned bytes',
      async (type, digest) => {
        const signed = await signApkIndexArchive(unsigned, loadRsaSigner(key.privatePem, key.keyName), type, MTIME);
        const signedPath = join(dir, `APKINDEX.${type}.tar.gz`);
        const sigMember = join(dir, `sig.${type}.tar.gz`);
        const rest = join(dir, `rest.${type}.tar.gz`);
        writeFileSync(signedPath, signed);
        pythonCheck('split', signedPath, sigMember, rest);
        expect(readFileSync(rest).equals(unsigned)).toBe(true);

        // the signature member: a tar with one entry, its end-of-archive blocks cut
        const entryName = `.SIGN.${type}.${key.keyName}`;
        const sigTar = execFileSync('gzip', ['-dc', sigMember]);
        expect(sigTar.length).toBe(512 + 512);
        expect(sigTar.subarray(0, entryName.length).toString()).toBe(entryName);
        // bsdtar reads the members as one tar stream: signature, DESCRIPTION, APKINDEX
        const listing = execFileSync('bsdtar', ['-tf', signedPath], { encoding: 'utf8' }).trim().split('\n');
        expect(listing).toEqual([entryName, 'DESCRIPTION', 'APKINDEX']);
        const signature = join(dir, `signature.${type}`);
        writeFileSync(signature, execFileSync('bsdtar', ['-xOf', signedPath, entryName]));
        expect(statSync(signature).size).toBe(256);

        const verify = (file: string) => spawnSync('openssl',
          ['dgst', digest, '-verify', key.publicPath, '-signature', signature, file], { encoding: 'utf8' });
        expect(verify(rest).stdout.trim()).toBe('Verified OK');
        const tampered = Buffer.from(unsigned);
        tampered[tampered.length - 10] = (tampered[tampered.length - 10] + 1) % 256;
        writeFileSync(join(dir, 'tampered'), tampered);
        expect(verify(join(dir, 'tampered')).status).not.toBe(0);
      });

    it('reads back signed and unsigned archives: entries, description, signatures, signed bytes', async () => {
      const signed = await signApkIndexArchive(unsigned, loadRsaSigner(key.privatePem, 'builder@example.org-1234.rsa.pub'), 'RSA', MTIME);
      const read = await readApkIndexArchive(signed);
      expect(read.signatures).toMatchObject([{ type: 'RSA', keyName: 'builder@example.org-1234.rsa.pub' }]);
      expect(Buffer.from(read.signedBytes).equals(unsigned)).toBe(true);
      // the signature the reader hands back verifies over exactly those bytes with the public key alone
      expect(cryptoVerify('sha1', read.signedBytes, key.publicPem, read.signatures[0].signature!)).toBe(true);
      expect(read.description).toBe('test repo v1');
      expect(read.entries).toEqual(parseApkIndex(writeApkIndex(entries)));
      const plain = await readApkIndexArchive(unsigned);
      expect(plain.signatures).toEqual([]);
      expect(plain.entries).toEqual(read.entries);
    });
  });

  describe('bad input', () => {
    const base = (): ApkIndexEntry => ({ ...entries[0] });

    it.each([
      ['a newline in T:', { description: 'nice\nC:Q1forged' }, /T \(description\) contains a newline or control character/],
      ['a carriage return in U:', { url: 'https://x\r' }, /U \(url\) contains a newline/],
      ['a slash in P:', { name: 'a/b' }, /P \(name\) contains '\/'/],
      ['.. in P:', { name: 'x..y' }, /P \(name\) contains '\.\.'/],
      ['an invalid V:', { version: '1.0/../../x' }, /V \(version\) is not a valid apk version/],
      ['a bad A:', { arch: 'x86_64\n' }, /A \(arch\) contains a newline/],
      ['a newline in a dependency', { depends: ['foo\nP:evil'] }, /D contains a newline/],
      ['a bad checksum', { checksum: 'Q1short' }, /C \(checksum\) is not a Q1 SHA-1/],
      ['a negative size', { size: -1 }, /S \(size\) must be a non-negative integer/],
      ['a D: line apk cannot read', { depends: Array.from({ length: 5000 }, (_, i) => `so:libdependency-number-${i}.so.1`) }, /longer than the 131072 bytes apk-tools reads/],
    ])('refuses to write %s', (_what, override, reason) => {
      expect(() => writeApkIndex([{ ...base(), ...override } as ApkIndexEntry])).toThrow(PackageFormatError);
      expect(() => writeApkIndex([{ ...base(), ...override } as ApkIndexEntry])).toThrow(reason);
    });

    it('rejects malformed index text with the line it is on', () => {
      expect(() => parseApkIndex('C:Q1n7x1F7SeYLdb9iwS2YrNGc2gfDA=\nP:x\nV:1\nnot a field\n\n')).toThrow(/APKINDEX line 4 is not a "X:value" field/);
      expect(() => parseApkIndex('P:x\nV:1\n\n')).toThrow(/APKINDEX entry at line 1 has no C: field/);
      expect(() => parseApkIndex('C:Q1n7x1F7SeYLdb9iwS2YrNGc2gfDA=\nP:x\nV:1\nV:2\n\n')).toThrow(/repeats field V:/);
    });

    it('rejects a truncated archive, one without APKINDEX, and caps a gzip bomb', async () => {
      const unsigned = await buildApkIndexArchive(entries, { description: 'x', mtime: MTIME });
      await expect(readApkIndexArchive(unsigned.subarray(0, unsigned.length - 5))).rejects.toThrow(/truncated gzip member/);
      const noIndex = zlib.gzipSync(execFileSync('sh', ['-c', `cd ${dir} && tar --format=ustar -cf - ${JSON.stringify('APKINDEX.unsigned.tar.gz')}`]));
      await expect(readApkIndexArchive(noIndex)).rejects.toThrow(/has no APKINDEX entry/);
      const bomb = zlib.gzipSync(Buffer.alloc(16 * MiB));
      await expect(readApkIndexArchive(bomb, { maxEntries: 10, maxBytes: 1 * MiB })).rejects.toThrow(/beyond the limit of 1048576 bytes/);
    });
  });
});
