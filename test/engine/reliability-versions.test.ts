import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { apkFormat } from '../../src/engine/formats/apk';
import { aptFormat } from '../../src/engine/formats/apt';
import { pacmanFormat } from '../../src/engine/formats/pacman';
import { yumFormat } from '../../src/engine/formats/yum';
import { compareDebVersions, parseDebVersion } from '../../src/formats/deb/version';

/** A small deterministic generator (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Versions built from pieces that stress the orderings, and pairs that are often close. */
function versionPairs(
  seed: number,
  count: number,
  pieces: readonly string[],
  make: (next: () => number, body: () => string) => string,
): Array<[string, string]> {
  const next = random(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)];
  const body = () => {
    let text = pick(['0', '1', '2', '10', '01', '1.0', '2.10']);
    const n = Math.floor(next() * 4);
    for (let i = 0; i < n; i++) text += pick(pieces);
    return text;
  };
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < count; i++) {
    const a = make(next, body);
    // half of the pairs differ by one small edit: equal prefixes are where orderings disagree
    const b = next() < 0.5 ? make(next, body) : next() < 0.5 ? a + pick(pieces) : a.replace(/[0-9]$/, pick(['0', '9', '~1', 'a']));
    pairs.push([a, b]);
  }
  return pairs;
}

/** Runs a shell loop over "a b" lines and returns its output lines as -1/0/1. */
function shellCompare(script: string, pairs: ReadonlyArray<[string, string]>): number[] {
  const input = pairs.map(([a, b]) => `${a} ${b}`).join('\n') + '\n';
  return execFileSync('bash', ['-c', `while read -r a b; do ${script}; done`], { input, encoding: 'utf8' })
    .trim().split('\n').map((l) => Math.sign(Number(l)));
}

const sign = (n: number) => Math.sign(n);

describe('compareVersions of each format, against the real tools', () => {
  it('apt: dpkg --compare-versions agrees on 400 generated pairs', () => {
    const pairs = versionPairs(8, 400, ['.', '~', '~rc1', '+b1', '+', 'a', 'z', 'A', '0', '9', '00', '.5', '-1', '-0', '-1ubuntu2', '-1~bpo1'], (next, body) => {
      const epoch = next() < 0.2 ? `${Math.floor(next() * 3)}:` : '';
      const revision = next() < 0.6 ? `-${body()}` : '';
      return `${epoch}${body()}${revision}`;
    }).map(([a, b]): [string, string] => [a, b.replace(/^[^0-9]/, '1')]);
    const expected = shellCompare('if dpkg --compare-versions "$a" lt "$b"; then echo -1; elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi', pairs);
    const format = aptFormat();
    const got = pairs.map(([a, b]) => sign(format.compareVersions(a, b)));
    expect(pairs.filter((_, i) => got[i] !== expected[i])).toEqual([]);
    // the generator reaches all three answers, often
    for (const answer of [-1, 0, 1]) expect(expected.filter((e) => e === answer).length).toBeGreaterThan(20);
  });

  it('apt: the documented corner cases (~ before the end, letters before other characters, epochs)', () => {
    expect(compareDebVersions('1.0~rc1', '1.0')).toBeLessThan(0);
    expect(compareDebVersions('1.0~~', '1.0~')).toBeLessThan(0);
    expect(compareDebVersions('1.0a', '1.0+')).toBeLessThan(0);
    expect(compareDebVersions('1:0.1', '9.9')).toBeGreaterThan(0);
    expect(compareDebVersions('1.0', '1.0-0')).toBe(0);
    expect(compareDebVersions('1.01', '1.1')).toBe(0);
    expect(parseDebVersion('2:1.0-a-b')).toEqual({ epoch: 2, upstream: '1.0-a', revision: 'b' });
  });

  it('yum: rpm.vercmp (rpm\'s own Lua binding) agrees on 400 generated epoch:version-release pairs', () => {
    const pairs = versionPairs(11, 400, ['.', '~', '~rc1', '^', '^post1', '_', '+', 'a', 'Z', '0', '9', '00', '.5', 'git'], (next, body) => {
      const epoch = next() < 0.2 ? `${Math.floor(next() * 3)}:` : '';
      return `${epoch}${body()}-${body()}`;
    });
    // rpm's Lua print writes into the macro expansion without a line break: separate by commas
    const lua = pairs.map(([a, b]) => `print(rpm.vercmp(${JSON.stringify(a)}, ${JSON.stringify(b)}) .. ",")`).join(' ');
    const expected = execFileSync('rpm', ['--eval', `%{lua: ${lua}}`], { encoding: 'utf8' }).trim().replace(/,$/, '').split(',').map((l) => Math.sign(Number(l)));
    expect(expected).toHaveLength(pairs.length);
    const format = yumFormat();
    const got = pairs.map(([a, b]) => sign(format.compareVersions(a, b)));
    expect(pairs.filter((_, i) => got[i] !== expected[i])).toEqual([]);
    for (const answer of [-1, 0, 1]) expect(expected.filter((e) => e === answer).length).toBeGreaterThan(20);
  });

  it('pacman: the vercmp tool agrees on 300 generated pairs', () => {
    const pairs = versionPairs(5, 300, ['.', 'a', 'rc1', 'beta', '+', '_', '0', '9', '.5', 'r1'], (next, body) => {
      const epoch = next() < 0.2 ? `${Math.floor(next() * 3)}:` : '';
      const release = next() < 0.7 ? `-${Math.floor(next() * 3) + 1}` : '';
      return `${epoch}${body()}${release}`;
    });
    const expected = shellCompare('vercmp "$a" "$b"', pairs);
    const format = pacmanFormat();
    const got = pairs.map(([a, b]) => sign(format.compareVersions(a, b)));
    expect(pairs.filter((_, i) => got[i] !== expected[i])).toEqual([]);
    for (const answer of [-1, 0, 1]) expect(expected.filter((e) => e === answer).length).toBeGreaterThan(5);
  });

  it('apk: the ordering the APKBUILD reference documents (pre-release suffixes < release < post-release suffixes, -r)', () => {
    // wiki.alpinelinux.org/wiki/APKBUILD_Reference#pkgver: _alpha _beta _pre _rc < (none) < _cvs _svn _git _hg _p
    const ordered = ['1.0_alpha', '1.0_alpha2', '1.0_beta', '1.0_pre', '1.0_rc1', '1.0', '1.0-r1', '1.0_cvs', '1.0_svn', '1.0_git', '1.0_hg', '1.0_p1', '1.0a', '1.0.1', '1.2', '1.10'];
    const format = apkFormat();
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        expect([ordered[i], ordered[j], sign(format.compareVersions(ordered[i], ordered[j]))]).toEqual([ordered[i], ordered[j], sign(i - j)]);
      }
    }
  });
});
