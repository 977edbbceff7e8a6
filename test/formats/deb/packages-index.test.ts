import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDeb } from '../../../src/formats/deb/deb-package';
import { parseDeb822, type Deb822Paragraph } from '../../../src/formats/deb/deb822';
import {
  PACKAGE_FIELD_ORDER, packagesEntryOf, packagesStanza, readPackages, writePackages, type PackagesEntry,
} from '../../../src/formats/deb/packages-index';
import { PackageFormatError } from '../../../src/formats/errors';
import {
  buildAllRecipes, debianStanzasBySha256, downloadRealDebs, removeTempDirs, requireTools, tempDir,
} from '../../support/deb-fixtures';

const fieldsOf = (p: Deb822Paragraph) => p.fields.map((f) => [f.name, f.value] as const);
const byFilename = (paragraphs: Deb822Paragraph[]) => new Map(paragraphs.map((p) => [p.get('Filename')!, p]));

/**
 * Fields of Debian's own index stanza that do not come from the .deb's control file: the
 * archive puts them there (dak), so a repository built from the file alone cannot have them.
 */
const DEBIAN_ARCHIVE_ONLY = new Set([
  'Filename', // our pool layout differs from Debian's
  'Description', // Debian keeps only the first line here; the long text moves to Translation-en (checked below)
  'Description-md5', // md5 of the full Description, the key into Translation-en (checked below)
  'Tag', // debtags, maintained in the archive
]);

/**
 * Debian's archive may override Section and Priority (dak override files); where it does, our
 * value must be the one in the package's control file.
 */
const OVERRIDABLE = new Set(['Section', 'Priority']);

/** Hashes Debian lists or not per archive (bookworm: MD5sum + SHA256; bookworm-security: SHA256 only); checked with md5sum/sha1sum instead. */
const ARCHIVE_HASH_CHOICE = new Set(['MD5sum', 'SHA1']);

