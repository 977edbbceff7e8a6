import { check, PackageFormatError } from '../errors';
import { normalizeDependencies } from './dependency';
import { checkArch, checkPackageName, checkText, checkVersion, parseUnsigned } from './fields';
import type { PkgInfo } from './model';

/**
 * `.PKGINFO` (apk-tools 2.14 `read_info_line`, abuild `prepare_metafiles`): one
 * `key = value` per line, `#` comments; `depend`, `provides`, `replaces`, `triggers`
 * may repeat. Lines without ` = ` are ignored, as apk does.
 */

const REPEATABLE = new Set(['depend', 'provides', 'replaces', 'triggers', 'install_if']);
/** Most lines accepted in one .PKGINFO. */
export const MAX_PKGINFO_LINES = 20_000;

/** Parses the bytes of a `.PKGINFO` file. */
export function parsePkgInfo(bytes: Uint8Array): PkgInfo {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new PackageFormatError('.PKGINFO is not valid UTF-8', { cause: e });
  }
  const lines = text.split('\n');
  check(lines.length <= MAX_PKGINFO_LINES, `.PKGINFO has more than ${MAX_PKGINFO_LINES} lines`);
  const scalars = new Map<string, string>();
  const lists = new Map<string, string[]>();
  lines.forEach((line, n) => {
    if (line === '' || line.startsWith('#')) return;
    const sep = line.indexOf(' = ');
    if (sep < 0) {
      checkText(line, `.PKGINFO line ${n + 1}`);
      return;
    }
    const key = line.slice(0, sep);
    const value = checkText(line.slice(sep + 3), `.PKGINFO ${checkText(key, `.PKGINFO line ${n + 1}`)} (line ${n + 1})`);
    if (REPEATABLE.has(key)) {
      const list = lists.get(key) ?? [];
      list.push(value);
      lists.set(key, list);
    } else {
      check(!scalars.has(key), `.PKGINFO repeats '${key}' (line ${n + 1})`);
      scalars.set(key, value);
    }
  });

  const textOf = (key: string) => {
    const v = scalars.get(key);
    return v === undefined ? undefined : checkText(v, `.PKGINFO ${key}`);
  };
  const numberOf = (key: string) => {
    const v = scalars.get(key);
    return v === undefined ? undefined : parseUnsigned(v.trim(), `.PKGINFO ${key}`);
  };
  const name = scalars.get('pkgname');
  const version = scalars.get('pkgver');
  check(name !== undefined, '.PKGINFO has no pkgname');
  check(version !== undefined, '.PKGINFO has no pkgver');
  const arch = scalars.get('arch');
  const dataHash = scalars.get('datahash');
  check(dataHash === undefined || /^[0-9a-f]{64}$/.test(dataHash), '.PKGINFO datahash is not 64 hex digits');

  return {
    name: checkPackageName(name, '.PKGINFO pkgname'),
    version: checkVersion(version, '.PKGINFO pkgver'),
    description: textOf('pkgdesc') ?? '',
    url: textOf('url') ?? '',
    installedSize: numberOf('size') ?? 0,
    license: textOf('license') ?? '',
    arch: arch === undefined ? undefined : checkArch(arch, '.PKGINFO arch'),
    origin: textOf('origin'),
    maintainer: textOf('maintainer'),
    packager: textOf('packager'),
    buildDate: numberOf('builddate'),
    commit: textOf('commit'),
    providerPriority: numberOf('provider_priority'),
    replacesPriority: numberOf('replaces_priority'),
    depends: normalizeDependencies(lists.get('depend') ?? [], '.PKGINFO depend'),
    provides: normalizeDependencies(lists.get('provides') ?? [], '.PKGINFO provides'),
    installIf: normalizeDependencies(lists.get('install_if') ?? [], '.PKGINFO install_if'),
    replaces: normalizeDependencies(lists.get('replaces') ?? [], '.PKGINFO replaces'),
    triggers: (lists.get('triggers') ?? []).map((v) => checkText(v, '.PKGINFO triggers')),
    dataHash,
  };
}
