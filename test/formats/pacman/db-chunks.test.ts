import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../../src/formats/errors';
import { descSummary, parseDesc, renderDesc, renderEntry, writeDatabase, type PacmanDbEntry } from '../../../src/formats/pacman/db';
import {
  chunkMembers, chunkTar, compareDirectories, dbChunkLengths, DB_CHUNK_MAX, gunzipChunk, gzipChunk, memberCrc, splitChunk, TAR_END,
} from '../../../src/formats/pacman/db-chunks';
import { removeTempDirs, requireTools, runTool, tempDir } from '../../support/pacman-fixtures';

const MTIME = new Date(1_700_000_000_000);
const UTF8 = { ...process.env, LC_ALL: 'C.UTF-8' };

function entry(name: string, version = '1.0-1', files: string[] = [`usr/share/${name}/`, `usr/share/${name}/data`]): PacmanDbEntry {
  return {
    filename: `${name}-${version}-any.pkg.tar.zst`,
    name,
    version,
    desc: `the ${name} package`,
    groups: [],
    csize: 1234,
    isize: 99,
    sha256sum: 'a'.repeat(64),
    licenses: ['MIT'],
    arch: 'any',
    builddate: 1_700_000_000,
    replaces: [],
    conflicts: [],
    provides: [],
    depends: ['glibc'],
    optdepends: [],
    makedepends: [],
    checkdepends: [],
    files: ['usr/', ...files],
  };
}

/** Entry names whose directories sort like their names. */
const names = (count: number, prefix = 'pkg') => Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);

