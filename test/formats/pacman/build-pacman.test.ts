import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPacmanPackage, pacmanPackageFileName, type PacmanBuildSpec } from '../../../src/formats/pacman/build-pacman';
import { readPacmanPackage } from '../../../src/formats/pacman/package';
import { removeTempDirs, requireTools, runTool, tempDir } from '../../support/pacman-fixtures';

afterAll(removeTempDirs);

const BUILD_TIME = 1_700_000_000;
const UTF8 = { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' };

const SPEC: PacmanBuildSpec = {
  name: 'demo-tool',
  base: 'demo',
  version: '2.1rc1',
  release: '3',
  epoch: 1,
  arch: 'x86_64',
  description: 'A demo tool; description = with an equals sign',
  url: 'https://example.org/demo',
  packager: 'Jane Doe <jane@example.org>',
  licenses: ['MIT', 'custom:Demo'],
  groups: ['demo-tools'],
  depends: ['glibc>=2.30', 'bash'],
  conflicts: ['old-demo<1.0'],
  provides: ['demo=2.1', 'libdemo.so=1-64'],
  replaces: ['demo-legacy'],
  optdepends: ['python: for the helper scripts', 'perl>=5.30'],
  backup: ['etc/demo/café.conf'],
  buildTime: BUILD_TIME,
  files: [
    { path: '/usr/bin/demo-tool', contents: '#!/bin/sh\necho demo\n', mode: 0o755 },
    { path: '/usr/bin/demo', type: 'symlink', target: 'demo-tool' },
    { path: '/usr/bin-extra/x', contents: 'x\n' },
    { path: '/etc/demo/café.conf', contents: 'level=1\n' },
    { path: '/var/lib/demo', type: 'dir', mode: 0o700 },
    { path: '/usr/share/demo/a b#c=d', contents: Buffer.from([0, 1, 2, 255]) },
  ],
};

const EXPECTED_PKGINFO = [
  'pkgname = demo-tool', 'pkgbase = demo', 'pkgver = 1:2.1rc1-3', 'pkgdesc = A demo tool; description = with an equals sign',
  'url = https://example.org/demo', `builddate = ${BUILD_TIME}`, 'packager = Jane Doe <jane@example.org>', 'size = 34', 'arch = x86_64',
  'license = MIT', 'license = custom:Demo', 'replaces = demo-legacy', 'group = demo-tools', 'conflict = old-demo<1.0',
  'provides = demo=2.1', 'provides = libdemo.so=1-64', 'backup = etc/demo/café.conf', 'depend = glibc>=2.30', 'depend = bash',
  'optdepend = python: for the helper scripts', 'optdepend = perl>=5.30', '',
].join('\n');

/** The member names bsdtar lists. */
function memberNames(file: string): string[] {
  return runTool('bsdtar', ['-tf', file], { env: UTF8 }).toString().split('\n').filter((n) => n !== '');
}

/** makepkg's list_package_files, run by bash in `dir`. */
function makepkgOrder(dir: string): string[] {
  return runTool('bash', ['-c', 'export LC_COLLATE=C; shopt -s dotglob globstar; printf "%s\\0" **/*'], { cwd: dir })
    .toString().split('\0').filter((p) => p !== '');
}

/** pacman isolated in `dir`, as root (fakeroot otherwise), no signature checks: the package is judged, not a key. */
function pacman(dir: string, args: string[]): string {
  mkdirSync(path.join(dir, 'root'), { recursive: true });
  mkdirSync(path.join(dir, 'db'), { recursive: true });
  writeFileSync(path.join(dir, 'pacman.conf'), ['[options]', `RootDir = ${dir}/root`, `DBPath = ${dir}/db`, `CacheDir = ${dir}/cache`,
    `LogFile = ${dir}/pacman.log`, `GPGDir = ${dir}/gnupg`, `HookDir = ${dir}/hooks`, 'Architecture = x86_64', 'SigLevel = Never', ''].join('\n'));
  const command = ['pacman', '--config', path.join(dir, 'pacman.conf'), '--color', 'never', ...args];
  const [exe, ...rest] = process.getuid?.() === 0 ? command : ['fakeroot', ...command];
  return runTool(exe, rest, { env: UTF8 }).toString();
}

describe('buildPacmanPackage', () => {
  let dir: string;
  let file: string;
  let bytes: Uint8Array;
  let extracted: string;

  beforeAll(async () => {
    requireTools('bsdtar', 'pacman', 'repo-add', 'fakeroot', 'bash', 'zstd');
    dir = tempDir('build-pacman');
    bytes = await buildPacmanPackage(SPEC);
    file = path.join(dir, pacmanPackageFileName(SPEC));
    writeFileSync(file, bytes);
    extracted = path.join(dir, 'extracted');
    mkdirSync(extracted);
    runTool('bsdtar', ['-xpf', file, '-C', extracted]);
  });

  it('names the file as makepkg does', () => {
    expect(path.basename(file)).toBe('demo-tool-1:2.1rc1-3-x86_64.pkg.tar.gz');
    expect(pacmanPackageFileName({ name: 'a', version: '1' }, 'zstd')).toBe('a-1-1-any.pkg.tar.zst');
  });

  it('holds .MTREE, .PKGINFO, then the files in the order makepkg archives them', () => {
    const listing = runTool('bsdtar', ['-tvf', file], { env: UTF8 }).toString();
    expect(listing).toMatch(/^-rw-r--r-- +0 root +root +\d+ Nov 14 +2023 \.MTREE\n-rw-r--r-- +0 root +root +\d+ Nov 14 +2023 \.PKGINFO\n/);
    expect(listing).toContain('lrwxrwxrwx  0 root   root        0 Nov 14  2023 usr/bin/demo -> demo-tool\n');
    expect(listing).toContain('drwx------  0 root   root        0 Nov 14  2023 var/lib/demo/\n');
    const names = memberNames(file).map((n) => n.replace(/\/$/, ''));
    expect(names).toEqual(makepkgOrder(extracted));
    expect(names.indexOf('usr/bin-extra')).toBeLessThan(names.indexOf('usr/bin/demo'));
  });

  it('writes .PKGINFO in makepkg\'s order', () => {
    expect(readFileSync(path.join(extracted, '.PKGINFO'), 'utf8')).toBe(EXPECTED_PKGINFO);
  });

  it('writes the .MTREE makepkg\'s bsdtar command writes for the same tree', () => {
    const mtree = runTool('bash', ['-c', 'export LC_COLLATE=C; shopt -s dotglob globstar; printf "%s\\0" **/* | '
      + 'bsdtar -cnf - --uid 0 --gid 0 --format=mtree --options=\'!all,use-set,type,uid,gid,mode,time,size,md5,sha256,link\' '
      + '--null --files-from - --exclude .MTREE'], { cwd: extracted, env: UTF8 });
    const list = (text: Uint8Array) => runTool('bsdtar', ['-tvf', '-'], { input: text, env: UTF8 }).toString();
    const ours = zlib.gunzipSync(readFileSync(path.join(extracted, '.MTREE')));
    expect(list(ours)).toBe(list(mtree));
    // the digests, as bsdtar computed them from the extracted files, with the names bsdtar escapes
    const digests = (text: string) => text.split('\n').filter((l) => l.includes('digest=')).map((l) => l.replace(/ time=\S+| mode=\S+/g, '')).sort();
    expect(digests(ours.toString())).toEqual(digests(mtree.toString()));
  });

  it('readPacmanPackage reads back the fields and the file list', async () => {
    const pkg = await readPacmanPackage((async function* chunks() {
      yield bytes;
    })(), 'gzip');
    expect(pkg.info).toMatchObject({
      pkgname: 'demo-tool',
      pkgbase: 'demo',
      pkgver: '1:2.1rc1-3',
      pkgdesc: SPEC.description,
      url: SPEC.url,
      builddate: BUILD_TIME,
      packager: SPEC.packager,
      size: 34,
      arch: 'x86_64',
      licenses: SPEC.licenses,
      groups: SPEC.groups,
      depends: SPEC.depends,
      conflicts: SPEC.conflicts,
      provides: SPEC.provides,
      replaces: SPEC.replaces,
      optdepends: SPEC.optdepends,
      backup: SPEC.backup,
    });
    expect(pkg.files).toEqual(memberNames(file).filter((n) => !n.startsWith('.')));
  });

  it('pacman -Qip prints the name, version, relations and sizes', () => {
    const info = runTool('pacman', ['-Qip', file], { env: UTF8 }).toString();
    const field = (name: string) => new RegExp(`^${name} +: (.*)$`, 'm').exec(info)?.[1];
    expect(field('Name')).toBe('demo-tool');
    expect(field('Version')).toBe('1:2.1rc1-3');
    expect(field('Depends On')).toBe('glibc>=2.30  bash');
    expect(field('Provides')).toBe('demo=2.1  libdemo.so=1-64');
    expect(field('Conflicts With')).toBe('old-demo<1.0');
    expect(field('Architecture')).toBe('x86_64');
    expect(field('Installed Size')).toBe('34.00 B');
    expect(field('Compressed Size')).toBe(`${bytes.length}.00 B`);
    expect(field('Build Date')).toBe('Tue Nov 14 22:13:20 2023');
    expect(info).toMatch(/^Optional Deps +: python: for the helper scripts\n +perl>=5\.30\n/m);
  });

  it('repo-add accepts it into a database, files included', () => {
    const repo = path.join(dir, 'repo');
    mkdirSync(repo);
    runTool('repo-add', ['--quiet', path.join(repo, 'demo.db.tar.gz'), file], { env: UTF8 });
    const db = path.join(repo, 'demo.db.tar.gz');
    expect(runTool('bsdtar', ['-tf', db]).toString()).toBe('demo-tool-1:2.1rc1-3/\ndemo-tool-1:2.1rc1-3/desc\n');
    const desc = runTool('bsdtar', ['-xOf', db, 'demo-tool-1:2.1rc1-3/desc'], { env: UTF8 }).toString();
    expect(desc).toContain(`%CSIZE%\n${statSync(file).size}\n`);
    expect(desc).toContain(`%SHA256SUM%\n${createHash('sha256').update(bytes).digest('hex')}\n`);
    expect(desc).toContain('%DEPENDS%\nglibc>=2.30\nbash\n');
    expect(desc).toContain('%BASE%\ndemo\n');
    const files = runTool('bsdtar', ['-xOf', path.join(repo, 'demo.files.tar.gz'), 'demo-tool-1:2.1rc1-3/files'], { env: UTF8 }).toString();
    // repo-add sorts the member names (directories with their trailing slash), as `LC_ALL=C sort` does
    const listed = memberNames(file).filter((n) => !n.startsWith('.')).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(files).toBe(`%FILES%\n${listed.join('\n')}\n`);
  });

  it('pacman installs it and pacman -Qkk finds every file as its .MTREE says', () => {
    const sandbox = tempDir('pacman-install');
    expect(pacman(sandbox, ['-Udd', '--noconfirm', '--noprogressbar', file])).toMatch(/installing demo-tool/);
    expect(pacman(sandbox, ['-Qkk', 'demo-tool'])).toBe('demo-tool: 15 total files, 0 altered files\n');
    expect(readFileSync(path.join(sandbox, 'root/etc/demo/café.conf'), 'utf8')).toBe('level=1\n');
    expect(statSync(path.join(sandbox, 'root/var/lib/demo')).mode & 0o7777).toBe(0o700);
    writeFileSync(path.join(sandbox, 'root/usr/share/demo/a b#c=d'), 'tampered');
    expect(() => pacman(sandbox, ['-Qkk', 'demo-tool'])).toThrow(/a b#c=d \(Size mismatch\)/);
  });

  it('compresses with zstd where Node has the encoder, and says so where it has not', async () => {
    if (typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync !== 'function') {
      await expect(buildPacmanPackage(SPEC, 'zstd')).rejects.toThrow(/zstd needs Node's zlib zstd encoder \(Node 22\.15 or later/);
      return;
    }
    const zst = path.join(dir, pacmanPackageFileName(SPEC, 'zstd'));
    writeFileSync(zst, await buildPacmanPackage(SPEC, 'zstd'));
    expect(runTool('zstd', ['-dc', zst]).equals(zlib.gunzipSync(bytes))).toBe(true);
    expect(runTool('pacman', ['-Qip', zst], { env: UTF8 }).toString()).toMatch(/^Version +: 1:2\.1rc1-3$/m);
  });

  it('is deterministic', async () => {
    expect(Buffer.compare(Buffer.from(await buildPacmanPackage(SPEC)), Buffer.from(bytes))).toBe(0);
  });

  it.each<[string, Partial<PacmanBuildSpec>, RegExp]>([
    ['a name starting with a dash', { name: '-demo' }, /invalid buildPacmanPackage name "-demo"/],
    ['a version with a dash', { version: '2.1-rc1' }, /invalid buildPacmanPackage version/],
    ['a release that is not a number', { release: 'r3' }, /invalid buildPacmanPackage version/],
    ['a negative epoch', { epoch: -1 }, /epoch must be a non-negative integer/],
    ['a newline in the description', { description: 'one\npkgname = evil' }, /description contains a forbidden character U\+000A/],
    ['a dependency with a space', { depends: ['glibc >= 2.30'] }, /invalid depend "glibc >= 2.30"/],
    ['an arch with a dash', { arch: 'x86-64' }, /invalid buildPacmanPackage arch/],
    ['a backup path not in the package', { backup: ['/etc/demo/café.conf'] }, /backup "\/etc\/demo\/café.conf" is not a file of the package/],
    ['a top-level dot file', { files: [{ path: '/.INSTALL' }] }, /top-level names starting with '\.'/],
    ['a path below a symlink', { files: [{ path: '/l', type: 'symlink', target: 'x' }, { path: '/l/x' }] }, /below \/l, which is a symlink/],
  ])('refuses %s', async (_, change, message) => {
    await expect(buildPacmanPackage({ ...SPEC, ...change })).rejects.toThrow(message);
  });
});
