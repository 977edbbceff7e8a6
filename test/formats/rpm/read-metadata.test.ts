import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../../src/formats/errors';
import { buildRpm } from '../../../src/formats/rpm/build-rpm';
import { writeFilelistsXml } from '../../../src/formats/rpm/filelists-xml';
import { writeOtherXml } from '../../../src/formats/rpm/other-xml';
import { writePrimaryXml } from '../../../src/formats/rpm/primary-xml';
import { mergeMetadata, parseFilelists, parseOther, parsePrimary } from '../../../src/formats/rpm/read-metadata';
import { parseRpm } from '../../../src/formats/rpm/rpm-file';
import { buildRpmFixtures, copyToTempDir, rpmFileInfo, runCreaterepo, type CreaterepoOutput } from '../../support/rpm-fixtures';

/** The text as UTF-8 bytes in small chunks that split multi-byte characters. */
async function* bytesIn(text: string, size = 7): AsyncGenerator<Uint8Array> {
  const b = Buffer.from(text);
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function readAll(out: CreaterepoOutput) {
  return mergeMetadata(await parsePrimary(bytesIn(out.primary)), await parseFilelists(bytesIn(out.filelists, 1)), await parseOther(out.other));
}

async function rejection(p: Promise<unknown>): Promise<PackageFormatError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof PackageFormatError) return e;
    throw e;
  }
  throw new Error('expected a PackageFormatError');
}

describe('reading createrepo_c metadata', () => {
  let dir: string;
  let ref: CreaterepoOutput;

  beforeAll(async () => {
    dir = await copyToTempDir((await buildRpmFixtures()).files);
    await writeFile(join(dir, 'weird-1-1.noarch.rpm'), buildRpm({
      name: 'weird',
      version: '1',
      release: '1',
      summary: 'a\tb\rc "q" é 😀 <&>',
      buildTime: 1,
      files: [{ path: '/usr/bin/x\ty é' }],
      requires: [{ name: 'q "é"\t', flags: 'LE', epoch: '1', ver: '2', rel: '3', pre: true }],
      changelog: [{ author: 'Ä <a@b>', date: 1, text: 'x\r\ny' }],
    }));
    ref = await runCreaterepo(dir, '--baseurl', '/srv/repo');
  });

  it('read -> write gives createrepo_c\'s bytes back, for all three files', async () => {
    const pkgs = await readAll(ref);
    expect(pkgs).toHaveLength(6);
    expect(writePrimaryXml(pkgs)).toBe(ref.primary);
    expect(writeFilelistsXml(pkgs)).toBe(ref.filelists);
    expect(writeOtherXml(pkgs)).toBe(ref.other);
    expect(ref.primary).toContain('xml:base="file:///srv/repo"');
  });

  it('reads back the same model parseRpm builds from the packages', async () => {
    const pkgs = await readAll(ref);
    for (const p of pkgs) {
      const { bytes, info } = await rpmFileInfo(join(dir, p.location.href));
      expect({ ...p, location: { href: p.location.href } }).toEqual(parseRpm(bytes, info));
    }
  });

  it('primary alone carries the primary file subset', async () => {
    const hello = (await parsePrimary(ref.primary)).find((p) => p.name === 'hello')!;
    expect(hello.files.map((f) => f.path)).toEqual(['/etc/hello', '/etc/hello/hello.conf', '/usr/bin/hello']);
    expect(hello.changelogs).toEqual([]);
  });
});

