/**
 * Test-side encoders for building and re-building fuzz inputs: gzip, xz and zstd (xz and,
 * before Node 22.15, zstd through the real CLI tools), crafted zstd frames, and a small
 * synchronous ustar reader/writer for valid seeds (the readers under test never see it).
 */
/* eslint-disable no-bitwise -- block and frame headers are bit fields */
import { execFileSync } from 'node:child_process';
import * as zlib from 'node:zlib';

/** Compressions the fuzzer can wrap a payload in. */
export type Codec = 'none' | 'gzip' | 'xz' | 'zstd';

function tool(name: string, args: string[], input: Uint8Array): Buffer {
  try {
    return execFileSync(name, args, { input, maxBuffer: 1024 ** 3 });
  } catch (e) {
    throw new Error(`the fuzz seeds need the ${name} command line tool (${(e as Error).message})`);
  }
}

type ZstdSync = (data: Uint8Array) => Buffer;
const nativeZstd = (zlib as unknown as { zstdCompressSync?: ZstdSync }).zstdCompressSync;

/** Compress `data` with `codec` (deterministic for a given tool version). */
export function encode(data: Uint8Array, codec: Codec): Buffer {
  switch (codec) {
    case 'none': return Buffer.from(data);
    case 'gzip': return zlib.gzipSync(data, { level: 9 });
    case 'xz': return tool('xz', ['-c', '-6', '--check=crc64'], data);
    case 'zstd': return nativeZstd ? nativeZstd(data) : tool('zstd', ['-q', '-c', '-3'], data);
  }
}

/** Undo `encode` for a valid seed. */
export function decode(data: Uint8Array, codec: Codec): Buffer {
  switch (codec) {
    case 'none': return Buffer.from(data);
    case 'gzip': return zlib.gunzipSync(data);
    case 'xz': return tool('xz', ['-d', '-c'], data);
    case 'zstd': return tool('zstd', ['-q', '-d', '-c'], data);
  }
}

/** The codec a valid seed's magic bytes show. */
export function codecOf(data: Uint8Array): Codec {
  if (data[0] === 0x1f && data[1] === 0x8b) return 'gzip';
  if (data[0] === 0xfd && data[1] === 0x37 && data[2] === 0x7a) return 'xz';
  if (data[0] === 0x28 && data[1] === 0xb5 && data[2] === 0x2f && data[3] === 0xfd) return 'zstd';
  return 'none';
}

/**
 * A zstd frame of raw blocks of `blockSize` bytes, with window descriptor byte `windowDescriptor`
 * (exponent in the high 5 bits: window = 2^(10 + exponent) plus eighths): valid zstd that a
 * decoder must treat with care when the window is huge and the blocks tiny.
 */
export function zstdRawFrame(payload: Uint8Array, windowDescriptor: number, blockSize: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, windowDescriptor & 0xff])];
  if (payload.length === 0) parts.push(Buffer.from([1, 0, 0]));
  for (let at = 0; at < payload.length; at += blockSize) {
    const n = Math.min(blockSize, payload.length - at);
    const header = (n << 3) | (at + n >= payload.length ? 1 : 0);
    parts.push(Buffer.from([header & 0xff, (header >>> 8) & 0xff, (header >>> 16) & 0xff]), Buffer.from(payload.subarray(at, at + n)));
  }
  return Buffer.concat(parts);
}

/** One entry of a ustar archive, as `readTar` finds it. */
export interface TarRecord {
  /** Offset of the header block. */
  readonly offset: number;
  /** The 512-byte header as found. */
  readonly header: Buffer;
  readonly name: string;
  readonly type: string;
  readonly data: Buffer;
}

const BLOCK = 512;

