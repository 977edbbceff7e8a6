import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildRpm, type RpmBuildSpec } from '../../../src/formats/rpm/build-rpm';
import { parseRpm } from '../../../src/formats/rpm/rpm-file';
import { rpmFileInfo } from '../../support/rpm-fixtures';

const SPEC: RpmBuildSpec = {
  name: 'demo-tool',
  version: '2.1~rc1',
  release: '3.el9',
  epoch: 4,
  arch: 'x86_64',
  summary: 'A demo tool & friends',
  description: 'First line.\nSecond line: grüße.',
  license: 'Apache-2.0',
  group: 'Development/Tools',
  url: 'https://example.com/demo',
  vendor: 'Example Vendor',
  packager: 'Packager <p@example.com>',
  buildHost: 'builder.example',
  buildTime: 1_700_000_000,
  files: [
    { path: '/usr/bin/demo-tool', contents: '#!/bin/sh\necho demo\n', mode: 0o755 },
    { path: '/etc/demo-tool', type: 'dir' },
    { path: '/etc/demo-tool/demo.conf', contents: 'level=1\n' },
    { path: '/usr/share/demo-tool/c++notes.txt', contents: Buffer.from([0, 1, 2, 3, 255]) },
    { path: '/usr/bin/demo', type: 'symlink', target: 'demo-tool' },
  ],
  requires: [{ name: 'bash', flags: 'GE', ver: '4.0' }, { name: 'shadow-utils', pre: true }],
  provides: [{ name: 'demo-api', flags: 'EQ', epoch: '1', ver: '2.0', rel: '1' }],
  conflicts: [{ name: 'old-demo', flags: 'LT', ver: '1.0' }],
  obsoletes: [{ name: 'demo-legacy' }],
  changelog: [
    { author: 'Alice <a@example.com> - 4:2.1~rc1-3', date: 1_699_999_000, text: '- Newest' },
    { author: 'Bob <b@example.com> - 4:2.0-1', date: 1_600_000_000, text: '- Older' },
  ],
};