describe('metadata readers on broken input', () => {
  const primaryOf = (body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="1">\n${body}</metadata>`;
  const pkg = (inner = '') => `<package type="rpm"><name>a</name><arch>noarch</arch><version epoch="0" ver="1" rel="1"/>
    <checksum type="sha256" pkgid="YES">abc</checksum><time file="1" build="2"/><size package="3" installed="4" archive="5"/>
    <location href="a.rpm"/><format>${inner}</format></package>`;

  it('accepts a minimal package', async () => {
    const [p] = await parsePrimary(primaryOf(pkg()));
    expect(p).toMatchObject({ name: 'a', pkgId: 'abc', size: { package: 3 }, format: { requires: [] } });
  });

  it.each([
    ['not XML', 'this is not xml', /not well-formed XML/],
    ['truncated', primaryOf(pkg()).slice(0, 200), /not well-formed XML/],
    ['wrong root', '<filelists></filelists>', /root element is <filelists>, expected <metadata>/],
    ['empty', '', /must contain a root element/],
    ['undefined entity', primaryOf(pkg('<rpm:license>&nope;</rpm:license>')), /not well-formed XML/],
    ['bad number', primaryOf(pkg().replace('package="3"', 'package="-3"')), /<size package> is not a non-negative integer/],
    ['huge number', primaryOf(pkg().replace('package="3"', 'package="99999999999999999999"')), /not a non-negative integer/],
    ['missing location', primaryOf(pkg().replace('<location href="a.rpm"/>', '')), /missing <location href>/],
    ['unknown flags', primaryOf(pkg('<rpm:requires><rpm:entry name="x" flags="ZZ"/></rpm:requires>')), /unknown dependency flags "ZZ"/],
    ['unknown file type', primaryOf(pkg('<file type="socket">/etc/x</file>')), /unknown file type "socket"/],
    ['sha1 checksum', primaryOf(pkg().replace('type="sha256"', 'type="sha1"')), /unsupported checksum type "sha1"/],
  ])('primary: %s', async (_name, xml, message) => {
    expect((await rejection(parsePrimary(xml))).message).toMatch(message);
  });

  it('rejects invalid UTF-8 bytes', async () => {
    async function* bad() {
      yield Buffer.from(primaryOf(pkg()).slice(0, 100));
      yield Uint8Array.of(0xff, 0xfe);
    }
    expect((await rejection(parsePrimary(bad()))).message).toMatch(/not valid UTF-8/);
  });

  it('enforces the limits', async () => {
    const many = primaryOf(pkg().repeat(5));
    expect((await rejection(parsePrimary(many, { maxPackages: 4 }))).message).toMatch(/more than 4 packages/);
    const deps = primaryOf(pkg(`<rpm:requires>${'<rpm:entry name="x"/>'.repeat(20)}</rpm:requires>`));
    expect((await rejection(parsePrimary(deps, { maxItemsPerPackage: 10 }))).message).toMatch(/more than 10 entries/);
    const long = primaryOf(pkg(`<rpm:license>${'x'.repeat(5000)}</rpm:license>`));
    expect((await rejection(parsePrimary(long, { maxTextLength: 1000 }))).message).toMatch(/longer than the limit of 1000/);
  });

  it('filelists and other: broken input and mismatches', async () => {
    expect((await rejection(parseFilelists('<filelists><package name="a"></package></filelists>'))).message).toMatch(/missing pkgid/);
    expect((await rejection(parseOther('<otherdata><package pkgid="p" name="a" arch="x"><version ver="1" rel="1"/><changelog date="x">t</changelog></package></otherdata>'))).message)
      .toMatch(/date of a changelog entry of a is not a non-negative integer/);
    const [p] = await parsePrimary(primaryOf(pkg()));
    const fl = await parseFilelists('<filelists><package pkgid="abc" name="a" arch="noarch"><version epoch="0" ver="1" rel="1"/><file>/x</file></package></filelists>');
    const other = await parseOther('<otherdata><package pkgid="abc" name="a" arch="noarch"><version epoch="0" ver="1" rel="1"/></package></otherdata>');
    expect(mergeMetadata([p], fl, other)[0].files).toEqual([{ path: '/x', type: 'file' }]);
    expect(() => mergeMetadata([p], [], other)).toThrow(/filelists.xml has no package with pkgid abc/);
    expect(() => mergeMetadata([p], fl, [])).toThrow(/other.xml has no package with pkgid abc/);
    expect(() => mergeMetadata([p], [{ ...fl[0], version: '2' }], other)).toThrow(/describes pkgid abc as a-2-1.noarch/);
  });

  it('random bytes never escape as another error', async () => {
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 300 }, () => Math.floor(Math.random() * 256)));
      const e = await parsePrimary(bytesIn(`<metadata>${junk.toString('latin1')}`)).then(() => undefined, (err: unknown) => err);
      if (e !== undefined) expect(e).toBeInstanceOf(PackageFormatError);
    }
  });
});
