/**
 * pacman's version ordering (libalpm `version.c`: `alpm_pkg_vercmp`, `rpmvercmp`): epoch
 * first, then pkgver segment by segment, then pkgrel when both sides have one.
 * Returns -1, 0 or 1 like the `vercmp` tool.
 */
export function vercmp(a: string, b: string): number {
  if (a === b) return 0;
  const left = splitEvr(a);
  const right = splitEvr(b);
  let result = compareSegments(left.epoch, right.epoch);
  if (result === 0) {
    result = compareSegments(left.version, right.version);
    if (result === 0 && left.release !== undefined && right.release !== undefined) {
      result = compareSegments(left.release, right.release);
    }
  }
  return result;
}

interface Evr { epoch: string; version: string; release?: string }

function splitEvr(evr: string): Evr {
  let digits = 0;
  while (digits < evr.length && isDigit(evr[digits])) digits++;
  const hasEpoch = evr[digits] === ':';
  const epoch = hasEpoch && digits > 0 ? evr.slice(0, digits) : '0';
  const rest = hasEpoch ? evr.slice(digits + 1) : evr;
  const dash = rest.lastIndexOf('-');
  // libalpm looks for the release dash after the epoch digits only
  return dash >= 0
    ? { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) }
    : { epoch, version: rest };
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function isAlpha(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

function isAlnum(c: string | undefined): boolean {
  return isDigit(c) || isAlpha(c);
}

/** rpmvercmp: alternating numeric and alphabetic segments, separators compared by length. */
function compareSegments(a: string, b: string): number {
  if (a === b) return 0;
  let one = 0;
  let two = 0;
  let start1 = 0;
  let start2 = 0;
  while (one < a.length && two < b.length) {
    while (one < a.length && !isAlnum(a[one])) one++;
    while (two < b.length && !isAlnum(b[two])) two++;
    if (one >= a.length || two >= b.length) break;
    if (one - start1 !== two - start2) return one - start1 < two - start2 ? -1 : 1;
    start1 = one;
    start2 = two;
    const numeric = isDigit(a[one]);
    const inSegment = numeric ? isDigit : isAlpha;
    let end1 = one;
    let end2 = two;
    while (end1 < a.length && inSegment(a[end1])) end1++;
    while (end2 < b.length && inSegment(b[end2])) end2++;
    // a segment of the other kind on the right: numeric beats alpha
    if (end2 === two) return numeric ? 1 : -1;
    let seg1 = a.slice(one, end1);
    let seg2 = b.slice(two, end2);
    if (numeric) {
      seg1 = seg1.replace(/^0+/, '');
      seg2 = seg2.replace(/^0+/, '');
      if (seg1.length !== seg2.length) return seg1.length > seg2.length ? 1 : -1;
    }
    if (seg1 !== seg2) return seg1 < seg2 ? -1 : 1;
    one = end1;
    two = end2;
    start1 = one;
    start2 = two;
  }
  if (one >= a.length && two >= b.length) return 0;
  // a remaining alpha segment never beats an empty string
  return (one >= a.length && !isAlpha(b[two])) || isAlpha(a[one]) ? -1 : 1;
}
