import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../../src/formats/errors';
import { parseRepomd, writeRepomd } from '../../../src/formats/rpm/repomd-xml';
import { buildRpmFixtures, copyToTempDir, runCreaterepo } from '../../support/rpm-fixtures';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('repomd.xml', () => {
  it('parse -> write reproduces createrepo_c\'s repomd.xml byte for byte, and its records describe the files', async () => {
    const dir = await copyToTempDir((await buildRpmFixtures()).files);
    const { repomd } = await runCreaterepo(dir);
    const parsed = parseRepomd(repomd);
    expect(writeRepomd(parsed)).toBe(repomd);
    expect(parsed.records.map((r) => r.type)).toEqual(['primary', 'filelists', 'other']);
    for (const r of parsed.records) {
      const stored = await readFile(join(dir, r.href));
      const open = gunzipSync(stored);
      expect(r).toEqual({
        type: r.type,
        href: `repodata/${r.type}.xml.gz`,
        checksumType: 'sha256',
        checksum: sha256(stored),
        openChecksum: sha256(open),
        size: stored.length,
        openSize: open.length,
        timestamp: Math.floor((await stat(join(dir, r.href))).mtimeMs / 1000),
      });
    }
  });

  it('matches createrepo_c with hash-named files too', async () => {
    const dir = await copyToTempDir((await buildRpmFixtures()).files);
    const { execFileSync } = await import('node:child_process');
    execFileSync('createrepo_c', ['--quiet', '--no-database', dir]);
    const repomd = await readFile(join(dir, 'repodata', 'repomd.xml'), 'utf8');
    const parsed = parseRepomd(repomd);
    expect(writeRepomd(parsed)).toBe(repomd);
    for (const r of parsed.records) expect(r.href).toBe(`repodata/${r.checksum}-${r.type}.xml.gz`);
  });

  it('writes optional fields only when present', () => {
    const xml = writeRepomd({ revision: '7', records: [{ type: 'group', href: 'repodata/comps.xml', checksum: 'ab', size: 3, timestamp: 9 }] });
    expect(xml).toBe('<?xml version="1.0" encoding="UTF-8"?>\n'
      + '<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">\n'
      + '  <revision>7</revision>\n  <data type="group">\n    <checksum type="sha256">ab</checksum>\n'
      + '    <location href="repodata/comps.xml"/>\n    <timestamp>9</timestamp>\n    <size>3</size>\n  </data>\n</repomd>\n');
    expect(parseRepomd(xml).records[0]).toEqual({ type: 'group', href: 'repodata/comps.xml', checksumType: 'sha256', checksum: 'ab', size: 3, timestamp: 9 });
  });

  it.each([
    ['not XML', 'garbage', /not well-formed/],
    ['wrong root', '<metadata/>', /root element is <metadata>/],
    ['data without type', '<repomd><data><checksum>a</checksum></data></repomd>', /<data> without a type/],
    ['no location', '<repomd><data type="primary"><checksum>a</checksum><size>1</size></data></repomd>', /primary record has no <location href>/],
    ['bad size', '<repomd><data type="primary"><location href="x"/><checksum>a</checksum><size>lots</size></data></repomd>', /<size> of the primary record is not a non-negative integer/],
    ['too long', `<repomd>${' '.repeat(5 * 1024 * 1024)}</repomd>`, /more than the limit/],
  ])('rejects %s', (_name, xml, message) => {
    expect(() => parseRepomd(xml)).toThrow(PackageFormatError);
    expect(() => parseRepomd(xml)).toThrow(message);
  });
});
