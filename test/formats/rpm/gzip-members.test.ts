import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../../src/formats/errors';
import { gunzipMember, gzipMember, taggedMembers } from '../../../src/formats/rpm/gzip-members';

const text = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `<line ${i} é/>\n`).join(''));

describe('tagged gzip members', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gzip-members-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('a series of members is one gzip file to gzip, Python and zlib, and splits back into its members', async () => {
    const parts = [text(3), text(5000), Buffer.alloc(0), text(10)];
    const members = await Promise.all(parts.map((p, i) => gzipMember(p, { writer: 7, packages: i }, 6)));
    const file = Buffer.concat(members);
    await writeFile(join(dir, 'x.gz'), file);
    const whole = Buffer.concat(parts);
    expect(execFileSync('gzip', ['-dc', join(dir, 'x.gz')])).toEqual(whole);
    expect(execFileSync('gzip', ['-t', join(dir, 'x.gz')]).length).toBe(0);
    expect(execFileSync('python3', ['-c', 'import gzip,sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())', join(dir, 'x.gz')])).toEqual(whole);

    const split = taggedMembers(file, 'x.gz')!;
    expect(split.map((m) => [m.writer, m.packages])).toEqual([[7, 0], [7, 1], [7, 2], [7, 3]]);
    expect(split.map((m) => Buffer.from(m.bytes))).toEqual(members);
    for (let i = 0; i < parts.length; i++) expect(await gunzipMember(split[i].bytes, 1 << 20, 'x.gz')).toEqual(parts[i]);
  });

  it('a file of another tool (no Pk tag on its first member) is not ours', async () => {
    expect(taggedMembers(gzipSync(text(10)), 'plain.gz')).toBeUndefined();
    await writeFile(join(dir, 'cli.txt'), text(100));
    execFileSync('gzip', ['-kf', join(dir, 'cli.txt')]);
    expect(taggedMembers(await readFile(join(dir, 'cli.txt.gz')), 'cli.gz')).toBeUndefined();
  });

  it('rejects tags that do not add up to the file', async () => {
    const member = await gzipMember(text(10), { writer: 1, packages: 1 }, 6);
    expect(() => taggedMembers(member.subarray(0, member.length - 3), 'cut.gz')).toThrow(/claims \d+ bytes, \d+ are left/);
    expect(() => taggedMembers(Buffer.concat([member, gzipSync(text(2))]), 'mixed.gz')).toThrow(/member at offset \d+ has no Pk tag/);
    const lying = Buffer.from(member);
    lying.writeUInt32LE(4, 21); // shorter than a header and trailer
    expect(() => taggedMembers(lying, 'lying.gz')).toThrow(PackageFormatError);
  });

  it('inflating is bounded and corrupt data is a PackageFormatError', async () => {
    const member = await gzipMember(Buffer.alloc(1 << 20), { writer: 1, packages: 1 }, 6);
    await expect(gunzipMember(member, 1000, 'bomb.gz')).rejects.toThrow(/more than 1000 bytes/);
    const corrupt = Buffer.from(member);
    corrupt[corrupt.length - 6] ^= 0xff; // the CRC
    await expect(gunzipMember(corrupt, 1 << 21, 'crc.gz')).rejects.toBeInstanceOf(PackageFormatError);
  });
});
