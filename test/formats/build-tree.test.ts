import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { buildTree, fitsUstar, tarMemberOf, writeTar } from '../../src/formats/build-tree';

const FILES = [
  { path: '/usr/bin-extra/x' },
  { path: '/usr/bin/tool', mode: 0o755 },
  { path: '/usr/bin/link', type: 'symlink' as const, target: 'tool' },
  { path: '/etc', type: 'dir' as const, mode: 0o750 },
];

/** The typeflags of a tar's headers, read by Python's tarfile (x = PAX extended header). */
function typeflags(tar: Uint8Array): string {
  const script = 'import sys\nd = sys.stdin.buffer.read()\nprint("".join(chr(d[o + 156]) for o in range(0, len(d), 512) if d[o + 257:o + 262] == b"ustar"))';
  return execFileSync('python3', ['-c', script], { input: tar, encoding: 'utf8' }).trim();
}

describe('buildTree', () => {
  it('adds every parent directory and keeps explicit directory modes', () => {
    const tree = buildTree(FILES, 'bytewise', 'test');
    expect(tree.map((e) => [e.path, e.type, e.mode.toString(8)])).toEqual([
      ['etc', 'dir', '750'], ['usr', 'dir', '755'], ['usr/bin', 'dir', '755'], ['usr/bin-extra', 'dir', '755'],
      ['usr/bin-extra/x', 'file', '644'], ['usr/bin/link', 'symlink', '777'], ['usr/bin/tool', 'file', '755'],
    ]);
  });

  it('orders depth first per directory, as GNU tar --sort=name and dpkg-deb do', () => {
    expect(buildTree(FILES, 'per-directory', 'test').map((e) => e.path)).toEqual([
      'etc', 'usr', 'usr/bin', 'usr/bin/link', 'usr/bin/tool', 'usr/bin-extra', 'usr/bin-extra/x',
    ]);
  });

  it.each([
    [[{ path: '/a', mode: 0 }], /mode of \/a/],
    [[{ path: '/a/./b' }], /'\.'/],
    [[{ path: '/a//b' }], /empty/],
    [[{ path: '/a\nb' }], /control characters/],
    [[{ path: `/${'n'.repeat(256)}` }], /over-long/],
  ])('refuses %j', (files, message) => {
    expect(() => buildTree(files, 'bytewise', 'test')).toThrow(message);
  });
});

describe('writeTar and fitsUstar', () => {
  it.each([
    ['a 100-byte name', `usr/${'n'.repeat(96)}`, undefined, true],
    ['a long path split into prefix and name', `${'p'.repeat(150)}/${'n'.repeat(100)}`, undefined, true],
    ['a name part over 100 bytes', `usr/${'n'.repeat(101)}`, undefined, false],
    ['a prefix over 155 bytes', `${'p'.repeat(160)}/${'n'.repeat(50)}`, undefined, false],
    ['a non-ASCII name', 'usr/café', undefined, false],
    ['a link target over 100 bytes', 'usr/link', 't'.repeat(101), false],
  ])('%s: fitsUstar agrees with whether tar-stream needs a PAX header', async (_, name, linkname, fits) => {
    const member = linkname
      ? { name, type: 'symlink' as const, mode: 0o777, linkname }
      : { name, type: 'file' as const, mode: 0o644, data: Buffer.from('x') };
    expect(fitsUstar(member)).toBe(fits);
    expect(typeflags(await writeTar([member], 0))).toBe(fits ? (linkname ? '2' : '0') : (linkname ? 'x2' : 'x0'));
  });

  it('writes root ownership and the given time; bsdtar lists the members', async () => {
    const tree = buildTree(FILES, 'bytewise', 'test');
    const tar = await writeTar(tree.map((e) => tarMemberOf(e, './')), 1_700_000_000);
    expect(execFileSync('bsdtar', ['-tvf', '-'], { input: tar, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } })).toBe([
      'drwxr-x---  0 root   root        0 Nov 14  2023 ./etc/',
      'drwxr-xr-x  0 root   root        0 Nov 14  2023 ./usr/',
      'drwxr-xr-x  0 root   root        0 Nov 14  2023 ./usr/bin/',
      'drwxr-xr-x  0 root   root        0 Nov 14  2023 ./usr/bin-extra/',
      '-rw-r--r--  0 root   root        0 Nov 14  2023 ./usr/bin-extra/x',
      'lrwxrwxrwx  0 root   root        0 Nov 14  2023 ./usr/bin/link -> tool',
      '-rwxr-xr-x  0 root   root        0 Nov 14  2023 ./usr/bin/tool',
      '',
    ].join('\n'));
    expect((await writeTar([], 0, false)).length).toBe(0);
    await expect(writeTar([], 2 ** 33)).rejects.toThrow(/does not fit a ustar header/);
  });
});
