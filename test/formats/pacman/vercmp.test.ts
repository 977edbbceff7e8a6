import { beforeAll, describe, expect, it } from 'vitest';
import { vercmp } from '../../../src/formats/pacman/vercmp';
import { requireTools, runTool } from '../../support/pacman-fixtures';

/** Pairs chosen for rpmvercmp's corner cases: separators, alpha vs numeric, zeros, epochs, releases. */
const VERSIONS = [
  '1.0', '1.0.0', '1.0a', '1.0.a', '1.0alpha', '1.0-1', '1.0-2', '1.0-1.1', '1:1.0', '1:0.9', '2:0-1',
  '1.0rc1', '1.0_1', '1..0', '1.0+1', '001', '1', '01.1', '1.01', 'a', 'b', 'a1', '1a', '0:1.0',
  '1.0-', '-1', '1.2.3-1', '1.2.10-1', '1.2.3a-1', '2.0-1', '2.0.0-1', '1:2.0-1', '20240101-1', '1.0~rc1',
  ':1.0', 'abc', 'abd', '1.0-alpha', '1.0.0.0', '1.0__1',
];

describe('vercmp', () => {
  beforeAll(() => requireTools('vercmp'));

  it(`orders ${VERSIONS.length * VERSIONS.length} version pairs as pacman's vercmp does`, () => {
    const mismatches: string[] = [];
    for (const a of VERSIONS) {
      for (const b of VERSIONS) {
        const expected = Number(runTool('vercmp', [a, b]).toString().trim());
        const actual = vercmp(a, b);
        if (actual !== expected) mismatches.push(`vercmp ${a} ${b}: pacman ${expected}, ours ${actual}`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});
