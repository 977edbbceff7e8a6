import { check, PackageFormatError } from '../errors';
import { checkArch, checkFullVersion, checkPackageName, cleanValue, parseCount, quote } from './fields';

/**
 * The `.PKGINFO` of a package (makepkg `write_pkginfo`, libalpm `be_package.c`): `key = value`
 * lines, '#' comments, list keys repeated once per value.
 */
export interface PkgInfo {
  readonly pkgname: string;
  readonly pkgbase?: string;
  /** `[epoch:]pkgver-pkgrel`, e.g. `1:2.0-1`. */
  readonly pkgver: string;
  readonly pkgdesc?: string;
  readonly url?: string;
  /** Seconds since the epoch. */
  readonly builddate?: number;
  readonly packager?: string;
  /** Installed size in bytes. */
  readonly size?: number;
  readonly arch: string;
  readonly licenses: readonly string[];
  readonly replaces: readonly string[];
  readonly groups: readonly string[];
  readonly conflicts: readonly string[];
  readonly provides: readonly string[];
  readonly backup: readonly string[];
  readonly depends: readonly string[];
  readonly optdepends: readonly string[];
  readonly makedepends: readonly string[];
  readonly checkdepends: readonly string[];
  /** Every `key = value` line in file order, keys this model does not name (xdata, ...) included. */
  readonly fields: readonly (readonly [key: string, value: string])[];
}

type Scalar = 'pkgname' | 'pkgbase' | 'pkgver' | 'pkgdesc' | 'url' | 'builddate' | 'packager' | 'size' | 'arch';
type ListField = 'licenses' | 'replaces' | 'groups' | 'conflicts' | 'provides' | 'backup'
| 'depends' | 'optdepends' | 'makedepends' | 'checkdepends';

const SCALARS: ReadonlySet<string> = new Set<Scalar>(['pkgname', 'pkgbase', 'pkgver', 'pkgdesc', 'url', 'builddate', 'packager', 'size', 'arch']);

/** `.PKGINFO` key of each list (singular, as makepkg writes them). */
const LIST_KEYS: Readonly<Record<string, ListField>> = {
  license: 'licenses',
  replaces: 'replaces',
  group: 'groups',
  conflict: 'conflicts',
  provides: 'provides',
  backup: 'backup',
  depend: 'depends',
  optdepend: 'optdepends',
  makedepend: 'makedepends',
  checkdepend: 'checkdepends',
};

const KEY = /^[a-z][a-z0-9_]*$/;

/**
 * Parses and validates a `.PKGINFO`. Values are whitespace-normalised as repo-add does; lines
 * that are not `key = value`, repeated single-valued keys, control characters and invalid
 * names or versions are rejected with a PackageFormatError.
 */
export function parsePkgInfo(content: Uint8Array | string): PkgInfo {
  const text = typeof content === 'string' ? content : decodeUtf8(content);
  const scalars = new Map<string, string>();
  const lists: Record<ListField, string[]> = {
    licenses: [],
    replaces: [],
    groups: [],
    conflicts: [],
    provides: [],
    backup: [],
    depends: [],
    optdepends: [],
    makedepends: [],
    checkdepends: [],
  };
  const fields: (readonly [string, string])[] = [];

  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const where = `.PKGINFO line ${index + 1}`;
    if (line.trim() === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq < 0) throw new PackageFormatError(`${where} is not "key = value": ${quote(line)}`);
    const key = line.slice(0, eq).trim();
    if (!KEY.test(key)) throw new PackageFormatError(`${where} has an invalid key ${quote(key)}`);
    const value = cleanValue(line.slice(eq + 1), `${where} (${key})`);
    fields.push([key, value]);
    if (SCALARS.has(key)) {
      check(!scalars.has(key), `${where}: "${key}" given more than once`);
      scalars.set(key, value);
    } else if (key in LIST_KEYS && value !== '') {
      lists[LIST_KEYS[key]].push(value);
    }
  });

  const pkgname = scalars.get('pkgname');
  const pkgver = scalars.get('pkgver');
  const arch = scalars.get('arch');
  check(pkgname, '.PKGINFO has no pkgname');
  check(pkgver, '.PKGINFO has no pkgver');
  check(arch, '.PKGINFO has no arch');
  checkPackageName(pkgname, 'pkgname');
  checkFullVersion(pkgver, 'pkgver');
  checkArch(arch, 'arch');
  const pkgbase = nonEmpty(scalars.get('pkgbase'));
  if (pkgbase !== undefined) checkPackageName(pkgbase, 'pkgbase');
  const builddate = nonEmpty(scalars.get('builddate'));
  const size = nonEmpty(scalars.get('size'));

  return {
    pkgname,
    pkgbase,
    pkgver,
    pkgdesc: nonEmpty(scalars.get('pkgdesc')),
    url: nonEmpty(scalars.get('url')),
    builddate: builddate === undefined ? undefined : parseCount(builddate, 'builddate'),
    packager: nonEmpty(scalars.get('packager')),
    size: size === undefined ? undefined : parseCount(size, 'size'),
    arch,
    ...lists,
    fields,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (e) {
    throw new PackageFormatError('.PKGINFO is not valid UTF-8', { cause: e });
  }
}
