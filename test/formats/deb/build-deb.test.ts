import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeb, debFileName, type DebBuildSpec } from '../../../src/formats/deb/build-deb';
import { readDeb } from '../../../src/formats/deb/deb-package';
import { removeTempDirs, requireTools, tempDir } from '../../support/deb-fixtures';

afterAll(removeTempDirs);

const BUILD_TIME = 1_700_000_000;
const LONG_DIR = `/usr/share/demo-tool/${'nested-directory-name/'.repeat(4)}`;

const SPEC: DebBuildSpec = {
  name: 'demo-tool',
  version: '1:2.1~rc1+git20240101-3',
  architecture: 'amd64',
  maintainer: 'Jane Doe <jane@example.org>',
  summary: 'A demo tool & friends',
  description: 'First paragraph, grüße.\n\nSecond paragraph\n  an indented (verbatim) line  ',
  section: 'utils',
  priority: 'optional',
  homepage: 'https://example.org/demo',
  multiArch: 'foreign',
  depends: ['libc6 (>= 2.34)', 'mail-transport-agent | postfix:any (<< 4)'],
  recommends: ['demo-data (= 1:2.1~rc1+git20240101-3)'],
  conflicts: ['old-demo (<< 1.0)'],
  provides: ['demo-api (= 2)'],
  buildTime: BUILD_TIME,
  files: [
    { path: '/usr/bin/demo-tool', contents: '#!/bin/sh\necho demo\n', mode: 0o755 },
    { path: '/usr/bin/demo', type: 'symlink', target: 'demo-tool' },
    { path: '/etc/demo-tool/demo.conf', contents: 'level=1\n' },
    { path: '/var/lib/demo-tool', type: 'dir', mode: 0o700 },
    { path: '/usr/share/demo-tool/c++notes.bin', contents: Buffer.from([0, 1, 2, 3, 255]) },
    { path: `${LONG_DIR}README`, contents: 'x'.repeat(3000) },
  ],
};

/** The control file as it must come out, written by hand from SPEC. */
const EXPECTED_CONTROL = [
  'Package: demo-tool',
  'Version: 1:2.1~rc1+git20240101-3',
  'Architecture: amd64',
  'Maintainer: Jane Doe <jane@example.org>',
  // dpkg-gencontrol's rule: 3 KiB (README) + 1 KiB for each other file and the symlink + 1 per directory, './' included (14)
  'Installed-Size: 21',
  'Depends: libc6 (>= 2.34), mail-transport-agent | postfix:any (<< 4)',
  'Recommends: demo-data (= 1:2.1~rc1+git20240101-3)',
  'Conflicts: old-demo (<< 1.0)',
  'Provides: demo-api (= 2)',
  'Section: utils',
  'Priority: optional',
  'Multi-Arch: foreign',
  'Homepage: https://example.org/demo',
  'Description: A demo tool & friends',
  ' First paragraph, grüße.',
  ' .',
  ' Second paragraph',
  '   an indented (verbatim) line',
  '',
].join('\n');

/** Lays SPEC's files out on disk the way dpkg-deb --build wants them. */
function layOut(root: string, spec: DebBuildSpec): void {
  mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
  for (const f of spec.files ?? []) {
    const full = path.join(root, f.path);
    mkdirSync(path.dirname(full), { recursive: true });
    if (f.type === 'dir') mkdirSync(full, { recursive: true });
    else if (f.type === 'symlink') symlinkSync(f.target!, full);
    else writeFileSync(full, f.contents ?? '');
    if (f.type !== 'symlink') chmodSync(full, f.mode ?? (f.type === 'dir' ? 0o755 : 0o644));
  }
  execFileSync('find', [root, '-type', 'd', '-exec', 'chmod', 'go-w', '{}', '+']);
}

