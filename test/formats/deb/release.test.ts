import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeb822 } from '../../../src/formats/deb/deb822';
import {
  formatReleaseDate, nextReleaseDate, parseReleaseDate, readRelease, writeRelease, type Release,
} from '../../../src/formats/deb/release';
import { PackageFormatError } from '../../../src/formats/errors';
import { ensureAptLists, MiB, removeTempDirs, requireTools, tempDir } from '../../support/deb-fixtures';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function base(overrides: Partial<Release> = {}): Release {
  return {
    origin: 'Example',
    label: 'Example Repo',
    suite: 'stable',
    codename: 'stable',
    date: new Date('2026-03-01T08:09:10.987Z'),
    architectures: ['amd64', 'arm64'],
    components: ['main', 'contrib'],
    acquireByHash: true,
    description: 'An example',
    files: [],
    ...overrides,
  };
}

describe('Release', () => {
  let dist: string;
  let files: { path: string; size: number; sha256: string }[];

  afterAll(removeTempDirs);

  beforeAll(() => {
    requireTools('apt-ftparchive', 'gpgv');
    dist = path.join(tempDir('release'), 'dists', 'stable');
    files = [];
    for (const [component, arch] of [['main', 'amd64'], ['main', 'arm64'], ['contrib', 'amd64']]) {
      const dir = path.join(dist, component, `binary-${arch}`);
      mkdirSync(dir, { recursive: true });
      const text = Buffer.from(`Package: p-${component}-${arch}\nVersion: 1\nArchitecture: ${arch}\n\n`);
      writeFileSync(path.join(dir, 'Packages'), text);
      writeFileSync(path.join(dir, 'Packages.gz'), zlib.gzipSync(text));
      for (const name of ['Packages', 'Packages.gz']) {
        const body = readFileSync(path.join(dir, name));
        files.push({ path: `${component}/binary-${arch}/${name}`, size: body.length, sha256: sha256(body) });
      }
    }
  });

  it('lists the same SHA256 entries apt-ftparchive computes for the same tree', () => {
    const theirs = readRelease(execFileSync('apt-ftparchive', ['release', '.'], { cwd: dist }));
    const ours = readRelease(Buffer.from(writeRelease(base({ files }))));
    const key = (f: { path: string; size: number; sha256: string }) => `${f.path} ${f.size} ${f.sha256}`;
    expect(ours.files.map(key).sort()).toEqual(theirs.files.map(key).sort());
  });

  it('writes the fields apt reads, in Debian\'s order, with a UTC RFC 1123 date', () => {
    const text = writeRelease(base({ files, validUntil: new Date('2026-03-08T08:09:10Z') }));
    const [p] = parseDeb822(text);
    expect(p.fields.map((f) => f.name)).toEqual(['Origin', 'Label', 'Suite', 'Codename', 'Date', 'Valid-Until', 'Acquire-By-Hash',
      'Architectures', 'Components', 'Description', 'SHA256']);
    expect(p.get('Date')).toBe('Sun, 01 Mar 2026 08:09:10 UTC');
    expect(p.get('Valid-Until')).toBe('Sun, 08 Mar 2026 08:09:10 UTC');
    expect(p.get('Acquire-By-Hash')).toBe('yes');
    expect(p.get('Architectures')).toBe('amd64 arm64');
    expect(p.get('SHA256')!.split('\n')).toHaveLength(files.length + 1);
  });

  it('formats dates as `date -R -u` does, with UTC for +0000', () => {
    for (const iso of ['2026-01-05T00:00:00Z', '2024-02-29T23:59:59Z', '1999-12-31T12:30:45Z']) {
      const expected = execFileSync('date', ['-u', '-R', '-d', iso], { env: { ...process.env, LC_ALL: 'C' } }).toString().trim().replace('+0000', 'UTC');
      expect(formatReleaseDate(new Date(iso))).toBe(expected);
    }
  });

  it.each([
    ['Sat, 11 Jul 2026 10:16:37 UTC', '2026-07-11T10:16:37.000Z'],
    ['Sun, 22 Nov 2026 02:37:24 +0000', '2026-11-22T02:37:24.000Z'],
    ['Sun, 22 Nov 2026 04:37:24 +0200', '2026-11-22T02:37:24.000Z'],
    ['1 Feb 2026 01:02:03 GMT', '2026-02-01T01:02:03.000Z'],
  ])('parses the date %j', (text, iso) => {
    expect(parseReleaseDate(text).toISOString()).toBe(iso);
  });

  it.each(['yesterday', 'Mon, 31 Feb 2026 10:00:00 UTC', 'Mon, 01 Foo 2026 10:00:00 UTC', 'Mon, 01 Jan 2026 25:00:00 UTC'])(
    'rejects the date %j', (text) => {
      expect(() => parseReleaseDate(text)).toThrow(PackageFormatError);
    });

  it('makes Date strictly increasing: max(now, previous + 1 s), whole seconds', () => {
    const now = new Date('2026-03-01T08:09:10.987Z');
    expect(nextReleaseDate(now).toISOString()).toBe('2026-03-01T08:09:10.000Z');
    expect(nextReleaseDate(now, new Date('2026-03-01T08:00:00Z')).toISOString()).toBe('2026-03-01T08:09:10.000Z');
    expect(nextReleaseDate(now, new Date('2026-03-01T08:09:10Z')).toISOString()).toBe('2026-03-01T08:09:11.000Z');
    expect(nextReleaseDate(now, new Date('2026-03-01T08:09:30Z')).toISOString()).toBe('2026-03-01T08:09:31.000Z');
  });

  it('reads back what it writes', () => {
    const release = base({ files, validUntil: new Date('2026-03-08T08:09:10Z'), date: new Date('2026-03-01T08:09:10Z') });
    expect(readRelease(Buffer.from(writeRelease(release)))).toEqual(release);
  });

  it('reads Debian\'s own Release (verified out of InRelease by gpgv with Debian\'s keyring)', () => {
    ensureAptLists();
    const lists = '/var/lib/apt/lists';
    const inRelease = readdirSync(lists).filter((f) => f.endsWith('_InRelease'));
    expect(inRelease.length).toBeGreaterThan(0);
    for (const f of inRelease) {
      const text = execFileSync('gpgv', ['--keyring', '/usr/share/keyrings/debian-archive-keyring.gpg', '--output', '-', path.join(lists, f)],
        { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * MiB });
      const release = readRelease(text, f);
      expect(release.origin).toBe('Debian');
      expect(release.codename).toMatch(/^bookworm/);
      expect(release.acquireByHash).toBe(true);
      // bookworm-security names its component updates/main
      expect(release.components.some((c) => /(^|\/)main$/.test(c))).toBe(true);
      expect(release.files.some((e) => /(^|\/)main\/binary-amd64\/Packages$/.test(e.path))).toBe(true);
      expect(formatReleaseDate(release.date)).toBe(parseDeb822(text.toString())[0].get('Date'));
    }
  });

  describe('refuses values that would break the file', () => {
    it.each([
      ['a Description with a newline', { description: 'text\nSHA256:\n ' + 'a'.repeat(64) + ' 1 main/x' }, /one non-empty line/],
      ['an Origin with a newline', { origin: 'x\nLabel: y' }, /one non-empty line/],
      ['an empty Label', { label: ' ' }, /one non-empty line/],
      ['a component with a space', { components: ['main contrib'] }, /invalid architecture or component/],
      ['a file path escaping dists/', { files: [{ path: '../x', size: 1, sha256: 'a'.repeat(64) }] }, /invalid index path/],
      ['a bad SHA-256', { files: [{ path: 'main/x', size: 1, sha256: 'abc' }] }, /invalid SHA-256/],
    ])('%s', (_what, change, message) => {
      expect(() => writeRelease(base(change as Partial<Release>))).toThrow(PackageFormatError);
      expect(() => writeRelease(base(change as Partial<Release>))).toThrow(message);
    });
  });

  it.each([
    ['no Date', 'Origin: x\n', /has no Date/],
    ['a bad SHA256 line', 'Date: Sun, 01 Mar 2026 08:09:10 UTC\nSHA256:\n zz 1 main/x\n', /bad SHA256 line/],
    ['two paragraphs', 'Date: Sun, 01 Mar 2026 08:09:10 UTC\n\nDate: Sun, 01 Mar 2026 08:09:10 UTC\n', /exactly one paragraph/],
  ])('rejects a Release with %s', (_what, text, message) => {
    expect(() => readRelease(Buffer.from(text))).toThrow(message);
  });
});
