import { execFileSync } from 'node:child_process';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Deb822Paragraph } from '../../../src/formats/deb/deb822';
import { distributionPackageOf, renderDistribution, type DistributionPackage, type PackagesChunk } from '../../../src/formats/deb/distribution';
import { readPackagesChunks } from '../../../src/formats/deb/packages-chunks';
import { readPackages } from '../../../src/formats/deb/packages-index';
import { PackageFormatError } from '../../../src/formats/errors';
import { taggedMembers } from '../../../src/formats/rpm/gzip-members';

const NOW = new Date('2026-05-06T07:08:09Z');
const MAX = 256 * 1024 * 1024;
const hex = (n: number, i: number) => (i.toString(16).padStart(8, '0')).repeat(16).slice(0, n);

/** A package of main: every 7th is Architecture: all, every 5th has a non-ASCII description. */
function pkg(i: number): DistributionPackage {
  const name = `pkg${String(i).padStart(4, '0')}`;
  const arch = i % 7 === 0 ? 'all' : 'amd64';
  const description = i % 5 === 0 ? `Grüße von ${name}\n Zweite Zeile, äöü.\n .\n Ende.` : `${name} package\n Long text.`;
  return distributionPackageOf('main', {
    control: Deb822Paragraph.of([['Package', name], ['Version', `1.${i}-1`], ['Architecture', arch], ['Maintainer', 'A <a@example.org>'], ['Description', description]]),
    filename: `pool/stable/main/p/${name}_1.${i}-1_${arch}.deb`,
    size: 1000 + i,
    md5: hex(32, i),
    sha1: hex(40, i),
    sha256: hex(64, i),
  });
}

async function render(packages: readonly DistributionPackage[], chunks?: ReadonlyMap<string, readonly PackagesChunk[]>, compressionLevel?: number) {
  const { files } = await renderDistribution({ distribution: 'stable', packages, chunks, compressionLevel, now: NOW });
  const body = (path: string) => Buffer.from(files.find((f) => f.path === path)!.body);
  return { plain: body('main/binary-amd64/Packages'), gz: body('main/binary-amd64/Packages.gz') };
}

/** The loaded chunks of `gz`, their packages mapped back to `packages` by file name (as the engine does). */
async function loadedChunks(gz: Uint8Array, packages: readonly DistributionPackage[]): Promise<Map<string, PackagesChunk[]>> {
  const byFilename = new Map(packages.map((p) => [p.filename, p]));
  const loaded = (await readPackagesChunks(gz, 'Packages.gz', MAX))!;
  return new Map([['main/binary-amd64', loaded.map((c) => ({ text: c.text, member: c.member, packages: c.stanzas.map((s) => byFilename.get(s.filename)!) }))]]);
}

