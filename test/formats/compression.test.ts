import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decompress, decompressAll, detectCompression, type Compression } from '../../src/formats/compression';
import { PackageFormatError } from '../../src/formats/errors';

const tools: Record<Exclude<Compression, 'none'>, string[]> = {
  gzip: ['gzip', '-c'],
  xz: ['xz', '-c'],
  zstd: ['zstd', '-q', '-c'],
};

function compressWithTool(kind: Exclude<Compression, 'none'>, data: Uint8Array): Buffer {
  const [cmd, ...args] = tools[kind];
  return execFileSync(cmd, args, { input: data });
}

describe('decompress', () => {
  const payload = Buffer.concat([Buffer.from('hello '.repeat(1000)), randomBytes(5000)]);

  it.each(['gzip', 'xz', 'zstd'] as const)('round-trips %s made by the real tool', async (kind) => {
    const packed = compressWithTool(kind, payload);
    expect(detectCompression(packed)).toBe(kind);
    expect(Buffer.compare(await decompressAll(packed, kind, 1 << 20), payload)).toBe(0);
  });

  it.each(['gzip', 'xz', 'zstd'] as const)('caps %s output (decompression bomb)', async (kind) => {
    const bomb = compressWithTool(kind, Buffer.alloc(8 << 20));
    await expect(decompressAll(bomb, kind, 1 << 20)).rejects.toThrow(PackageFormatError);
    await expect(decompressAll(bomb, kind, 1 << 20)).rejects.toThrow(/beyond the limit/);
  });

  it.each(['gzip', 'xz', 'zstd'] as const)('rejects truncated %s with a typed error', async (kind) => {
    const packed = compressWithTool(kind, payload);
    const cut = packed.subarray(0, Math.floor(packed.length / 2));
    await expect(decompressAll(cut, kind, 1 << 20)).rejects.toThrow(PackageFormatError);
  });

  it.each(['none', 'gzip', 'xz', 'zstd'] as const)('passes an error of the %s source through unchanged, not as corrupt data', async (kind) => {
    const packed = kind === 'none' ? payload : compressWithTool(kind, payload);
    const failure = new Error('connection reset by peer');
    async function* source() {
      yield packed.subarray(0, Math.floor(packed.length / 2));
      throw failure;
    }
    const read = async () => {
      for await (const chunk of decompress(source(), kind, 1 << 20)) expect(chunk.length).toBeGreaterThanOrEqual(0);
    };
    await expect(read()).rejects.toBe(failure);
  });

  it('treats unknown magic as uncompressed', () => {
    expect(detectCompression(Buffer.from('hello'))).toBe('none');
  });
});
