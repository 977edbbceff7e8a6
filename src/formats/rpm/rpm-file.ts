/**
 * Reading a binary .rpm file into the rpm-md package model, the way createrepo_c's
 * `parsehdr.c` and `parsepkg.c` do: lead, signature header (padded to 8 bytes), main header.
 */
/* eslint-disable no-bitwise -- dependency senses, file flags and modes are bit sets */
import { check, PackageFormatError } from '../errors';
import { DEFAULT_HEADER_LIMITS, headerSize, indexHeader, type HeaderIndex, type HeaderLimits } from './header';
import type { RpmChangelog, RpmDependency, RpmDependencyFlag, RpmFile, RpmPackage } from './model';
import { isPrimaryFile } from './primary-xml';
import { FileFlag, RpmTagType, Sense, SigTag, Tag } from './tags';
import { rpmvercmp } from './vercmp';

/** Facts about the package file that are not in its headers. */
export interface RpmFileInfo {
  /** Location relative to the repository root (`location href`). */
  readonly href: string;
  /** File size in bytes. */
  readonly size: number;
  /** File modification time, seconds since the epoch (`time file`). */
  readonly mtime: number;
  /** SHA-256 of the whole file, lower-case hex (`pkgid`). */
  readonly sha256: string;
}

/** Options of `parseRpm`. */
export interface ParseRpmOptions {
  /** Caps on each header. @default DEFAULT_HEADER_LIMITS */
  readonly limits?: HeaderLimits;
  /** Changelog entries kept, the newest ones. @default 10 (createrepo_c's default) */
  readonly changelogLimit?: number;
}

/** Size of the lead that starts every .rpm file. */
export const RPM_LEAD_SIZE = 96;

/** createrepo_c's default `--changelog-limit`. */
export const DEFAULT_CHANGELOG_LIMIT = 10;

const LEAD_MAGIC = [0xed, 0xab, 0xee, 0xdb];

/** Where the two headers of a package lie. */
interface HeaderLayout {
  readonly signatureStart: number;
  /** Start of the main header: end of the signature header padded to 8 bytes. */
  readonly mainStart: number;
  /** End of the main header (start of the payload). */
  readonly mainEnd: number;
}

function layout(prefix: Uint8Array, limits: HeaderLimits): HeaderLayout | undefined {
  if (prefix.length < 4) return undefined;
  for (let i = 0; i < 4; i++) {
    if (prefix[i] !== LEAD_MAGIC[i]) {
      throw new PackageFormatError(`not an rpm package: bad lead magic ${Buffer.from(prefix.subarray(0, 4)).toString('hex')}`);
    }
  }
  const sig = headerSize(prefix, RPM_LEAD_SIZE, limits, 'signature header');
  if (!sig) return undefined;
  const mainStart = RPM_LEAD_SIZE + sig.byteLength + ((8 - (sig.byteLength % 8)) % 8);
  const main = headerSize(prefix, mainStart, limits, 'main header');
  if (!main) return undefined;
  return { signatureStart: RPM_LEAD_SIZE, mainStart, mainEnd: mainStart + main.byteLength };
}

/**
 * Bytes from the start of the file to the end of the main header (lead + signature header
 * padded to 8 + main header), from a prefix of the file. Undefined when the prefix is too short
 * to tell; throws PackageFormatError for bad magic or sizes beyond `limits`.
 */
export function rpmHeaderSpan(prefix: Uint8Array, limits: HeaderLimits = DEFAULT_HEADER_LIMITS): number | undefined {
  return layout(prefix, limits)?.mainEnd;
}

/**
 * Parse a package. `bytes` holds at least the first `rpmHeaderSpan` bytes of the file (the
 * payload is not read). Throws PackageFormatError for anything malformed.
 */
