/* eslint-disable no-bitwise -- sizes written as powers of two */
import { describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../../src/formats/errors';
import { decodeHeader, encodeHeader, HEADER_MAGIC, type HeaderEntry, type HeaderValue } from '../../../src/formats/rpm/header';
import { RPM_LEAD_SIZE } from '../../../src/formats/rpm/rpm-file';
import { RegionTag, RpmTagType } from '../../../src/formats/rpm/tags';
import { buildRpmFixtures, rpmFileInfo } from '../../support/rpm-fixtures';

const ALL_TYPES: HeaderEntry[] = [
  { tag: 1000, value: { type: RpmTagType.STRING, value: 'hello ünïcode 日本' } },
  { tag: 1001, value: { type: RpmTagType.CHAR, values: [65, 0, 255] } },
  { tag: 1002, value: { type: RpmTagType.INT8, values: [1, 2, 3] } },
  { tag: 1003, value: { type: RpmTagType.INT16, values: [0, 0x1234, 0xffff] } },
  { tag: 1004, value: { type: RpmTagType.INT32, values: [0, 1, 0xffffffff] } },
  { tag: 1005, value: { type: RpmTagType.INT64, values: [0n, 1n, 0xffffffffffffffffn] } },
  { tag: 1006, value: { type: RpmTagType.BIN, value: Uint8Array.of(0, 1, 2, 0xfe) } },
  { tag: 1007, value: { type: RpmTagType.STRING_ARRAY, values: ['a', '', 'ccc'] } },
  { tag: 1008, value: { type: RpmTagType.I18NSTRING, values: ['summary'] } },
];

function formatError(fn: () => unknown): PackageFormatError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PackageFormatError) return e;
    throw e;
  }
  throw new Error('expected a PackageFormatError, nothing was thrown');
}

/** A header with a hand-written index: [tag, type, offset, count] rows over `store`. */
function rawHeader(rows: Array<[number, number, number, number]>, store: Uint8Array, counts: { il?: number; dl?: number } = {}): Uint8Array {
  const out = new Uint8Array(16 + 16 * rows.length + store.length);
  const v = new DataView(out.buffer);
  out.set(HEADER_MAGIC, 0);
  v.setUint32(8, counts.il ?? rows.length);
  v.setUint32(12, counts.dl ?? store.length);
  rows.forEach(([tag, type, offset, count], i) => {
    v.setUint32(16 + 16 * i, tag);
    v.setUint32(20 + 16 * i, type);
    v.setInt32(24 + 16 * i, offset);
    v.setUint32(28 + 16 * i, count);
  });
  out.set(store, 16 + 16 * rows.length);
  return out;
}

describe('header codec', () => {
  it('round-trips every data type', () => {
    const bytes = encodeHeader(ALL_TYPES);
    const decoded = decodeHeader(bytes, 0);
    expect(decoded.byteLength).toBe(bytes.length);
    expect(new Map(ALL_TYPES.map((e) => [e.tag, e.value]))).toEqual(decoded.entries);
  });

  it('aligns integers to their width, as rpm requires', () => {
    const bytes = encodeHeader(ALL_TYPES);
    const v = new DataView(bytes.buffer, bytes.byteOffset);
    const width: Record<number, number> = { [RpmTagType.INT16]: 2, [RpmTagType.INT32]: 4, [RpmTagType.INT64]: 8 };
    for (let i = 0; i < ALL_TYPES.length; i++) {
      const type = v.getUint32(16 + 16 * i + 4);
      expect(v.getUint32(16 + 16 * i + 8) % (width[type] ?? 1)).toBe(0);
    }
  });

  it('writes an immutable region whose trailer points back at the whole index', () => {
    const bytes = encodeHeader(ALL_TYPES, { region: RegionTag.HEADERIMMUTABLE });
    const decoded = decodeHeader(bytes, 0);
    const region = decoded.entries.get(RegionTag.HEADERIMMUTABLE) as Extract<HeaderValue, { type: RpmTagType.BIN }>;
    const trailer = new DataView(region.value.buffer, region.value.byteOffset, 16);
    expect([trailer.getUint32(0), trailer.getUint32(4), trailer.getInt32(8), trailer.getUint32(12)])
      .toEqual([RegionTag.HEADERIMMUTABLE, RpmTagType.BIN, -16 * (ALL_TYPES.length + 1), 16]);
    // the first index entry is the region, its data is the last 16 bytes of the store
    const v = new DataView(bytes.buffer, bytes.byteOffset);
    expect(v.getUint32(16)).toBe(RegionTag.HEADERIMMUTABLE);
    expect(v.getUint32(24)).toBe(v.getUint32(12) - 16);
  });

  it('decodes the real headers of every fixture and re-encodes them to the same values', async () => {
    for (const f of (await buildRpmFixtures()).files) {
      const { bytes } = await rpmFileInfo(f);
      const sig = decodeHeader(bytes, RPM_LEAD_SIZE);
      const mainStart = RPM_LEAD_SIZE + Math.ceil(sig.byteLength / 8) * 8;
      const main = decodeHeader(bytes, mainStart);
      expect(main.entries.size).toBeGreaterThan(40);
      const entries = [...main.entries].filter(([tag]) => tag !== RegionTag.HEADERIMMUTABLE).map(([tag, value]) => ({ tag, value }));
      const again = decodeHeader(encodeHeader(entries, { region: RegionTag.HEADERIMMUTABLE }), 0);
      for (const { tag, value } of entries) expect(again.entries.get(tag)).toEqual(value);
    }
  });

  it('decodes a header at an offset inside a larger buffer', () => {
    const inner = encodeHeader(ALL_TYPES);
    const outer = new Uint8Array(inner.length + 37);
    outer.set(inner, 29);
    expect(decodeHeader(outer, 29).entries).toEqual(decodeHeader(inner, 0).entries);
  });

  it('decodes non-UTF-8 strings as ISO-8859-1', () => {
    const h = rawHeader([[1000, RpmTagType.STRING, 0, 1]], Uint8Array.of(0x43, 0x61, 0x66, 0xe9, 0x80, 0));
    expect(decodeHeader(h, 0).entries.get(1000)).toEqual({ type: RpmTagType.STRING, value: 'Caf\u00e9\u0080' });
  });
});

