import type { SigningKeys } from '../signing/signer';
import type { Storage } from '../storage/storage';

export type FormatName = 'yum' | 'apt' | 'pacman' | 'apk';

/**
 * A unit the engine indexes as a whole: one rpm-md root, one apt distribution, one pacman
 * repository directory, one apk branch/repo/arch directory. Keys of all its packages and
 * metadata live under `root`.
 */
export interface RepositoryUnit {
  /** Stable identifier, unique within a storage ("yum:el9/x86_64", "apt:stable"). */
  readonly id: string;
  /** Key prefix of the unit, '' or ending in '/'. */
  readonly root: string;
  /** Format-specific coordinates (apt: distribution; pacman: repo name; ...). */
  readonly params: Readonly<Record<string, string>>;
}

/** A package object as the storage describes it, with a way to read it. */
export interface PackageObject {
  /** Full storage key. */
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
  /** Reads the whole object (the engine meters this). */
  read(): Promise<Uint8Array>;
  /** Streams the object (for formats that need not hold it whole). */
  stream(): Promise<AsyncIterable<Uint8Array>>;
  /**
   * Reads the object piece by piece (see `Storage.scan`): each piece is valid only while
   * `visit` runs, so a reader that checksums every byte and keeps a few needs no buffer of the
   * whole object. What `visit` throws is thrown as it is.
   */
  scan(visit: (piece: Uint8Array) => void): Promise<void>;
  /** Reads another object that belongs with the package (e.g. its `.sig`); undefined if absent. */
  readRelated(key: string): Promise<Uint8Array | undefined>;
}

/** One package as it stands in an index: what the engine needs to know about it. */
export interface IndexedPackage {
  /** Full storage key of the package file. */
  readonly key: string;
  /** Its size as the index records it. */
  readonly size: number;
  /** name, version(with epoch/release), arch: for reports and duplicate detection. */
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  /**
   * The package's content identity as its index records it: yum `pkgid` (SHA-256 of the
   * file), apt `SHA256`, pacman `%SHA256SUM%`, apk the `C:` checksum. Two entries with the same
   * digest describe the same bytes; '' when the loaded index records none.
   */
  readonly digest: string;
}

/**
 * The index of one unit, loaded from storage. Opaque to the engine except through this
 * interface; `entries` must be keyed by full package storage key.
 */
export interface UnitIndex<E extends IndexedPackage = IndexedPackage> {
  readonly entries: Map<string, E>;
  /** Format-specific carry-over state (apt: last Release Date; by-hash generations; ...). */
  readonly state?: unknown;
  /**
   * The published index must be rewritten even if no package changed: it was made by another
   * tool without a signature, or lacks files this format publishes.
   */
  readonly stale?: boolean;
}

/** One object the publish step writes. */
export interface OutputFile {
  readonly key: string;
  readonly body: Uint8Array | string;
  readonly contentType: string;
  /**
   * 'immutable': its key changes when its content does (hash-named metadata, by-hash
   * copies): written first, never overwritten with different bytes.
   * 'manifest': fixed-name entry point (repomd.xml, InRelease, APKINDEX.tar.gz, repo.db):
   * written last, in the order given.
   */
  readonly kind: 'immutable' | 'manifest';
}

export interface RenderContext {
  readonly keys: SigningKeys;
  /** The engine's clock (tests inject one). */
  readonly now: Date;
}

/**
 * A repository format plugs into the engine through this interface. Implementations keep all
 * byte-level work in src/formats/<format>/ and do only storage reads here.
 */
export interface RepositoryFormat<E extends IndexedPackage = IndexedPackage> {
  readonly name: FormatName;
  /**
   * How many versions of one name and architecture the format's index can hold (pacman's
   * database holds one entry per name): older ones leave the index as retention would prune
   * them, and are not read again while they stay. @default - any number
   */
  readonly versionsPerName?: number;
  /**
   * Orders two versions as the format's clients do (rpmvercmp with epoch and release, dpkg,
   * pacman's vercmp, apk): negative when `a` is older, positive when newer, 0 when equal.
   */
  compareVersions(a: string, b: string): number;
  /**
   * The fixed-name entry points of a unit (repomd.xml and its signature, Release/InRelease,
   * the pacman databases, APKINDEX.tar.gz): keys `render` returns with kind 'manifest', in
   * publish order. The engine reads their etags before `loadIndex` and writes them
   * conditionally, so that a publish never overwrites another writer's. Other manifests a
   * render returns are written unconditionally.
   */
  manifestKeys(unit: RepositoryUnit): string[];
  /**
   * Objects that belong with a package and go when it goes (pacman's detached `<package>.sig`):
   * retention with `deleteObjects` deletes them with it. @default - none
   */
  companionKeys?(key: string): string[];
  /** Does this key name a package file of this format? */
  isPackage(key: string): boolean;
  /** The unit a package key belongs to, or undefined when the layout rule excludes it. */
  unitOf(key: string): RepositoryUnit | undefined;
  /** Units that exist in storage (an index is published there), found from a listing of keys. */
  unitsOfMetadata?(key: string): RepositoryUnit | undefined;
  /** Load the current index of a unit (ours or the reference tool's); an empty one if none. */
  loadIndex(storage: Storage, unit: RepositoryUnit): Promise<UnitIndex<E>>;
  /** Read one new package. Throws PackageFormatError for bad input. */
  readPackage(pkg: PackageObject, unit: RepositoryUnit): Promise<E>;
  /**
   * The files of the new index, from the complete set of entries. Manifests last, in
   * publish order. `previous` is the loaded index (for carry-over state).
   */
  render(unit: RepositoryUnit, entries: ReadonlyMap<string, E>, previous: UnitIndex<E>, ctx: RenderContext): Promise<OutputFile[]>;
  /**
   * Keys under the unit that are metadata this format owns (so the engine can collect the
   * superseded ones after the grace period). Package files are never garbage.
   */
  isOwnedMetadata(unit: RepositoryUnit, key: string): boolean;
  /**
   * Key prefixes under which this unit's metadata lives (listed after a publish to find
   * superseded files). Narrower is cheaper; defaults to the unit root.
   */
  metadataPrefixes?(unit: RepositoryUnit): string[];
}