describe('chunked Packages.gz', () => {
  const packages = Array.from({ length: 1500 }, (_, i) => pkg(i));

  it('is a series of gzip members that gzip itself reads as the Packages text', async () => {
    const { plain, gz } = await render(packages);
    const members = taggedMembers(gz, 'Packages.gz')!;
    expect(members.length).toBeGreaterThan(5);
    expect(members.reduce((n, m) => n + m.packages, 0)).toBe(1500);
    execFileSync('gzip', ['-t'], { input: gz });
    expect(Buffer.compare(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: MAX }), plain)).toBe(0);
  });

  it('reads its own chunks back: every stanza, its bytes and fields as readPackages reads the whole text', async () => {
    const { plain, gz } = await render(packages);
    const loaded = (await readPackagesChunks(gz, 'Packages.gz', MAX))!;
    const stanzas = loaded.flatMap((c) => c.stanzas);
    expect(Buffer.compare(Buffer.concat(stanzas.map((s) => s.stanza)), plain)).toBe(0);
    expect(Buffer.compare(Buffer.concat(loaded.map((c) => c.text)), plain)).toBe(0);
    const parsed = readPackages(plain);
    expect(stanzas.map((s) => [s.name, s.version, s.arch, s.filename, s.size, s.md5, s.sha1, s.sha256]))
      .toEqual(parsed.map((e) => [e.control.get('Package'), e.control.get('Version'), e.control.get('Architecture'), e.filename, e.size, e.md5, e.sha1, e.sha256]));
  });

  it('an update compresses only the chunks it changed, and publishes the bytes a full render publishes', async () => {
    // the first publish at gzip level 1: a member still at level 1 afterwards was reused, not compressed again
    const first = await render(packages, undefined, 1);
    const added = pkg(5000);
    const updated = await render([...packages, added], await loadedChunks(first.gz, packages), 9);
    const full = await render([...packages, added], undefined, 9);
    expect(Buffer.compare(Buffer.from(zlib.gunzipSync(updated.gz)), full.plain)).toBe(0);
    expect(Buffer.compare(updated.plain, full.plain)).toBe(0);
    const members = taggedMembers(updated.gz, 'Packages.gz')!;
    const levelOne = members.filter((m) => m.bytes[8] === 4).length; // XFL 4: fastest compression
    expect(levelOne).toBe(members.length - 1);
    // removing it again reuses every chunk but the one it was in
    const removed = await render(packages, await loadedChunks(updated.gz, [...packages, added]), 9);
    expect(Buffer.compare(removed.plain, first.plain)).toBe(0);
    expect(taggedMembers(removed.gz, 'Packages.gz')!.filter((m) => m.bytes[8] === 4).length).toBe(members.length - 1);
  });

  it('reuses nothing when the package objects are new (read again), and still writes the same bytes', async () => {
    const first = await render(packages, undefined, 1);
    const again = packages.map((p) => ({ ...p }));
    const updated = await render(again, await loadedChunks(first.gz, packages), 9);
    expect(taggedMembers(updated.gz, 'Packages.gz')!.filter((m) => m.bytes[8] === 4)).toEqual([]);
    expect(Buffer.compare(updated.plain, first.plain)).toBe(0);
  });

  it('an empty Packages.gz is one empty member, read back as no stanzas', async () => {
    // amd64 is served, but main's only package is for arm64
    const { files } = await renderDistribution({ distribution: 'stable', packages: [{ ...pkg(1), arch: 'arm64' }], architectures: ['amd64'], now: NOW });
    const body = (path: string) => Buffer.from(files.find((f) => f.path === path)!.body);
    const [plain, gz] = [body('main/binary-amd64/Packages'), body('main/binary-amd64/Packages.gz')];
    expect(plain.length).toBe(0);
    expect(zlib.gunzipSync(gz).length).toBe(0);
    expect((await readPackagesChunks(gz, 'Packages.gz', MAX))!.flatMap((c) => c.stanzas)).toEqual([]);
  });

  it('leaves an index of another tool (no tags) to the Packages reader', async () => {
    const { plain } = await render(packages);
    expect(await readPackagesChunks(zlib.gzipSync(plain), 'Packages.gz', MAX)).toBeUndefined();
  });

  it.each([
    ['a tag claiming another stanza count', (gz: Buffer) => { gz.writeUInt32LE(gz.readUInt32LE(17) + 1, 17); }, /its tag says/],
    ['a corrupt member', (gz: Buffer) => { gz[40] ^= 0xff; }, /corrupt gzip data/],
  ])('refuses %s', async (_name, damage, message) => {
    const gz = Buffer.from((await render(packages)).gz);
    damage(gz);
    await expect(readPackagesChunks(gz, 'Packages.gz', MAX)).rejects.toThrow(PackageFormatError);
    await expect(readPackagesChunks(gz, 'Packages.gz', MAX)).rejects.toThrow(message);
  });

  it('caps the text it inflates', async () => {
    const { gz } = await render(packages);
    await expect(readPackagesChunks(gz, 'Packages.gz', 1000)).rejects.toThrow(/more than 1000 bytes/);
  });
});
