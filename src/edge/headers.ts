import { type EdgeConfig, type EdgeRepository, repositoryOf } from './router';
import { DEFAULT_MANIFEST_MAX_AGE, IMMUTABLE_MAX_AGE } from '../cache-control';

export { DEFAULT_MANIFEST_MAX_AGE, GENERATED_CACHE_CONTROL } from '../cache-control';

/**
 * How an object is cached:
 * - 'immutable': packages (their name carries the version) and content-addressed metadata
 *   (yum `<sha256>-primary.xml.gz`, apt `by-hash/`): cached for a year;
 * - 'signed-manifest': a fixed-name manifest that a client checks against a detached
 *   signature, and that signature (yum repomd.xml and .asc, pacman databases and .sig):
 *   revalidated with the origin on every request, so that the two always match;
 * - 'manifest': other fixed-name entry points that change on every publish (InRelease,
 *   Packages, APKINDEX.tar.gz), directory listings, keys and anything not recognised: cached
 *   briefly.
 */
export type CacheClass = 'immutable' | 'signed-manifest' | 'manifest';

/** The headers the edge and `pkgrepo serve` give an object. */
export interface ObjectHeaders {
  readonly contentType: string;
  readonly cacheControl: string;
}

const PACKAGE = /\.(rpm|deb|udeb|apk)$|\.pkg\.tar(\.(zst|xz|gz|bz2|lz4|lrz|lzo|Z))?(\.sig)?$/;
const HASH_NAMED = /(^|\/)repodata\/[0-9a-f]{64}-[^/]+$|\/by-hash\/(MD5Sum|SHA1|SHA256|SHA512)\/[0-9a-f]+$/;
const SIGNED_PAIR = /(^|\/)repodata\/repomd\.xml(\.asc)?$|\.(db|files)(\.tar\.gz)?(\.sig)?$/;

/** The cache class of an object key (decoded, full key from the bucket root). */
export function cacheClassOf(key: string): CacheClass {
  if (PACKAGE.test(key) || HASH_NAMED.test(key)) return 'immutable';
  return SIGNED_PAIR.test(key) ? 'signed-manifest' : 'manifest';
}

/**
 * Cache-Control of an object. Public repositories say `public`; private ones do not, so a
 * shared proxy never hands an authorized response to another client (RFC 9111 §3.5), while
 * CloudFront, which checks the token on every request, still caches it.
 */
export function cacheControlOf(cacheClass: CacheClass, options: { private: boolean; manifestMaxAge?: number }): string {
  const scope = options.private ? 'private' : 'public';
  if (cacheClass === 'immutable') return `${scope}, max-age=${IMMUTABLE_MAX_AGE}, immutable`;
  if (cacheClass === 'signed-manifest') return `${scope}, no-cache`;
  const maxAge = options.manifestMaxAge ?? DEFAULT_MANIFEST_MAX_AGE;
  return options.private ? `${scope}, max-age=${maxAge}` : `${scope}, max-age=${maxAge}, must-revalidate`;
}

/** Content types by the end of a file name, most specific first. */
const CONTENT_TYPES: ReadonlyArray<readonly [RegExp, string]> = [
  [/\.rpm$/, 'application/x-rpm'],
  [/\.u?deb$/, 'application/vnd.debian.binary-package'],
  [/\.apk$/, 'application/vnd.apk'],
  [/\.pkg\.tar\.zst$/, 'application/zstd'],
  [/\.pkg\.tar\.xz$/, 'application/x-xz'],
  [/\.pkg\.tar$/, 'application/x-tar'],
  [/(^|\/)keys\/[^/]+\.rsa\.pub$/, 'application/x-pem-file'],
  [/(^|\/)keys\/(RPM-GPG-KEY-[^/]+|[^/]+\.(asc|gpg))$/, 'application/pgp-keys'],
  [/(\.sig|\.asc|\/Release\.gpg)$/, 'application/pgp-signature'],
  [/(^|\/)(InRelease|Release|Packages|Sources|Contents-[^/]+)$/, 'text/plain; charset=utf-8'],
  [/\.(db|files)$/, 'application/gzip'],
  [/\.html$/, 'text/html; charset=utf-8'],
  [/\.xml$/, 'application/xml'],
  [/\.gz$/, 'application/gzip'],
  [/\.xz$/, 'application/x-xz'],
  [/\.zst$/, 'application/zstd'],
  [/\.bz2$/, 'application/x-bzip2'],
  [/\.json$/, 'application/json'],
  [/\.txt$/, 'text/plain; charset=utf-8'],
];

/** The content type of an object key (decoded). */
export function contentTypeOf(key: string): string {
  for (const [pattern, type] of CONTENT_TYPES) if (pattern.test(key)) return type;
  return 'application/octet-stream';
}

/** The headers of an object fetched from the bucket (`key` decoded, from the bucket root). */
export function objectHeaders(key: string, config: EdgeConfig): ObjectHeaders {
  const repository: EdgeRepository | undefined = repositoryOf(key, config);
  return {
    contentType: contentTypeOf(key),
    cacheControl: cacheControlOf(cacheClassOf(key), { private: repository?.private === true, manifestMaxAge: config.manifestMaxAge }),
  };
}
