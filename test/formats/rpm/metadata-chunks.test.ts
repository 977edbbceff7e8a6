import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRpm } from '../../../src/formats/rpm/build-rpm';
import { chunkLengths, isChunkEnd, pkgIdOf, primarySummary, splitPackages, unescapeXml } from '../../../src/formats/rpm/metadata-chunks';
import { parsePrimary } from '../../../src/formats/rpm/read-metadata';
import { buildRpmFixtures, copyToTempDir, runCreaterepo, type CreaterepoOutput } from '../../support/rpm-fixtures';

/** The `<package>` elements of a whole metadata file (between its header and footer lines). */
function elementsOf(xml: string): Buffer {
  return Buffer.from(xml.slice(xml.indexOf('\n', xml.indexOf('packages="')) + 1, xml.lastIndexOf('</')));
}

describe('chunk cuts', () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `Packages/p/pkg-${String(i).padStart(5, '0')}-1.0-1.x86_64.rpm`);

  it('cover every key, average the target, and respect the maximum', () => {
    const lengths = chunkLengths(keys, 64, 200);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(keys.length);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(200);
    expect(keys.length / lengths.length).toBeGreaterThan(40);
    expect(keys.length / lengths.length).toBeLessThan(100);
    expect(chunkLengths([])).toEqual([]);
  });

  it('depend only on the keys: adding one key changes only the chunk it falls in (it may split it)', () => {
    const before = chunkLengths(keys, 64, 1000);
    const added = [...keys.slice(0, 2500), 'Packages/p/pkg-02499a-1.0-1.x86_64.rpm', ...keys.slice(2500)];
    const after = chunkLengths(added, 64, 1000);
    const boundaries = (lengths: number[], list: string[]) => {
      let at = 0;
      return lengths.map((n) => list[(at += n) - 1]);
    };
    const a = new Set(boundaries(before, keys));
    const b = boundaries(after, added);
    // every cut of the old list is still a cut; at most one new one (the new key itself)
    expect(b.filter((k) => !a.has(k)).length).toBeLessThanOrEqual(1);
    expect([...a].every((k) => b.includes(k))).toBe(true);
    expect(isChunkEnd(keys[0], 1000, 64, 1000)).toBe(true);
  });
});

describe('reading our own chunk layout', () => {
  let ref: CreaterepoOutput;

  beforeAll(async () => {
    const dir = await copyToTempDir((await buildRpmFixtures()).files);
    await writeFile(join(dir, 'odd-1-1.noarch.rpm'), buildRpm({
      name: 'odd&name',
      version: '1',
      release: '1',
      summary: 'text with </package>\n and <size package="1"/> inside',
      description: 'a\n  <size package="9" installed="9" archive="9"/>\n  <location href="evil.rpm"/>\n',
      buildTime: 1,
    }));
    ref = await runCreaterepo(dir, '--baseurl', '/srv/repo');
  });

  it('splits createrepo_c\'s files into their package elements and summarizes primary\'s like the XML parser', async () => {
    const parsed = await parsePrimary(ref.primary);
    const primary = splitPackages(elementsOf(ref.primary), parsed.length, 'primary.xml');
    expect(Buffer.concat(primary)).toEqual(elementsOf(ref.primary));
    const expected = parsed.map((p) => ({
      pkgId: p.pkgId, name: p.name, arch: p.arch, epoch: p.epoch, version: p.version, release: p.release, size: p.size.package, href: p.location.href,
    }));
    expect(primary.map((e) => primarySummary(e.toString('utf8'), 'primary.xml'))).toEqual(expected);
    expect(primary.map((e) => primarySummary(e, 'primary.xml'))).toEqual(expected); // bytes: only the lines it reads are decoded
    expect(parsed.map((p) => p.name)).toContain('odd&name');
    expect(parsed.every((p) => p.location.base === 'file:///srv/repo')).toBe(true);

    for (const xml of [ref.filelists, ref.other]) {
      const elements = splitPackages(elementsOf(xml), parsed.length, 'x.xml');
      expect(elements.map((e) => pkgIdOf(e, 'x.xml'))).toEqual(parsed.map((p) => p.pkgId));
    }
  });

  it('rejects a chunk that holds another number of packages or anything but package elements', () => {
    const elements = elementsOf(ref.filelists);
    expect(() => splitPackages(elements, 99, 'filelists.xml')).toThrow(/holds \d+ packages, its gzip member says 99/);
    expect(() => splitPackages(Buffer.from(`<x/>\n${elements}`), 1, 'filelists.xml')).toThrow(/not a <package> element at byte 0/);
    expect(() => splitPackages(elements.subarray(0, elements.length - 3), 1, 'filelists.xml')).toThrow(/not a <package> element/);
    expect(() => primarySummary('<package type="rpm">\n  <name>x</name>\n</package>\n', 'primary.xml')).toThrow(/not laid out as this writer/);
    expect(() => pkgIdOf(Buffer.from('<package name="x">'), 'other.xml')).toThrow(/no pkgid/);
  });

  it('resolves the references the writers emit', () => {
    expect(unescapeXml('a &amp; b &lt;c&gt; &quot;q&quot; &#9;&#10;&#13; &#xE9;&#x1F600;')).toBe('a & b <c> "q" \t\n\r é😀');
    expect(unescapeXml('plain')).toBe('plain');
  });
});