function octal(header: Buffer, at: number, width: number): number {
  const text = header.subarray(at, at + width).toString('latin1').replace(/[\0 ]+$/, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

/** Entries of a valid (possibly cut) ustar archive. */
export function readTar(tar: Uint8Array): TarRecord[] {
  const buf = Buffer.from(tar.buffer, tar.byteOffset, tar.byteLength);
  const out: TarRecord[] = [];
  let at = 0;
  while (at + BLOCK <= buf.length) {
    const header = buf.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = octal(header, 124, 12);
    const prefix = header.subarray(345, 500).toString('latin1').replace(/\0.*$/s, '');
    const base = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    out.push({
      offset: at,
      header: Buffer.from(header),
      name: prefix ? `${prefix}/${base}` : base,
      type: String.fromCharCode(header[156] || 0x30),
      data: Buffer.from(buf.subarray(at + BLOCK, at + BLOCK + size)),
    });
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}

/** Write the header checksum (bytes 148-155) of a ustar header in place. */
export function fixTarChecksum(header: Uint8Array): void {
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  const text = sum.toString(8).padStart(6, '0');
  for (let i = 0; i < 6; i++) header[148 + i] = text.charCodeAt(i);
  header[154] = 0;
  header[155] = 0x20;
}

/**
 * A ustar archive of `records` (headers kept, size and checksum rewritten for the data),
 * with the two end-of-archive blocks unless `cut`.
 */
export function writeTar(records: readonly Pick<TarRecord, 'header' | 'data'>[], cut = false): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const header = Buffer.from(r.header);
    const size = r.data.length.toString(8).padStart(11, '0');
    header.write(`${size}\0`, 124, 'latin1');
    fixTarChecksum(header);
    parts.push(header, r.data, Buffer.alloc((BLOCK - (r.data.length % BLOCK)) % BLOCK));
  }
  if (!cut) parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

/** Whether a tar ends with end-of-archive blocks (apk's control tars are cut). */
export function tarIsCut(tar: Uint8Array): boolean {
  const records = readTar(tar);
  const last = records[records.length - 1];
  if (!last) return false;
  const end = last.offset + BLOCK + Math.ceil(last.data.length / BLOCK) * BLOCK;
  return end >= tar.length;
}

/** The tar with the data of entry `name` replaced. */
export function replaceTarEntry(tar: Uint8Array, name: string, data: Uint8Array): Buffer {
  const records = readTar(tar);
  return writeTar(records.map((r) => (r.name === name ? { header: r.header, data: Buffer.from(data) } : r)), tarIsCut(tar));
}

/** One member of an ar archive (valid seeds only). */
export interface ArRecord {
  readonly offset: number;
  readonly name: string;
  readonly header: Buffer;
  readonly data: Buffer;
}

/** Members of a valid ar archive with common (non-BSD) names. */
export function readArchive(ar: Uint8Array): ArRecord[] {
  const buf = Buffer.from(ar.buffer, ar.byteOffset, ar.byteLength);
  const out: ArRecord[] = [];
  let at = 8;
  while (at + 60 <= buf.length) {
    const header = buf.subarray(at, at + 60);
    const size = Number(header.subarray(48, 58).toString('latin1').trim());
    out.push({ offset: at, name: header.subarray(0, 16).toString('latin1').trim().replace(/\/$/, ''), header: Buffer.from(header), data: Buffer.from(buf.subarray(at + 60, at + 60 + size)) });
    at += 60 + size + (size % 2);
  }
  return out;
}

/** An ar archive of the members, sizes rewritten. */
export function writeArchive(members: readonly Pick<ArRecord, 'header' | 'data'>[]): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const m of members) {
    const header = Buffer.from(m.header);
    header.write(String(m.data.length).padEnd(10, ' '), 48, 'latin1');
    parts.push(header, m.data);
    if (m.data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Byte ranges of the concatenated gzip members of a valid buffer. */
export function gzipMemberRanges(data: Uint8Array): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  let at = 0;
  while (at < data.length) {
    const flags = data[at + 3];
    let body = at + 10;
    if (flags & 4) body += 2 + data[body] + 256 * data[body + 1];
    if (flags & 8) body = data.indexOf(0, body) + 1;
    if (flags & 16) body = data.indexOf(0, body) + 1;
    if (flags & 2) body += 2;
    const inflated = zlib.inflateRawSync(data.subarray(body), { info: true }) as unknown as { engine: { bytesWritten: number } };
    const end = body + inflated.engine.bytesWritten + 8;
    out.push({ start: at, end });
    at = end;
  }
  return out;
}
