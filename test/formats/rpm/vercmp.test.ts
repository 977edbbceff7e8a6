import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { rpmvercmp } from '../../../src/formats/rpm/vercmp';

const PAIRS: Array<[string, string]> = [
  ['1.0', '1.0'], ['1.0', '2.0'], ['2.0.1', '2.0'], ['1.2~beta1', '1.2'], ['1.2~beta1', '1.2~beta2'], ['1.2~~', '1.2~'],
  ['1.2^post1', '1.2'], ['1.2^post1', '1.3'], ['1.2^', '1.2~'], ['1.0a', '1.0'], ['1.0a', '1.0.1'], ['a', '1'],
  ['010', '10'], ['1.01', '1.1'], ['1_0', '1.0'], ['2.34', '2.2.5'], ['1.0', '1.0.0'], ['abc', 'abd'], ['5.5p1', '5.5p10'],
  ['1..2', '1.2'], ['fc40', 'fc9'], ['1.2+git', '1.2'], ['xyz10', 'xyz10.1'], ['1.0~rc1^git1', '1.0~rc1'],
];

describe('rpmvercmp', () => {
  it('agrees with rpm\'s own rpm.vercmp on every pair, both ways', () => {
    // one print of "ab ba;ab ba;...": rpm's lua print does not end lines
    const calls = PAIRS.map(([a, b]) => `rpm.vercmp(${JSON.stringify(a)}, ${JSON.stringify(b)}) .. ' ' .. rpm.vercmp(${JSON.stringify(b)}, ${JSON.stringify(a)})`);
    const out = execFileSync('rpm', ['--eval', `%{lua: print(${calls.join(" .. ';' .. ")})}`], { encoding: 'utf8' }).trim().split(';');
    expect(out).toHaveLength(PAIRS.length);
    PAIRS.forEach(([a, b], i) => {
      const [ab, ba] = out[i].trim().split(/\s+/).map(Number);
      expect([rpmvercmp(a, b), rpmvercmp(b, a)], `${a} vs ${b}`).toEqual([ab, ba]);
    });
  });
});
