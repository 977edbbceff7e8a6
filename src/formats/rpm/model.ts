/**
 * The package model of rpm-md: everything createrepo_c writes about one package into
 * primary.xml, filelists.xml and other.xml (createrepo_c `src/package.h`).
 */

/** Version comparison of a dependency (`flags` attribute in rpm-md). */
export type RpmDependencyFlag = 'EQ' | 'LT' | 'LE' | 'GT' | 'GE';

/** One entry of provides/requires/conflicts/obsoletes and the weak dependencies. */
export interface RpmDependency {
  readonly name: string;
  /** Absent for an unversioned dependency. */
  readonly flags?: RpmDependencyFlag;
  readonly epoch?: string;
  readonly ver?: string;
  readonly rel?: string;
  /** Requires only: needed by a scriptlet (`pre="1"`). */
  readonly pre?: boolean;
}

/** How a file is listed: a regular file (also symlinks, devices), a directory, or a %ghost. */
export type RpmFileType = 'file' | 'dir' | 'ghost';

/** One path owned by the package. */
export interface RpmFile {
  readonly path: string;
  readonly type: RpmFileType;
}

/** One %changelog entry. */
export interface RpmChangelog {
  readonly author: string;
  /** Seconds since the epoch. */
  readonly date: number;
  readonly text: string;
}

/** The `format` part of a package in primary.xml (the `rpm:` namespace). */
export interface RpmFormat {
  readonly license: string;
  readonly vendor: string;
  readonly group: string;
  readonly buildhost: string;
  readonly sourcerpm: string;
  /** Byte range of the main header in the file (`rpm:header-range`). */
  readonly headerRange: { readonly start: number; readonly end: number };
  readonly provides: readonly RpmDependency[];
  readonly requires: readonly RpmDependency[];
  readonly conflicts: readonly RpmDependency[];
  readonly obsoletes: readonly RpmDependency[];
  readonly recommends: readonly RpmDependency[];
  readonly suggests: readonly RpmDependency[];
  readonly supplements: readonly RpmDependency[];
  readonly enhances: readonly RpmDependency[];
}

/** One package as rpm-md describes it. */
export interface RpmPackage {
  /** Checksum of the whole package file, lower-case hex (`pkgid`). */
  readonly pkgId: string;
  readonly checksumType: 'sha256';
  readonly name: string;
  readonly arch: string;
  /** Always present; '0' when the package has no Epoch. */
  readonly epoch: string;
  readonly version: string;
  readonly release: string;
  readonly summary: string;
  readonly description: string;
  readonly packager: string;
  readonly url: string;
  readonly time: {
    /** mtime of the package file, seconds. */
    readonly file: number;
    /** BUILDTIME, seconds. */
    readonly build: number;
  };
  readonly size: {
    /** Size of the package file in bytes. */
    readonly package: number;
    readonly installed: number;
    readonly archive: number;
  };
  readonly location: {
    /** Path of the package relative to the repository root (`Packages/f/foo.rpm`). */
    readonly href: string;
    /** `xml:base` of the location, if any. */
    readonly base?: string;
  };
  readonly format: RpmFormat;
  /** All files, directories and ghosts (filelists.xml); primary.xml lists a subset. */
  readonly files: readonly RpmFile[];
  /** Newest entries (at most 10 as createrepo_c keeps them), oldest first. */
  readonly changelogs: readonly RpmChangelog[];
}

/** `name-[epoch:]version-release.arch`, epoch left out when it is '0'. */
export function nevra(pkg: Pick<RpmPackage, 'name' | 'epoch' | 'version' | 'release' | 'arch'>): string {
  const e = pkg.epoch && pkg.epoch !== '0' ? `${pkg.epoch}:` : '';
  return `${pkg.name}-${e}${pkg.version}-${pkg.release}.${pkg.arch}`;
}
