import { PackageFormatError } from '../errors';

/**
 * Value rules shared by `.PKGINFO` and database `desc` entries. Both are line-based text
 * formats that pacman splits on '\n' only, so a value must never carry a line break (it would
 * inject fields) or any other control character.
 */

/** Package names: makepkg's rule (`lint_pkgbuild/pkgname.sh`). */
const PACKAGE_NAME = /^[A-Za-z0-9@_+][A-Za-z0-9@._+-]*$/;
/** `[epoch:]pkgver-pkgrel`; pkgver is printable ASCII without whitespace, ':', '/', '-'. */
const FULL_VERSION = /^(?:[0-9]+:)?[!-,.0-9;-~]+-[0-9]+(?:\.[0-9]+)?$/;
/** Architectures: makepkg's rule (`lint_pkgbuild/arch.sh`), 'any' included. */
const ARCH = /^[A-Za-z0-9_]+$/;
// C0 controls except tab, DEL, C1 controls, U+FFFD (what undecodable bytes become) and unpaired
// surrogates (written as UTF-8 they become U+FFFD)
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Shows a value in an error message without letting it break the message. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
}

/** Throws unless `value` is free of line breaks, other control characters and U+FFFD. */
export function checkText(value: string, what: string): void {
  const bad = FORBIDDEN.exec(value);
  // the message is built only on failure: this runs for every line of a database
  if (bad) throw new PackageFormatError(`${what} contains a forbidden character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}: ${quote(value)}`);
}

/**
 * Checks a raw value (`checkText`) and normalises whitespace the way repo-add does (trimmed,
 * every run of blanks collapsed to one space).
 */
export function cleanValue(value: string, what: string): string {
  checkText(value, what);
  return value.replace(/[ \t]+/g, ' ').trim();
}

/** Throws unless `value` is a valid package name (pkgname, pkgbase). */
export function checkPackageName(value: string, what: string): void {
  if (!PACKAGE_NAME.test(value)) throw new PackageFormatError(`invalid ${what} ${quote(value)}: use letters, digits and @ . _ + -, not starting with - or .`);
}

/** Throws unless `value` is a valid `[epoch:]pkgver-pkgrel`. */
export function checkFullVersion(value: string, what: string): void {
  if (!FULL_VERSION.test(value)) throw new PackageFormatError(`invalid ${what} ${quote(value)}: expected [epoch:]pkgver-pkgrel (pkgver without whitespace, ':', '/' or '-')`);
}

/** Throws unless `value` is a valid architecture name. */
export function checkArch(value: string, what: string): void {
  if (!ARCH.test(value)) throw new PackageFormatError(`invalid ${what} ${quote(value)}: use letters, digits and _`);
}

/** Parses a non-negative decimal integer field. */
export function parseCount(value: string, what: string): number {
  if (!/^[0-9]{1,15}$/.test(value)) throw new PackageFormatError(`invalid ${what} ${quote(value)}: expected a non-negative integer`);
  return Number(value);
}
