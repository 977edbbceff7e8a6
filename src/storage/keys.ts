/**
 * Rules for storage keys shared by every Storage implementation, so that a key that works
 * against a local directory works against S3 and behind a CDN too.
 *
 * A key is a '/'-separated relative path: no leading '/', no empty segments (so no trailing
 * '/' and no '//'), no '.' or '..' segments, no NUL. Any other character ('+', '~', ':',
 * spaces, non-ASCII) is allowed.
 */

/** Thrown for a key or prefix that breaks the rules above. */
export class InvalidKeyError extends Error {
  constructor(public readonly key: string, reason: string) {
    super(`invalid storage key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidKeyError';
  }
}

function segmentProblem(segment: string): string | undefined {
  if (segment === '') return 'empty path segment (leading, trailing or doubled "/")';
  if (segment === '.' || segment === '..') return `"${segment}" segments are not allowed`;
  return undefined;
}

/** Throws an InvalidKeyError unless `key` is a valid storage key. */
export function checkKey(key: string): void {
  if (typeof key !== 'string' || key === '') throw new InvalidKeyError(String(key), 'the key is empty');
  if (key.includes('\0')) throw new InvalidKeyError(key, 'NUL character');
  if (key.startsWith('/')) throw new InvalidKeyError(key, 'leading "/"');
  for (const segment of key.split('/')) {
    const problem = segmentProblem(segment);
    if (problem) throw new InvalidKeyError(key, problem);
  }
}

/**
 * Throws an InvalidKeyError unless `prefix` is a valid listing prefix: '' or the start of a
 * valid key. Every segment but the last must be a valid key segment; the last one may be
 * partial or empty (`pool/` and `pool/hel` are both prefixes).
 */
export function checkPrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw new InvalidKeyError(String(prefix), 'the prefix is not a string');
  if (prefix === '') return;
  if (prefix.includes('\0')) throw new InvalidKeyError(prefix, 'NUL character');
  if (prefix.startsWith('/')) throw new InvalidKeyError(prefix, 'leading "/"');
  const segments = prefix.split('/');
  for (const segment of segments.slice(0, -1)) {
    const problem = segmentProblem(segment);
    if (problem) throw new InvalidKeyError(prefix, problem);
  }
}

/** Compares two keys in UTF-8 byte order, the order S3 lists objects in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