describe('buildDeb', () => {
  let dir: string;
  let file: string;
  let bytes: Uint8Array;
  const dpkgDeb = (...args: string[]) => execFileSync('dpkg-deb', args, { encoding: 'utf8' });

  beforeAll(async () => {
    requireTools('dpkg-deb', 'dpkg', 'ar', 'tar', 'md5sum', 'sha256sum');
    dir = tempDir('build-deb');
    bytes = await buildDeb(SPEC);
    file = path.join(dir, debFileName(SPEC));
    writeFileSync(file, bytes);
  });

  it('names the file as the archive does', () => {
    expect(path.basename(file)).toBe('demo-tool_2.1~rc1+git20240101-3_amd64.deb');
  });

  it('dpkg-deb --info sees a 2.0 package with control and md5sums', () => {
    const info = dpkgDeb('--info', file);
    expect(info).toMatch(/^ new Debian package, version 2\.0\.\n/);
    expect(info).toMatch(/^ +\d+ bytes, +18 lines +control +$/m);
    expect(info).toMatch(/^ +\d+ bytes, +4 lines +md5sums +$/m);
  });

  it('dpkg-deb --field prints exactly the control stanza asked for', () => {
    expect(dpkgDeb('--field', file)).toBe(EXPECTED_CONTROL);
    expect(dpkgDeb('--field', file, 'Package', 'Version', 'Architecture')).toBe(
      'Package: demo-tool\nVersion: 1:2.1~rc1+git20240101-3\nArchitecture: amd64\n');
    expect(execFileSync('dpkg-deb', ['--showformat', '${Description}', '--show', file], { encoding: 'utf8' }))
      .toBe(EXPECTED_CONTROL.slice(EXPECTED_CONTROL.indexOf('Description: ') + 13, -1));
  });

  it('lists the same members as dpkg-deb --build of the same tree', () => {
    const tree = path.join(dir, 'tree');
    layOut(tree, SPEC);
    writeFileSync(path.join(tree, 'DEBIAN', 'control'), EXPECTED_CONTROL);
    const md5sums = execFileSync('dpkg-deb', ['--ctrl-tarfile', file]);
    writeFileSync(path.join(tree, 'DEBIAN', 'md5sums'), execFileSync('tar', ['-xOf', '-', './md5sums'], { input: md5sums }));
    execFileSync('find', [tree, '-exec', 'touch', '-h', '-d', `@${BUILD_TIME}`, '{}', '+']);
    const reference = path.join(dir, 'reference.deb');
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', tree, reference], {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(BUILD_TIME) }, stdio: 'pipe',
    });
    const utc = { ...process.env, TZ: 'UTC' };
    const list = (deb: string) => execFileSync('dpkg-deb', ['--contents', deb], { encoding: 'utf8', env: utc });
    expect(list(file)).toBe(list(reference));
    expect(list(file)).toContain('lrwxrwxrwx root/root         0 2023-11-14 22:13 ./usr/bin/demo -> demo-tool\n');
    const control = (deb: string) => execFileSync('tar', ['-tvf', '-'], { input: execFileSync('dpkg-deb', ['--ctrl-tarfile', deb]), encoding: 'utf8', env: utc });
    expect(control(file)).toBe(control(reference));
    const ar = (deb: string) => execFileSync('ar', ['tv', deb], { encoding: 'utf8', env: utc }).replace(/ +\d+ (?=\w{3} )/g, ' <size> ');
    expect(ar(file)).toBe(ar(reference));
  });

  it('dpkg-deb --extract writes the files, modes and links asked for', () => {
    const out = path.join(dir, 'extracted');
    dpkgDeb('--extract', file, out);
    expect(readFileSync(path.join(out, 'usr/bin/demo-tool'), 'utf8')).toBe('#!/bin/sh\necho demo\n');
    expect(lstatSync(path.join(out, 'usr/bin/demo-tool')).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(path.join(out, 'usr/bin/demo'))).toBe('demo-tool');
    expect(lstatSync(path.join(out, 'var/lib/demo-tool')).mode & 0o7777).toBe(0o700);
    expect([...readFileSync(path.join(out, 'usr/share/demo-tool/c++notes.bin'))]).toEqual([0, 1, 2, 3, 255]);
    expect(readFileSync(path.join(out, `${LONG_DIR}README`), 'utf8')).toBe('x'.repeat(3000));
    expect(lstatSync(path.join(out, 'etc/demo-tool/demo.conf')).mtimeMs).toBe(BUILD_TIME * 1000);
    // md5sums agrees with md5sum over the extracted files
    const md5sums = execFileSync('tar', ['-xOf', '-', './md5sums'], { input: execFileSync('dpkg-deb', ['--ctrl-tarfile', file]), encoding: 'utf8' });
    const paths = md5sums.trim().split('\n').map((l) => l.slice(34));
    expect(paths).toHaveLength(4);
    expect(execFileSync('md5sum', paths, { cwd: out, encoding: 'utf8' })).toBe(md5sums);
  });

  it('readDeb reads back the stanza, identity and digests', async () => {
    const pkg = await readDeb(bytes);
    expect(pkg).toMatchObject({ package: 'demo-tool', version: '1:2.1~rc1+git20240101-3', architecture: 'amd64', size: bytes.length });
    expect(pkg.control.fields.map((f) => `${f.name}: ${f.value}\n`).join('')).toBe(EXPECTED_CONTROL);
    expect(pkg.sha256).toBe(execFileSync('sha256sum', [file], { encoding: 'utf8' }).slice(0, 64));
    expect(pkg.md5).toBe(createHash('md5').update(readFileSync(file)).digest('hex'));
  });

  it('is deterministic, and the build time shows in the bytes', async () => {
    expect(Buffer.compare(Buffer.from(await buildDeb(SPEC)), Buffer.from(bytes))).toBe(0);
    expect(Buffer.compare(Buffer.from(await buildDeb({ ...SPEC, buildTime: BUILD_TIME + 1 })), Buffer.from(bytes))).not.toBe(0);
  });

  it('builds a minimal package without files or md5sums', async () => {
    const minimal = path.join(dir, 'minimal.deb');
    writeFileSync(minimal, await buildDeb({ name: 'mini', version: '1.0', maintainer: 'M <m@example.org>', summary: 'mini' }));
    expect(dpkgDeb('--field', minimal)).toBe('Package: mini\nVersion: 1.0\nArchitecture: all\nMaintainer: M <m@example.org>\nInstalled-Size: 1\nDescription: mini\n');
    expect(dpkgDeb('--info', minimal)).not.toMatch(/md5sums/);
    expect(dpkgDeb('--contents', minimal)).toMatch(/^drwxr-xr-x root\/root +0 [-0-9: ]+ \.\/\n$/);
  });

  it.each<[string, Partial<DebBuildSpec>, RegExp]>([
    ['an upper-case name', { name: 'Demo' }, /invalid package name "Demo"/],
    ['a version with a space', { version: '1.0 beta' }, /invalid version "1.0 beta"/],
    ['a newline in the maintainer', { maintainer: 'a\nb' }, /maintainer must be one line/],
    ['a continuation line in a field', { homepage: 'https://x\n Evil: yes' }, /Homepage must be one line/],
    ['a newline in the summary', { summary: 'one\ntwo' }, /summary must be one line/],
    ['a description line starting with a dot', { description: 'ok\n.hidden' }, /line 2 starts with '\.'/],
    ['a malformed relation', { depends: ['libc6 >= 2'] }, /Depends relation "libc6 >= 2"/],
    ['an architecture with a slash', { architecture: 'amd/64' }, /invalid architecture/],
    ['a non-ASCII path', { files: [{ path: '/usr/share/café' }] }, /needs a PAX header/],
    ['a relative path', { files: [{ path: 'usr/bin/x' }] }, /must be absolute/],
    ['a path with ..', { files: [{ path: '/usr/../etc/x' }] }, /'\.\.'/],
    ['a duplicate path', { files: [{ path: '/a' }, { path: '/a' }] }, /duplicate file path \/a/],
    ['a path below a file', { files: [{ path: '/a' }, { path: '/a/b' }] }, /\/a\/b is below \/a, which is a file/],
    ['a symlink without a target', { files: [{ path: '/l', type: 'symlink' }] }, /needs a target/],
    ['a bad mode', { files: [{ path: '/a', mode: 0o10000 }] }, /mode of \/a/],
  ])('refuses %s', async (_, change, message) => {
    await expect(buildDeb({ ...SPEC, ...change })).rejects.toThrow(message);
  });

  // dpkg chowns what it unpacks; CI runs the tests as root in the build container
  it.runIf(process.getuid?.() === 0)('dpkg installs it into a scratch root and verifies it', () => {
    const root = tempDir('dpkg-root');
    for (const sub of ['info', 'updates', 'triggers']) mkdirSync(path.join(root, 'var/lib/dpkg', sub), { recursive: true });
    for (const f of ['status', 'available']) writeFileSync(path.join(root, 'var/lib/dpkg', f), '');
    const dpkg = (...args: string[]) => execFileSync('dpkg', [`--root=${root}`, '--log=/dev/null', ...args], { encoding: 'utf8', stdio: 'pipe' });
    dpkg('--force-depends', '--install', file);
    expect(dpkg('--status', 'demo-tool')).toMatch(/^Status: install ok installed$/m);
    expect(dpkg('--verify', 'demo-tool')).toBe('');
    expect(lstatSync(path.join(root, 'var/lib/demo-tool')).mode & 0o7777).toBe(0o700);
    expect(dpkg('--listfiles', 'demo-tool')).toContain('/usr/bin/demo\n');
    writeFileSync(path.join(root, 'etc/demo-tool/demo.conf'), 'level=2\n');
    expect(dpkg('--verify', 'demo-tool')).toBe('??5??????   /etc/demo-tool/demo.conf\n');
  });
});
