/**
 * The apk (v2) package model: what `.PKGINFO` says about a package, what one APKINDEX
 * entry holds, and what reading a package file yields (apk-tools 2.14 `src/package.c`,
 * abuild `abuild.in` prepare_metafiles).
 */

/** The `.PKGINFO` of a package, parsed (`key = value` lines, some keys repeated). */
export interface PkgInfo {
  /** `pkgname` */
  readonly name: string;
  /** `pkgver`, e.g. `1.2.3_rc1-r0` */
  readonly version: string;
  /** `pkgdesc` */
  readonly description: string;
  readonly url: string;
  /** `size`: installed size in bytes. */
  readonly installedSize: number;
  readonly license: string;
  /** `arch`; `noarch` for architecture-independent packages. */
  readonly arch?: string;
  readonly origin?: string;
  readonly maintainer?: string;
  readonly packager?: string;
  /** `builddate`, seconds since the epoch. */
  readonly buildDate?: number;
  readonly commit?: string;
  readonly providerPriority?: number;
  readonly replacesPriority?: number;
  /** `depend` lines, normalised tokens (`so:libc.musl-x86_64.so.1`, `!conflict`, `foo>=1.2`). */
  readonly depends: readonly string[];
  /** `provides` lines, normalised tokens (`cmd:foo=1.2-r0`). */
  readonly provides: readonly string[];
  /** `install_if` tokens. */
  readonly installIf: readonly string[];
  readonly replaces: readonly string[];
  /** `triggers` lines (each a space-separated list of directory globs). */
  readonly triggers: readonly string[];
  /** `datahash`: hex SHA-256 of the data member's compressed bytes. */
  readonly dataHash?: string;
}

/**
 * One APKINDEX entry. Written in apk-tools' order C P V A S I T U L o m t c k D p i
 * (`apk_pkg_write_index_header`): T, U and L always, A/o/m/c when present, t/k when
 * non-zero, D/p/i when non-empty.
 */
export interface ApkIndexEntry {
  /** `C:` package identity, `Q1` + base64(SHA-1). */
  readonly checksum: string;
  /** `P:` */
  readonly name: string;
  /** `V:` */
  readonly version: string;
  /** `A:` */
  readonly arch?: string;
  /** `S:` size of the .apk file in bytes. */
  readonly size: number;
  /** `I:` installed size in bytes. */
  readonly installedSize: number;
  /** `T:` */
  readonly description: string;
  /** `U:` */
  readonly url: string;
  /** `L:` */
  readonly license: string;
  /** `o:` */
  readonly origin?: string;
  /** `m:` */
  readonly maintainer?: string;
  /** `t:` build time, seconds since the epoch. */
  readonly buildTime?: number;
  /** `c:` */
  readonly commit?: string;
  /** `k:` */
  readonly providerPriority?: number;
  /** `D:` */
  readonly depends: readonly string[];
  /** `p:` */
  readonly provides: readonly string[];
  /** `i:` */
  readonly installIf: readonly string[];
}

/** A signature member entry: `.SIGN.<type>.<key name>`. */
export interface ApkSignatureInfo {
  /** `RSA` (SHA-1), `RSA256`, `RSA512` or `DSA`, as the entry name says. */
  readonly type: string;
  /** The key file name the client looks up in /etc/apk/keys. */
  readonly keyName: string;
  /** The signature itself, where the reader keeps it (index archives). */
  readonly signature?: Uint8Array;
}

/** What reading one .apk file yields. */
export interface ApkPackage {
  /** The identity apk computes: `Q1` + base64(SHA-1 of the control member's raw bytes). */
  readonly checksum: string;
  /** Size of the whole file in bytes (`S:`). */
  readonly size: number;
  readonly info: PkgInfo;
  /** The package's own signatures (recognised, not verified). */
  readonly signatures: readonly ApkSignatureInfo[];
  /** Names of the control member's entries (`.PKGINFO`, `.pre-install`, ...). */
  readonly controlEntries: readonly string[];
  /** Number of entries in the data member. */
  readonly dataEntries: number;
}
