/* eslint-disable no-bitwise -- dependency senses are bit sets */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRpm } from '../../../src/formats/rpm/build-rpm';
import { filelistsPackageXml, filelistsXmlFooter, filelistsXmlHeader, writeFilelistsXml } from '../../../src/formats/rpm/filelists-xml';
import { encodeHeader, type HeaderEntry } from '../../../src/formats/rpm/header';
import type { RpmPackage } from '../../../src/formats/rpm/model';
import { otherPackageXml, otherXmlFooter, otherXmlHeader, writeOtherXml } from '../../../src/formats/rpm/other-xml';
import { primaryPackageXml, primaryXmlFooter, primaryXmlHeader, writePrimaryXml } from '../../../src/formats/rpm/primary-xml';
import { parsePrimary } from '../../../src/formats/rpm/read-metadata';
import { parseRpm, RPM_LEAD_SIZE, type ParseRpmOptions } from '../../../src/formats/rpm/rpm-file';
import { RegionTag, RpmTagType, Sense, Tag } from '../../../src/formats/rpm/tags';
import { buildRpmFixtures, copyToTempDir, rpmFileInfo, runCreaterepo, type CreaterepoOutput } from '../../support/rpm-fixtures';

/** Parse every .rpm of `files` (copied into `dir`) in the order createrepo_c listed them. */
async function parseInCreaterepoOrder(
  dir: string, names: readonly string[], ref: CreaterepoOutput, options?: ParseRpmOptions,
): Promise<RpmPackage[]> {
  const pkgs = await Promise.all(names.map(async (name) => {
    const { bytes, info } = await rpmFileInfo(join(dir, name));
    return parseRpm(bytes, info, options);
  }));
  const order = [...ref.primary.matchAll(/pkgid="YES">([0-9a-f]{64})</g)].map((m) => m[1]);
  expect(order).toHaveLength(pkgs.length);
  return pkgs.sort((a, b) => order.indexOf(a.pkgId) - order.indexOf(b.pkgId));
}

const str = (tag: number, value: string): HeaderEntry => ({ tag, value: { type: RpmTagType.STRING, value } });
const strs = (tag: number, values: string[]): HeaderEntry => ({ tag, value: { type: RpmTagType.STRING_ARRAY, values } });
const int32 = (tag: number, values: number[]): HeaderEntry => ({ tag, value: { type: RpmTagType.INT32, values } });

/**
 * A package with exactly the given main header entries (createrepo_c reads it without checking
 * digests): for tags rpmbuild 4.18 no longer writes.
 */
function handBuilt(entries: HeaderEntry[]): Uint8Array {
  const main = encodeHeader([str(Tag.VERSION, '1'), str(Tag.RELEASE, '1'), str(Tag.ARCH, 'noarch'), str(Tag.OS, 'linux'), ...entries],
    { region: RegionTag.HEADERIMMUTABLE });
  const sig = encodeHeader([int32(1000, [main.length])], { region: RegionTag.HEADERSIGNATURES });
  const lead = new Uint8Array(RPM_LEAD_SIZE);
  lead.set([0xed, 0xab, 0xee, 0xdb, 3, 0]);
  lead[79] = 5; // header-style signature
  return Buffer.concat([lead, sig, new Uint8Array((8 - (sig.length % 8)) % 8), main]);
}

const basenames = (files: readonly string[]) => files.map((f) => f.slice(f.lastIndexOf('/') + 1));

