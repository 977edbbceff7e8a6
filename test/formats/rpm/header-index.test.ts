import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../../src/formats/errors';
import { decodeHeader, indexHeader, type DecodedHeader, type HeaderIndex } from '../../../src/formats/rpm/header';
import { RPM_LEAD_SIZE, rpmHeaderSpan } from '../../../src/formats/rpm/rpm-file';
import { buildRpmFixtures } from '../../support/rpm-fixtures';

/** The value of every tag `decodeHeader` found, asked of the lazy index; or the error both throw. */
function both(bytes: Uint8Array, offset: number): { eager: DecodedHeader | PackageFormatError; lazy: HeaderIndex | PackageFormatError } {
  const attempt = <T>(f: () => T): T | PackageFormatError => {
    try {
      return f();
    } catch (e) {
      if (e instanceof PackageFormatError) return e;
      throw e;
    }
  };
  return { eager: attempt(() => decodeHeader(bytes, offset)), lazy: attempt(() => indexHeader(bytes, offset)) };
}

function expectSame(bytes: Uint8Array, offset: number): void {
  const { eager, lazy } = both(bytes, offset);
  if (eager instanceof PackageFormatError || lazy instanceof PackageFormatError) {
    expect(lazy).toBeInstanceOf(PackageFormatError);
    expect((lazy as Error).message).toBe((eager as Error).message);
    return;
  }
  expect(lazy.byteLength).toBe(eager.byteLength);
  const tags = [...eager.entries.keys()];
  expect(tags.every((t) => lazy.has(t) && lazy.get(t) === lazy.get(t))).toBe(true); // decoded once, then remembered
  expect(new Map(tags.map((t) => [t, lazy.get(t)]))).toEqual(eager.entries);
  expect(lazy.has(0x7fffffff)).toBe(false);
  expect(lazy.get(0x7fffffff)).toBeUndefined();
}

/** Where the main header starts: after the lead and the signature header, padded to 8 bytes. */
function mainStart(bytes: Uint8Array): number {
  const sig = decodeHeader(bytes, RPM_LEAD_SIZE).byteLength;
  return RPM_LEAD_SIZE + sig + ((8 - (sig % 8)) % 8);
}

describe('indexHeader: the checks of decodeHeader, values decoded on demand', () => {
  let packages: Buffer[];
  beforeAll(async () => {
    packages = await Promise.all((await buildRpmFixtures()).files.map((f) => readFile(f)));
  });

  it('gives every value decodeHeader gives, for the signature and main header of every fixture', () => {
    for (const bytes of packages) {
      expectSame(bytes, RPM_LEAD_SIZE);
      expectSame(bytes, mainStart(bytes));
    }
  });

  it('rejects exactly what decodeHeader rejects, with the same message (random corruption)', () => {
    const real = packages[0];
    const span = rpmHeaderSpan(real)!;
    const main = mainStart(real);
    for (let i = 0; i < 500; i++) {
      const bad = Buffer.from(real.subarray(0, span));
      for (let k = 0; k < 1 + (i % 4); k++) {
        bad[RPM_LEAD_SIZE + Math.floor(Math.random() * (span - RPM_LEAD_SIZE))] = i % 3 === 0 ? 0xff : Math.floor(Math.random() * 256);
      }
      expectSame(bad, RPM_LEAD_SIZE);
      expectSame(bad, main);
    }
  });
});
