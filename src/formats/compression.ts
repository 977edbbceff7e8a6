/* eslint-disable no-bitwise -- zstd frame and block headers are bit fields */
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
 * PackageFormatError (decompression bombs), as does any corrupt input. An error thrown by
 * `source` itself (a storage read failing mid-stream) passes through unchanged: it says
 * nothing about the data.
 */
export async function* decompress(
  source: AsyncIterable<Uint8Array> | Uint8Array,
  kind: Compression,
  maxOutputBytes: number,
): AsyncGenerator<Uint8Array> {
  let sourceFailure: { error: unknown } | undefined;
  const guarded = async function* (): AsyncGenerator<Uint8Array> {
    try {
      yield* chunksOf(source);
    } catch (error) {
      sourceFailure = { error };
      throw error;
    }
  };
  const input = source instanceof Uint8Array ? source : guarded();
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
        for await (const c of chunksOf(input)) yield count(c);
        return;
      case 'gzip':
        yield* viaNodeStream(input, zlib.createGunzip(), count);
        return;
      case 'zstd': {
        const native = (zlib as unknown as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress;
        if (native) {
          yield* viaNodeStream(input, native(), count);
        } else {
          yield* viaFzstd(input, count, maxOutputBytes);
        }
        return;
      }
      case 'xz':
        yield* viaXz(input, count);
        return;
    }
  } catch (e) {
    // the decoder may surface the source's error as its own (a destroyed stream): rethrow the original
    if (sourceFailure) throw sourceFailure.error;
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

/** Input slice fed to the pure-JS zstd decoder at a time (Node < 22.15 has no native zstd). */
const ZSTD_SLICE = 16 * 1024;
/** zstd's default decoder limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 2^27), which Node's native decoder applies too. */
const ZSTD_MAX_WINDOW = 2 ** 27;
/**
 * fzstd allocates each frame's whole window up front and moves all of it once per block, so
 * a few hostile bytes (a huge window, many tiny blocks) cost gigabytes of memory or minutes.
 * A real stream moves at most about 1 KiB per output byte (a 128 MiB window, 128 KiB blocks);
 * copying beyond that, after a few windows' allowance, is refused.
 */
const ZSTD_COPY_PER_OUTPUT_BYTE = 1024;
const ZSTD_COPY_ALLOWANCE_WINDOWS = 2;

/**
 * Walks zstd frame and block headers (RFC 8878 §3.1) as the input passes, ahead of the
 * decoder, and refuses a frame whose window is beyond the limit before fzstd allocates it.
 */
class ZstdFrameGuard {
  /** The largest window of the frames seen so far. */
  largestWindow = 0;
  private step: 'magic' | 'descriptor' | 'frameHeader' | 'block' | 'checksum' | 'skippable' = 'magic';
  private need = 4;
  private held: number[] = [];
  private skip = 0;
  private checksum = false;
  private offset = 0;

  constructor(private readonly maxOutputBytes: number) {}

  scan(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.held.push(chunk[i++]);
      while (this.held.length >= this.need) this.advance();
    }
    this.offset += chunk.length;
  }

  private next(step: ZstdFrameGuard['step'], need: number): void {
    this.step = step;
    this.need = need;
    this.held = [];
  }

  private advance(): void {
    const h = this.held;
    const le = (from: number, n: number) => h.slice(from, from + n).reduceRight((v, b) => v * 256 + b, 0);
    switch (this.step) {
      case 'magic':
        if (le(0, 4) === 0xfd2fb528) return this.next('descriptor', 1);
        if (Math.floor(le(0, 4) / 16) === 0x184d2a5) return this.next('skippable', 4);
        throw new PackageFormatError(`corrupt zstd data: no frame magic near offset ${this.offset}`);
      case 'skippable':
        this.skip = le(0, 4);
        return this.next('magic', 4);
      case 'descriptor': {
        const d = h[0];
        const singleSegment = (d & 0x20) !== 0;
        const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][d >> 6];
        this.step = 'frameHeader';
        this.need = 1 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][d & 3] + fcsBytes;
        return;
      }
      case 'frameHeader': {
        const d = h[0];
        const singleSegment = (d & 0x20) !== 0;
        const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][d >> 6];
        const contentSize = fcsBytes === 0 ? undefined : le(this.need - fcsBytes, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
        let window = contentSize ?? 0;
        if (!singleSegment) {
          const base = 2 ** (10 + (h[1] >> 3));
          window = base + (base / 8) * (h[1] & 7);
        }
        if (window > ZSTD_MAX_WINDOW) {
          throw new PackageFormatError(`zstd frame needs a window of ${window} bytes, more than the limit of ${ZSTD_MAX_WINDOW}`);
        }
        if (contentSize !== undefined && contentSize > this.maxOutputBytes) {
          throw new PackageFormatError(`zstd data expands beyond the limit of ${this.maxOutputBytes} bytes (a frame declares ${contentSize})`);
        }
        this.largestWindow = Math.max(this.largestWindow, window);
        this.checksum = (d & 0x04) !== 0;
        return this.next('block', 3);
      }
      case 'block': {
        const header = le(0, 3);
        const type = (header >> 1) & 3;
        if (type === 3) throw new PackageFormatError(`corrupt zstd data: reserved block type near offset ${this.offset}`);
        this.skip = type === 1 ? 1 : header >>> 3;
        if ((header & 1) === 0) return this.next('block', 3);
        return this.checksum ? this.next('checksum', 4) : this.next('magic', 4);
      }
      case 'checksum':
        return this.next('magic', 4);
    }
  }
}

async function* viaFzstd(
  source: AsyncIterable<Uint8Array> | Uint8Array,
  count: (c: Uint8Array) => Uint8Array,
  maxOutputBytes: number,
): AsyncGenerator<Uint8Array> {
  const guard = new ZstdFrameGuard(maxOutputBytes);
  const out: Uint8Array[] = [];
  let produced = 0;
  let copied = 0;
  const d = new ZstdDecompress((data) => {
    // fzstd has just moved its whole window for this block
    copied += guard.largestWindow;
    produced += data.length;
    if (copied > ZSTD_COPY_PER_OUTPUT_BYTE * produced + ZSTD_COPY_ALLOWANCE_WINDOWS * guard.largestWindow) {
      throw new PackageFormatError(`zstd data with a ${guard.largestWindow}-byte window in blocks too small for it (${produced} bytes out so far): refused as a decoding bomb`);
    }
    out.push(count(data));
  });
  let sawInput = false;
  for await (const chunk of chunksOf(source)) {
    if (chunk.length === 0) continue;
    sawInput = true;
    // small slices: fzstd emits what one push decodes at once, so this bounds what is held
    for (let at = 0; at < chunk.length; at += ZSTD_SLICE) {
      const slice = chunk.subarray(at, at + ZSTD_SLICE);
      guard.scan(slice);
      d.push(slice);
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
  // a pull-only web stream over the source: Node 20's Readable.toWeb keeps pushing after the
  // decoder is cancelled and throws "Controller is already closed" as an uncaught exception
  const chunks = chunksOf(source)[Symbol.asyncIterator]();
  let cancelled = false;
  const web = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (cancelled) return;
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      cancelled = true;
      await chunks.return(undefined);
    },
  }, { highWaterMark: 0 });
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