describe('buildRpm', () => {
  let file: string;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'build-rpm-'));
    file = join(dir, 'demo-tool-2.1~rc1-3.el9.x86_64.rpm');
    await writeFile(file, buildRpm(SPEC));
  });

  it('rpm checks every digest and says OK', () => {
    const out = execFileSync('rpmkeys', ['--checksig', '--verbose', file], { encoding: 'utf8' });
    expect(out).toMatch(/Header SHA256 digest: OK/);
    expect(out).toMatch(/Header SHA1 digest: OK/);
    expect(out).toMatch(/Payload SHA256 digest: OK/);
    expect(out).toMatch(/MD5 digest: OK/);
    expect(out).not.toMatch(/BAD|NOT OK/);
    expect(execFileSync('rpm', ['-K', '--nosignature', file], { encoding: 'utf8' })).toMatch(/digests OK/);
  });

  it('rpm -qp reads the tags', () => {
    const q = (fmt: string) => execFileSync('rpm', ['-qp', '--qf', fmt, file], { encoding: 'utf8' });
    expect(q('%{NAME}|%{EPOCH}|%{VERSION}|%{RELEASE}|%{ARCH}|%{LICENSE}|%{GROUP}|%{URL}|%{VENDOR}|%{PACKAGER}|%{BUILDHOST}|%{BUILDTIME}|%{SOURCERPM}'))
      .toBe('demo-tool|4|2.1~rc1|3.el9|x86_64|Apache-2.0|Development/Tools|https://example.com/demo|Example Vendor|Packager <p@example.com>|builder.example|1700000000|demo-tool-2.1~rc1-3.el9.src.rpm');
    expect(q('%{SUMMARY}\n%{DESCRIPTION}')).toBe('A demo tool & friends\nFirst line.\nSecond line: grüße.');
    expect(q('[%{REQUIRENEVRS} %{REQUIREFLAGS:deptype}\n]')).toContain('shadow-utils pre\n');
    expect(q('[%{REQUIRENEVRS}\n]')).toContain('bash >= 4.0\n');
    expect(q('[%{PROVIDENEVRS}\n]')).toBe('demo-api = 1:2.0-1\ndemo-tool = 4:2.1~rc1-3.el9\n');
    expect(q('[%{CONFLICTNEVRS}\n][%{OBSOLETENEVRS}\n]')).toBe('old-demo < 1.0\ndemo-legacy\n');
    expect(q('[%{CHANGELOGTIME} %{CHANGELOGNAME}\n]')).toBe('1699999000 Alice <a@example.com> - 4:2.1~rc1-3\n1600000000 Bob <b@example.com> - 4:2.0-1\n');
    expect(Number(q('%{SIZE}'))).toBe(20 + 8 + 5 + 'demo-tool'.length);
  });

  it('rpm -qpl lists the files, sorted', () => {
    expect(execFileSync('rpm', ['-qpl', file], { encoding: 'utf8' })).toBe(
      '/etc/demo-tool\n/etc/demo-tool/demo.conf\n/usr/bin/demo\n/usr/bin/demo-tool\n/usr/share/demo-tool/c++notes.txt\n');
    expect(execFileSync('rpm', ['-qp', '--qf', '[%{FILEMODES:perms} %{FILENAMES} %{FILELINKTOS}\n]', file], { encoding: 'utf8' })).toBe(
      'drwxr-xr-x /etc/demo-tool \n-rw-r--r-- /etc/demo-tool/demo.conf \nlrwxrwxrwx /usr/bin/demo demo-tool\n'
      + '-rwxr-xr-x /usr/bin/demo-tool \n-rw-r--r-- /usr/share/demo-tool/c++notes.txt \n');
  });

  it('the payload is a cpio archive with the contents', () => {
    const cpio = execFileSync('rpm2cpio', [file]);
    const listing = execFileSync('bsdtar', ['-tvf', '-'], { input: cpio, encoding: 'utf8' });
    expect(listing).toMatch(/\.\/usr\/bin\/demo -> demo-tool/);
    const conf = execFileSync('bsdtar', ['-xOf', '-', './etc/demo-tool/demo.conf'], { input: cpio, encoding: 'utf8' });
    expect(conf).toBe('level=1\n');
    const bin = execFileSync('bsdtar', ['-xOf', '-', './usr/share/demo-tool/c++notes.txt'], { input: cpio });
    expect([...bin]).toEqual([0, 1, 2, 3, 255]);
  });

  it('parseRpm reads back what was built', async () => {
    const { bytes, info } = await rpmFileInfo(file);
    const p = parseRpm(bytes, info);
    expect(p).toMatchObject({
      name: 'demo-tool',
      epoch: '4',
      version: '2.1~rc1',
      release: '3.el9',
      arch: 'x86_64',
      summary: SPEC.summary,
      description: SPEC.description,
      url: SPEC.url,
      packager: SPEC.packager,
      time: { build: 1_700_000_000 },
      size: { installed: 42, package: bytes.length },
      format: {
        license: 'Apache-2.0',
        vendor: 'Example Vendor',
        group: 'Development/Tools',
        buildhost: 'builder.example',
        requires: [{ name: 'bash', flags: 'GE', epoch: '0', ver: '4.0' }, { name: 'shadow-utils', pre: true }],
        provides: [{ name: 'demo-api', flags: 'EQ', epoch: '1', ver: '2.0', rel: '1' }, { name: 'demo-tool', flags: 'EQ', epoch: '4', ver: '2.1~rc1', rel: '3.el9' }],
        conflicts: [{ name: 'old-demo', flags: 'LT', epoch: '0', ver: '1.0' }],
        obsoletes: [{ name: 'demo-legacy' }],
      },
    });
    expect(p.files).toEqual([
      { path: '/etc/demo-tool', type: 'dir' }, { path: '/etc/demo-tool/demo.conf', type: 'file' }, { path: '/usr/bin/demo', type: 'file' },
      { path: '/usr/bin/demo-tool', type: 'file' }, { path: '/usr/share/demo-tool/c++notes.txt', type: 'file' },
    ]);
    expect(p.changelogs.map((c) => c.text)).toEqual(['- Older', '- Newest']);
    // the archive size rpm records is the uncompressed cpio size
    expect(p.size.archive).toBe(execFileSync('rpm2cpio', [file]).length);
  });

  it('is deterministic', () => {
    expect(Buffer.compare(Buffer.from(buildRpm(SPEC)), Buffer.from(buildRpm(SPEC)))).toBe(0);
  });

  it('refuses bad file lists', () => {
    expect(() => buildRpm({ ...SPEC, files: [{ path: 'relative' }] })).toThrow(/absolute/);
    expect(() => buildRpm({ ...SPEC, files: [{ path: '/a' }, { path: '/a' }] })).toThrow(/duplicate file path \/a/);
    expect(() => buildRpm({ ...SPEC, files: [{ path: '/l', type: 'symlink' }] })).toThrow(/needs a target/);
  });

  // installing needs root (rpm chowns files); CI runs the tests as root in the build container
  it.runIf(process.getuid?.() === 0)('rpm installs it into a scratch root and verifies it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rpm-root-'));
    execFileSync('rpm', ['--root', root, '--initdb']);
    execFileSync('rpm', ['--root', root, '-i', '--nodeps', file], { stdio: 'pipe' });
    expect(await readFile(join(root, 'etc/demo-tool/demo.conf'), 'utf8')).toBe('level=1\n');
    execFileSync('rpm', ['--root', root, '-V', '--nodeps', 'demo-tool'], { stdio: 'pipe' });
    expect(execFileSync('rpm', ['--root', root, '-q', 'demo-tool'], { encoding: 'utf8' })).toBe('demo-tool-2.1~rc1-3.el9.x86_64\n');
  });
});