describe('Packages index', () => {
  let root: string;
  let entries: PackagesEntry[];
  let realFiles: string[];

  afterAll(removeTempDirs);

  beforeAll(async () => {
    requireTools('apt-ftparchive', 'dpkg-scanpackages');
    root = tempDir('packages-index');
    const pool = path.join(root, 'pool', 'main');
    buildAllRecipes(pool);
    realFiles = downloadRealDebs(['hello', 'jq', 'tree', 'libjq1', 'libonig5', 'sensible-utils']);
    for (const f of realFiles) copyFileSync(f, path.join(pool, path.basename(f)));
    entries = [];
    for (const file of execFileSync('find', ['pool', '-name', '*.deb'], { cwd: root }).toString().trim().split('\n')) {
      entries.push(packagesEntryOf(await readDeb(readFileSync(path.join(root, file))), file));
    }
  });

  it('writes the fields and field order apt-ftparchive writes (apart from SHA512, which we do not list)', () => {
    const theirs = byFilename(parseDeb822(execFileSync('apt-ftparchive', ['packages', 'pool'], { cwd: root }).toString('utf8')));
    const ours = byFilename(parseDeb822(writePackages(entries)));
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    expect(ours.size).toBe(4 + realFiles.length);
    for (const [file, stanza] of ours) {
      const reference = theirs.get(file)!;
      reference.delete('SHA512');
      expect(fieldsOf(stanza), file).toEqual(fieldsOf(reference));
    }
  });

  it('writes the same fields and values as dpkg-scanpackages (whose order differs)', () => {
    const theirs = byFilename(parseDeb822(execFileSync('dpkg-scanpackages', ['-m', 'pool'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }).toString('utf8')));
    const ours = byFilename(parseDeb822(writePackages(entries)));
    for (const [file, stanza] of ours) {
      expect(new Map(fieldsOf(stanza)), file).toEqual(new Map(fieldsOf(theirs.get(file)!)));
    }
  });

  it('keeps apt\'s canonical order: Filename..SHA256 between Enhances and Homepage, unknown fields last', () => {
    const tool = packagesStanza(entries.find((e) => e.control.get('Package') === 'cdkpr-tool')!);
    const names = tool.fields.map((f) => f.name);
    expect(names).toEqual(['Package', 'Architecture', 'Version', 'Maintainer', 'Provides', 'Pre-Depends', 'Recommends', 'Conflicts',
      'Filename', 'Size', 'MD5sum', 'SHA1', 'SHA256', 'Description', 'X-Custom-Field']);
    expect(PACKAGE_FIELD_ORDER.indexOf('Filename')).toBeLessThan(PACKAGE_FIELD_ORDER.indexOf('Homepage'));
  });

  it('matches Debian\'s own Packages stanza for each real .deb, field for field (archive-only fields excepted)', async () => {
    const digests = await Promise.all(realFiles.map(async (f) => (await readDeb(readFileSync(f))).sha256));
    const debian = debianStanzasBySha256(digests);
    expect(debian.size).toBe(realFiles.length);
    const overrides: string[] = [];
    for (const digest of digests) {
      const [official] = parseDeb822(debian.get(digest)!);
      const [ours] = parseDeb822(writePackages(entries.filter((e) => e.sha256 === digest)));
      const label = official.get('Package');
      const file = realFiles.find((f) => createHash('sha256').update(readFileSync(f)).digest('hex') === digest)!;
      for (const f of official.fields) {
        if (DEBIAN_ARCHIVE_ONLY.has(f.name)) continue;
        if (OVERRIDABLE.has(f.name) && ours.get(f.name) !== f.value) {
          // a dak override: ours must then be the package's own value
          expect(ours.get(f.name)).toBe(execFileSync('dpkg-deb', ['-f', file, f.name]).toString().trim());
          overrides.push(`${label} ${f.name}: ${ours.get(f.name)} -> ${f.value}`);
          continue;
        }
        expect([label, f.name, ours.get(f.name)]).toEqual([label, f.name, f.value]);
      }
      for (const f of ours.fields) {
        if (DEBIAN_ARCHIVE_ONLY.has(f.name) || ARCHIVE_HASH_CHOICE.has(f.name)) continue;
        expect([label, f.name, official.has(f.name)]).toEqual([label, f.name, true]);
      }
      const description = ours.get('Description')!;
      expect(description.split('\n')[0]).toBe(official.get('Description'));
      expect(createHash('md5').update(description + '\n').digest('hex')).toBe(official.get('Description-md5'));
      expect(ours.get('SHA1')).toBe(execFileSync('sha1sum', [file]).toString().split(' ')[0]);
      expect(ours.get('MD5sum')).toBe(execFileSync('md5sum', [file]).toString().split(' ')[0]);
    }
    // overrides are the exception (libjq1's Section is utils in the package, libs in the archive)
    expect(overrides.length).toBeLessThan(realFiles.length);
  });

  it.each(['apt-ftparchive', 'dpkg-scanpackages'])('reads %s output back into the entries we would write', (tool) => {
    const args = tool === 'apt-ftparchive' ? ['packages', 'pool'] : ['-m', 'pool'];
    const text = execFileSync(tool, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(writePackages(readPackages(text))).toBe(writePackages(entries));
  });

  it('round-trips read -> write -> read', () => {
    const text = writePackages(entries);
    const back = readPackages(Buffer.from(text));
    expect(writePackages(back)).toBe(text);
    expect(back.map((e) => [e.filename, e.size, e.md5, e.sha1, e.sha256]).sort())
      .toEqual(entries.map((e) => [e.filename, e.size, e.md5, e.sha1, e.sha256]).sort());
  });

  it('ends every stanza, the last too, with an empty line', () => {
    const text = writePackages(entries);
    expect(text.endsWith('\n\n')).toBe(true);
    expect(text.split('\n\n').filter((s) => s !== '')).toHaveLength(entries.length);
  });

  it('drops a Status field as apt-ftparchive does', () => {
    const stanza = packagesStanza({ ...entries[0], control: entries[0].control.clone().set('Status', 'install ok installed') });
    expect(stanza.has('Status')).toBe(false);
  });

  describe('broken Packages files', () => {
    const good = 'Package: a\nVersion: 1\nArchitecture: all\nFilename: pool/main/a.deb\nSize: 10\nSHA256: ' + 'a'.repeat(64) + '\n\n';
    it.each([
      ['no Filename', good.replace(/Filename:.*\n/, ''), /has no Filename/],
      ['a Filename escaping the root', good.replace('pool/main/a.deb', '../../etc/passwd'), /invalid Filename/],
      ['an absolute Filename', good.replace('pool/main/a.deb', '/etc/passwd'), /invalid Filename/],
      ['a bad Size', good.replace('Size: 10', 'Size: ten'), /invalid or missing Size/],
      ['a bad SHA256', good.replace('a'.repeat(64), 'xyz'), /invalid SHA256/],
      ['no Package', good.replace('Package: a\n', ''), /has no Package field/],
      ['non-UTF-8 bytes', Buffer.concat([Buffer.from(good), Buffer.from('Package: b\nMaintainer: '), Buffer.from([0xe9]), Buffer.from('\n')]), /not valid UTF-8/],
    ])('%s', (_what, text, message) => {
      expect(() => readPackages(Buffer.from(text))).toThrow(PackageFormatError);
      expect(() => readPackages(Buffer.from(text))).toThrow(message);
    });

    it('names the stanza in the error', () => {
      expect(() => readPackages(Buffer.from(good + good.replace('Size: 10', 'Size: -1')))).toThrow(/Packages stanza 2/);
    });
  });

  it('writes packages from several directories under one root with their relative Filename', () => {
    const dir = tempDir('nested');
    mkdirSync(path.join(dir, 'pool', 'stable', 'main', 'c'), { recursive: true });
    const entry = { ...entries[0], filename: 'pool/stable/main/c/x_1_all.deb' };
    expect(parseDeb822(writePackages([entry]))[0].get('Filename')).toBe('pool/stable/main/c/x_1_all.deb');
  });
});
