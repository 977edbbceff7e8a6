/**
 * How long caches may keep what a repository publishes. One module for the engine (the
 * Cache-Control stored with each object), the edge and `pkgrepo serve` (the header clients
 * get), and the key publishers, so that the origin and the CDN never disagree.
 */

/** A year: what "never changes" means to caches. */
export const IMMUTABLE_MAX_AGE = 31_536_000;

/** Fixed-name manifests (repomd.xml, InRelease, APKINDEX.tar.gz, pacman databases) and listings. */
export const DEFAULT_MANIFEST_MAX_AGE = 60;

/** Packages and content-addressed metadata: their key changes whenever their content does. */
export const IMMUTABLE_CACHE_CONTROL = `public, max-age=${IMMUTABLE_MAX_AGE}, immutable`;

/** Fixed-name manifests change on every publish: short, and revalidated once stale. */
export const MANIFEST_CACHE_CONTROL = `public, max-age=${DEFAULT_MANIFEST_MAX_AGE}, must-revalidate`;

/**
 * A manifest and its detached signature (yum repomd.xml and .asc, pacman databases and .sig):
 * two fixed names a client checks against each other. Caches may keep them but must ask the
 * origin each time, or two caches could hold two generations of the pair and the client would
 * refuse them (see detached-signatures.ts).
 */
export const SIGNED_MANIFEST_CACHE_CONTROL = 'public, no-cache';

/** Public key files change only with the key. */
export const KEY_CACHE_CONTROL = 'public, max-age=300';

/** Responses generated per request (setup files, 401): never stored. */
export const GENERATED_CACHE_CONTROL = 'no-store';
