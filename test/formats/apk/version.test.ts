import { describe, expect, it } from 'vitest';
import { compareApkVersions, isValidApkVersion } from '../../../src/formats/apk/version';

// The grammar and order below are apk-tools' (doc/apk-version.8, src/version.c):
// pre-release suffixes sort before the release, post-release ones and revisions after it.
describe('apk versions', () => {
  it.each([
    '1', '1.0', '2.14.0-r3', '1.0_rc1-r0', '1.2.3a', '1.0_git20230101', '1.0_p1_rc2', '0.0.1_alpha',
    '1.0_beta2-r10', '20240101', '1.2.3_pre4_p5-r6', '6.6.30-r0',
  ])('accepts %s', (v) => {
    expect(isValidApkVersion(v)).toBe(true);
  });

  it.each([
    '1.0-1', '1.0_foo', '1.0-r1.2', '1.0-r1_p1', '1.0 ', '1/2', '1.0~abc', '1.0-R1', '1.0ab',
    '1234567890123456789',
  ])('rejects %s', (v) => {
    expect(isValidApkVersion(v)).toBe(false);
  });

  it('orders pre-release < release < revision < patch < letter < next number', () => {
    const ascending = [
      '1.0_alpha', '1.0_alpha1', '1.0_beta', '1.0_pre1', '1.0_rc1', '1.0_rc2', '1.0_rc10', '1.0',
      '1.0-r1', '1.0-r2', '1.0-r10', '1.0_p1', '1.0a', '1.0.1', '1.1', '1.10', '2',
    ];
    for (let i = 0; i < ascending.length; i++) {
      for (let j = 0; j < ascending.length; j++) {
        expect(Math.sign(compareApkVersions(ascending[i], ascending[j])), `${ascending[i]} vs ${ascending[j]}`)
          .toBe(Math.sign(i - j));
      }
    }
  });

  it('treats leading zeros after a dot as a fraction (1.01 < 1.1) and equal spellings as equal', () => {
    expect(compareApkVersions('1.01', '1.1')).toBeLessThan(0);
    expect(compareApkVersions('1.0.0', '1.0.0')).toBe(0);
    expect(compareApkVersions('99999999999999999', '99999999999999998')).toBeGreaterThan(0);
  });
});
