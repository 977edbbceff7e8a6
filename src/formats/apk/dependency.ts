import { check } from '../errors';
import { checkText } from './fields';
import { isValidApkVersion } from './version';

/**
 * Dependency lists (`depend`, `provides`, `install_if` in .PKGINFO; `D:`, `p:`, `i:` in
 * APKINDEX): space-separated `[!]name[@tag][op version]` tokens (apk-tools 2.14
 * `apk_blob_pull_dep` / `apk_blob_push_dep`). apk writes them back normalised: the
 * operator spelled canonically and the repository tag dropped.
 */

/**
 * Canonical operators by the comparisons a spelling allows (`<`, `>`, `=`; `~` means fuzzy
 * and equal), as apk-tools' `apk_version_op_string` writes them; other combinations
 * (`>~`, `<>=`) have no spelling in an APKINDEX v2.
 */
const CANONICAL_OPERATORS: ReadonlyMap<string, string> = new Map([
  ['<', '<'],
  ['<=', '<='],
  ['=~', '~'],
  ['=', '='],
  ['>=', '>='],
  ['>', '>'],
  ['<>', '><'],
]);

const COMPARER = /[<>=~]/;
/** Most dependencies accepted in one field. */
export const MAX_DEPENDENCIES = 10_000;

/** One dependency, parsed. */
export interface ApkDependency {
  /** `!name`: the package conflicts with `name`. */
  readonly conflict: boolean;
  readonly name: string;
  /** Canonical operator (`<`, `<=`, `~`, `=`, `>=`, `>`, `><`), absent for "any version". */
  readonly operator?: string;
  /** A version, or for `><` a package checksum. */
  readonly version?: string;
}

function canonicalOperator(spelling: string): string | undefined {
  const has = (c: string) => spelling.includes(c);
  const fuzzy = has('~');
  const key = `${has('<') ? '<' : ''}${has('>') ? '>' : ''}${has('=') || fuzzy ? '=' : ''}${fuzzy ? '~' : ''}`;
  return CANONICAL_OPERATORS.get(key);
}

/** Parses one dependency token; `field` names it in errors. */
export function parseDependency(token: string, field: string): ApkDependency {
  checkText(token, field);
  const conflict = token.startsWith('!');
  const body = conflict ? token.slice(1) : token;
  const at = body.search(COMPARER);
  let name = at < 0 ? body : body.slice(0, at);
  const tag = name.indexOf('@');
  if (tag >= 0) name = name.slice(0, tag);
  check(name.length > 0, `${field}: dependency without a name: ${JSON.stringify(token)}`);
  if (at < 0) return { conflict, name };
  const opLength = body.slice(at).search(/[^<>=~]/);
  check(opLength > 0, `${field}: dependency ${JSON.stringify(token)} has an operator but no version`);
  const operator = canonicalOperator(body.slice(at, at + opLength));
  check(operator !== undefined, `${field}: dependency ${JSON.stringify(token)} has an operator apk cannot write`);
  const version = body.slice(at + opLength);
  if (operator === '><') {
    check(/^[A-Za-z0-9+/=]+$/.test(version), `${field}: dependency ${JSON.stringify(token)} has a malformed checksum`);
  } else {
    check(isValidApkVersion(version), `${field}: dependency ${JSON.stringify(token)} has an invalid version`);
  }
  return { conflict, name, operator, version };
}

/** The canonical spelling of a dependency, as apk-tools writes it into APKINDEX. */
export function formatDependency(dep: ApkDependency): string {
  return `${dep.conflict ? '!' : ''}${dep.name}${dep.operator ? dep.operator + dep.version : ''}`;
}

/** Splits a space-separated list and normalises every token. */
export function normalizeDependencies(values: readonly string[], field: string): string[] {
  const out: string[] = [];
  for (const value of values) {
    checkText(value, field);
    for (const token of value.split(' ')) {
      if (token === '') continue;
      out.push(formatDependency(parseDependency(token, field)));
      check(out.length <= MAX_DEPENDENCIES, `${field}: more than ${MAX_DEPENDENCIES} dependencies`);
    }
  }
  return out;
}