export function parseRpm(bytes: Uint8Array, file: RpmFileInfo, options: ParseRpmOptions = {}): RpmPackage {
  const limits = options.limits ?? DEFAULT_HEADER_LIMITS;
  check(bytes.length >= RPM_LEAD_SIZE, `truncated rpm: need the ${RPM_LEAD_SIZE}-byte lead, have ${bytes.length} bytes`);
  const where = layout(bytes, limits);
  check(where, `truncated rpm: the headers are cut off at ${bytes.length} bytes`);
  // values are decoded as they are asked for: most of a header (file digests, owners, ...) never is
  const sig = new Entries(indexHeader(bytes, where.signatureStart, limits, { what: 'signature header', text: createrepoText }), 'signature header');
  const hdr = new Entries(indexHeader(bytes, where.mainStart, limits, { what: 'main header', text: createrepoText }), 'main header');

  const name = hdr.string(Tag.NAME);
  check(name, 'main header has no NAME');
  const files = readFiles(hdr);
  // the set of its paths is made only for a package that requires a path (few do)
  let paths: Set<string> | undefined;
  const deps = readDependencies(hdr, (path) => (paths ??= new Set(files.map((f) => f.path))).has(path));
  const source = kindOfPackage(hdr);
  return {
    pkgId: file.sha256,
    checksumType: 'sha256',
    name,
    arch: source.isSource ? 'src' : hdr.string(Tag.ARCH),
    epoch: String(hdr.number(Tag.EPOCH) ?? 0),
    version: hdr.string(Tag.VERSION),
    release: hdr.string(Tag.RELEASE),
    summary: hdr.string(Tag.SUMMARY),
    description: hdr.string(Tag.DESCRIPTION),
    packager: hdr.string(Tag.PACKAGER),
    url: hdr.string(Tag.URL),
    time: { file: file.mtime, build: hdr.number(Tag.BUILDTIME) ?? 0 },
    size: {
      package: file.size,
      installed: hdr.number(Tag.LONGSIZE) ?? hdr.number(Tag.SIZE) ?? 0,
      // rpm merges the signature header's sizes into the main header when the latter lacks them
      archive: hdr.number(Tag.LONGARCHIVESIZE) ?? hdr.number(Tag.ARCHIVESIZE)
        ?? sig.number(SigTag.LONGARCHIVESIZE) ?? sig.number(SigTag.PAYLOADSIZE) ?? 0,
    },
    location: { href: file.href },
    format: {
      license: hdr.string(Tag.LICENSE),
      vendor: hdr.string(Tag.VENDOR),
      group: hdr.string(Tag.GROUP),
      buildhost: hdr.string(Tag.BUILDHOST),
      sourcerpm: source.sourcerpm,
      headerRange: { start: where.mainStart, end: where.mainEnd },
      ...deps,
    },
    files,
    changelogs: readChangelogs(hdr, options.changelogLimit ?? DEFAULT_CHANGELOG_LIMIT),
  };
}

// a BOM is text like any other (createrepo_c keeps it)
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Header text as createrepo_c reads it (`cr_latin1_to_utf8`): UTF-8 when valid, else Latin-1
 * without the bytes 0x80-0xBF (C1 controls and the symbols of misencoded cp1252 text).
 */
function createrepoText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return Buffer.from(bytes.filter((b) => b < 0x80 || b >= 0xc0)).toString('latin1');
  }
}

/** Typed access to decoded entries; a value of the wrong type is malformed input. */
class Entries {
  constructor(private readonly entries: HeaderIndex, private readonly what: string) {}

  has(tag: number): boolean {
    return this.entries.has(tag);
  }

  /** First string of a STRING, I18NSTRING or STRING_ARRAY entry; '' when absent. */
  string(tag: number): string {
    const v = this.entries.get(tag);
    if (!v) return '';
    if (v.type === RpmTagType.STRING) return v.value;
    if (v.type === RpmTagType.I18NSTRING || v.type === RpmTagType.STRING_ARRAY) return v.values[0];
    throw new PackageFormatError(`${this.what}: tag ${tag} should be a string, has type ${v.type}`);
  }

  strings(tag: number): readonly string[] | undefined {
    const v = this.entries.get(tag);
    if (!v) return undefined;
    if (v.type === RpmTagType.STRING_ARRAY || v.type === RpmTagType.I18NSTRING) return v.values;
    if (v.type === RpmTagType.STRING) return [v.value];
    throw new PackageFormatError(`${this.what}: tag ${tag} should be a string array, has type ${v.type}`);
  }

