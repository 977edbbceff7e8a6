import { copyFileSync, createReadStream, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackageFormatError } from '../../../src/formats/errors';
import {
  DEFAULT_DATABASE_LIMITS, encodeSignature, entryOfPackage, type PacmanDbEntry, readDatabase, renderDesc, renderFiles, writeDatabase,
} from '../../../src/formats/pacman/db';
import { measureStream, packageCompression, readPacmanPackage } from '../../../src/formats/pacman/package';
import {
  bsdtarExtract, bsdtarPackage, createGpgHome, FIXTURE_EPOCH, type GpgHome, makepkg, pkginfoText, removeTempDirs, requireTools, runTool, tempDir,
} from '../../support/pacman-fixtures';

const UTF8 = { ...process.env, LC_ALL: 'C.UTF-8' };
const MTIME = new Date(FIXTURE_EPOCH * 1000);

/** Every regular file of an extracted archive: relative path -> text. */
function filesOf(archive: string): Map<string, string> {
  const root = bsdtarExtract(archive);
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.set(path.relative(root, full), readFileSync(full, 'utf8'));
    }
  };
  walk(root);
  return out;
}

/** The members bsdtar lists, sorted. */
function membersOf(archive: string): string[] {
  return runTool('bsdtar', ['-tf', archive], { env: UTF8 }).toString().split('\n').filter(Boolean).sort();
}

/** Debian's repo-add (pacman 6.0.2) still writes MD5SUM; current repo-add does not, nor do we. */
function withoutMd5(files: Map<string, string>): Map<string, string> {
  return new Map([...files].map(([name, text]) => [name, text.replace(/%MD5SUM%\n[0-9a-f]{32}\n\n/, '')]));
}

async function entryOf(file: string, withSignature: boolean): Promise<PacmanDbEntry> {
  const measured = measureStream(createReadStream(file));
  const pkg = await readPacmanPackage(measured.chunks, packageCompression(file));
  const { size, sha256 } = measured.result();
  const sig = `${file}.sig`;
  return entryOfPackage(pkg, {
    filename: path.basename(file),
    csize: size,
    sha256sum: sha256,
    signature: withSignature && existsSync(sig) ? readFileSync(sig) : undefined,
  });
}

async function writeArchive(file: string, entries: PacmanDbEntry[], withFiles: boolean): Promise<string> {
  writeFileSync(file, await writeDatabase(entries, { withFiles, mtime: MTIME }));
  return file;
}

function repoAdd(dir: string, db: string, packages: string[]): void {
  runTool('repo-add', ['-q', '--nocolor', db, ...packages], { cwd: dir, env: UTF8 });
}

