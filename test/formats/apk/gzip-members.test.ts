import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readGzipMember, splitGzipMembers } from '../../../src/formats/apk/gzip-members';
import { PackageFormatError } from '../../../src/formats/errors';
import { pythonCheck, requireTools, tempDir } from '../../support/apk-fixtures';

const MiB = 1024 * 1024;
const KiB = 1024;

const LIMITS = { maxMembers: 16, maxOutputBytes: 64 * MiB };

function gzipTool(data: Buffer, ...args: string[]): Buffer {
  return execFileSync('gzip', ['-c', ...args], { input: data });
}

describe('splitGzipMembers', () => {
  let dir: string;
  const contents = [Buffer.from('first member\n'.repeat(300)), randomBytes(70_000), Buffer.alloc(0), Buffer.from('last')];
  let joined: Buffer;

  beforeAll(() => {
    requireTools('gzip', 'python3');
    dir = tempDir();
    joined = Buffer.concat(contents.map((c, i) => gzipTool(c, i % 2 ? '-1' : '-9')));
  });

  it('finds the same boundaries as an independent splitter (python zlib)', () => {
    const path = join(dir, 'joined.gz');
    writeFileSync(path, joined);
    const expected = JSON.parse(pythonCheck('members', path)) as [number, number][];
    const members = splitGzipMembers(joined, LIMITS);
    expect(members.map((m) => [m.start, m.end])).toEqual(expected);
    expect(members.map((m) => Buffer.compare(m.data, contents[members.indexOf(m)]))).toEqual([0, 0, 0, 0]);
  });

  it('joins to what gunzip makes of the whole file', () => {
    const gunzipped = execFileSync('gzip', ['-dc'], { input: joined });
    expect(Buffer.concat(splitGzipMembers(joined, LIMITS).map((m) => m.data)).equals(gunzipped)).toBe(true);
  });

  it('skips the optional header fields: file name (gzip without -n), extra field, header CRC', () => {
    const path = join(dir, 'named.txt');
    writeFileSync(path, 'named content');
    const named = execFileSync('gzip', ['-c', path]);
    expect(named[3]).toBe(0x08); // FNAME
    // FEXTRA (4 bytes of subfield) and FHCRC added to a plain member by hand
    const plain = gzipTool(Buffer.from('extra content'), '-n');
    expect(plain[3]).toBe(0);
    const extended = Buffer.concat([
      plain.subarray(0, 3), Buffer.from([0x04 + 0x02]), plain.subarray(4, 10),
      Buffer.from([4, 0, 0x41, 0x42, 0, 0]), Buffer.from([0x12, 0x34]), plain.subarray(10),
    ]);
    const members = splitGzipMembers(Buffer.concat([named, extended]), LIMITS);
    expect(members.map((m) => m.data.toString())).toEqual(['named content', 'extra content']);
  });

  it.each([
    ['inside the fixed header', 5],
    ['inside the deflate stream', 40],
    ['inside the trailer', -3],
  ])('rejects a member truncated %s', (_where, cut) => {
    const member = gzipTool(randomBytes(200));
    const truncated = member.subarray(0, cut < 0 ? member.length + cut : cut);
    expect(() => splitGzipMembers(truncated, LIMITS)).toThrow(PackageFormatError);
    expect(() => splitGzipMembers(truncated, LIMITS)).toThrow(/truncated gzip member/);
  });

  it('rejects a CRC mismatch and a wrong length in the trailer', () => {
    const member = gzipTool(Buffer.from('checked'));
    const badCrc = Buffer.from(member);
    badCrc[badCrc.length - 8] = 255 - badCrc[badCrc.length - 8];
    expect(() => splitGzipMembers(badCrc, LIMITS)).toThrow(/CRC-32 mismatch/);
    const badLength = Buffer.from(member);
    badLength[badLength.length - 4] = (badLength[badLength.length - 4] + 1) % 256;
    expect(() => splitGzipMembers(badLength, LIMITS)).toThrow(/does not match the trailer/);
  });

  it('rejects trailing garbage after the last member', () => {
    const withGarbage = Buffer.concat([gzipTool(Buffer.from('ok')), Buffer.from('garbage!!!')]);
    expect(() => splitGzipMembers(withGarbage, LIMITS)).toThrow(/not a gzip member at offset/);
  });

  it('caps the output of a gzip bomb', () => {
    const bomb = gzipTool(Buffer.alloc(32 * MiB));
    expect(bomb.length).toBeLessThan(64 * KiB);
    expect(() => readGzipMember(bomb, 0, 1 * MiB)).toThrow(/expands beyond the limit of 1048576 bytes/);
    const twoHalves = Buffer.concat([gzipTool(Buffer.alloc(600_000)), gzipTool(Buffer.alloc(600_000))]);
    expect(() => splitGzipMembers(twoHalves, { maxMembers: 4, maxOutputBytes: 1 * MiB })).toThrow(/beyond the limit/);
  });

  it('caps the number of members', () => {
    const many = Buffer.concat(Array.from({ length: 5 }, () => gzipTool(Buffer.from('x'))));
    expect(() => splitGzipMembers(many, { maxMembers: 4, maxOutputBytes: 1 * MiB })).toThrow(/more than 4 gzip members/);
  });

  it('rejects a method other than deflate and reserved flags', () => {
    const member = gzipTool(Buffer.from('x'));
    const method = Buffer.from(member);
    method[2] = 7;
    expect(() => splitGzipMembers(method, LIMITS)).toThrow(/compression method 7/);
    const reserved = Buffer.from(member);
    reserved[3] = 0x80;
    expect(() => splitGzipMembers(reserved, LIMITS)).toThrow(/reserved flag bits/);
  });
});
