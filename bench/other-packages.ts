/**
 * The synthetic packages of the yum benchmark (same names, versions, files, dependencies and
 * descriptions: see yum-packages.ts) as .deb, pacman and apk packages, so that every format
 * is measured on the same package set.
 */
import { syntheticRpmSpec, type SyntheticPackage } from './yum-packages';
import { buildApk, apkFileName } from '../src/formats/apk/build-apk';
import { buildDeb, debFileName } from '../src/formats/deb/build-deb';
import { buildPacmanPackage, pacmanPackageFileName } from '../src/formats/pacman/build-pacman';
import type { RpmBuildSpec, RpmDependency } from '../src/formats/rpm';

/** Dependencies on other benchmark packages (rpm's sonames, file and rpmlib dependencies have no counterpart). */
function packageDependencies(spec: RpmBuildSpec): RpmDependency[] {
  return (spec.requires ?? []).filter((d) => /^[a-z0-9][a-z0-9+.-]*$/.test(d.name));
}

/** `1.2.3` of release `4.el9`: the leading number (pacman's pkgrel, apk's -r). */
function releaseNumber(spec: RpmBuildSpec): number {
  return Number(/^\d+/.exec(spec.release)?.[0] ?? 1);
}

function mtimeOf(spec: RpmBuildSpec): number {
  return (spec.buildTime ?? 0) + 3600;
}

/** Package `index` of `seed` as a .deb in `pool/stable/main/`. */
export async function syntheticDeb(seed: number, index: number): Promise<SyntheticPackage> {
  const spec = syntheticRpmSpec(seed, index);
  const deb = {
    name: spec.name,
    version: `${spec.epoch === undefined ? '' : `${spec.epoch}:`}${spec.version}-${spec.release}`,
    architecture: spec.arch === 'noarch' ? 'all' : 'amd64',
    maintainer: spec.packager ?? 'Benchmark Builder <builder@example.org>',
    summary: spec.summary,
    description: spec.description,
    section: 'misc',
    priority: 'optional',
    homepage: spec.url,
    depends: [
      ...(spec.arch === 'noarch' ? [] : ['libc6 (>= 2.34)']),
      ...packageDependencies(spec).map((d) => (d.flags === 'GE' ? `${d.name} (>= ${d.epoch ? `${d.epoch}:` : ''}${d.ver})` : d.name)),
    ],
    buildTime: spec.buildTime,
    files: spec.files,
  };
  return { path: `pool/stable/main/${spec.name[0]}/${debFileName(deb)}`, bytes: await buildDeb(deb), mtime: mtimeOf(spec), name: spec.name };
}

/** Package `index` of `seed` as a pacman package (.pkg.tar.gz) in the repository directory `bench/`. */
export async function syntheticPacman(seed: number, index: number): Promise<SyntheticPackage> {
  const spec = syntheticRpmSpec(seed, index);
  const pkg = {
    name: spec.name,
    version: spec.version,
    release: String(releaseNumber(spec)),
    ...(spec.epoch === undefined ? {} : { epoch: spec.epoch }),
    arch: spec.arch === 'noarch' ? 'any' : 'x86_64',
    description: spec.summary,
    url: spec.url,
    packager: spec.packager,
    licenses: [spec.license ?? 'MIT'],
    depends: [
      ...(spec.arch === 'noarch' ? [] : ['glibc>=2.34']),
      ...packageDependencies(spec).map((d) => (d.flags === 'GE' ? `${d.name}>=${d.epoch ? `${d.epoch}:` : ''}${d.ver}` : d.name)),
    ],
    buildTime: spec.buildTime,
    files: spec.files,
  };
  return { path: `bench/${pacmanPackageFileName(pkg)}`, bytes: await buildPacmanPackage(pkg), mtime: mtimeOf(spec), name: spec.name };
}

/** Package `index` of `seed` as an (unsigned) apk in `v3.20/main/x86_64/`. */
export async function syntheticApk(seed: number, index: number): Promise<SyntheticPackage> {
  const spec = syntheticRpmSpec(seed, index);
  const apk = {
    name: spec.name,
    version: `${spec.version}-r${releaseNumber(spec)}`,
    arch: 'x86_64',
    description: spec.summary,
    url: spec.url,
    license: spec.license,
    origin: spec.name,
    maintainer: spec.packager,
    depends: packageDependencies(spec).map((d) => (d.flags === 'GE' ? `${d.name}>=${d.ver}` : d.name)),
    buildTime: spec.buildTime,
    files: spec.files,
  };
  return { path: `v3.20/main/x86_64/${apkFileName(apk)}`, bytes: await buildApk(apk), mtime: mtimeOf(spec), name: spec.name };
}