describe('pacman database against repo-add', () => {
  let gpg: GpgHome;
  let packages: string[];
  let reference: string;
  let ours: PacmanDbEntry[];

  beforeAll(async () => {
    requireTools('makepkg', 'fakeroot', 'bsdtar', 'repo-add', 'repo-remove', 'gpg', 'zstd', 'xz', 'gzip');
    const pool = tempDir('pacman-pool');
    const built = [
      ...makepkg('full', '.pkg.tar.zst'),
      ...makepkg('plain', '.pkg.tar.xz'),
      ...makepkg('split', '.pkg.tar.gz'),
    ];
    for (const file of built) copyFileSync(file, path.join(pool, path.basename(file)));
    // what makepkg would never write but repo-add must cope with: irregular whitespace
    bsdtarPackage(path.join(pool, 'spaced-3.1-1-any.pkg.tar.zst'), {
      '.PKGINFO': pkginfoText([
        ['pkgname', 'spaced'], ['pkgver', '3.1-1'], ['pkgdesc', 'lots \t of   space'], ['builddate', String(FIXTURE_EPOCH)],
        ['size', '0'], ['arch', 'any'], ['license', 'MIT'], ['depend', 'a   >=1'], ['xdata', 'pkgtype=pkg'],
      ]),
      'opt/spaced/x  y': 'x',
    });
    packages = readdirSync(pool).sort().map((f) => path.join(pool, f));
    expect(packages.map((p) => path.basename(p))).toEqual([
      'hello-epoch-1:2.0-1-x86_64.pkg.tar.zst',
      'plain-0.1-3-any.pkg.tar.xz',
      'spaced-3.1-1-any.pkg.tar.zst',
      'split-lib-0.5.2rc1-2.1-x86_64.pkg.tar.gz',
      'split-tools-0.5.2rc1-2.1-x86_64.pkg.tar.gz',
    ]);
    gpg = createGpgHome();
    gpg.detachSign(packages[0]);

    reference = tempDir('repo-add');
    for (const file of [...packages, `${packages[0]}.sig`]) copyFileSync(file, path.join(reference, path.basename(file)));
    repoAdd(reference, 'test.db.tar.gz', packages.map((p) => path.basename(p)));
    ours = await Promise.all(packages.map((p) => entryOf(p, true)));
  });

  afterAll(() => {
    gpg?.close();
    removeTempDirs();
  });

  it.each([
    ['db', false],
    ['files', true],
  ] as const)('writes every %s entry exactly as repo-add does', async (kind, withFiles) => {
    const mine = await writeArchive(path.join(tempDir('ours'), `test.${kind}.tar.gz`), ours, withFiles);
    const theirs = path.join(reference, `test.${kind}.tar.gz`);
    expect(membersOf(mine)).toEqual(membersOf(theirs));
    const expected = withoutMd5(filesOf(theirs));
    const actual = filesOf(mine);
    expect([...actual.keys()]).toEqual([...expected.keys()]);
    for (const [name, text] of expected) expect({ name, text: actual.get(name) }).toEqual({ name, text });
    expect(actual.get('hello-epoch-1:2.0-1/desc')).toMatch(/%PGPSIG%\n[A-Za-z0-9+/]+=*\n/);
  });

  it('writes the same bytes for the same entries, whatever their order', async () => {
    const a = await writeDatabase(ours, { withFiles: true, mtime: MTIME });
    const b = await writeDatabase([...ours].reverse(), { withFiles: true, mtime: MTIME });
    expect(Buffer.compare(a, b)).toBe(0);
  });

  it.each(['.tar.gz', '.tar.zst', '.tar.xz', '.tar'])('adopts a repo-add files database (%s) and writes it back unchanged', async (suffix) => {
    const dir = tempDir('repo-add-suffix');
    for (const file of packages) copyFileSync(file, path.join(dir, path.basename(file)));
    copyFileSync(`${packages[0]}.sig`, path.join(dir, `${path.basename(packages[0])}.sig`));
    repoAdd(dir, `test.db${suffix}`, packages.map((p) => path.basename(p)));
    for (const [kind, withFiles] of [['db', false], ['files', true]] as const) {
      const theirs = path.join(dir, `test.${kind}${suffix}`);
      const adopted = await readDatabase(readFileSync(theirs));
      expect(adopted.map((e) => e.filename).sort()).toEqual(packages.map((p) => path.basename(p)));
      expect(adopted.every((e) => (e.files !== undefined) === withFiles)).toBe(true);
      const rewritten = await writeArchive(path.join(tempDir('rewritten'), `test.${kind}.tar.gz`), adopted, withFiles);
      expect(filesOf(rewritten)).toEqual(filesOf(theirs));
    }
  });

  it('adds a package to a repo-add database as repo-add would', async () => {
    const dir = tempDir('incremental');
    const [first, ...rest] = packages;
    for (const file of rest) copyFileSync(file, path.join(dir, path.basename(file)));
    repoAdd(dir, 'test.db.tar.gz', rest.map((p) => path.basename(p)));
    const adopted = await readDatabase(createReadStream(path.join(dir, 'test.files.tar.gz')));
    const updated = [...adopted, await entryOf(first, true)];
    for (const [kind, withFiles] of [['db', false], ['files', true]] as const) {
      const mine = await writeArchive(path.join(tempDir('ours'), `test.${kind}.tar.gz`), updated, withFiles);
      expect(withoutMd5(filesOf(mine))).toEqual(withoutMd5(filesOf(path.join(reference, `test.${kind}.tar.gz`))));
    }
  });

  it('removes a package as repo-remove does', async () => {
    const dir = tempDir('removal');
    for (const kind of ['db', 'files']) copyFileSync(path.join(reference, `test.${kind}.tar.gz`), path.join(dir, `test.${kind}.tar.gz`));
    runTool('repo-remove', ['-q', '--nocolor', 'test.db.tar.gz', 'plain'], { cwd: dir, env: UTF8 });
    const adopted = await readDatabase(readFileSync(path.join(reference, 'test.files.tar.gz')));
    const kept = adopted.filter((e) => e.name !== 'plain');
    for (const [kind, withFiles] of [['db', false], ['files', true]] as const) {
      const mine = await writeArchive(path.join(tempDir('ours'), `test.${kind}.tar.gz`), kept, withFiles);
      expect(filesOf(mine)).toEqual(filesOf(path.join(dir, `test.${kind}.tar.gz`)));
    }
  });

  it('writes and reads an empty database, and reads repo-add\'s empty one', async () => {
    const dir = tempDir('empty');
    const mine = await writeArchive(path.join(dir, 'test.db.tar.gz'), [], false);
    expect(membersOf(mine)).toEqual([]);
    expect(await readDatabase(readFileSync(mine))).toEqual([]);
    copyFileSync(path.join(reference, 'test.db.tar.gz'), path.join(dir, 'ref.db.tar.gz'));
    runTool('repo-remove', ['-q', '--nocolor', 'ref.db.tar.gz', 'hello-epoch', 'plain', 'spaced', 'split-lib', 'split-tools'], { cwd: dir, env: UTF8 });
    expect(await readDatabase(readFileSync(path.join(dir, 'ref.db.tar.gz')))).toEqual([]);
  });

  it('embeds only binary package signatures, as repo-add does', () => {
    const armored = runTool('gpg', ['--batch', '--armor', '--detach-sign', '-o', '-', packages[1]], { env: gpg.env });
    expect(() => encodeSignature(armored)).toThrow(/ASCII-armored/);
    expect(() => encodeSignature(Buffer.alloc(16385, 0x89))).toThrow(/more than 16384/);
    expect(() => encodeSignature(Buffer.from('not a signature'))).toThrow(/not an OpenPGP binary signature/);
    expect(encodeSignature(readFileSync(`${packages[0]}.sig`))).toBe(readFileSync(`${packages[0]}.sig`).toString('base64'));
  });
});

