/**
 * Synthetic but valid .rpm packages for the yum benchmark, made with `buildRpm`: 20-200 files
 * (executables, libraries, data, docs, configuration, directories, symlinks), versioned
 * dependencies between the packages, multi-line descriptions and a changelog. Deterministic:
 * package `index` of `seed` is the same bytes everywhere.
 */
import { Random, WORDS } from './random';
import { buildRpm, type RpmBuildFile, type RpmBuildSpec, type RpmChangelog, type RpmDependency } from '../src/formats/rpm';

/** One generated package: where it goes in a repository tree, its bytes, its mtime. */
export interface SyntheticPackage {
  /** Path relative to the repository root, e.g. `Packages/n/netlib12-2.3.4-1.el9.x86_64.rpm`. */
  readonly path: string;
  readonly bytes: Uint8Array;
  /** Modification time to give the file, seconds since the epoch. */
  readonly mtime: number;
  /** The package name (repo-remove takes names). */
  readonly name: string;
}

const PREFIXES = ['', '', '', 'lib', 'python3-', 'perl-', 'golang-', 'rust-', 'nodejs-'];
const SUFFIXES = ['', '', '', '', '-libs', '-devel', '-doc', '-common', '-tools', '-data'];
const LICENSES = ['MIT', 'GPL-2.0-or-later', 'LGPL-2.1-or-later', 'Apache-2.0', 'BSD-3-Clause', 'MPL-2.0', 'GPL-3.0-only'];
const GROUPS = ['Unspecified', 'System Environment/Libraries', 'Development/Tools', 'Applications/System'];
const EXTENSIONS = ['py', 'pm', 'json', 'xml', 'txt', 'html', 'css', 'js', 'h', 'mo', 'svg', 'conf'];
const BUILD_EPOCH = 1_700_000_000;

/** Name of package `index` (the other packages' dependencies name it). */
export function syntheticName(seed: number, index: number): string {
  const r = new Random(seed, 'name', index);
  return `${r.pick(PREFIXES)}${r.pick(WORDS)}${r.pick(WORDS)}${index}${r.pick(SUFFIXES)}`;
}

function syntheticVersion(seed: number, index: number): { version: string; release: string; epoch?: number } {
  const r = new Random(seed, 'version', index);
  return {
    version: `${r.int(0, 12)}.${r.int(0, 40)}.${r.int(0, 99)}`,
    release: `${r.int(1, 9)}.el9`,
    ...(r.chance(0.1) ? { epoch: r.int(1, 3) } : {}),
  };
}

let corpusCache: { seed: number; text: string } | undefined;

/** A few hundred KiB of word text that file contents are cut from (compresses like text does). */
function corpus(seed: number): string {
  if (corpusCache?.seed !== seed) {
    const r = new Random(seed, 'corpus');
    const lines: string[] = [];
    let length = 0;
    while (length < 512 * 1024) {
      const line = r.words(r.int(3, 14));
      lines.push(line);
      length += line.length + 1;
    }
    corpusCache = { seed, text: lines.join('\n') };
  }
  return corpusCache.text;
}

function textFile(r: Random, seed: number, path: string, min: number, max: number): RpmBuildFile {
  const text = corpus(seed);
  const length = r.logInt(min, max);
  const start = r.int(0, text.length - length - 1);
  return { path, contents: `# ${path}\n${text.slice(start, start + length)}\n` };
}

function files(r: Random, seed: number, name: string, arch: string): RpmBuildFile[] {
  const count = r.int(20, 200);
  const out: RpmBuildFile[] = [];
  const share = `/usr/share/${name}`;
  const doc = `/usr/share/doc/${name}`;
  out.push({ path: share, type: 'dir' }, { path: doc, type: 'dir' });
  out.push(textFile(r, seed, `${doc}/README.md`, 200, 6000));
  if (r.chance(0.6)) out.push(textFile(r, seed, `${doc}/NEWS`, 500, 20000));
  const binaries = r.int(0, 3);
  for (let i = 0; i < binaries; i++) {
    const path = `/usr/bin/${name}${i ? `-${r.pick(WORDS)}${i}` : ''}`;
    out.push(arch === 'noarch'
      ? { ...textFile(r, seed, path, 100, 3000), mode: 0o755 }
      : { path, contents: r.bytes(r.logInt(2000, 60000)), mode: 0o755 });
  }
  if (arch !== 'noarch' && r.chance(0.5)) {
    const lib = `/usr/lib64/lib${name}.so`;
    out.push({ path: `${lib}.${r.int(0, 5)}`, contents: r.bytes(r.logInt(4000, 80000)), mode: 0o755 });
    out.push({ path: lib, type: 'symlink', target: `lib${name}.so.0` });
  }
  if (r.chance(0.3)) {
    out.push({ path: `/etc/${name}`, type: 'dir' });
    out.push(textFile(r, seed, `/etc/${name}/${name}.conf`, 100, 3000));
  }
  const subdirs = Array.from({ length: r.int(1, 6) }, (_, i) => `${share}/${r.pick(WORDS)}${i}`);
  for (const d of subdirs) out.push({ path: d, type: 'dir' });
  while (out.length < count) {
    const i = out.length;
    out.push(textFile(r, seed, `${r.pick(subdirs)}/${r.pick(WORDS)}_${i}.${r.pick(EXTENSIONS)}`, 40, 2500));
  }
  return out;
}

