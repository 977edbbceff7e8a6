import { check, PackageFormatError } from '../errors';
import { isValidApkVersion } from './version';

/**
 * Validation of the values that end up in APKINDEX lines and file names. The index is
 * line-based (`X:value`), so a newline or other control character in any value would let
 * a package forge fields or whole entries; names and versions also form the file name
 * apk fetches (`<name>-<version>.apk`).
 */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Architecture names as Alpine spells them (x86_64, aarch64, armv7, noarch, ...). */
const ARCH = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** Longest single value accepted; apk-tools writes an entry's scalar fields into a 2 KiB buffer. */
export const MAX_FIELD_LENGTH = 4096;

function describe(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
}

/** A free-text value (description, URL, license, maintainer...): one line, no control characters. */
export function checkText(value: string, field: string): string {
  // the message is built only on failure: this runs for every field of an index
  if (CONTROL.test(value)) throw new PackageFormatError(`${field} contains a newline or control character: ${describe(value)}`);
  check(value.length <= MAX_FIELD_LENGTH, `${field} is longer than ${MAX_FIELD_LENGTH} characters`);
  return value;
}

/** A package name: non-empty text without whitespace, '/' or '..', not starting with '.' or '-'. */
export function checkPackageName(value: string, field = 'package name'): string {
  checkText(value, field);
  check(value.length > 0, `${field} is empty`);
  const problem = /\s/.test(value) ? 'contains whitespace' : value.includes('/') ? "contains '/'"
    : value.includes('..') ? "contains '..'" : /^[.-]/.test(value) ? `starts with '${value[0]}'` : undefined;
  if (problem) throw new PackageFormatError(`${field} ${problem}: ${describe(value)}`);
  return value;
}

/** A package version in apk-tools' grammar (`1.2.3_rc1-r0`). */
export function checkVersion(value: string, field = 'version'): string {
  checkText(value, field);
  check(value.length > 0, `${field} is empty`);
  check(isValidApkVersion(value), `${field} is not a valid apk version: ${describe(value)}`);
  check(!value.includes('..'), `${field} contains '..': ${describe(value)}`);
  return value;
}

/** An architecture name. */
export function checkArch(value: string, field = 'arch'): string {
  checkText(value, field);
  check(ARCH.test(value), `${field} is not a valid architecture name: ${describe(value)}`);
  return value;
}

/** An unsigned decimal number field (sizes, build time, priorities). */
export function parseUnsigned(value: string, field: string): number {
  check(/^[0-9]{1,16}$/.test(value), `${field} is not an unsigned decimal number: ${describe(value)}`);
  const n = Number(value);
  check(Number.isSafeInteger(n), `${field} is too large: ${value}`);
  return n;
}

/** Checks a number about to be written as an unsigned decimal field. */
export function checkUnsigned(value: number, field: string): number {
  check(Number.isSafeInteger(value) && value >= 0, `${field} must be a non-negative integer, got ${value}`);
  return value;
}

/** The package identity: `Q1` + base64 of a SHA-1 (or the 32 hex digits of an old MD5 one). */
export function checkChecksum(value: string, field = 'checksum'): string {
  check(/^Q1[A-Za-z0-9+/]{27}=$/.test(value) || /^[0-9a-f]{32}$/.test(value),
    `${field} is not a Q1 SHA-1 or MD5 package checksum: ${describe(value)}`);
  return value;
}
