import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { PackageFormatError } from './errors';

export type Compression = 'none' | 'gzip' | 'xz' | 'zstd';

/** Recognise a compressed stream by its magic bytes. */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 6 && head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a
    && head[3] === 0x58 && head[4] === 0x5a && head[5] === 0x00) return 'xz';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** The compression a file name implies (`.gz`, `.xz`, `.zst`), 'none' otherwise. */
export function compressionOfName(name: string): Compression {
  if (name.endsWith('.gz')) return 'gzip';
  if (name.endsWith('.xz')) return 'xz';
  if (name.endsWith('.zst') || name.endsWith('.zstd')) return 'zstd';
  return 'none';
}

async function* chunksOf(source: AsyncIterable<Uint8Array> | Uint8Array): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  yield* source;
}

/**
 * Decompress a stream, yielding output chunks. Output beyond `maxOutputBytes` raises a
 * PackageFormatError (decompression bombs), as does any corrupt input.
 */
export async function* decompress(
  source: AsyncIterable<Uint8Array> | Uint8Array,
  kind: Compression,
  maxOutputBytes: number,
): AsyncGenerator<Uint8Array> {
  let total = 0;
  const count = (chunk: Uint8Array) => {
    total += chunk.length;
    if (total > maxOutputBytes) {
      throw new PackageFormatError(`${kind} data expands beyond the limit of ${maxOutputBytes} bytes`);
    }
    return chunk;
  };
  try {
    switch (kind) {
      case 'none':
        for await (const c of chunksOf(source)) yield count(c);
        return;
      case 'gzip':
        yield* viaNodeStream(source, zlib.createGunzip(), count);
        return;
      case 'zstd': {
        const native = (zlib as unknown as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress;
        if (native) {
          yield* viaNodeStream(source, native(), count);
        } else {
          yield* viaFzstd(source, count);
        }
        return;
      }
      case 'xz':
        yield* viaXz(source, count);
        return;
    }
  } catch (e) {
    if (e instanceof PackageFormatError) throw e;
    throw new PackageFormatError(`corrupt ${kind} data: ${(e as Error).message ?? String(e)}`, { cause: e });
  }
}

/** Decompress a whole buffer (bounded by `maxOutputBytes`). */
export async function decompressAll(bytes: Uint8Array, kind: Compression, maxOutputBytes: number): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of decompress(bytes, kind, maxOutputBytes)) parts.push(chunk);
  return Buffer.concat(parts);
}

async function* viaNodeStream(
  source: AsyncIterable<Uint8Array> | Uint8Array,
  transform: NodeJS.ReadWriteStream,
  count: (c: Uint8Array) => Uint8Array,
): AsyncGenerator<Uint8Array> {
  const input = Readable.from(chunksOf(source), { objectMode: false });
  input.on('error', (e) => (transform as unknown as Readable).destroy(e));
  input.pipe(transform as unknown as NodeJS.WritableStream);
  try {
    for await (const chunk of transform as unknown as AsyncIterable<Buffer>) yield count(chunk);
  } finally {
    input.destroy();
    (transform as unknown as Readable).destroy();
  }
}

/** Input slice fed to the pure-JS zstd decoder at a time (Node < 22 has no native zstd). */
const ZSTD_SLICE = 16 * 1024;

async function* viaFzstd(
  source: AsyncIterable<Uint8Array> | Uint8Array,
  count: (c: Uint8Array) => Uint8Array,
): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const d = new ZstdDecompress((data) => {
    out.push(count(data));
  });
  let sawInput = false;
  for await (const chunk of chunksOf(source)) {
    if (chunk.length === 0) continue;
    sawInput = true;
    // small slices: fzstd emits what one push decodes at once, so this bounds what is held
    for (let at = 0; at < chunk.length; at += ZSTD_SLICE) {
      d.push(chunk.subarray(at, at + ZSTD_SLICE));
      while (out.length) yield out.shift()!;
    }
  }
  if (!sawInput) throw new PackageFormatError('empty zstd stream');
  d.push(new Uint8Array(0), true);
  while (out.length) yield out.shift()!;
}

async function* viaXz(
  source: AsyncIterable<Uint8Array> | Uint8Array,
  count: (c: Uint8Array) => Uint8Array,
): AsyncGenerator<Uint8Array> {
  // xz-decompress is an ESM-free UMD bundle over WebAssembly; loaded lazily since few inputs need it
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { XzReadableStream } = require('xz-decompress') as typeof import('xz-decompress');
  const web = Readable.toWeb(Readable.from(chunksOf(source))) as unknown as ReadableStream<Uint8Array>;
  const reader = new XzReadableStream(web).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value && value.length) yield count(value);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
