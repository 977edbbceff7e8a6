import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Deb822Paragraph } from '../../../src/formats/deb/deb822';
import { distributionPackageOf, renderDistribution, type DistributionPackage } from '../../../src/formats/deb/distribution';
import { readPackages } from '../../../src/formats/deb/packages-index';
import { readRelease } from '../../../src/formats/deb/release';

function pkg(component: string, name: string, arch: string): DistributionPackage {
  const hex = (n: number, c: string) => c.repeat(n);
  return distributionPackageOf(component, {
    control: Deb822Paragraph.of([['Package', name], ['Version', '1.0'], ['Architecture', arch], ['Description', `${name} package`]]),
    filename: `pool/stable/${component}/${name}_1.0_${arch}.deb`,
    size: 100,
    md5: hex(32, 'a'),
    sha1: hex(40, 'b'),
    sha256: hex(64, 'c'),
  });
}

const NOW = new Date('2026-05-06T07:08:09.500Z');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('renderDistribution', () => {
  const packages = [pkg('main', 'a', 'amd64'), pkg('main', 'b', 'arm64'), pkg('main', 'c', 'all'), pkg('contrib', 'd', 'amd64')];

  it('puts Architecture: all packages into every architecture and the others into their own', async () => {
    const { files } = await renderDistribution({ distribution: 'stable', packages, now: NOW });
    const names = (path: string) => readPackages(files.find((f) => f.path === path)!.body).map((e) => e.control.get('Package'));
    expect(names('main/binary-amd64/Packages')).toEqual(['a', 'c']);
    expect(names('main/binary-arm64/Packages')).toEqual(['b', 'c']);
    expect(names('contrib/binary-amd64/Packages')).toEqual(['d']);
    expect(names('contrib/binary-arm64/Packages')).toEqual([]);
  });

  it('lists the uncompressed and the gzip path of every index, each with a by-hash copy of the same bytes', async () => {
    const { files, release, releaseText } = await renderDistribution({ distribution: 'stable', packages, now: NOW });
    expect(readRelease(Buffer.from(releaseText))).toEqual(release);
    expect(release.files.map((f) => f.path).sort()).toEqual(['contrib', 'main'].flatMap((c) => ['amd64', 'arm64']
      .flatMap((a) => [`${c}/binary-${a}/Packages`, `${c}/binary-${a}/Packages.gz`])).sort());
    for (const listed of release.files) {
      const file = files.find((f) => f.path === listed.path)!;
      expect([file.body.length, sha256(file.body), file.kind]).toEqual([listed.size, listed.sha256, 'manifest']);
      const copy = files.find((f) => f.path === `${listed.path.replace(/[^/]+$/, '')}by-hash/SHA256/${listed.sha256}`)!;
      expect(Buffer.compare(copy.body, file.body)).toBe(0);
      expect(copy.kind).toBe('immutable');
    }
    const gz = files.find((f) => f.path === 'main/binary-amd64/Packages.gz')!.body;
    expect(zlib.gunzipSync(gz).toString()).toBe(Buffer.from(files.find((f) => f.path === 'main/binary-amd64/Packages')!.body).toString());
    const kinds = files.map((f) => f.kind);
    expect(kinds.indexOf('manifest')).toBeGreaterThan(kinds.lastIndexOf('immutable'));
  });

  it('is deterministic', async () => {
    const a = await renderDistribution({ distribution: 'stable', packages, now: NOW });
    const b = await renderDistribution({ distribution: 'stable', packages: [...packages].reverse(), now: NOW });
    expect(b.releaseText).toBe(a.releaseText);
  });

  it('serves configured architectures, and binary-all alone when nothing else is there', async () => {
    const configured = await renderDistribution({ distribution: 'stable', packages: [pkg('main', 'c', 'all')], architectures: ['riscv64'], now: NOW });
    expect(configured.release.architectures).toEqual(['riscv64']);
    const allOnly = await renderDistribution({ distribution: 'stable', packages: [pkg('main', 'c', 'all')], now: NOW });
    expect(allOnly.release.architectures).toEqual(['all']);
    expect(allOnly.files.map((f) => f.path)).toContain('main/binary-all/Packages');
  });

  it('carries over Date (+1 s), Origin, Label, Codename, components and architectures; Suite is the distribution', async () => {
    const first = await renderDistribution({ distribution: 'stable', packages, now: NOW, origin: 'O', label: 'L', validForSeconds: 3600 });
    expect(first.release.validUntil?.toISOString()).toBe('2026-05-06T08:08:09.000Z');
    const second = await renderDistribution({
      distribution: 'stable',
      packages: [pkg('main', 'c', 'all')],
      now: new Date('2026-05-06T07:08:09.900Z'),
      previous: { ...first.release, codename: 'bookworm', suite: 'old' },
      origin: 'changed',
      label: 'changed',
    });
    const r = second.release;
    expect([r.origin, r.label, r.codename, r.suite]).toEqual(['O', 'L', 'bookworm', 'stable']);
    expect(r.date.toISOString()).toBe('2026-05-06T07:08:10.000Z');
    expect([r.components, r.architectures]).toEqual([['contrib', 'main'], ['amd64', 'arm64']]);
    expect(readPackages(second.files.find((f) => f.path === 'contrib/binary-arm64/Packages')!.body)).toEqual([]);
  });

  it('rejects names that would break paths or the Release', async () => {
    await expect(renderDistribution({ distribution: '../x', packages, now: NOW })).rejects.toThrow(/invalid distribution name/);
    await expect(renderDistribution({ distribution: 'stable', packages: [pkg('ma in', 'a', 'amd64')], now: NOW })).rejects.toThrow(/invalid architecture or component/);
    await expect(renderDistribution({ distribution: 'stable', packages, now: NOW, validForSeconds: -5 })).rejects.toThrow(/validFor/);
  });
});
