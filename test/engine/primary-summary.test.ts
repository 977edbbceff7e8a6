import { describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../src/formats/errors';
import { parsePrimarySummary, renderPrimarySummary, type PrimarySummaryEntry } from '../../src/formats/rpm';

const entry = (i: number): PrimarySummaryEntry => ({
  href: `Packages/p/pkg${i}-1.0-1.x86_64.rpm`, size: 1000 + i, name: `pkg${i}`, evr: i % 2 ? '1.0-1' : '2:1.0-1', arch: 'x86_64', pkgId: String(i % 10).repeat(64),
});
const row = (href: unknown, size: unknown = 1, pkgId: unknown = 'a'.repeat(64)) => JSON.stringify({ version: 1, chunks: [[[href, size, 'a', '1-1', 'noarch', pkgId]]] });

describe('primary.xml summary (the engine state an update lists yum packages from)', () => {
  it('reads back what it wrote, chunk by chunk', () => {
    const chunks = [[entry(1), entry(2)], [entry(3)]];
    expect(parsePrimarySummary(Buffer.from(renderPrimarySummary(chunks)), [2, 1], 's.json')).toEqual(chunks);
  });

  it.each([
    ['other chunk counts', renderPrimarySummary([[entry(1)]]), [2], /chunk 0 does not hold the 2 packages/],
    ['another number of chunks', renderPrimarySummary([[entry(1)]]), [1, 1], /describes 1 chunks, primary.xml has 2/],
    ['not JSON', '[', [1], /not JSON/],
    ['another version', '{"version":2,"chunks":[]}', [], /not a summary of version 1/],
    ['a short row', '{"version":1,"chunks":[[["a.rpm",1,"a","1-1","noarch"]]]}', [1], /package 0 of chunk 0 is not a row of 6 fields/],
    ['a location with ..', row('Packages/../../a.rpm'), [1], /package 0 of chunk 0 is malformed/],
    ['an absolute location', row('/a.rpm'), [1], /malformed/],
    ['an empty segment', row('Packages//a.rpm'), [1], /malformed/],
    ['a fractional size', row('a.rpm', 1.5), [1], /malformed/],
    ['a bad pkgid', row('a.rpm', 1, 'zz'), [1], /malformed/],
  ])('refuses %s', (_what, text, counts, message) => {
    expect(() => parsePrimarySummary(Buffer.from(text), counts, 's.json')).toThrow(PackageFormatError);
    expect(() => parsePrimarySummary(Buffer.from(text), counts, 's.json')).toThrow(message);
  });
});
