import { describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../../src/formats/errors';
import { parseDbSummary, renderDbSummary, type SummaryEntry } from '../../../src/formats/pacman';

const entry = (i: number): SummaryEntry => ({
  filename: `pkg${i}-1.0-1-x86_64.pkg.tar.zst`, csize: 1000 + i, sha256sum: String(i % 10).repeat(64), name: `pkg${i}`, version: '1.0-1', arch: i % 2 ? 'x86_64' : '',
});

describe('db summary', () => {
  it('reads back what it wrote, chunk by chunk', () => {
    const chunks = [[entry(1), entry(2)], [entry(3)], [{ ...entry(4), sha256sum: '' }]];
    expect(parseDbSummary(Buffer.from(renderDbSummary(chunks)), [2, 1, 1], 's.json')).toEqual(chunks);
  });

  it.each([
    ['other chunk counts', renderDbSummary([[entry(1)]]), [2], /chunk 0 does not hold the 2 entries/],
    ['another number of chunks', renderDbSummary([[entry(1)]]), [1, 1], /describes 1 chunks, the database has 2/],
    ['not JSON', '{', [1], /not JSON/],
    ['another version', '{"version":9,"chunks":[]}', [], /not a summary of version 1/],
    ['a short row', '{"version":1,"chunks":[[["a.pkg.tar.zst",1,"","a","1-1"]]]}', [1], /entry 0 of chunk 0 is not a row of 6 fields/],
    ['a path as file name', JSON.stringify({ version: 1, chunks: [[['../a-1-1-any.pkg.tar.zst', 1, '', 'a', '1-1', 'any']]] }), [1], /entry 0 of chunk 0 is malformed/],
    ['a bad digest', JSON.stringify({ version: 1, chunks: [[['a-1-1-any.pkg.tar.zst', 1, 'xyz', 'a', '1-1', 'any']]] }), [1], /malformed/],
    ['a negative size', JSON.stringify({ version: 1, chunks: [[['a-1-1-any.pkg.tar.zst', -1, '', 'a', '1-1', 'any']]] }), [1], /malformed/],
  ])('refuses %s', (_what, text, counts, message) => {
    expect(() => parseDbSummary(Buffer.from(text), counts, 's.json')).toThrow(PackageFormatError);
    expect(() => parseDbSummary(Buffer.from(text), counts, 's.json')).toThrow(message);
  });
});
