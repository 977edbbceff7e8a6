import { describe, expect, it } from 'vitest';
import { encodeKey, keyAliases, parseEdgeConfig, repositoryName, route, type EdgeConfig } from '../../src/edge/router';

const config: EdgeConfig = {
  repositories: [
    { prefix: 'yum/', format: 'yum', name: 'acme' },
    { prefix: 'apt/', format: 'apt' },
    { prefix: 'alpine/', format: 'apk', apkKeyName: 'ops.rsa.pub' },
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
    // files pass through
    ['/yum/repodata/repomd.xml', 'yum/repodata/repomd.xml'],
    ['/apt/dists/stable/InRelease', 'apt/dists/stable/InRelease'],
    ['/alpine/v3.20/main/x86_64/APKINDEX.tar.gz', 'alpine/v3.20/main/x86_64/APKINDEX.tar.gz'],
    ['/alpine/keys/ops.rsa.pub', 'alpine/keys/ops.rsa.pub'],
    // pacman links
    ['/arch/core/os/x86_64/core.db', 'arch/core/os/x86_64/core.db.tar.gz'],
    ['/arch/core/os/x86_64/core.files', 'arch/core/os/x86_64/core.files.tar.gz'],
    ['/arch/core/os/x86_64/core.db.tar.gz', 'arch/core/os/x86_64/core.db.tar.gz'],
    ['/arch/core/os/x86_64/hello-1.0-1-x86_64.pkg.tar.zst', 'arch/core/os/x86_64/hello-1.0-1-x86_64.pkg.tar.zst'],
    // configured names only
    ['/arch-fixed/x86_64/extra.db', 'arch-fixed/x86_64/extra.db.tar.gz'],
    ['/arch-fixed/x86_64/other.db', 'arch-fixed/x86_64/other.db'],
    // .db is only a link under a pacman prefix
    ['/yum/some.db', 'yum/some.db'],
    // key aliases: the names users expect, onto what the keygen custom resource publishes
    ['/yum/keys/RPM-GPG-KEY-acme', 'yum/keys/repository.asc'],
    ['/yum/keys/acme.asc', 'yum/keys/repository.asc'],
    ['/yum/keys/acme.gpg', 'yum/keys/repository.gpg'],
    ['/apt/keys/apt-archive-keyring.gpg', 'apt/keys/repository.gpg'],
    ['/apt/keys/RPM-GPG-KEY-apt', 'apt/keys/repository.asc'],
    ['/arch/keys/arch.asc', 'arch/keys/repository.asc'],
    ['/yum/keys/repository.asc', 'yum/keys/repository.asc'],
    ['/yum/keys/RPM-GPG-KEY-other', 'yum/keys/RPM-GPG-KEY-other'],
  ])('%s -> origin %s', (uri, key) => {
    expect(route(uri, config)).toEqual({ kind: 'origin', key });
  });

  it.each([
    // a detached signature is answered from the manifest it signs (its metadata): one object, one generation
    ['/yum/repodata/repomd.xml.asc', 'yum/repodata/repomd.xml', 'yum/repodata/repomd.xml.asc'],
    ['/yum/el/9/x86_64/repodata/repomd.xml.asc', 'yum/el/9/x86_64/repodata/repomd.xml', 'yum/el/9/x86_64/repodata/repomd.xml.asc'],
    ['/arch/core/os/x86_64/core.db.sig', 'arch/core/os/x86_64/core.db.tar.gz', 'arch/core/os/x86_64/core.db.tar.gz.sig'],
    ['/arch/core/os/x86_64/core.files.sig', 'arch/core/os/x86_64/core.files.tar.gz', 'arch/core/os/x86_64/core.files.tar.gz.sig'],
    ['/arch/core/os/x86_64/core.db.tar.gz.sig', 'arch/core/os/x86_64/core.db.tar.gz', 'arch/core/os/x86_64/core.db.tar.gz.sig'],
    ['/arch/core/os/x86_64/c%2B%2B.db.sig', 'arch/core/os/x86_64/c%2B%2B.db.tar.gz', 'arch/core/os/x86_64/c%2B%2B.db.tar.gz.sig'],
  ])('%s -> origin %s, answered with the signature embedded in it', (uri, key, signatureOf) => {
    expect(route(uri, config)).toEqual({ kind: 'origin', key, signatureOf });
  });

  it.each([
    // other signatures are objects of their own
    '/arch/core/os/x86_64/hello-1.0-1-x86_64.pkg.tar.zst.sig',
    '/apt/dists/stable/Release.gpg',
    '/yum/keys/repository.asc',
    '/yum/repodata/other.xml.asc',
    '/apt/repodata/repomd.xml.asc',
  ])('%s is an object of its own', (uri) => {
    expect(route(uri, config)).toEqual({ kind: 'origin', key: uri.slice(1) });
  });

  it.each([
    // what the viewer sent, in any spelling → one key, spelled as S3's SigV4 canonical URI
    ['/yum/Packages/g++-1.0~rc1-1.x86_64.rpm', 'yum/Packages/g%2B%2B-1.0~rc1-1.x86_64.rpm'],
    ['/yum/Packages/g%2B%2B-1.0~rc1-1.x86_64.rpm', 'yum/Packages/g%2B%2B-1.0~rc1-1.x86_64.rpm'],
    ['/yum/Packages/g%2b%2b-1.0%7erc1-1.x86_64.rpm', 'yum/Packages/g%2B%2B-1.0~rc1-1.x86_64.rpm'],
    ['/apt/pool/stable/main/hello_1:2.0~rc1-1_all.deb', 'apt/pool/stable/main/hello_1%3A2.0~rc1-1_all.deb'],
    ['/apt/pool/stable/main/hello_1%3a2.0-1_all.deb', 'apt/pool/stable/main/hello_1%3A2.0-1_all.deb'],
    ['/yum/with%20space.rpm', 'yum/with%20space.rpm'],
    ['/yum/%C3%A9t%C3%A9.rpm', 'yum/%C3%A9t%C3%A9.rpm'],
    ['/yum/a!b\'c(d)e*f.rpm', 'yum/a%21b%27c%28d%29e%2Af.rpm'],
    ['/yum/100%25.rpm', 'yum/100%25.rpm'],
  ])('%s reaches S3 as %s', (uri, key) => {
    expect(route(uri, config)).toEqual({ kind: 'origin', key });
  });

  it.each([
    ['/secret/passwords.txt'],
    ['/yumm/x.rpm'],
    ['/yum'],
    ['/arch-fixedx/extra.db'],
    // an encoded slash does not smuggle a path past the prefix check
    ['/secret%2Fx'],
  ])('%s is outside every repository: 404 at the edge', (uri) => {
    expect(route(uri, config)).toMatchObject({ kind: 'status', status: 404 });
  });

  it.each([
    ['yum/x.rpm', /start with/],
    ['/yum/%E0%A4%A.rpm', /percent-encoded/],
    ['/yum/%FF.rpm', /percent-encoded/],
    ['/yum/a%00b.rpm', /percent-encoded/],
    ['/yum/../secret.txt', /segment/],
    ['/yum/%2E%2E/secret.txt', /segment/],
    ['/yum/./x.rpm', /segment/],
  ])('%s is 400', (uri, reason) => {
    const result = route(uri, config);
    expect(result).toMatchObject({ kind: 'status', status: 400 });
    expect((result as { reason: string }).reason).toMatch(reason);
  });

  it('serves a private repository only under its prefix spelled literally (the spelling its token-checking behaviour matches)', () => {
    const withPrivate: EdgeConfig = { ...config, repositories: [...config.repositories, { prefix: 'private/', format: 'apt', private: true }], tokens: { ssmRegion: 'eu-west-1', ssmParameterPath: '/t/' } };
    expect(route('/private/dists/stable/InRelease', withPrivate)).toEqual({ kind: 'origin', key: 'private/dists/stable/InRelease' });
    expect(route('/private/a%2Bb.deb', withPrivate)).toEqual({ kind: 'origin', key: 'private/a%2Bb.deb' });
    for (const uri of ['/%70rivate/dists/stable/InRelease', '/private%2Fdists/stable/InRelease', '/%70rivate/']) {
      expect(route(uri, withPrivate)).toMatchObject({ kind: 'status', status: 404 });
    }
    // a public repository answers to any spelling
    expect(route('/%79um/x.rpm', config)).toEqual({ kind: 'origin', key: 'yum/x.rpm' });
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

describe('encodeKey', () => {
  it('leaves exactly the RFC 3986 unreserved characters and "/" alone', () => {
    const unreserved = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
    expect(encodeKey(`${unreserved}/x`)).toBe(`${unreserved}/x`);
    for (let code = 0x20; code < 0x7f; code++) {
      const c = String.fromCharCode(code);
      if (unreserved.includes(c) || c === '/') continue;
      expect(encodeKey(c)).toBe(`%${code.toString(16).toUpperCase().padStart(2, '0')}`);
    }
  });
});

describe('names and key aliases', () => {
  it('names a repository by its name, else the last prefix segment, else the format', () => {
    expect(repositoryName({ prefix: 'linux/rpm/', format: 'yum', name: 'acme' })).toBe('acme');
    expect(repositoryName({ prefix: 'linux/rpm/', format: 'yum' })).toBe('rpm');
    expect(repositoryName({ prefix: '', format: 'apt' })).toBe('apt');
  });

  it('gives apk no OpenPGP aliases: its key is served under its exact name', () => {
    expect(keyAliases({ prefix: 'alpine/', format: 'apk', apkKeyName: 'ops.rsa.pub' })).toEqual({});
  });
});

describe('parseEdgeConfig', () => {
  it('accepts what the constructs write', () => {
    const full: EdgeConfig = {
      repositories: [
        ...config.repositories,
        { prefix: 'p/', format: 'yum', name: 'p', private: true, setup: { path: 'el/$releasever/$basearch/' } },
        { prefix: 'd/', format: 'apt', setup: { distribution: 'bookworm', components: ['main', 'contrib'] } },
      ],
      tokens: { ssmRegion: 'eu-west-1', ssmParameterPath: '/cdk-package-repos/Host/tokens/', cacheSeconds: 60 },
      manifestMaxAge: 60,
    };
    expect(parseEdgeConfig(JSON.parse(JSON.stringify(full)))).toEqual(full);
  });

  it.each([
    [null, /not an object/],
    [{}, /"repositories" is not an array/],
    [{ repositories: [{ prefix: 'yum', format: 'yum' }] }, /repositories\[0\]\.prefix must be '' or end in '\/'/],
    [{ repositories: [{ prefix: 'x/', format: 'rpm' }] }, /repositories\[0\]\.format must be one of yum, apt, apk, pacman/],
    [{ repositories: [{ prefix: 'x/', format: 'pacman', pacmanRepositories: [1] }] }, /pacmanRepositories must be an array of strings/],
    [{ repositories: [{ prefix: 'x/', format: 'yum', name: 'a b' }] }, /name must be/],
    [{ repositories: [{ prefix: 'x/', format: 'yum', name: 'x'.repeat(65) }] }, /name must be/],
    [{ repositories: [{ prefix: 'x/', format: 'yum', private: 'yes' }] }, /private must be a boolean/],
    [{ repositories: [{ prefix: 'x/', format: 'apk', apkKeyName: 'k.pem' }] }, /apkKeyName/],
    [{ repositories: [{ prefix: 'x/', format: 'yum', setup: { path: 'a' } }] }, /setup\.path/],
    [{ repositories: [{ prefix: 'x/', format: 'yum', setup: { path: '../' } }] }, /setup\.path/],
    [{ repositories: [{ prefix: 'x/', format: 'yum', setup: { path: 'a;rm -rf/' } }] }, /setup\.path/],
    [{ repositories: [{ prefix: 'x/', format: 'apt', setup: { distribution: 'a b' } }] }, /distribution/],
    [{ repositories: [{ prefix: 'x/', format: 'apt', setup: { components: [] } }] }, /components/],
    [{ repositories: [{ prefix: 'x/', format: 'yum', private: true }] }, /private repository needs "tokens"/],
    [{ repositories: [], tokens: { ssmRegion: 'eu-west-1', ssmParameterPath: 'tokens' } }, /ssmParameterPath/],
    [{ repositories: [], tokens: { ssmRegion: 'EU WEST', ssmParameterPath: '/t/' } }, /ssmRegion/],
    [{ repositories: [], tokens: { ssmRegion: 'eu-west-1', ssmParameterPath: '/t/', cacheSeconds: -1 } }, /cacheSeconds/],
    [{ repositories: [], manifestMaxAge: 1.5 }, /manifestMaxAge/],
  ])('rejects %j', (value, error) => {
    expect(() => parseEdgeConfig(value)).toThrow(error);
  });
});
