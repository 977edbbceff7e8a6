import { describe, expect, it } from 'vitest';
import { parseEdgeConfig, route, type EdgeConfig } from '../../src/edge/router';

const config: EdgeConfig = {
  repositories: [
    { prefix: 'yum/', format: 'yum' },
    { prefix: 'apt/', format: 'apt' },
    { prefix: 'alpine/', format: 'apk' },
    { prefix: 'arch/', format: 'pacman' },
    { prefix: 'arch-fixed/', format: 'pacman', pacmanRepositories: ['extra'] },
  ],
};

describe('route', () => {
  it.each([
    // directories and the root
    ['/', 'index.html'],
    ['/index.html', 'index.html'],
    ['/yum/', 'yum/index.html'],
    ['/apt/pool/stable/main/', 'apt/pool/stable/main/index.html'],
    // files pass through, percent-encoding untouched
    ['/yum/repodata/repomd.xml', 'yum/repodata/repomd.xml'],
    ['/yum/Packages/g%2B%2B-1.0~rc1-1.x86_64.rpm', 'yum/Packages/g%2B%2B-1.0~rc1-1.x86_64.rpm'],
    ['/apt/dists/stable/InRelease', 'apt/dists/stable/InRelease'],
    ['/alpine/v3.20/main/x86_64/APKINDEX.tar.gz', 'alpine/v3.20/main/x86_64/APKINDEX.tar.gz'],
    ['/alpine/keys/ops.rsa.pub', 'alpine/keys/ops.rsa.pub'],
    // pacman links
    ['/arch/core/os/x86_64/core.db', 'arch/core/os/x86_64/core.db.tar.gz'],
    ['/arch/core/os/x86_64/core.db.sig', 'arch/core/os/x86_64/core.db.tar.gz.sig'],
    ['/arch/core/os/x86_64/core.files', 'arch/core/os/x86_64/core.files.tar.gz'],
    ['/arch/core/os/x86_64/core.files.sig', 'arch/core/os/x86_64/core.files.tar.gz.sig'],
    ['/arch/core/os/x86_64/core.db.tar.gz', 'arch/core/os/x86_64/core.db.tar.gz'],
    ['/arch/core/os/x86_64/hello-1.0-1-x86_64.pkg.tar.zst', 'arch/core/os/x86_64/hello-1.0-1-x86_64.pkg.tar.zst'],
    // configured names only
    ['/arch-fixed/x86_64/extra.db', 'arch-fixed/x86_64/extra.db.tar.gz'],
    ['/arch-fixed/x86_64/other.db', 'arch-fixed/x86_64/other.db'],
    // .db is only a link under a pacman prefix
    ['/yum/some.db', 'yum/some.db'],
  ])('%s -> origin %s', (uri, key) => {
    expect(route(uri, config)).toEqual({ kind: 'origin', key });
  });

  it.each([
    ['/secret/passwords.txt'],
    ['/yumm/x.rpm'],
    ['/yum'],
    ['/arch-fixedx/extra.db'],
  ])('%s is outside every repository: 404 at the edge', (uri) => {
    expect(route(uri, config)).toMatchObject({ kind: 'status', status: 404 });
  });

  it('answers 400 for a path without a leading slash', () => {
    expect(route('yum/x.rpm', config)).toMatchObject({ kind: 'status', status: 400 });
  });

  it('lets a root repository (prefix "") serve everything', () => {
    expect(route('/anything/at/all.deb', { repositories: [{ prefix: '', format: 'apt' }] })).toEqual({ kind: 'origin', key: 'anything/at/all.deb' });
  });

  it('picks the longest matching prefix', () => {
    const nested: EdgeConfig = { repositories: [{ prefix: 'a/', format: 'yum' }, { prefix: 'a/b/', format: 'pacman' }] };
    expect(route('/a/b/r.db', nested)).toEqual({ kind: 'origin', key: 'a/b/r.db.tar.gz' });
    expect(route('/a/r.db', nested)).toEqual({ kind: 'origin', key: 'a/r.db' });
  });
});

describe('parseEdgeConfig', () => {
  it('accepts what the constructs write', () => {
    expect(parseEdgeConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  it.each([
    [null, /not an object/],
    [{}, /"repositories" is not an array/],
    [{ repositories: [{ prefix: 'yum', format: 'yum' }] }, /repositories\[0\]\.prefix must be '' or end in '\/'/],
    [{ repositories: [{ prefix: 'x/', format: 'rpm' }] }, /repositories\[0\]\.format must be one of yum, apt, apk, pacman/],
    [{ repositories: [{ prefix: 'x/', format: 'pacman', pacmanRepositories: [1] }] }, /pacmanRepositories must be an array of strings/],
  ])('rejects %j', (value, error) => {
    expect(() => parseEdgeConfig(value)).toThrow(error);
  });
});
