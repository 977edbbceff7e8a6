/**
 * Findings of the hostile-input work that are clearer as a crafted input than as a corpus
 * file. The rpm ones fail until the fixes described in RELIABILITY.md land in
 * src/formats/rpm (owned by another change at the time they were found).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../src/formats/errors';
import { renderDesc, renderFiles, type PacmanDbEntry } from '../../src/formats/pacman/db';
import { buildRpm } from '../../src/formats/rpm/build-rpm';
import { writePrimaryXml } from '../../src/formats/rpm/primary-xml';
import { parsePrimary } from '../../src/formats/rpm/read-metadata';
import { parseRepomd } from '../../src/formats/rpm/repomd-xml';
import { parseRpm } from '../../src/formats/rpm/rpm-file';

/** Time `fn` and what it threw. */
async function timed(fn: () => unknown): Promise<{ ms: number; error: unknown }> {
  const start = performance.now();
  try {
    await fn();
    return { ms: performance.now() - start, error: undefined };
  } catch (error) {
    return { ms: performance.now() - start, error };
  }
}

describe('regressions found by the hostile-input work', () => {
  it('rpm: a package whose Summary holds U+FFFF (valid UTF-8, not an XML character) still gets a well-formed primary.xml', async () => {
    const bytes = buildRpm({ name: 'nonchar', version: '1', release: '1', summary: 'before\uffffafter \ufffe', description: 'd' });
    const pkg = parseRpm(bytes, { href: 'nonchar.rpm', size: bytes.length, mtime: 1, sha256: createHash('sha256').update(bytes).digest('hex') });
    expect(pkg.summary).toBe('before\uffffafter \ufffe');
    const xml = writePrimaryXml([pkg]);
    // python's expat is the reference: it must parse what dnf will download
    const summary = execFileSync('python3', ['-c', 'import sys, xml.etree.ElementTree as E; r = E.fromstring(sys.stdin.buffer.read()); print(r.find(".//{*}summary").text)'],
      { input: xml }).toString('utf8').trim();
    expect(summary).toBe('beforeafter');
    const [back] = await parsePrimary(xml);
    expect(back.summary).toBe('beforeafter ');
  });

  it('rpm: primary.xml and repomd.xml made of NUL characters are refused at once, not one error per character', async () => {
    const flood = '\0'.repeat(256 * 1024);
    const primary = await timed(() => parsePrimary(`<metadata>${flood}</metadata>`));
    const repomd = await timed(() => parseRepomd(`<repomd>${flood}</repomd>`));
    expect(primary.error).toBeInstanceOf(PackageFormatError);
    expect(repomd.error).toBeInstanceOf(PackageFormatError);
    // one error object per bad character made this take ~1.5 s per 256 KiB (6 s per MiB)
    expect(primary.ms).toBeLessThan(250);
    expect(repomd.ms).toBeLessThan(250);
  });

  it('pacman: the database writer refuses what its reader would refuse, instead of writing a database nobody can read back', () => {
    const entry: PacmanDbEntry = {
      filename: 'ok-1-1-any.pkg.tar.zst',
      name: 'ok',
      version: '1-1',
      groups: [],
      csize: 1,
      licenses: [],
      replaces: [],
      conflicts: [],
      provides: [],
      depends: [],
      optdepends: [],
      makedepends: [],
      checkdepends: [],
    };
    expect(renderDesc(entry)).toContain('%NAME%\nok\n');
    expect(() => renderDesc({ ...entry, name: '../evil' })).toThrow(/invalid database entry %NAME% "\.\.\/evil"/);
    expect(() => renderDesc({ ...entry, version: '1-1/../x' })).toThrow(/invalid %VERSION% of ok/);
    expect(() => renderDesc({ ...entry, filename: '../ok.pkg.tar.zst' })).toThrow(/invalid package file name/);
    expect(() => renderDesc({ ...entry, desc: 'lone \ud800 surrogate' })).toThrow(/forbidden character U\+D800/);
    expect(() => renderFiles(['usr/', '/etc/passwd'])).toThrow(/not a relative path inside the package/);
    expect(() => renderFiles(['usr/../../etc/passwd'])).toThrow(/not a relative path inside the package/);
  });
});