describe('chunked pacman databases', () => {
  beforeAll(() => requireTools('bsdtar', 'gzip'));
  afterAll(removeTempDirs);

  it('cuts chunks where the names say, so one more entry changes one chunk', () => {
    const dirs = names(3000).map((n) => `${n}-1.0-1`);
    const lengths = dbChunkLengths(dirs);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(dirs.length);
    expect(lengths.length).toBeGreaterThan(20);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(DB_CHUNK_MAX);
    const chunks = (list: string[]) => {
      let at = 0;
      return dbChunkLengths(list).map((n) => list.slice(at, (at += n)).join(','));
    };
    const before = new Set(chunks(dirs));
    const after = chunks([...dirs.slice(0, 1500), 'pkg01499a-1.0-1', ...dirs.slice(1500)]);
    expect(after.filter((c) => !before.has(c)).length).toBeLessThanOrEqual(2);
  });

  it('writes several gzip members that gzip, bsdtar and our reader take as one archive, long names included', async () => {
    const long = `long${'x'.repeat(120)}`;
    const entries = [...names(400).map((n) => entry(n)), entry(long, '2.0-1', [`usr/share/${'deep/'.repeat(30)}file`])];
    const dir = tempDir('chunks');
    for (const [kind, withFiles] of [['db', false], ['files', true]] as const) {
      const bytes = await writeDatabase(entries, { withFiles, mtime: MTIME });
      const file = path.join(dir, `test.${kind}.tar.gz`);
      writeFileSync(file, bytes);
      const members = chunkMembers(bytes, file)!;
      expect(members.length).toBeGreaterThan(3);
      expect(members.at(-1)!.entries).toBe(0);
      expect(members.reduce((n, m) => n + m.entries, 0)).toBe(entries.length);
      // gzip reads the members as one stream; bsdtar (libarchive, as pacman) lists every member
      expect(Buffer.compare(runTool('gzip', ['-dc', file]), zlib.gunzipSync(bytes))).toBe(0);
      const listed = runTool('bsdtar', ['-tf', file], { env: UTF8 }).toString().split('\n').filter(Boolean);
      const expected = entries.flatMap((e) => {
        const d = `${e.name}-${e.version}`;
        return withFiles ? [`${d}/`, `${d}/desc`, `${d}/files`] : [`${d}/`, `${d}/desc`];
      });
      expect(listed).toEqual(expected.sort((a, b) => compareDirectories(a.split('/')[0], b.split('/')[0])));
      const extracted = path.join(dir, `x-${kind}`);
      runTool('mkdir', ['-p', extracted]);
      runTool('bsdtar', ['-xf', file, '-C', extracted], { env: UTF8 });
      expect(runTool('cat', [path.join(extracted, `${long}-2.0-1`, 'desc')]).toString()).toBe(renderDesc(entries.at(-1)!));
    }
  });

  it('ties each .files member to its .db member', async () => {
    const entries = names(300).map((n) => entry(n));
    const db = chunkMembers(await writeDatabase(entries, { withFiles: false, mtime: MTIME }), 'db')!;
    const files = chunkMembers(await writeDatabase(entries, { withFiles: true, mtime: MTIME }), 'files')!;
    expect(files.length).toBe(db.length);
    files.slice(0, -1).forEach((m, i) => expect(m.link).toBe(memberCrc(db[i].bytes)));
    const other = chunkMembers(await writeDatabase(entries, { withFiles: false, mtime: new Date(0) }), 'db')!;
    expect(files[0].link).not.toBe(memberCrc(other[0].bytes));
  });

  it('splits a chunk back into its entries', async () => {
    const entries = [entry('a'), entry(`b${'y'.repeat(200)}`), { ...entry('c'), files: undefined }].map(renderEntry);
    const tar = chunkTar(entries, true, MTIME);
    const split = splitChunk(tar, 3, 'test');
    expect(split.map((e) => [e.directory, Buffer.from(e.desc).toString(), e.files && Buffer.from(e.files).toString()]))
      .toEqual(entries.map((e) => [e.directory, Buffer.from(e.desc).toString(), e.files && Buffer.from(e.files).toString()]));
    expect(splitChunk(chunkTar(entries, false, MTIME), 3, 'test').every((e) => e.files === undefined)).toBe(true);
  });

  it('refuses chunks it did not write', async () => {
    const tar = chunkTar([entry('a'), entry('b')].map(renderEntry), true, MTIME);
    const corrupt = Buffer.from(tar);
    corrupt[10] ^= 1;
    const cases: Array<[Uint8Array, number, RegExp]> = [
      [tar, 3, /holds 2 entries, its gzip member says 3/],
      [tar.subarray(0, tar.length - 100), 2, /claims \d+ bytes|truncated/],
      [corrupt, 2, /wrong header checksum/],
      [TAR_END, 0, /not a ustar header/],
      [chunkTar([entry('a')].map(renderEntry), true, MTIME).subarray(512), 1, /unexpected member "a-1.0-1\/desc"/],
    ];
    for (const [bytes, count, message] of cases) {
      expect(() => splitChunk(bytes, count, 'test')).toThrow(PackageFormatError);
      expect(() => splitChunk(bytes, count, 'test')).toThrow(message);
    }
  });

  it('finds no members in another tool\'s gzip and refuses tags that do not add up', async () => {
    expect(chunkMembers(zlib.gzipSync(TAR_END), 'plain')).toBeUndefined();
    expect(chunkMembers(Buffer.from('not gzip'), 'plain')).toBeUndefined();
    const member = await gzipChunk(Buffer.from('x'.repeat(1000)), { entries: 1, link: 0 }, 6);
    expect(() => chunkMembers(member.subarray(0, member.length - 1), 'cut')).toThrow(/claims \d+ bytes, \d+ are left/);
    expect(() => chunkMembers(Buffer.concat([member, zlib.gzipSync('x')]), 'mixed')).toThrow(/has no Pm tag, though the first one has/);
    await expect(gunzipChunk(member, 10, 'small')).rejects.toThrow(/corrupt gzip member \(or more than 10 bytes/);
  });

  it('throws only PackageFormatError for mutated chunks, members and desc texts', async () => {
    const entries = [entry('a'), entry(`b${'y'.repeat(150)}`)].map(renderEntry);
    const tar = chunkTar(entries, true, MTIME);
    const gz = Buffer.concat([await gzipChunk(tar, { entries: 2, link: 0 }, 6), await gzipChunk(TAR_END, { entries: 0, link: 0 }, 6)]);
    const desc = renderDesc(entry('a'));
    let seed = 12345;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const mutate = (bytes: Uint8Array) => {
      const out = Buffer.from(bytes);
      for (let k = 1 + random(4); k > 0; k--) out[random(out.length)] = random(256);
      return random(4) === 0 ? out.subarray(0, random(out.length)) : out;
    };
    const typed = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(PackageFormatError);
      }
    };
    for (let i = 0; i < 2000; i++) {
      typed(() => splitChunk(mutate(tar), 2, 'fuzz'));
      typed(() => chunkMembers(mutate(gz), 'fuzz'));
      typed(() => descSummary(mutate(Buffer.from(desc)).toString('utf8'), 'a-1.0-1'));
    }
  });

  it('summarises a desc as parseDesc reads it', () => {
    for (const e of [entry('a'), { ...entry('b', '2:1.0-3'), arch: undefined, sha256sum: undefined }]) {
      const text = renderDesc(e);
      const full = parseDesc(text, `${e.name}-${e.version}`);
      expect(descSummary(text, `${e.name}-${e.version}`)).toEqual({
        filename: full.filename, name: full.name, version: full.version, csize: full.csize, arch: full.arch, sha256sum: full.sha256sum,
      });
    }
    const text = renderDesc({ ...entry('a'), desc: '%CSIZE%', groups: ['%CSIZE%', '1'] });
    expect(descSummary(text, 'a-1.0-1').csize).toBe(1234);
    expect(() => descSummary(text, 'b-1.0-1')).toThrow(/does not match its %NAME% and %VERSION%/);
    expect(() => descSummary('%NAME%\na\n\n', 'a-1')).toThrow(/has no %FILENAME%/);
    expect(() => descSummary('garbage', 'a-1')).toThrow(PackageFormatError);
    expect(() => descSummary(text.replace('%CSIZE%\n1234', '%CSIZE%\n12x'), 'a-1.0-1')).toThrow(/invalid a-1.0-1\/desc %CSIZE% "12x"/);
  });
});

describe('compareDirectories', () => {
  it('orders names as their UTF-8 bytes do (what repo-add and bsdtar sort by), astral characters included', () => {
    const directories = ['a-1-1', 'a-1-10', 'a-1', 'A-1-1', 'a+b-1-1', 'é-1-1', 'e-1-1', '\uE000-1-1', '\uFFFD-1-1', '😀-1-1', '😁-1-1', 'x😀-1-1', 'x\uFFFF-1-1', 'x-1-1', 'x', ''];
    const bytes = (s: string) => Buffer.from(s, 'utf8');
    for (const a of directories) {
      for (const b of directories) expect(Math.sign(compareDirectories(a, b)), `${a} vs ${b}`).toBe(Buffer.compare(bytes(a), bytes(b)));
    }
  });
});
