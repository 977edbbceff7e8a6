import { describe, expect, it } from 'vitest';
import { aptFormat, layoutOf } from '../../../src/engine/formats/apt';

describe('aptFormat layout', () => {
  const format = aptFormat();

  it.each([
    ['pool/stable/main/h/hello_2.10-3_amd64.deb', 'apt:stable', '', 'main', 'pool/stable/main/h/hello_2.10-3_amd64.deb'],
    ['pool/stable/main/x_1_all.deb', 'apt:stable', '', 'main', 'pool/stable/main/x_1_all.deb'],
    ['debian/pool/bookworm/contrib/a/b/c_1.0~rc1+b1_arm64.deb', 'apt:debian/bookworm', 'debian/', 'contrib', 'pool/bookworm/contrib/a/b/c_1.0~rc1+b1_arm64.deb'],
  ])('%s is in %s', (key, id, root, component, filename) => {
    expect(layoutOf(key)).toEqual({ unit: { id, root, params: { distribution: id.replace(/^apt:.*?([^/]+)$/, '$1') } }, component, filename });
    expect(format.unitOf(key)?.id).toBe(id);
  });

  it.each(['hello.deb', 'pool/hello.deb', 'pool/stable/hello.deb', 'pool/sta ble/main/x.deb', 'dists/stable/main/x.deb'])('%s fits no distribution', (key) => {
    expect(format.unitOf(key)).toBeUndefined();
  });

  it('finds distributions from their Release or InRelease', () => {
    expect(format.unitsOfMetadata!('dists/stable/Release')?.id).toBe('apt:stable');
    expect(format.unitsOfMetadata!('repo/dists/testing/InRelease')?.id).toBe('apt:repo/testing');
    expect(format.unitsOfMetadata!('dists/stable/main/binary-amd64/Packages')).toBeUndefined();
  });

  it('owns Release files, Packages in every compression and by-hash copies of its distribution only', () => {
    const unit = format.unitOf('pool/stable/main/x_1_all.deb')!;
    expect(format.metadataPrefixes!(unit)).toEqual(['dists/stable/']);
    const owned = (key: string) => format.isOwnedMetadata(unit, key);
    for (const key of ['dists/stable/InRelease', 'dists/stable/Release', 'dists/stable/Release.gpg', 'dists/stable/main/binary-amd64/Packages',
      'dists/stable/main/binary-amd64/Packages.gz', 'dists/stable/main/binary-amd64/Packages.xz',
      `dists/stable/main/binary-arm64/by-hash/SHA256/${'a'.repeat(64)}`]) {
      expect(owned(key), key).toBe(true);
    }
    for (const key of ['dists/testing/Release', 'pool/stable/main/x_1_all.deb', 'dists/stable/main/Contents-amd64.gz', 'dists/stable/README']) {
      expect(owned(key), key).toBe(false);
    }
  });

  it('refuses a configured architecture that is not a name', () => {
    expect(() => aptFormat({ architectures: ['amd64 arm64'] })).toThrow(/invalid architecture/);
  });
});
