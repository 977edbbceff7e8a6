/**
 * Debian version ordering (dpkg `lib/dpkg/version.c`: `dpkg_version_compare`, `verrevcmp`):
 * `[epoch:]upstream[-revision]`, compared epoch first (as a number), then upstream, then
 * revision. Within a part, non-digit runs compare character by character with `~` before
 * everything (even the end of the string), letters before all other characters; digit runs
 * compare as numbers.
 */

/** A Debian version split into its three parts. */
export interface DebVersion {
  /** The epoch as a number (0 when absent). */
  readonly epoch: number;
  readonly upstream: string;
  /** The Debian revision ('' when absent, which orders like '0'). */
  readonly revision: string;
}

/**
 * Splits a version the way dpkg's parser does: the epoch before the first `:`, the revision
 * after the last `-`. Lenient: an epoch that is not a number counts as 0, as the ordering
 * needs no validation.
 */
export function parseDebVersion(version: string): DebVersion {
  const text = version.trim();
  const colon = text.indexOf(':');
  const epochText = colon >= 0 ? text.slice(0, colon) : '';
  const rest = colon >= 0 ? text.slice(colon + 1) : text;
  const dash = rest.lastIndexOf('-');
  const epoch = /^[0-9]+$/.test(epochText) ? Number(epochText) : 0;
  return dash >= 0
    ? { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) }
    : { epoch, upstream: rest, revision: '' };
}

/**
 * Orders two Debian versions like `dpkg --compare-versions`: negative when `a` is older,
 * positive when newer, 0 when they are equal (`1.0` equals `1.0-0` and `0:1.0`).
 */
export function compareDebVersions(a: string, b: string): number {
  if (a === b) return 0;
  const left = parseDebVersion(a);
  const right = parseDebVersion(b);
  if (left.epoch !== right.epoch) return left.epoch < right.epoch ? -1 : 1;
  return sign(comparePart(left.upstream, right.upstream)) || sign(comparePart(left.revision, right.revision));
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function isLetter(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/** The weight of one character of a non-digit run; the end of the string (undefined) weighs 0. */
function weight(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (isLetter(c)) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

/** dpkg's `verrevcmp`: alternating non-digit and digit runs. */
function comparePart(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    // a non-digit run, character by character (the shorter side weighs 0 at its end)
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const wa = weight(a[i]);
      const wb = weight(b[j]);
      if (wa !== wb) return wa - wb;
      i++;
      j++;
    }
    // a digit run, as a number: leading zeros do not count, then the longer run is larger
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let firstDifference = 0;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (firstDifference === 0) firstDifference = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDifference !== 0) return firstDifference;
  }
  return 0;
}