function dependencies(r: Random, seed: number, index: number, arch: string): RpmDependency[] {
  const deps: RpmDependency[] = [];
  const seen = new Set<string>();
  const others = index === 0 ? 0 : r.int(0, Math.min(8, index));
  for (let i = 0; i < others; i++) {
    const j = r.int(Math.max(0, index - 2000), index - 1);
    const name = syntheticName(seed, j);
    if (seen.has(name)) continue;
    seen.add(name);
    const v = syntheticVersion(seed, j);
    deps.push(r.chance(0.6)
      ? { name, flags: 'GE', ver: v.version, ...(v.epoch ? { epoch: String(v.epoch) } : {}) }
      : { name });
  }
  if (arch !== 'noarch') {
    deps.push({ name: 'libc.so.6()(64bit)' }, { name: `libc.so.6(GLIBC_2.${r.int(2, 34)})(64bit)` });
    if (r.chance(0.5)) deps.push({ name: `libssl.so.3(OPENSSL_3.0.${r.int(0, 9)})(64bit)` });
  }
  if (r.chance(0.3)) deps.push({ name: '/bin/sh', pre: true });
  if (r.chance(0.2)) deps.push({ name: 'python(abi)', flags: 'EQ', ver: '3.9' });
  return deps;
}

function changelog(r: Random, version: string, release: string, buildTime: number): RpmChangelog[] {
  const count = r.int(3, 15);
  const out: RpmChangelog[] = [];
  let date = buildTime - (buildTime % 86400);
  for (let i = 0; i < count; i++) {
    const author = `${r.pick(WORDS)} ${r.pick(WORDS)} <${r.pick(WORDS)}@example.org>`;
    const lines = Array.from({ length: r.int(1, 5) }, () => `- ${r.words(r.int(3, 12))} (#${r.int(1000, 99999)})`);
    out.push({ author: `${author} - ${i === 0 ? `${version}-${release}` : `${r.int(0, 12)}.${r.int(0, 40)}-${r.int(1, 9)}`}`, date, text: lines.join('\n') });
    date -= r.int(1, 400) * 86400;
  }
  return out;
}

/** The build recipe of package `index`. */
export function syntheticRpmSpec(seed: number, index: number): RpmBuildSpec {
  const r = new Random(seed, 'package', index);
  const name = syntheticName(seed, index);
  const { version, release, epoch } = syntheticVersion(seed, index);
  const arch = r.chance(0.7) ? 'x86_64' : 'noarch';
  const buildTime = BUILD_EPOCH + index * 60 + r.int(0, 59);
  const provides: RpmDependency[] = [];
  if (r.chance(0.4)) provides.push({ name: `${r.pick(WORDS)}(${name})`, flags: 'EQ', ver: version, rel: release });
  if (arch !== 'noarch' && r.chance(0.4)) provides.push({ name: `lib${name}.so.0()(64bit)` });
  return {
    name,
    version,
    release,
    ...(epoch === undefined ? {} : { epoch }),
    arch,
    summary: `${r.words(r.int(3, 9))} for ${name}`,
    description: Array.from({ length: r.int(2, 12) }, () => r.words(r.int(6, 14))).join('\n'),
    license: r.pick(LICENSES),
    group: r.pick(GROUPS),
    url: `https://${r.pick(WORDS)}.example.org/${name}`,
    vendor: 'Benchmark Project',
    packager: 'Benchmark Builder <builder@example.org>',
    buildHost: `builder-${r.int(1, 40)}.example.org`,
    buildTime,
    files: files(r, seed, name, arch),
    requires: dependencies(r, seed, index, arch),
    provides,
    conflicts: r.chance(0.05) ? [{ name: `${name}-legacy`, flags: 'LT', ver: version }] : [],
    obsoletes: r.chance(0.1) ? [{ name: `${name}-old`, flags: 'LE', ver: version, rel: release }] : [],
    changelog: changelog(r, version, release, buildTime),
  };
}

/** Package `index` of `seed`, built. */
export function syntheticRpm(seed: number, index: number): SyntheticPackage {
  const spec = syntheticRpmSpec(seed, index);
  const fileName = `${spec.name}-${spec.version}-${spec.release}.${spec.arch}.rpm`;
  return { path: `Packages/${fileName[0]}/${fileName}`, bytes: buildRpm(spec), mtime: (spec.buildTime ?? BUILD_EPOCH) + 3600, name: spec.name };
}