  numbers(tag: number): readonly number[] | undefined {
    const v = this.entries.get(tag);
    if (!v) return undefined;
    switch (v.type) {
      case RpmTagType.CHAR:
      case RpmTagType.INT8:
      case RpmTagType.INT16:
      case RpmTagType.INT32:
        return v.values;
      case RpmTagType.INT64:
        return v.values.map((n) => {
          check(n <= BigInt(Number.MAX_SAFE_INTEGER), `${this.what}: tag ${tag} value ${n} is too large`);
          return Number(n);
        });
      default:
        throw new PackageFormatError(`${this.what}: tag ${tag} should be an integer, has type ${v.type}`);
    }
  }

  number(tag: number): number | undefined {
    return this.numbers(tag)?.[0];
  }
}

/**
 * Source or binary package, as rpm decides it on reading (`applyRetrofits`): a package with
 * neither SOURCERPM nor SOURCEPACKAGE is a source package when all its files sit in one
 * directory with an empty name, else a binary one with SOURCERPM "(none)".
 */
function kindOfPackage(hdr: Entries): { isSource: boolean; sourcerpm: string } {
  if (hdr.has(Tag.SOURCERPM) || hdr.has(Tag.SOURCEPACKAGE)) {
    return { isSource: Boolean(hdr.number(Tag.SOURCEPACKAGE)), sourcerpm: hdr.string(Tag.SOURCERPM) };
  }
  const dirs = hdr.strings(Tag.DIRNAMES) ?? splitOldFilenames(hdr.strings(Tag.OLDFILENAMES))?.dirnames;
  const isSource = dirs !== undefined && dirs.length === 1 && dirs[0] === '';
  return { isSource, sourcerpm: isSource ? '' : '(none)' };
}

