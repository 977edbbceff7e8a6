import { execFileSync } from 'node:child_process';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeArHeader, readAr, type ArMember } from '../../../src/formats/deb/ar';
import { PackageFormatError } from '../../../src/formats/errors';
import { arArchive, buildAllRecipes, removeTempDirs, requireTools, tempDir } from '../../support/deb-fixtures';

async function members(source: Uint8Array | AsyncIterable<Uint8Array>, keepAll = true): Promise<ArMember[]> {
  const out: ArMember[] = [];
  for await (const m of readAr(source, () => keepAll)) out.push(m);
  return out;
}

async function* inChunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe('ar container', () => {
  let debs: Map<string, string>;
  let dir: string;

  afterAll(removeTempDirs);

  beforeAll(() => {
    requireTools('ar');
    dir = tempDir('ar');
    debs = buildAllRecipes(dir);
  });

  it('lists the members of dpkg-deb output like `ar t`, with the bytes `ar p` extracts', async () => {
    for (const file of debs.values()) {
      const bytes = readFileSync(file);
      const got = await members(bytes);
      const names = execFileSync('ar', ['t', file]).toString().trim().split('\n');
      expect(got.map((m) => m.header.name)).toEqual(names);
      for (const m of got) {
        expect(Buffer.compare(Buffer.from(m.data!), execFileSync('ar', ['p', file, m.header.name]))).toBe(0);
      }
    }
  });

  it('reads the same from one-byte chunks as from one buffer (streaming)', async () => {
    const bytes = readFileSync(debs.get('epoch-gzip')!);
    const whole = await members(bytes);
    const chunked = await members(inChunks(bytes, 1));
    expect(chunked.map((m) => [m.header, m.offset, Buffer.from(m.data!)])).toEqual(whole.map((m) => [m.header, m.offset, Buffer.from(m.data!)]));
  });

  it('releases the source (closes the file) when reading stops early', async () => {
    const file = path.join(dir, 'bad-magic.deb');
    writeFileSync(file, Buffer.concat([Buffer.from('!<arch>X'), Buffer.alloc(65536)]));
    const stream = createReadStream(file, { highWaterMark: 16 });
    await expect(members(stream)).rejects.toThrow(/no !<arch> magic/);
    expect(stream.destroyed).toBe(true);
  });

  it('skips members the caller does not keep', async () => {
    const got = await members(readFileSync(debs.get('epoch-gzip')!), false);
    expect(got.every((m) => m.data === undefined)).toBe(true);
    expect(got).toHaveLength(3);
  });

  it('reads GNU ar names (trailing slash) as binutils writes them', async () => {
    const work = tempDir('gnu-ar');
    writeFileSync(path.join(work, 'odd-sized.txt'), 'odd');
    writeFileSync(path.join(work, 'even.txt'), 'even');
    execFileSync('ar', ['rcD', 'x.a', 'odd-sized.txt', 'even.txt'], { cwd: work });
    const raw = readFileSync(path.join(work, 'x.a'));
    expect(raw.toString('latin1', 8, 24)).toBe('odd-sized.txt/  ');
    const got = await members(raw);
    expect(got.map((m) => [m.header.name, Buffer.from(m.data!).toString()])).toEqual([['odd-sized.txt', 'odd'], ['even.txt', 'even']]);
  });

  it('reads BSD names (#1/<length>) as apt does', async () => {
    const got = await members(arArchive([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'a-long-member-name.tar', data: Buffer.from('xyz') }], { bsd: true }));
    expect(got.map((m) => [m.header.name, m.header.size, Buffer.from(m.data!).toString()]))
      .toEqual([['debian-binary', 4, '2.0\n'], ['a-long-member-name.tar', 3, 'xyz']]);
  });

  it('decodes header fields: decimal numbers, octal mode', () => {
    const header = Buffer.from('name/'.padEnd(16) + '1700000000'.padEnd(12) + '1000'.padEnd(6) + '100'.padEnd(6) + '100755'.padEnd(8) + '42'.padEnd(10) + '`\n', 'latin1');
    expect(decodeArHeader(header, 8)).toEqual({ name: 'name', mtime: 1700000000, uid: 1000, gid: 100, mode: 0o100755, size: 42, bsdNameLength: 0 });
  });

  describe('broken input', () => {
    const valid = () => readFileSync(debs.get('epoch-gzip')!);

    it.each([0, 7, 30, 68, 100, -1])('truncated at %i bytes (negative: from the end) is a typed error', async (cut) => {
      const bytes = valid();
      const part = bytes.subarray(0, cut < 0 ? bytes.length + cut : cut);
      await expect(members(part)).rejects.toThrow(PackageFormatError);
      await expect(members(part)).rejects.toThrow(/truncated|missing the padding/);
    });

    it('rejects a wrong magic', async () => {
      await expect(members(Buffer.from('!<arch>X' + ' '.repeat(80)))).rejects.toThrow(/no !<arch> magic/);
    });

    it('rejects a huge member size without allocating it (kept member)', async () => {
      const bytes = arArchive([{ name: 'control.tar.gz', data: Buffer.from('x') }]);
      bytes.write('9999999999', 8 + 48, 'latin1');
      await expect(members(bytes)).rejects.toThrow(/9999999999 bytes, more than the limit/);
    });

    it('rejects a huge member size of a skipped member as truncation', async () => {
      const bytes = arArchive([{ name: 'data.tar.xz', data: Buffer.from('x') }]);
      bytes.write('9999999999', 8 + 48, 'latin1');
      await expect(members(bytes, false)).rejects.toThrow(/truncated ar member data.tar.xz: need 9999999999 bytes/);
    });

    it('rejects a non-numeric size and a broken terminator', async () => {
      const a = arArchive([{ name: 'x', data: Buffer.from('ab') }]);
      a.write('12a', 8 + 48, 'latin1');
      await expect(members(a)).rejects.toThrow(/invalid ar member size/);
      const b = arArchive([{ name: 'x', data: Buffer.from('ab') }]);
      b.write('XX', 8 + 58, 'latin1');
      await expect(members(b)).rejects.toThrow(/terminator/);
    });

    it('rejects GNU long-name tables, which .deb files never use', async () => {
      await expect(members(arArchive([{ name: '//', data: Buffer.from('long-name/\n') }]))).rejects.toThrow(/GNU symbol or long-name tables/);
    });

    it('caps the member count', async () => {
      const many = arArchive(Array.from({ length: 10 }, (_, i) => ({ name: `m${i}`, data: Buffer.from('') })));
      const read = async () => {
        for await (const m of readAr(many, () => false, { maxMembers: 5 })) void m;
      };
      await expect(read()).rejects.toThrow(/more than 5 ar members/);
    });
  });
});
