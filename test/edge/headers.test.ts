import { describe, expect, it } from 'vitest';
import { cacheClassOf, cacheControlOf, contentTypeOf, objectHeaders } from '../../src/edge/headers';

const hex = 'ab12'.repeat(16);

describe('object classes', () => {
  it.each([
    // packages: the version is in the name
    ['yum/el/9/x86_64/Packages/hello-1.0-1.el9.x86_64.rpm', 'immutable', 'application/x-rpm'],
    ['apt/pool/stable/main/h/hello/hello_1:2.0~rc1-1_amd64.deb', 'immutable', 'application/vnd.debian.binary-package'],
    ['apk/v3.20/main/x86_64/hello-1.0-r0.apk', 'immutable', 'application/vnd.apk'],
    ['arch/core/os/x86_64/hello-1.0-1-x86_64.pkg.tar.zst', 'immutable', 'application/zstd'],
    ['arch/core/os/x86_64/hello-1.0-1-x86_64.pkg.tar.zst.sig', 'immutable', 'application/pgp-signature'],
    ['arch/core/os/x86_64/hello-1.0-1-x86_64.pkg.tar.xz', 'immutable', 'application/x-xz'],
    // content-addressed metadata
    [`yum/repodata/${hex}-primary.xml.gz`, 'immutable', 'application/gzip'],
    [`yum/repodata/${hex}-filelists.xml.zst`, 'immutable', 'application/zstd'],
    [`apt/dists/stable/main/binary-amd64/by-hash/SHA256/${hex}`, 'immutable', 'application/octet-stream'],
    // fixed-name manifests checked against a detached signature, and the signature
    ['yum/repodata/repomd.xml', 'signed-manifest', 'application/xml'],
    ['yum/repodata/repomd.xml.asc', 'signed-manifest', 'application/pgp-signature'],
    // other fixed-name manifests
    ['apt/dists/stable/InRelease', 'manifest', 'text/plain; charset=utf-8'],
    ['apt/dists/stable/Release', 'manifest', 'text/plain; charset=utf-8'],
    ['apt/dists/stable/Release.gpg', 'manifest', 'application/pgp-signature'],
    ['apt/dists/stable/main/binary-amd64/Packages', 'manifest', 'text/plain; charset=utf-8'],
    ['apt/dists/stable/main/binary-amd64/Packages.xz', 'manifest', 'application/x-xz'],
    ['apk/v3.20/main/x86_64/APKINDEX.tar.gz', 'manifest', 'application/gzip'],
    ['arch/core/os/x86_64/core.db.tar.gz', 'signed-manifest', 'application/gzip'],
    ['arch/core/os/x86_64/core.files.tar.gz.sig', 'signed-manifest', 'application/pgp-signature'],
    ['arch/core/os/x86_64/core.db', 'signed-manifest', 'application/gzip'],
    // listings and keys
    ['yum/el/9/x86_64/index.html', 'manifest', 'text/html; charset=utf-8'],
    ['yum/keys/repository.asc', 'manifest', 'application/pgp-keys'],
    ['apt/keys/repository.gpg', 'manifest', 'application/pgp-keys'],
    ['apk/keys/ops@example.com-1.rsa.pub', 'manifest', 'application/x-pem-file'],
    // anything else: briefly, as bytes
    ['yum/README', 'manifest', 'application/octet-stream'],
  ])('%s: %s, %s', (key, cacheClass, type) => {
    expect(cacheClassOf(key)).toBe(cacheClass);
    expect(contentTypeOf(key)).toBe(type);
  });
});

describe('Cache-Control', () => {
  it.each([
    ['immutable', false, undefined, 'public, max-age=31536000, immutable'],
    ['manifest', false, undefined, 'public, max-age=60, must-revalidate'],
    ['manifest', false, 300, 'public, max-age=300, must-revalidate'],
    // private: never "public" (a shared proxy must not hand an authorized response to others)
    ['immutable', true, undefined, 'private, max-age=31536000, immutable'],
    ['manifest', true, 30, 'private, max-age=30'],
    // a manifest and its signature are revalidated every time, so that they always match
    ['signed-manifest', false, 300, 'public, no-cache'],
    ['signed-manifest', true, undefined, 'private, no-cache'],
  ] as const)('%s, private %s, manifest max-age %s: %s', (cacheClass, isPrivate, manifestMaxAge, expected) => {
    expect(cacheControlOf(cacheClass, { private: isPrivate, manifestMaxAge })).toBe(expected);
  });

  it('follows the repository an object belongs to', () => {
    const config = { repositories: [{ prefix: 'p/', format: 'yum' as const, private: true }, { prefix: 'q/', format: 'yum' as const }], manifestMaxAge: 45 };
    expect(objectHeaders('p/repodata/index.html', config).cacheControl).toBe('private, max-age=45');
    expect(objectHeaders('q/repodata/index.html', config).cacheControl).toBe('public, max-age=45, must-revalidate');
    expect(objectHeaders('p/repodata/repomd.xml', config).cacheControl).toBe('private, no-cache');
  });
});