/** The uncompressed file list of very old packages, split the way rpm does on reading. */
function splitOldFilenames(paths: readonly string[] | undefined): { basenames: string[]; dirnames: string[]; dirindexes: number[] } | undefined {
  if (!paths) return undefined;
  const dirs = new Map<string, number>();
  const dirindexes: number[] = [];
  const basenames = paths.map((path) => {
    const cut = path.lastIndexOf('/') + 1;
    const dir = path.slice(0, cut);
    if (!dirs.has(dir)) dirs.set(dir, dirs.size);
    dirindexes.push(dirs.get(dir)!);
    return path.slice(cut);
  });
  return { basenames, dirnames: [...dirs.keys()], dirindexes };
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

function readFiles(hdr: Entries): RpmFile[] {
  const old = hdr.has(Tag.BASENAMES) ? undefined : splitOldFilenames(hdr.strings(Tag.OLDFILENAMES));
  const basenames = old?.basenames ?? hdr.strings(Tag.BASENAMES);
  const dirnames = old?.dirnames ?? hdr.strings(Tag.DIRNAMES);
  const dirindexes = old?.dirindexes ?? hdr.numbers(Tag.DIRINDEXES);
  const flags = hdr.numbers(Tag.FILEFLAGS);
  const modes = hdr.numbers(Tag.FILEMODES);
  if (!basenames || !dirindexes || !flags || !modes) return [];
  const dirs = dirnames ?? [];
  const count = Math.min(basenames.length, dirindexes.length, flags.length, modes.length);
  const files: RpmFile[] = [];
  for (let i = 0; i < count; i++) {
    const d = dirindexes[i];
    if (dirnames !== undefined && d >= dirs.length) throw new PackageFormatError(`main header: file ${i} (${basenames[i]}) has directory index ${d}, but there are ${dirs.length} directories`);
    const path = (dirnames === undefined ? '' : dirs[d]) + basenames[i];
    const type = (modes[i] & S_IFMT) === S_IFDIR ? 'dir' : flags[i] & FileFlag.GHOST ? 'ghost' : 'file';
    files.push({ path, type });
  }
  return files;
}

type DependencyKind = 'provides' | 'conflicts' | 'obsoletes' | 'requires' | 'suggests' | 'enhances' | 'recommends' | 'supplements';
type Dependencies = Record<DependencyKind, RpmDependency[]>;

/** Read order of createrepo_c (provides first: requires are filtered against them). */
const DEPENDENCY_TAGS: ReadonlyArray<[DependencyKind | 'oldsuggests' | 'oldenhances', number, number, number]> = [
  ['provides', Tag.PROVIDENAME, Tag.PROVIDEFLAGS, Tag.PROVIDEVERSION],
  ['conflicts', Tag.CONFLICTNAME, Tag.CONFLICTFLAGS, Tag.CONFLICTVERSION],
  ['obsoletes', Tag.OBSOLETENAME, Tag.OBSOLETEFLAGS, Tag.OBSOLETEVERSION],
  ['requires', Tag.REQUIRENAME, Tag.REQUIREFLAGS, Tag.REQUIREVERSION],
  ['suggests', Tag.SUGGESTNAME, Tag.SUGGESTFLAGS, Tag.SUGGESTVERSION],
  ['enhances', Tag.ENHANCENAME, Tag.ENHANCEFLAGS, Tag.ENHANCEVERSION],
  ['recommends', Tag.RECOMMENDNAME, Tag.RECOMMENDFLAGS, Tag.RECOMMENDVERSION],
  ['supplements', Tag.SUPPLEMENTNAME, Tag.SUPPLEMENTFLAGS, Tag.SUPPLEMENTVERSION],
  ['oldsuggests', Tag.OLDSUGGESTSNAME, Tag.OLDSUGGESTSFLAGS, Tag.OLDSUGGESTSVERSION],
  ['oldenhances', Tag.OLDENHANCESNAME, Tag.OLDENHANCESFLAGS, Tag.OLDENHANCESVERSION],
];

const PRE_SENSE = Sense.PREREQ | Sense.SCRIPT_PRE | Sense.SCRIPT_POST | Sense.PRETRANS | Sense.POSTTRANS;

/** `flags & 0xf` as createrepo_c names it; other combinations count as unversioned. */
function flagName(flags: number): RpmDependencyFlag | undefined {
  switch (flags & 0xf) {
    case 2: return 'LT';
    case 4: return 'GT';
    case 8: return 'EQ';
    case 10: return 'LE';
    case 12: return 'GE';
    default: return undefined;
  }
}

/**
 * Split `[epoch:]version[-release]` like createrepo_c's `cr_str_to_evr`: undefined when the
 * epoch is not a number (the dependency is then dropped).
 */
interface Evr {
  readonly epoch?: string;
  readonly ver?: string;
  readonly rel?: string;
}

function splitEvr(evr: string): Evr | undefined {
  if (evr === '') return {};
  const colon = evr.indexOf(':');
  let epoch = '0';
  let rest = evr;
  if (colon >= 0) {
    const e = evr.slice(0, colon);
    if (e !== '' && !/^\s*[+-]?\d+$/.test(e)) return undefined;
    if (e !== '') epoch = e;
    rest = evr.slice(colon + 1);
  }
  const dash = rest.indexOf('-');
  if (dash < 0) return { epoch, ver: rest };
  const rel = rest.slice(dash + 1);
  return { epoch, ver: rest.slice(0, dash), rel: rel === '' ? undefined : rel };
}

function dependency(name: string, flag: RpmDependencyFlag | undefined, evr: Evr, pre: boolean): RpmDependency {
  if (!flag) return pre ? { name, pre } : { name };
  // assigned one by one (object spreads are slow on this path: every dependency of every package)
  const dep: { -readonly [K in keyof RpmDependency]: RpmDependency[K] } = { name, flags: flag };
  if (evr.epoch) dep.epoch = evr.epoch;
  if (evr.ver) dep.ver = evr.ver;
  if (evr.rel) dep.rel = evr.rel;
  if (pre) dep.pre = pre;
  return dep;
}

/**
 * createrepo_c's libc.so.6 rule: of several `libc.so.6(...)` requires only the one with the
 * highest version in its first parentheses stays. True when `b` beats `a`; the checks run in
 * createrepo_c's order (`cr_compare_dependency`), so odd names rank the same way.
 */
function higherLibc(a: string, b: string): boolean {
  const oa = a.indexOf('(');
  const ob = b.indexOf('(');
  if (oa < 0 && ob < 0) return false;
  if (oa < 0) return true;
  if (ob < 0) return false;
  const ca = a.indexOf(')', oa);
  const cb = b.indexOf(')', ob);
  if (ca < 0 && cb < 0) return false;
  if (ca < 0) return true;
  if (cb < 0) return false;
  const ia = a.slice(oa + 1, ca);
  const ib = b.slice(ob + 1, cb);
  if (ia === '' && ib === '') return false;
  if (ia === '') return true;
  if (ib === '') return false;
  const da = ia.search(/[0-9]/);
  const db = ib.search(/[0-9]/);
  if (da < 0 && db < 0) return false;
  if (da < 0) return true;
  if (db < 0) return false;
  return rpmvercmp(ia.slice(da), ib.slice(db)) < 0;
}

function readDependencies(hdr: Entries, ownsFile: (path: string) => boolean): Dependencies {
  const out: Dependencies = {
    provides: [],
    conflicts: [],
    obsoletes: [],
    requires: [],
    suggests: [],
    enhances: [],
    recommends: [],
    supplements: [],
  };
  const provided = new Set<string>();
  const seenRequires = new Map<string, { flag?: string; version: string; pre: boolean }>();
  for (const [kind, nameTag, flagsTag, versionTag] of DEPENDENCY_TAGS) {
    const names = hdr.strings(nameTag);
    const flags = hdr.numbers(flagsTag);
    const versions = hdr.strings(versionTag);
    if (!names || !flags || !versions) continue;
    let libc: RpmDependency | undefined;
    const count = Math.min(names.length, flags.length, versions.length);
    for (let i = 0; i < count; i++) {
      const name = names[i];
      const sense = flags[i];
      const flag = flagName(sense);
      const version = versions[i];
      const key = name + (flag ?? '') + version;
      let pre = false;
      if (kind === 'requires') {
        if (name.startsWith('rpmlib(')) continue;
        if (name.startsWith('/') && isPrimaryFile(name) && ownsFile(name)) continue;
        if (provided.has(key)) continue;
        pre = (sense & PRE_SENSE) !== 0;
        const seen = seenRequires.get(name);
        if (seen && seen.flag === flag && seen.version === version && seen.pre === pre) continue;
      }
      const evr = splitEvr(version);
      if (!evr) continue;
      switch (kind) {
        case 'provides':
          provided.add(key);
          out.provides.push(dependency(name, flag, evr, false));
          break;
        case 'requires': {
          if (sense & Sense.MISSINGOK) {
            out.recommends.push(dependency(name, flag, evr, false));
            break;
          }
          const dep = dependency(name, flag, evr, pre);
          if (name.startsWith('libc.so.6')) {
            if (!libc || higherLibc(libc.name, name)) libc = dep;
            break;
          }
          out.requires.push(dep);
          seenRequires.set(name, { flag, version, pre });
          break;
        }
        case 'oldsuggests':
          (sense & Sense.STRONG ? out.recommends : out.suggests).push(dependency(name, flag, evr, false));
          break;
        case 'oldenhances':
          (sense & Sense.STRONG ? out.supplements : out.enhances).push(dependency(name, flag, evr, false));
          break;
        default:
          out[kind].push(dependency(name, flag, evr, false));
      }
    }
    if (libc) out.requires.push(libc);
  }
  return out;
}

/**
 * The newest `limit` changelog entries, oldest first, authors without trailing spaces; entries
 * sharing a timestamp are spread one second apart (createrepo_c does this so that the
 * timestamps stay unique).
 */
function readChangelogs(hdr: Entries, limit: number): RpmChangelog[] {
  const times = hdr.numbers(Tag.CHANGELOGTIME);
  const names = hdr.strings(Tag.CHANGELOGNAME);
  const texts = hdr.strings(Tag.CHANGELOGTEXT);
  if (!times || !names || !texts) return [];
  const count = Math.min(times.length, names.length, texts.length, limit < 0 ? Infinity : limit);
  // newest first while reading, as in the header
  const newestFirst: Array<{ author: string; date: number; text: string }> = [];
  let lastTime = 0;
  for (let i = 0; i < count; i++) {
    const time = times[i];
    newestFirst.push({ author: trimAuthor(names[i]), date: time, text: texts[i] });
    if (time === lastTime) {
      let t = time;
      for (let j = newestFirst.length - 2; j >= 0 && newestFirst[j].date === t; j--) {
        newestFirst[j].date++;
        t++;
      }
    } else {
      lastTime = time;
    }
  }
  return newestFirst.reverse();
}

/** Trailing spaces go, but never the first character (createrepo_c's loop stops at index 1). */
function trimAuthor(author: string): string {
  let end = author.length;
  while (end > 1 && author[end - 1] === ' ') end--;
  return author.slice(0, end);
}