describe('rpm-md writers are byte-identical to createrepo_c', () => {
  let dir: string;
  let names: string[];
  let ref: CreaterepoOutput;
  let pkgs: RpmPackage[];

  beforeAll(async () => {
    const fx = await buildRpmFixtures();
    dir = await copyToTempDir(fx.files);
    names = basenames(fx.files);
    ref = await runCreaterepo(dir);
    pkgs = await parseInCreaterepoOrder(dir, names, ref);
  });

  it('primary.xml', () => {
    expect(writePrimaryXml(pkgs)).toBe(ref.primary);
  });

  it('filelists.xml', () => {
    expect(writeFilelistsXml(pkgs)).toBe(ref.filelists);
  });

  it('other.xml', () => {
    expect(writeOtherXml(pkgs)).toBe(ref.other);
  });

  it('the chunk functions concatenate to the same bytes (streaming)', () => {
    const chunks = (head: (n: number) => string, each: (p: RpmPackage) => string, foot: () => string) =>
      [head(pkgs.length), ...pkgs.map(each), foot()].join('');
    expect(chunks(primaryXmlHeader, primaryPackageXml, primaryXmlFooter)).toBe(ref.primary);
    expect(chunks(filelistsXmlHeader, filelistsPackageXml, filelistsXmlFooter)).toBe(ref.filelists);
    expect(chunks(otherXmlHeader, otherPackageXml, otherXmlFooter)).toBe(ref.other);
  });

  it('covers what the fixtures are for', () => {
    // the fixture set really exercises the rules the comparison is meant to prove
    expect(ref.primary).toContain('pre="1"');
    expect(ref.primary).toContain('<rpm:recommends>');
    expect(ref.primary).toContain('<file type="dir">/etc/hello</file>');
    expect(ref.filelists).toContain('<file type="ghost">/var/log/hello.log</file>');
    expect(ref.filelists).toContain('c++notes.txt');
    expect(ref.primary).toContain('epoch="3" ver="1.2~beta1"');
    expect(ref.primary).toContain('<rpm:vendor>Café Ltd</rpm:vendor>'); // Latin-1 0xE9 in the header
    expect(ref.other.match(/<changelog /g)!.length).toBe(2 * 10 + 1); // two hello versions, 12 entries each; c++-utils 1
    expect(ref.primary).toContain('href="c++-utils-2.0+git20260101-1.noarch.rpm"');
  });

  it('matches createrepo_c with another --changelog-limit', async () => {
    const d = await copyToTempDir((await buildRpmFixtures()).files);
    const limited = await runCreaterepo(d, '--changelog-limit', '3');
    const p = await parseInCreaterepoOrder(d, names, limited, { changelogLimit: 3 });
    expect(writeOtherXml(p)).toBe(limited.other);
  });

  it('escapes and drops characters exactly like createrepo_c (package made by buildRpm)', async () => {
    const weird = 'Tab\there\rCR\r\nCRLF "q" \'a\' é 日本 \u{1F600} ]]> &amp; \u007f \u0085 \u00a0';
    const d = await copyToTempDir([]);
    await writeFile(join(d, 'weird-1.0-1.noarch.rpm'), buildRpm({
      name: 'weird',
      version: '1.0',
      release: '1',
      summary: weird,
      description: weird,
      buildTime: 1700000000,
      url: 'https://example.com/?a=<b>&c',
      vendor: weird,
      packager: weird,
      files: [{ path: '/usr/bin/w é\t"x"', contents: 'a' }, { path: '/etc/w&<>' }, { path: '/opt/x/bin/y' }, { path: '/usr/lib/sendmail' }, { path: '/usr/share/z' }],
      requires: [{ name: `dep ${weird}` }, { name: 'v', flags: 'GE', epoch: '2', ver: 'ü', rel: '<1>' }],
      provides: [{ name: 'p', flags: 'EQ', ver: 'ü' }],
      changelog: [{ author: `A ${weird}   `, date: 5, text: weird }, { author: 'B', date: 5, text: 'same time' }, { author: 'C', date: 5, text: 'same again' }],
    }));
    const out = await runCreaterepo(d);
    const p = await parseInCreaterepoOrder(d, ['weird-1.0-1.noarch.rpm'], out);
    expect(writePrimaryXml(p)).toBe(out.primary);
    expect(writeFilelistsXml(p)).toBe(out.filelists);
    expect(writeOtherXml(p)).toBe(out.other);
  });

  it('legacy weak dependencies, MISSINGOK requires and the source-package heuristic like createrepo_c', async () => {
    const d = await copyToTempDir([]);
    await writeFile(join(d, 'legacy.rpm'), handBuilt([
      str(Tag.NAME, 'legacy'),
      strs(Tag.REQUIRENAME, ['a', 'b']), int32(Tag.REQUIREFLAGS, [Sense.MISSINGOK, Sense.SCRIPT_POST]), strs(Tag.REQUIREVERSION, ['', '']),
      strs(Tag.OLDSUGGESTSNAME, ['s1', 's2']), int32(Tag.OLDSUGGESTSFLAGS, [0, Sense.STRONG]), strs(Tag.OLDSUGGESTSVERSION, ['', '']),
      strs(Tag.OLDENHANCESNAME, ['e1', 'e2']), int32(Tag.OLDENHANCESFLAGS, [0, Sense.STRONG | Sense.GREATER | Sense.EQUAL]),
      strs(Tag.OLDENHANCESVERSION, ['', '2']),
    ]));
    await writeFile(join(d, 'nosource.rpm'), handBuilt([
      str(Tag.NAME, 'nosource'), strs(Tag.BASENAMES, ['x.spec']), strs(Tag.DIRNAMES, ['']), int32(Tag.DIRINDEXES, [0]),
      int32(Tag.FILEFLAGS, [0]), { tag: Tag.FILEMODES, value: { type: RpmTagType.INT16, values: [0o100644] } },
    ]));
    await writeFile(join(d, 'nosrpm.rpm'), handBuilt([str(Tag.NAME, 'nosrpm')]));
    const out = await runCreaterepo(d);
    const p = await parseInCreaterepoOrder(d, ['legacy.rpm', 'nosource.rpm', 'nosrpm.rpm'], out);
    expect(writePrimaryXml(p)).toBe(out.primary);
    expect(writeFilelistsXml(p)).toBe(out.filelists);
    expect(out.primary).toContain('<arch>src</arch>');
    expect(out.primary).toContain('<rpm:sourcerpm>(none)</rpm:sourcerpm>');
  });

  it('marks %pretrans/%posttrans requires pre="1" as createrepo_c >= 1.1.1 does (the 0.17 here does not)', async () => {
    const d = await copyToTempDir([]);
    await writeFile(join(d, 'trans.rpm'), handBuilt([
      str(Tag.NAME, 'trans'), str(Tag.SOURCERPM, 'trans-1-1.src.rpm'),
      strs(Tag.REQUIRENAME, ['a', 'b']), int32(Tag.REQUIREFLAGS, [Sense.PRETRANS, Sense.POSTTRANS]), strs(Tag.REQUIREVERSION, ['', '']),
    ]));
    const out = await runCreaterepo(d);
    const p = await parseInCreaterepoOrder(d, ['trans.rpm'], out);
    const old = '<rpm:entry name="a"/>\n      <rpm:entry name="b"/>';
    expect(out.primary).toContain(old);
    expect(writePrimaryXml(p)).toBe(out.primary.replace(old, '<rpm:entry name="a" pre="1"/>\n      <rpm:entry name="b" pre="1"/>'));
  });

  it('non-UTF-8 header text like createrepo_c: Latin-1 without the bytes 0x80-0xBF', async () => {
    const d = await copyToTempDir([]);
    const rpm = Buffer.from(handBuilt([str(Tag.NAME, 'latin'), str(Tag.SOURCERPM, 'l.src.rpm'), str(Tag.VENDOR, '@@@@@@@@@'), str(Tag.URL, '##########')]));
    // same length, so the header stays consistent: 'Caf', é, ' ', ©, a C1 control, 'ok'
    rpm.set([0x43, 0x61, 0x66, 0xe9, 0x20, 0xa9, 0x85, 0x6f, 0x6b], rpm.indexOf('@@@@@@@@@'));
    rpm.set([0x61, 0x09, 0x62, 0x0d, 0x0a, 0x7f, 0xff, 0xc0, 0x2e, 0x2e], rpm.indexOf('##########'));
    await writeFile(join(d, 'latin.rpm'), rpm);
    const out = await runCreaterepo(d);
    const p = await parseInCreaterepoOrder(d, ['latin.rpm'], out);
    expect(p[0].format.vendor).toBe('Caf\u00e9 ok');
    expect(writePrimaryXml(p)).toBe(out.primary);
    expect(out.primary).toContain('<rpm:vendor>Caf\u00e9 ok</rpm:vendor>');
  });

  it('drops control characters XML cannot carry (createrepo_c refuses such a package instead)', async () => {
    const { bytes, info } = await rpmFileInfo((await buildRpmFixtures()).files.find((f) => f.endsWith('/hello-1.0-1.x86_64.rpm'))!);
    const p = parseRpm(bytes, info);
    const dirty: RpmPackage = { ...p, summary: 'a\u0001b\u001fc\td', changelogs: [{ author: 'x\u0008y', date: 1, text: 'e\u000bf' }] };
    const primary = writePrimaryXml([dirty]);
    expect(primary).toContain('<summary>abc\td</summary>');
    expect(writeOtherXml([dirty])).toContain('<changelog author="xy" date="1">ef</changelog>');
    expect((await parsePrimary(primary))[0].summary).toBe('abc\td');
  });
});