/** A gzipped tar of the given members, for hostile databases. */
async function tarGz(members: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const [name, text] of Object.entries(members)) pack.entry({ name }, text);
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const part of pack) parts.push(part as Buffer);
  return zlib.gzipSync(Buffer.concat(parts));
}

const DESC = '%FILENAME%\na-1-1-any.pkg.tar.zst\n\n%NAME%\na\n\n%VERSION%\n1-1\n\n%CSIZE%\n10\n\n';

describe('readDatabase on broken databases', () => {
  it('reads a minimal hand-written entry', async () => {
    const [entry] = await readDatabase(await tarGz({ 'a-1-1/desc': DESC, 'a-1-1/files': '%FILES%\nusr/\nusr/a\n' }));
    expect(entry).toMatchObject({ name: 'a', version: '1-1', csize: 10, files: ['usr/', 'usr/a'] });
  });

  it.each([
    ['a desc without %NAME%', { 'a-1-1/desc': DESC.replace('%NAME%\na\n\n', '') }, /has no %NAME%/],
    ['a directory that does not match NAME-VERSION', { 'b-1-1/desc': DESC }, /does not match its %NAME% and %VERSION%/],
    ['a repeated field', { 'a-1-1/desc': `${DESC}%NAME%\na\n\n` }, /%NAME% appears more than once/],
    ['text outside a field', { 'a-1-1/desc': `junk\n${DESC}` }, /expected a %FIELD% header, got "junk"/],
    ['a control character', { 'a-1-1/desc': DESC.replace('%CSIZE%', '%URL%\nhttp://x\u001b\n\n%CSIZE%') }, /forbidden character U\+001B/],
    ['a file name with a slash', { 'a-1-1/desc': DESC.replace('a-1-1-any.pkg', '../a-1-1-any.pkg') }, /invalid package file name/],
    ['a two-line %CSIZE%', { 'a-1-1/desc': DESC.replace('10\n', '10\n11\n') }, /%CSIZE% has 2 lines/],
    ['an unsafe path in files', { 'a-1-1/desc': DESC, 'a-1-1/files': '%FILES%\n../etc/passwd\n' }, /unsafe path/],
    ['files without desc', { 'a-1-1/desc': DESC, 'b-1-1/files': '%FILES%\nx\n' }, /b-1-1\/files but no b-1-1\/desc/],
  ])('rejects %s', async (_, members, reason) => {
    const bytes = await tarGz(members);
    await expect(readDatabase(bytes)).rejects.toThrow(PackageFormatError);
    await expect(readDatabase(bytes)).rejects.toThrow(reason);
  });

  it('rejects truncated and garbage archives', async () => {
    const good = await tarGz({ 'a-1-1/desc': DESC.repeat(1).padEnd(4000, '\n') });
    await expect(readDatabase(good.subarray(0, good.length - 20))).rejects.toThrow(PackageFormatError);
    await expect(readDatabase(Buffer.from('garbage'.repeat(200)))).rejects.toThrow(/malformed pacman database archive/);
  });

  it('enforces its limits', async () => {
    const bytes = await tarGz({ 'a-1-1/desc': DESC, 'b-1-1/desc': DESC.replace(/\na\n/, '\nb\n').replace('a-1-1-any', 'b-1-1-any') });
    await expect(readDatabase(bytes, { ...DEFAULT_DATABASE_LIMITS, maxEntries: 1 })).rejects.toThrow(/more than 1 entries/);
    await expect(readDatabase(bytes, { ...DEFAULT_DATABASE_LIMITS, maxMemberBytes: 10 })).rejects.toThrow(/larger than 10 bytes/);
    await expect(readDatabase(bytes, { ...DEFAULT_DATABASE_LIMITS, maxUncompressedBytes: 1000 })).rejects.toThrow(/beyond the limit/);
  });
});

describe('database writer', () => {
  it('refuses values that would inject fields', () => {
    const entry = {
      filename: 'a-1-1-any.pkg.tar.zst',
      name: 'a',
      version: '1-1',
      csize: 1,
      groups: [],
      licenses: [],
      replaces: [],
      conflicts: [],
      provides: [],
      depends: [],
      optdepends: [],
      makedepends: [],
      checkdepends: [],
    };
    expect(renderDesc(entry)).toBe('%FILENAME%\na-1-1-any.pkg.tar.zst\n\n%NAME%\na\n\n%VERSION%\n1-1\n\n%CSIZE%\n1\n\n');
    expect(() => renderDesc({ ...entry, desc: 'x\n%DEPENDS%\nevil' })).toThrow(/%DESC% of a-1-1 contains a forbidden character U\+000A/);
    expect(() => renderFiles(['usr/a\nb'])).toThrow(/file list entry contains a forbidden character/);
  });
});
