/**
 * The RPM header structure (rpm `lib/header.c`): magic `8E AD E8 01`, 4 reserved bytes, u32 BE
 * entry count, u32 BE data length, 16-byte index entries (tag, type, offset, count), then the
 * data store. The same codec serves the signature header and the main header; tag numbers are
 * opaque here (see tags.ts for the two namespaces).
 */
import { check, PackageFormatError } from '../errors';
import { RpmTagType } from './tags';

/** A typed header value. Integers of up to 32 bits are numbers; INT64 values are bigints. */
export type HeaderValue =
  | { readonly type: RpmTagType.CHAR | RpmTagType.INT8 | RpmTagType.INT16 | RpmTagType.INT32; readonly values: readonly number[] }
  | { readonly type: RpmTagType.INT64; readonly values: readonly bigint[] }
  | { readonly type: RpmTagType.STRING; readonly value: string }
  | { readonly type: RpmTagType.BIN; readonly value: Uint8Array }
  | { readonly type: RpmTagType.STRING_ARRAY | RpmTagType.I18NSTRING; readonly values: readonly string[] };

/** One tag and its value, as `encodeHeader` takes them. */
export interface HeaderEntry {
  readonly tag: number;
  readonly value: HeaderValue;
}

/** A decoded header. */
export interface DecodedHeader {
  /** Values by tag (region entries included as 16-byte BIN values). */
  readonly entries: ReadonlyMap<number, HeaderValue>;
  /** Bytes the header occupies: 16 + 16 × entries + data length. */
  readonly byteLength: number;
}

/**
 * Turns the bytes of one header string (without its NUL) into text. It must decode valid
 * UTF-8 as UTF-8: an array of strings that is valid UTF-8 as a whole is decoded in one piece
 * without calling it.
 */
export type TextDecode = (bytes: Uint8Array) => string;

/** Options of `decodeHeader`. */
export interface DecodeHeaderOptions {
  /** Name of the header in error messages. @default 'header' */
  readonly what?: string;
  /** String decoding. @default decodeText (UTF-8, else ISO-8859-1) */
  readonly text?: TextDecode;
}

/** Caps applied before anything is allocated. */
export interface HeaderLimits {
  /** Most index entries accepted. @default 65536 */
  readonly maxEntries: number;
  /** Largest data store accepted, bytes. @default 64 MiB */
  readonly maxDataLength: number;
}

/** The default caps: 65536 entries, 64 MiB of data. */
export const DEFAULT_HEADER_LIMITS: HeaderLimits = { maxEntries: 65536, maxDataLength: 64 * 1024 * 1024 };

/** The 8 bytes every header starts with: magic, version 1, 4 reserved zero bytes. */
export const HEADER_MAGIC = Uint8Array.of(0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0);

/** Size of the fixed part before the index: magic, reserved, entry count, data length. */
export const HEADER_PREAMBLE_SIZE = 16;

const ENTRY_SIZE = 16;
// a BOM is text like any other (rpm and createrepo_c keep it)
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The sizes a header announces, checked against `limits`, from its first 16 bytes at `offset`.
 * Returns undefined when fewer than 16 bytes are available.
 */