describe('header codec on hostile input: PackageFormatError only, nothing allocated from unchecked sizes', () => {
  const ok = rawHeader([[1000, RpmTagType.STRING, 0, 1]], Uint8Array.of(0x61, 0));

  it.each([
    ['bad magic', () => Uint8Array.of(0x8e, 0xad, 0xe8, 0x02, ...ok.subarray(4)), /unsupported header version 2/],
    ['not a header at all', () => new TextEncoder().encode('<html>hello there, not an rpm</html>'), /bad header magic/],
    ['entry count 0x7fffffff', () => rawHeader([[1000, RpmTagType.STRING, 0, 1]], Uint8Array.of(0x61, 0), { il: 0x7fffffff }), /2147483647 entries, more than the limit of 65536/],
    ['data length 0xffffffff', () => rawHeader([[1000, RpmTagType.STRING, 0, 1]], Uint8Array.of(0x61, 0), { dl: 0xffffffff }), /4294967295 bytes, more than the limit/],
    ['no entries', () => rawHeader([], new Uint8Array(0)), /has no entries/],
    ['offset beyond the store', () => rawHeader([[1000, RpmTagType.STRING, 100, 1]], Uint8Array.of(0x61, 0)), /data offset 100 outside/],
    ['negative offset', () => rawHeader([[1000, RpmTagType.STRING, -16, 1]], Uint8Array.of(0x61, 0)), /data offset -16 outside/],
    ['count far beyond the store', () => rawHeader([[1000, RpmTagType.INT32, 0, 0xffffffff]], new Uint8Array(8)), /4294967295 values cannot fit/],
    ['integers overrunning the store', () => rawHeader([[1000, RpmTagType.INT64, 0, 2]], new Uint8Array(12)), /overrun the data store/],
    ['count 0', () => rawHeader([[1000, RpmTagType.INT32, 0, 0]], new Uint8Array(4)), /count is 0/],
    ['string without NUL', () => rawHeader([[1000, RpmTagType.STRING, 0, 1]], Uint8Array.of(0x61, 0x62)), /not NUL-terminated/],
    ['string array running off the store', () => rawHeader([[1000, RpmTagType.STRING_ARRAY, 0, 3]], Uint8Array.of(0x61, 0, 0x62, 0)), /string 2 of 3 .* not NUL-terminated/],
    ['STRING with count 2', () => rawHeader([[1000, RpmTagType.STRING, 0, 2]], Uint8Array.of(0x61, 0, 0x62, 0)), /STRING with count 2/],
    ['unknown type', () => rawHeader([[1000, 42, 0, 1]], Uint8Array.of(0, 0)), /unknown data type 42/],
    ['entries sharing their data', () => rawHeader(Array.from({ length: 1000 }, (_, i) => [1000 + i, RpmTagType.BIN, 0, 1000] as [number, number, number, number]), new Uint8Array(1000)), /entries overlap/],
    ['index cut short', () => rawHeader([[1000, RpmTagType.STRING, 0, 1]], Uint8Array.of(0x61, 0)).subarray(0, 20), /truncated header: need 34 bytes at offset 0, have 20/],
    ['empty input', () => new Uint8Array(0), /truncated header: need 16 bytes/],
  ])('%s', (_name, make, message) => {
    expect(formatError(() => decodeHeader(make(), 0)).message).toMatch(message);
  });

  it('a 65536-entry, 64 MiB header announced in 16 bytes is refused without reading further', () => {
    const h = rawHeader([], new Uint8Array(0), { il: 65536, dl: 64 * 1024 * 1024 });
    expect(formatError(() => decodeHeader(h, 0)).message).toMatch(/truncated header: need 68157456 bytes/);
  });

  it('limits are configurable', () => {
    const bytes = encodeHeader(ALL_TYPES);
    expect(formatError(() => decodeHeader(bytes, 0, { maxEntries: 3, maxDataLength: 1 << 20 })).message).toMatch(/9 entries, more than the limit of 3/);
    expect(formatError(() => decodeHeader(bytes, 0, { maxEntries: 100, maxDataLength: 10 })).message).toMatch(/more than the limit of 10/);
  });

  it('random bytes behind a valid magic never escape as another error', () => {
    for (let i = 0; i < 2000; i++) {
      const junk = new Uint8Array(16 + Math.floor(Math.random() * 600));
      crypto.getRandomValues(junk);
      junk.set(HEADER_MAGIC, 0);
      // keep the announced sizes small sometimes, so the index gets decoded
      if (i % 2) new DataView(junk.buffer).setUint32(8, 1 + (i % 20));
      if (i % 2) new DataView(junk.buffer).setUint32(12, Math.max(0, junk.length - 16 - 16 * (1 + (i % 20))));
      try {
        decodeHeader(junk, 0);
      } catch (e) {
        expect(e).toBeInstanceOf(PackageFormatError);
      }
    }
  });
});
