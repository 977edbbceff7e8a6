/**
 * Where the structure of a (valid) seed lies: boundaries to truncate at, and the length and
 * count fields to fill with huge values. Located from the formats' specifications; the
 * readers under test are never used to find them.
 */
import { gzipMemberRanges, readArchive } from './codec';

/** How a length or count field is written. */
export type Encoding =
  | 'u32be' // rpm header counts, sizes and offsets
  | 'u32le' // gzip CRC-32 and ISIZE
  | 'ar-decimal' // ar member size (10 ASCII digits, space padded)
  | 'tar-size' // ustar size (11 octal digits and NUL, or base-256)
  | 'zstd-window' // zstd window descriptor byte
  | 'text-number'; // a decimal number in a text format (any width)

/** One length or count field. */
export interface LengthField {
  readonly offset: number;
  readonly width: number;
  readonly encoding: Encoding;
  readonly what: string;
  /** For fields inside a tar header: that header's offset (its checksum may be fixed up). */
  readonly tarHeader?: number;
}

/** The structure of one input. */
export interface Structure {
  readonly boundaries: readonly number[];
  readonly lengths: readonly LengthField[];
}

/** Most fields recorded per input: enough variety, bounded work. */
const MAX_FIELDS = 4096;

function u32be(b: Uint8Array, at: number): number {
  return ((b[at] * 0x1000000) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3]) >>> 0; // eslint-disable-line no-bitwise
}

/** Lead, both headers (index counts, data lengths, every entry's offset and count). */
export function rpmStructure(bytes: Uint8Array): Structure {
  const boundaries = [4, 96];
  const lengths: LengthField[] = [];
  let at = 96;
  for (const what of ['signature header', 'main header']) {
    if (at + 16 > bytes.length) break;
    const entries = u32be(bytes, at + 8);
    const data = u32be(bytes, at + 12);
    lengths.push({ offset: at + 8, width: 4, encoding: 'u32be', what: `${what} entry count` });
    lengths.push({ offset: at + 12, width: 4, encoding: 'u32be', what: `${what} data length` });
    boundaries.push(at, at + 16);
    for (let i = 0; i < entries && lengths.length < MAX_FIELDS; i++) {
      const e = at + 16 + 16 * i;
      boundaries.push(e);
      lengths.push({ offset: e + 4, width: 4, encoding: 'u32be', what: `${what} entry ${i} type` });
      lengths.push({ offset: e + 8, width: 4, encoding: 'u32be', what: `${what} entry ${i} offset` });
      lengths.push({ offset: e + 12, width: 4, encoding: 'u32be', what: `${what} entry ${i} count` });
    }
    const store = at + 16 + 16 * entries;
    const end = store + data;
    boundaries.push(store, end - 16, end);
    at = end + ((8 - (data % 8)) % 8);
    boundaries.push(at);
  }
  return { boundaries, lengths };
}

/** ar member headers (size fields) of a valid archive, plus `base` added to every offset. */
export function arStructure(bytes: Uint8Array, base = 0): Structure {
  const boundaries = [base, base + 8];
  const lengths: LengthField[] = [];
  for (const m of readArchive(bytes)) {
    lengths.push({ offset: base + m.offset + 48, width: 10, encoding: 'ar-decimal', what: `ar member ${m.name} size` });
    boundaries.push(base + m.offset, base + m.offset + 60, base + m.offset + 60 + m.data.length);
  }
  return { boundaries, lengths };
}

/** ustar headers (size fields, PAX record lengths) of a valid tar. */
export function tarStructure(bytes: Uint8Array, base = 0): Structure {
  const boundaries: number[] = [base];
  const lengths: LengthField[] = [];
  let at = 0;
  while (at + 512 <= bytes.length && lengths.length < MAX_FIELDS) {
    const header = bytes.subarray(at, at + 512);
    if (header.every((b) => b === 0)) {
      boundaries.push(base + at);
      break;
    }
    const sizeText = Buffer.from(header.subarray(124, 136)).toString('latin1').replace(/[\0 ]+$/, '').trim();
    const size = sizeText === '' ? 0 : parseInt(sizeText, 8) || 0;
    lengths.push({ offset: base + at + 124, width: 12, encoding: 'tar-size', what: `tar entry size at ${at}`, tarHeader: base + at });
    boundaries.push(base + at, base + at + 100, base + at + 512, base + at + 512 + size);
    const type = String.fromCharCode(header[156]);
    if (type === 'x' || type === 'g') {
      const records = Buffer.from(bytes.subarray(at + 512, at + 512 + size)).toString('latin1');
      for (const m of records.matchAll(/(^|\n)(\d+) /g)) {
        lengths.push({ offset: base + at + 512 + m.index + m[1].length, width: m[2].length, encoding: 'text-number', what: 'PAX record length' });
      }
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return { boundaries, lengths };
}

/** Header, trailer CRC-32 and ISIZE of every member of a valid gzip buffer. */
export function gzipStructure(bytes: Uint8Array, base = 0): Structure {
  const boundaries: number[] = [];
  const lengths: LengthField[] = [];
  for (const { start, end } of gzipMemberRanges(bytes)) {
    boundaries.push(base + start, base + start + 10, base + end - 8, base + end - 4, base + end);
    lengths.push({ offset: base + end - 4, width: 4, encoding: 'u32le', what: `gzip ISIZE of the member at ${start}` });
    lengths.push({ offset: base + end - 8, width: 4, encoding: 'u32le', what: `gzip CRC-32 of the member at ${start}` });
  }
  return { boundaries, lengths };
}

/** The window descriptor of a zstd frame that has one. */
export function zstdStructure(bytes: Uint8Array, base = 0): Structure {
  const singleSegment = (bytes[4] & 0x20) !== 0; // eslint-disable-line no-bitwise
  return {
    boundaries: [base, base + 4, base + 6, base + bytes.length],
    lengths: singleSegment ? [] : [{ offset: base + 5, width: 1, encoding: 'zstd-window', what: 'zstd window descriptor' }],
  };
}

/** Line starts, markup characters and every decimal number of a text. */
export function textStructure(bytes: Uint8Array, base = 0): Structure {
  const boundaries: number[] = [base];
  const lengths: LengthField[] = [];
  for (let i = 0; i < bytes.length && boundaries.length < MAX_FIELDS; i++) {
    const c = bytes[i];
    if (c === 0x0a) boundaries.push(base + i, base + i + 1);
    else if (c === 0x3c || c === 0x3e || c === 0x25 || c === 0x3a) boundaries.push(base + i);
  }
  const text = Buffer.from(bytes).toString('latin1');
  for (const m of text.matchAll(/\d+/g)) {
    if (lengths.length >= MAX_FIELDS) break;
    lengths.push({ offset: base + m.index, width: m[0].length, encoding: 'text-number', what: `number ${m[0].slice(0, 12)}` });
  }
  return { boundaries, lengths };
}

/** Several structures as one. */
export function merge(...parts: Structure[]): Structure {
  return { boundaries: parts.flatMap((p) => p.boundaries), lengths: parts.flatMap((p) => p.lengths) };
}