export function headerSize(
  bytes: Uint8Array,
  offset: number,
  limits: HeaderLimits = DEFAULT_HEADER_LIMITS,
  what = 'header',
): { entryCount: number; dataLength: number; byteLength: number } | undefined {
  if (bytes.length < offset + HEADER_PREAMBLE_SIZE) return undefined;
  for (let i = 0; i < 3; i++) {
    if (bytes[offset + i] !== HEADER_MAGIC[i]) {
      throw new PackageFormatError(`bad ${what} magic at offset ${offset}: expected 8eade8, got ${hex(bytes.subarray(offset, offset + 3))}`);
    }
  }
  check(bytes[offset + 3] === 1, `unsupported ${what} version ${bytes[offset + 3]} at offset ${offset}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entryCount = view.getUint32(offset + 8);
  const dataLength = view.getUint32(offset + 12);
  check(entryCount >= 1, `${what} at offset ${offset} has no entries`);
  check(entryCount <= limits.maxEntries, `${what} at offset ${offset} has ${entryCount} entries, more than the limit of ${limits.maxEntries}`);
  check(dataLength <= limits.maxDataLength, `${what} at offset ${offset} has a data store of ${dataLength} bytes, more than the limit of ${limits.maxDataLength}`);
  return { entryCount, dataLength, byteLength: HEADER_PREAMBLE_SIZE + ENTRY_SIZE * entryCount + dataLength };
}

/** Where one entry's value lies in the data store. */
interface Slot {
  readonly type: number;
  readonly offset: number;
  readonly count: number;
  /** Where its values end (after the last string's NUL). */
  readonly end: number;
}

/** A header whose index and values were checked, values not decoded yet. */
interface ScannedHeader {
  readonly store: Uint8Array;
  readonly slots: ReadonlyMap<number, Slot>;
  readonly byteLength: number;
}

/**
 * Check the header that starts at `offset`: every count and offset against the data store,
 * every string's terminating NUL, the types, and that entries do not share data. Nothing is
 * allocated by size fields before the check; bad input throws PackageFormatError.
 */
function scanHeader(bytes: Uint8Array, offset: number, limits: HeaderLimits, what: string): ScannedHeader {
  const size = headerSize(bytes, offset, limits, what);
  check(size, `truncated ${what}: need ${HEADER_PREAMBLE_SIZE} bytes at offset ${offset}, have ${Math.max(0, bytes.length - offset)}`);
  const available = bytes.length - offset;
  check(size.byteLength <= available, `truncated ${what}: need ${size.byteLength} bytes at offset ${offset}, have ${available}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storeStart = offset + HEADER_PREAMBLE_SIZE + ENTRY_SIZE * size.entryCount;
  const store = bytes.subarray(storeStart, storeStart + size.dataLength);
  const slots = new Map<number, Slot>();
  // entries must not share data: bounds the work a hostile index of overlapping entries can cause
  let decoded = 0;
  for (let i = 0; i < size.entryCount; i++) {
    const at = offset + HEADER_PREAMBLE_SIZE + ENTRY_SIZE * i;
    const tag = view.getUint32(at);
    const type = view.getUint32(at + 4);
    const dataOffset = view.getInt32(at + 8);
    const count = view.getUint32(at + 12);
    const where = () => `${what} entry ${i} (tag ${tag})`;
    if (dataOffset < 0 || dataOffset > size.dataLength) throw new PackageFormatError(`${where()}: data offset ${dataOffset} outside the data store of ${size.dataLength} bytes`);
    if (count < 1) throw new PackageFormatError(`${where()}: count is 0`);
    if (count > size.dataLength - dataOffset) throw new PackageFormatError(`${where()}: ${count} values cannot fit in the ${size.dataLength - dataOffset} bytes after offset ${dataOffset}`);
    const length = valueLength(store, type, dataOffset, count, where);
    decoded += length;
    if (decoded > size.dataLength) throw new PackageFormatError(`${what}: entries overlap (${decoded} bytes of values in a data store of ${size.dataLength} bytes)`);
    slots.set(tag, { type, offset: dataOffset, count, end: dataOffset + length });
  }
  return { store, slots, byteLength: size.byteLength };
}

/**
 * Decode the header that starts at `offset`. Every count and offset is checked against the
 * data store before anything is allocated; bad input throws PackageFormatError.
 */
export function decodeHeader(
  bytes: Uint8Array,
  offset: number,
  limits: HeaderLimits = DEFAULT_HEADER_LIMITS,
  options: DecodeHeaderOptions = {},
): DecodedHeader {
  const text = options.text ?? decodeText;
  const { store, slots, byteLength } = scanHeader(bytes, offset, limits, options.what ?? 'header');
  const entries = new Map<number, HeaderValue>();
  for (const [tag, slot] of slots) entries.set(tag, decodeValue(store, slot, text));
  return { entries, byteLength };
}

/** A checked header whose values are decoded when first asked for (see `indexHeader`). */
export interface HeaderIndex {
  /** Bytes the header occupies: 16 + 16 × entries + data length. */
  readonly byteLength: number;
  has(tag: number): boolean;
  /** The value of `tag`, decoded now (and remembered), or undefined when the header has none. */
  get(tag: number): HeaderValue | undefined;
}

/**
 * Check the header that starts at `offset` exactly as `decodeHeader` does (the same input
 * is rejected with the same errors), but decode only the values asked for: a reader that
 * needs a few tags of a header with thousands of file entries skips decoding the rest.
 */
export function indexHeader(
  bytes: Uint8Array,
  offset: number,
  limits: HeaderLimits = DEFAULT_HEADER_LIMITS,
  options: DecodeHeaderOptions = {},
): HeaderIndex {
  const text = options.text ?? decodeText;
  const { store, slots, byteLength } = scanHeader(bytes, offset, limits, options.what ?? 'header');
  const decoded = new Map<number, HeaderValue>();
  return {
    byteLength,
    has: (tag) => slots.has(tag),
    get: (tag) => {
      let value = decoded.get(tag);
      if (value === undefined) {
        const slot = slots.get(tag);
        if (slot === undefined) return undefined;
        value = decodeValue(store, slot, text);
        decoded.set(tag, value);
      }
      return value;
    },
  };
}

/** Bytes a value occupies, after checking it fits the data store and, for strings, is terminated. */
function valueLength(store: Uint8Array, type: number, offset: number, count: number, where: () => string): number {
  const fixed = (width: number) => {
    if (offset + count * width > store.length) throw new PackageFormatError(`${where()}: ${count} values of ${width} bytes overrun the data store (${store.length} bytes) at offset ${offset}`);
    return count * width;
  };
  switch (type) {
    case RpmTagType.CHAR:
    case RpmTagType.INT8:
    case RpmTagType.BIN:
      return fixed(1);
    case RpmTagType.INT16:
      return fixed(2);
    case RpmTagType.INT32:
      return fixed(4);
    case RpmTagType.INT64:
      return fixed(8);
    case RpmTagType.STRING:
      if (count !== 1) throw new PackageFormatError(`${where()}: STRING with count ${count}`);
      return stringsEnd(store, offset, 1, where) - offset;
    case RpmTagType.STRING_ARRAY:
    case RpmTagType.I18NSTRING:
      return stringsEnd(store, offset, count, where) - offset;
    default:
      throw new PackageFormatError(`${where()}: unknown data type ${type}`);
  }
}

/** The offset after the `count` NUL-terminated strings at `offset`. */
function stringsEnd(store: Uint8Array, offset: number, count: number, where: () => string): number {
  let at = offset;
  for (let i = 0; i < count; i++) {
    const end = store.indexOf(0, at);
    if (end < 0) throw new PackageFormatError(`${where()}: string ${i} of ${count} at offset ${at} is not NUL-terminated within the data store`);
    at = end + 1;
  }
  return at;
}

/** Decode a value `scanHeader` checked (big-endian integers read byte by byte: no DataView per value). */
function decodeValue(store: Uint8Array, { type, offset, count, end }: Slot, text: TextDecode): HeaderValue {
  switch (type) {
    case RpmTagType.CHAR:
    case RpmTagType.INT8: {
      const values: number[] = new Array(count);
      for (let i = 0; i < count; i++) values[i] = store[offset + i];
      return { type, values };
    }
    case RpmTagType.INT16: {
      const values: number[] = new Array(count);
      for (let i = 0, at = offset; i < count; i++, at += 2) values[i] = (store[at] << 8) | store[at + 1];
      return { type, values };
    }
    case RpmTagType.INT32: {
      const values: number[] = new Array(count);
      for (let i = 0, at = offset; i < count; i++, at += 4) values[i] = uint32(store, at);
      return { type, values };
    }
    case RpmTagType.INT64: {
      const values: bigint[] = new Array(count);
      for (let i = 0, at = offset; i < count; i++, at += 8) values[i] = (BigInt(uint32(store, at)) << 32n) | BigInt(uint32(store, at + 4));
      return { type, values };
    }
    case RpmTagType.BIN:
      return { type, value: store.slice(offset, offset + count) };
    case RpmTagType.STRING:
      return { type, value: text(store.subarray(offset, end - 1)) };
    default: // STRING_ARRAY, I18NSTRING
      return { type: type as RpmTagType.STRING_ARRAY, values: readStrings(store, offset, count, end, text) };
  }
}

function uint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/**
 * The `count` strings between `offset` and `end`: valid UTF-8 as a whole (every string then
 * is: NUL is never part of a multi-byte sequence) is decoded once and split at the NULs;
 * otherwise each string goes through `text`.
 */
function readStrings(store: Uint8Array, offset: number, count: number, end: number, text: TextDecode): string[] {
  if (count > 1) {
    let whole: string | undefined;
    try {
      whole = utf8.decode(store.subarray(offset, end - 1));
    } catch {
      // some string is not UTF-8: decode them one by one
    }
    if (whole !== undefined) return whole.split('\0');
  }
  const values: string[] = new Array(count);
  let at = offset;
  for (let i = 0; i < count; i++) {
    const stop = store.indexOf(0, at);
    values[i] = text(store.subarray(at, stop));
    at = stop + 1;
  }
  return values;
}

/** Header strings are UTF-8 by convention; older packages use ISO-8859-1, which always decodes. */
export function decodeText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

/** Options of `encodeHeader`. */
export interface EncodeHeaderOptions {
  /**
   * Mark the whole header as an immutable region with this tag (62 for a signature header,
   * 63 for a main header), as rpm writes them.
   */
  readonly region?: number;
}

/**
 * Encode entries as a header: sorted by tag, each value aligned to its natural width, and,
 * with `region`, a leading region entry whose 16-byte trailer closes the data store.
 */
export function encodeHeader(entries: readonly HeaderEntry[], options: EncodeHeaderOptions = {}): Uint8Array {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag);
  const indexCount = sorted.length + (options.region === undefined ? 0 : 1);
  const index: Array<[number, number, number, number]> = [];
  const parts: Uint8Array[] = [];
  let length = 0;
  for (const { tag, value } of sorted) {
    const { bytes, count, align } = encodeValue(value);
    const pad = (align - (length % align)) % align;
    if (pad) parts.push(new Uint8Array(pad));
    length += pad;
    index.push([tag, value.type, length, count]);
    parts.push(bytes);
    length += bytes.length;
  }
  if (options.region !== undefined) {
    const trailer = new DataView(new ArrayBuffer(ENTRY_SIZE));
    trailer.setUint32(0, options.region);
    trailer.setUint32(4, RpmTagType.BIN);
    trailer.setInt32(8, -ENTRY_SIZE * indexCount);
    trailer.setUint32(12, ENTRY_SIZE);
    index.unshift([options.region, RpmTagType.BIN, length, ENTRY_SIZE]);
    parts.push(new Uint8Array(trailer.buffer));
    length += ENTRY_SIZE;
  }
  const out = new Uint8Array(HEADER_PREAMBLE_SIZE + ENTRY_SIZE * indexCount + length);
  const view = new DataView(out.buffer);
  out.set(HEADER_MAGIC, 0);
  view.setUint32(8, indexCount);
  view.setUint32(12, length);
  index.forEach(([tag, type, offset, count], i) => {
    const at = HEADER_PREAMBLE_SIZE + ENTRY_SIZE * i;
    view.setUint32(at, tag);
    view.setUint32(at + 4, type);
    view.setUint32(at + 8, offset);
    view.setUint32(at + 12, count);
  });
  let at = HEADER_PREAMBLE_SIZE + ENTRY_SIZE * indexCount;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const encoder = new TextEncoder();

function encodeValue(value: HeaderValue): { bytes: Uint8Array; count: number; align: number } {
  switch (value.type) {
    case RpmTagType.CHAR:
    case RpmTagType.INT8:
      return { bytes: Uint8Array.from(value.values), count: value.values.length, align: 1 };
    case RpmTagType.INT16:
    case RpmTagType.INT32: {
      const width = value.type === RpmTagType.INT16 ? 2 : 4;
      const view = new DataView(new ArrayBuffer(width * value.values.length));
      value.values.forEach((v, i) => (width === 2 ? view.setUint16(2 * i, v) : view.setUint32(4 * i, v)));
      return { bytes: new Uint8Array(view.buffer), count: value.values.length, align: width };
    }
    case RpmTagType.INT64: {
      const view = new DataView(new ArrayBuffer(8 * value.values.length));
      value.values.forEach((v, i) => view.setBigUint64(8 * i, v));
      return { bytes: new Uint8Array(view.buffer), count: value.values.length, align: 8 };
    }
    case RpmTagType.BIN:
      return { bytes: value.value, count: value.value.length, align: 1 };
    case RpmTagType.STRING:
      return { bytes: nulTerminated([value.value]), count: 1, align: 1 };
    case RpmTagType.STRING_ARRAY:
    case RpmTagType.I18NSTRING:
      return { bytes: nulTerminated(value.values), count: value.values.length, align: 1 };
  }
}

function nulTerminated(strings: readonly string[]): Uint8Array {
  const encoded = strings.map((s) => encoder.encode(s));
  const out = new Uint8Array(encoded.reduce((n, e) => n + e.length + 1, 0));
  let at = 0;
  for (const e of encoded) {
    out.set(e, at);
    at += e.length + 1;
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
