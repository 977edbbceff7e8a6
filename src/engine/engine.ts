import { createHash } from 'node:crypto';
import { UnitChanges } from './changes';
import type { IndexedPackage, OutputFile, PackageObject, RepositoryFormat, RepositoryUnit, UnitIndex } from './format';
import { collectGarbage, DEFAULT_GRACE_MS, DEFAULT_MIN_GENERATIONS } from './garbage';
import { writeDirectoryListing } from './listing';
import { ObjectJournal } from './object-journal';
import { checkRetention, prunedKeys, type RetentionPolicy } from './retention';
import { IMMUTABLE_CACHE_CONTROL, MANIFEST_CACHE_CONTROL, SIGNED_MANIFEST_CACHE_CONTROL } from '../cache-control';
import { encodeSignatureMetadata, SIGNATURE_METADATA, signedManifestOf } from '../detached-signatures';
import { PackageFormatError } from '../formats/errors';
import type { SigningKeys } from '../signing/signer';
import { PreconditionFailedError, scanObject, type ObjectInfo, type PutOptions, type Storage } from '../storage/storage';

export type { RetentionPolicy } from './retention';

export interface EngineOptions {
  readonly storage: Storage;
  readonly format: RepositoryFormat<any>;
  readonly keys: SigningKeys;
  /** The clock; tests inject one. @default () => new Date() */
  readonly now?: () => Date;
  /** How long superseded metadata stays readable after a publish. @default 48 hours (dnf's cache) */
  readonly graceMs?: number;
  /** Superseded metadata is also kept until this many newer publishes have happened. @default 3 */
  readonly minGenerations?: number;
  /** Where progress lines go. @default nowhere */
  readonly log?: (line: string) => void;
  /**
   * An upload whose name+version+arch is already indexed under another key, or an indexed key
   * overwritten with different bytes: 'refuse' keeps the indexed package and reports a
   * rejection; 'replace' indexes the new bytes and reports the old entry in `replaced`.
   * @default 'refuse'
   */
  readonly sameVersion?: SameVersionPolicy;
  /** Keep only the newest versions of each package. @default - every version is kept */
  readonly retention?: RetentionPolicy;
}

/** What the engine does with a second upload of an indexed name+version+arch (see EngineOptions.sameVersion). */
export type SameVersionPolicy = 'refuse' | 'replace';

/** Why a package is not indexed. */
export type RejectionCode = 'invalid-package' | 'duplicate-version' | 'changed-bytes' | 'misplaced';

export interface Rejection {
  /** Storage key of the package. */
  readonly key: string;
  /**
   * 'invalid-package': not a readable package of the format (or not where its name says);
   * 'duplicate-version': its name+version+arch is indexed under another key;
   * 'changed-bytes': an indexed key was overwritten with other bytes;
   * 'misplaced': its key fits no unit of the layout.
   */
  readonly code: RejectionCode;
  /** Why it was not indexed, for a person. */
  readonly reason: string;
}

export interface UnitReport {
  readonly unit: RepositoryUnit;
  /** Packages read and indexed in this run (new, or in place of a replaced entry). */
  readonly added: IndexedPackage[];
  /** Keys removed from the index in this run because their objects are gone. */
  readonly removed: string[];
  readonly rejected: Rejection[];
  /**
   * Keys whose indexed entry was replaced in 'replace' mode: a key overwritten with other
   * bytes (its new entry is in `added`), or the old key of a name+version+arch uploaded again
   * under a new key (the old key left the index; the new one is in `added`).
   */
  readonly replaced: string[];
  /** Keys that left the index by the retention policy (deleted from storage with deleteObjects). */
  readonly pruned: string[];
  /** Whether a new index was published. */
  readonly published: boolean;
  /** When published: hex SHA-256 of the first manifest's bytes (the version a client can compare). */
  readonly revision?: string;
  /** Number of packages in the index after the run. */
  readonly packageCount: number;
  /** Superseded metadata deleted after its grace period. */
  readonly collected: string[];
}

export interface Report {
  readonly units: UnitReport[];
  /** Every rejection of every unit, plus package keys that fit no unit of the layout. */
  readonly rejected: Rejection[];
}

/** Attempts at publishing one unit before giving up on another writer. */
export const PUBLISH_ATTEMPTS = 3;

/**
 * Another writer published the unit's index between our load and our publish, on every one
 * of PUBLISH_ATTEMPTS attempts. Nothing of ours was published over it; the batch should fail
 * and be delivered again.
 */
export class ConcurrentPublishError extends Error {
  constructor(public readonly unit: RepositoryUnit, public readonly attempts: number, cause: unknown) {
    super(`another writer kept publishing ${unit.id}: gave up after ${attempts} attempts (${(cause as Error)?.message ?? String(cause)})`, { cause });
    this.name = 'ConcurrentPublishError';
  }
}

/** A storage failure while reading a package: the batch must be retried, the package is not at fault. */
export class StorageReadError extends Error {
  constructor(public readonly key: string, cause: unknown) {
    super(`reading ${key} from storage failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StorageReadError';
  }
}

/**
 * Index everything in storage: every unit that holds packages or a published index. For each,
 * the listing decides what is added (listed, not indexed, or indexed with another size) and what
 * is removed (indexed, no longer listed). Packages already indexed are not read again, nor
 * objects set aside (refused, replaced or pruned) that did not change since. This is the
 * reconcile: its report says what events were missed (added: uploads, removed: deletes).
 */
export async function syncAll(options: EngineOptions): Promise<Report> {
  const { storage, format } = options;
  const units = new Map<string, { unit: RepositoryUnit; listing: Map<string, ObjectInfo> }>();
  const misplaced: Rejection[] = [];
  const unitEntry = (unit: RepositoryUnit) => {
    let entry = units.get(unit.id);
    if (!entry) {
      entry = { unit, listing: new Map() };
      units.set(unit.id, entry);
    }
    return entry;
  };
  for await (const info of storage.list('')) {
    if (format.isPackage(info.key)) {
      const unit = format.unitOf(info.key);
      if (unit) unitEntry(unit).listing.set(info.key, info);
      else misplaced.push(misplacedRejection(format, info.key));
      continue;
    }
    const unit = format.unitsOfMetadata?.(info.key);
    if (unit) unitEntry(unit);
  }

  const reports: UnitReport[] = [];
  for (const { unit, listing } of [...units.values()].sort((a, b) => a.unit.id.localeCompare(b.unit.id))) {
    reports.push(await updateUnit(options, unit, async (index) => {
      const objects = new Map<string, ObjectInfo | undefined>(listing);
      for (const key of index.entries.keys()) if (!listing.has(key)) objects.set(key, undefined);
      return { objects, complete: true, rewritten: false };
    }));
  }
  return { units: reports, rejected: [...misplaced, ...reports.flatMap((r) => r.rejected)] };
}

/**
 * Apply a batch of changed keys (from storage events). Events only say that something changed:
 * the storage is the truth, so each key is looked up and indexed if present, removed if absent.
 * Duplicate and out-of-order deliveries therefore converge on the storage's state.
 *
 * An upserted key that is already indexed may have been written again. Indexes record no
 * etag, and a rewrite with other bytes of the same size looks the same to a head, so the
 * engine keeps the etag each package had when it was indexed (ObjectJournal, about 100 bytes
 * per package, read once per run): an event whose object still has that etag costs nothing
 * more (a duplicate delivery); another etag, or none recorded (an index adopted from another
 * tool, a lost journal), costs one read of the package, whose digest is then compared with
 * the indexed one (see EngineOptions.sameVersion). A refused rewrite is remembered (set
 * aside) and not read again while it stays as it is.
 */
export async function applyChanges(
  options: EngineOptions,
  changes: { readonly upserted?: readonly string[]; readonly deleted?: readonly string[] },
): Promise<Report> {
  const { format } = options;
  const byUnit = new Map<string, { unit: RepositoryUnit; keys: Set<string> }>();
  const misplaced: Rejection[] = [];
  for (const key of [...(changes.upserted ?? []), ...(changes.deleted ?? [])]) {
    if (!format.isPackage(key)) continue;
    const unit = format.unitOf(key);
    if (!unit) {
      misplaced.push(misplacedRejection(format, key));
      continue;
    }
    let entry = byUnit.get(unit.id);
    if (!entry) {
      entry = { unit, keys: new Set() };
      byUnit.set(unit.id, entry);
    }
    entry.keys.add(key);
  }

  const reports: UnitReport[] = [];
  for (const { unit, keys } of byUnit.values()) {
    reports.push(await updateUnit(options, unit, async () => {
      const objects = new Map<string, ObjectInfo | undefined>();
      for (const key of keys) objects.set(key, await options.storage.head(key));
      return { objects, complete: false, rewritten: true };
    }));
  }
  return { units: reports, rejected: [...misplaced, ...reports.flatMap((r) => r.rejected)] };
}

function misplacedRejection(format: RepositoryFormat<any>, key: string): Rejection {
  return { key, code: 'misplaced', reason: `not in a ${format.name} repository layout` };
}

/** The package objects a run looks at, as storage describes them. */
interface Survey {
  /** Package keys: present (what the storage says) or absent (undefined). */
  readonly objects: ReadonlyMap<string, ObjectInfo | undefined>;
  /** The objects are every package of the unit (a full listing): nothing else exists. */
  readonly complete: boolean;
  /** Indexed keys among them were written again (events): read them and compare digests. */
  readonly rewritten: boolean;
}

/** What reading one package gave, kept across attempts while the object is unchanged. */
interface ReadResult {
  readonly etag: string;
  readonly size: number;
  readonly outcome: { readonly entry: IndexedPackage } | { readonly reason: string };
}

/**
 * Update one unit: an attempt loads the index and publishes it conditionally; when another
 * writer published in between, the unit is done again from its new index (packages already
 * read are not read again), up to PUBLISH_ATTEMPTS times.
 */
async function updateUnit(
  options: EngineOptions,
  unit: RepositoryUnit,
  survey: (index: UnitIndex) => Promise<Survey>,
): Promise<UnitReport> {
  if (options.retention) checkRetention(options.retention);
  const log = options.log ?? (() => undefined);
  const reads = new Map<string, ReadResult>();
  let failure: unknown;
  for (let attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt++) {
    try {
      return await attemptUnit(options, unit, survey, reads);
    } catch (e) {
      if (!(e instanceof PreconditionFailedError)) throw e;
      failure = e;
      log(`another writer published ${unit.id} meanwhile (${e.message}): attempt ${attempt} of ${PUBLISH_ATTEMPTS}`);
    }
  }
  throw new ConcurrentPublishError(unit, PUBLISH_ATTEMPTS, failure);
}

/**
 * The heart: note the manifests' etags, load the unit's index, fold in the surveyed objects
 * (present → index if not yet indexed, absent → remove) under the same-version policy, prune
 * by retention, render, publish immutable files first and manifests last (each only if it is
 * still the one noted), then collect superseded metadata and delete pruned objects.
 */
async function attemptUnit(
  options: EngineOptions,
  unit: RepositoryUnit,
  surveyFor: (index: UnitIndex) => Promise<Survey>,
  reads: Map<string, ReadResult>,
): Promise<UnitReport> {
  const { storage, format } = options;
  const log = options.log ?? (() => undefined);
  const now = (options.now ?? (() => new Date()))();

  const heads = await readManifests(storage, format.manifestKeys(unit));
  const manifests = new Map([...heads].map(([key, info]) => [key, info?.etag]));
  // a publish that stopped between its first and last manifest left them mixed: publish again
  const interrupted = (await storage.head(publishingMarkerKey(unit))) !== undefined;
  if (interrupted) log(`the last publish of ${unit.id} was interrupted: publishing again`);
  // manifests signed with other keys (a rotation), or lacking the signature they should carry (an
  // older version, a copied tree): sign and publish again. An index another tool signed with the
  // same keys records no signer and is taken as it is.
  const signer = signerOf(options.keys);
  const resign = [...manifestsSignedByOthers(heads, signer), ...manifestsMissingSignature(heads)];
  if (resign.length) log(`${resign.join(', ')}: signed with other keys or missing its embedded signature: publishing again`);
  const index = await format.loadIndex(storage, unit);
  const hadIndex = index.entries.size > 0 || (await hasPublishedIndex(options, unit));
  const journal = await ObjectJournal.load(storage, unit);
  const survey = await surveyFor(index);
  const changes = new UnitChanges(index.entries, options.sameVersion ?? 'refuse');

  const toRead = planReads(index, survey, journal, changes, options.sameVersion ?? 'refuse');
  const results = await readPackages(options, unit, toRead, reads);
  for (const info of toRead) {
    const { outcome } = results.get(info.key)!;
    if ('reason' in outcome) {
      log(`rejected: ${info.key}: ${changes.reject(info.key, 'invalid-package', outcome.reason).reason}`);
      continue;
    }
    const offered = changes.offer(outcome.entry);
    if (offered.outcome === 'refused') {
      const rejection = changes.reject(info.key, offered.code, refusal(offered.code, outcome.entry, offered.conflict));
      log(`rejected: ${info.key}: ${rejection.reason}`);
      journal.putAside(info, offered.code, offered.conflict);
      continue;
    }
    journal.noteIndexed(info);
    if (offered.outcome === 'added' && offered.replaced !== undefined && offered.replaced !== info.key) {
      const old = survey.objects.get(offered.replaced) ?? (await storage.head(offered.replaced));
      if (old) journal.putAside(old, 'replaced', info.key);
      else journal.forget(offered.replaced);
    }
  }
  const retention = effectiveRetention(options.retention, format.versionsPerName);
  if (retention) {
    changes.prune(prunedKeys(changes.entries.values(), retention.keepVersions, format.compareVersions));
    for (const key of changes.pruned) {
      const info = retention.deleteObjects ? undefined : survey.objects.get(key) ?? (await storage.head(key));
      if (info) journal.putAside(info, 'pruned');
      else journal.forget(key);
    }
  }

  const report = {
    unit, added: changes.added, removed: changes.removed, rejected: changes.rejected, replaced: changes.replaced, pruned: changes.pruned,
  };
  if (!changes.changed && hadIndex && index.stale !== true && !interrupted && resign.length === 0) {
    await journal.save(storage);
    return { ...report, published: false, packageCount: changes.entries.size, collected: [] };
  }
  const entries = changes.entries;
  const files = await format.render(unit, entries, index, { keys: options.keys, now });
  await publish(storage, files, manifests, publishingMarkerKey(unit), signer);
  // what this publish decided holds only once it is published
  await journal.save(storage);
  // a page a person can browse, written after the index it describes
  await writeDirectoryListing(storage, format.name, unit, entries.values(), now, journal);
  await journal.save(storage); // dates the listing had to look up
  log(`published ${unit.id}: ${entries.size} packages (+${changes.added.length} -${changes.removed.length})`);
  if (retention?.deleteObjects) {
    for (const key of changes.pruned) {
      await storage.delete(key);
      for (const companion of format.companionKeys?.(key) ?? []) await storage.delete(companion);
    }
  }
  const collected = await collectGarbage({
    storage,
    format,
    unit,
    current: new Set(files.map((f) => f.key)),
    now,
    graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
    minGenerations: options.minGenerations ?? DEFAULT_MIN_GENERATIONS,
  });
  for (const key of collected) log(`collected superseded ${key}`);
  return { ...report, published: true, revision: revisionOf(files, manifests), packageCount: entries.size, collected };
}

/** The user's retention, narrowed to what the format's index can hold (pacman: one version a name). */
function effectiveRetention(policy: RetentionPolicy | undefined, versionsPerName: number | undefined): RetentionPolicy | undefined {
  if (versionsPerName === undefined) return policy;
  if (policy === undefined || policy.keepVersions > versionsPerName) return { keepVersions: versionsPerName, deleteObjects: policy?.deleteObjects };
  return policy;
}

/**
 * Which surveyed objects to read, in ordinal key order (UTF-16 code units, the order formats
 * sort their indexes in: packages are read in the order they will be listed). Absent objects
 * leave the index at once. Set-aside objects are skipped while unchanged (and while what they
 * lost to is still indexed; refusals only while the policy is 'refuse'). An indexed object is read again only when its etag differs from
 * the one it was indexed with; when that etag is unknown (an adopted index, a lost journal),
 * a listing trusts an unchanged size, while an event (`rewritten`) has it read once.
 */
function planReads(index: UnitIndex, survey: Survey, journal: ObjectJournal, changes: UnitChanges, policy: SameVersionPolicy): ObjectInfo[] {
  const gone = (key: string) => survey.objects.has(key) && survey.objects.get(key) === undefined;
  const stillIndexed = (key: string) => index.entries.has(key) && !gone(key);
  if (survey.complete) journal.retain((key) => survey.objects.get(key) !== undefined);
  const toRead: ObjectInfo[] = [];
  for (const [key, info] of [...survey.objects].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!info) {
      changes.remove(key);
      journal.forget(key);
      continue;
    }
    const aside = journal.setAsideOf(key);
    // a refusal holds while the policy refuses; the 'replace' policy looks at the object again
    const holds = aside !== undefined && (policy === 'refuse' || aside.reason === 'replaced' || aside.reason === 'pruned');
    if (holds && journal.isSetAside(info) && (aside.conflict === undefined || stillIndexed(aside.conflict))) continue;
    if (aside) journal.restore(key);
    const current = index.entries.get(key);
    if (current) {
      const known = journal.indexedEtag(key);
      if (known === info.etag) continue; // indexed as it is: never read again
      if (known === undefined && current.size === info.size && !survey.rewritten) {
        journal.noteIndexed(info);
        continue;
      }
    }
    toRead.push(info);
  }
  return toRead;
}

/**
 * Read packages (several in flight: storage latency overlaps parsing), or take what an
 * earlier attempt read of the same object. A storage failure fails the whole batch; a
 * package the format cannot read is an outcome with its reason.
 */
async function readPackages(
  options: EngineOptions,
  unit: RepositoryUnit,
  infos: readonly ObjectInfo[],
  reads: Map<string, ReadResult>,
): Promise<Map<string, ReadResult>> {
  const { storage, format } = options;
  const known = (info: ObjectInfo) => {
    const read = reads.get(info.key);
    return read !== undefined && read.etag === info.etag && read.size === info.size;
  };
  const fresh = infos.filter((info) => !known(info));
  const outcomes = await inOrderBounded(fresh, READ_CONCURRENCY, READ_CONCURRENCY_BYTES, (info) => info.size, async (info) => {
    const failures: StorageReadError[] = [];
    try {
      return { entry: await format.readPackage(packageObject(storage, info, failures), unit) as IndexedPackage };
    } catch (e) {
      if (e instanceof StorageReadError) throw e;
      // a reader that wrapped the storage's failure in its own error: still the storage's fault
      if (failures.length > 0) throw failures[0];
      return { reason: e instanceof PackageFormatError ? e.message : `unexpected error reading the package: ${(e as Error)?.message ?? String(e)}` };
    }
  });
  fresh.forEach((info, i) => reads.set(info.key, { etag: info.etag, size: info.size, outcome: outcomes[i] }));
  return new Map(infos.map((info) => [info.key, reads.get(info.key)!]));
}

function refusal(code: 'duplicate-version' | 'changed-bytes', entry: IndexedPackage, conflict: string): string {
  const what = `${entry.name} ${entry.version} (${entry.arch})`;
  return code === 'duplicate-version'
    ? `${what} is already indexed as ${conflict}; a version is published once (delete it first, or use the 'replace' policy)`
    : `the object was overwritten with other bytes than the indexed ${what} (digest ${entry.digest}); the index keeps the original`;
}

/** The etag of each manifest as it is now (undefined: absent), read before the index is loaded. */
async function readManifests(storage: Storage, keys: readonly string[]): Promise<Map<string, ObjectInfo | undefined>> {
  return new Map(await Promise.all(keys.map(async (key) => [key, await storage.head(key)] as const)));
}

/**
 * The metadata name, on every manifest the engine writes, of the keys it was signed with: a run
 * with other keys (a rotation) publishes again, so the repository never stays signed with a
 * key its clients may no longer trust.
 */
export const SIGNER_METADATA = 'pkgrepo-signer';

/** Published manifests that record other signing keys than `signer`. */
function manifestsSignedByOthers(heads: ReadonlyMap<string, ObjectInfo | undefined>, signer: string): string[] {
  return [...heads].filter(([, info]) => {
    const recorded = info?.metadata?.[SIGNER_METADATA];
    return recorded !== undefined && recorded !== signer;
  }).map(([key]) => key);
}

/** Published manifests whose detached signature is published too but not embedded in them (see detached-signatures.ts). */
function manifestsMissingSignature(heads: ReadonlyMap<string, ObjectInfo | undefined>): string[] {
  const keys = [...heads.keys()];
  return keys.flatMap((key) => {
    const manifest = signedManifestOf(key, keys);
    const missing = manifest !== undefined && heads.get(key) !== undefined && heads.get(manifest) !== undefined
      && heads.get(manifest)!.metadata?.[SIGNATURE_METADATA] === undefined;
    return missing ? [manifest] : [];
  });
}

/** A short, stable identity of the signing keys (their public halves). */
function signerOf(keys: SigningKeys): string {
  const hash = createHash('sha256').update(`pgp:${keys.pgp?.fingerprint ?? ''}\nrsa:${keys.rsa?.keyName ?? ''}\n${keys.rsa?.publicKeyPem ?? ''}`);
  return hash.digest('hex').slice(0, 32);
}

/** Hex SHA-256 of the first entry-point manifest published (the first manifest, if none is one). */
function revisionOf(files: readonly OutputFile[], entryPoints: ReadonlyMap<string, string | undefined>): string | undefined {
  const manifests = files.filter((f) => f.kind === 'manifest');
  const first = manifests.find((f) => entryPoints.has(f.key)) ?? manifests[0];
  return first && createHash('sha256').update(first.body).digest('hex');
}

/** Packages read at the same time, at most. */
const READ_CONCURRENCY = 16;
/** Bytes of packages read at the same time, at most (a larger package is read alone). */
const READ_CONCURRENCY_BYTES = 64 * 1024 ** 2;

/**
 * `run` over every item with at most `limit` calls (and `byteLimit` of `sizeOf`) in flight,
 * the results in the items' order. When a call throws, no new call starts; the error is
 * thrown once the calls in flight have settled.
 */
async function inOrderBounded<T, R>(
  items: readonly T[],
  limit: number,
  byteLimit: number,
  sizeOf: (item: T) => number,
  run: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let inFlight = 0;
  let bytesInFlight = 0;
  let failure: { error: unknown } | undefined;
  return new Promise((resolve, reject) => {
    const pump = () => {
      if (failure) {
        if (inFlight === 0) reject(failure.error);
        return;
      }
      if (next === items.length && inFlight === 0) {
        resolve(results);
        return;
      }
      while (next < items.length && inFlight < limit && (inFlight === 0 || bytesInFlight + sizeOf(items[next]) <= byteLimit)) {
        const i = next++;
        const size = sizeOf(items[i]);
        inFlight++;
        bytesInFlight += size;
        run(items[i]).then((result) => {
          results[i] = result;
        }, (error: unknown) => {
          failure ??= { error };
        }).finally(() => {
          inFlight--;
          bytesInFlight -= size;
          pump();
        });
      }
    };
    pump();
  });
}

async function hasPublishedIndex(options: EngineOptions, unit: RepositoryUnit): Promise<boolean> {
  const prefixes = options.format.metadataPrefixes?.(unit) ?? [unit.root];
  for (const prefix of prefixes) {
    for await (const info of options.storage.list(prefix)) {
      if (options.format.isOwnedMetadata(unit, info.key)) return true;
    }
  }
  return false;
}

/**
 * Safe publish order: immutable files (content-addressed) first, skipping those already
 * there, then the manifests one by one in the order the format gave. A reader that fetches
 * a manifest at any moment finds every file it names.
 *
 * With `manifestEtags` (the etag of each entry-point manifest, RepositoryFormat.manifestKeys,
 * as seen before the index was loaded; undefined for an absent one), those manifests are
 * first checked to be unchanged, before any manifest is written, and then each is written
 * only if it is still that one (If-Match, or If-None-Match: * when it was absent). A
 * PreconditionFailedError means another writer published meanwhile, and nothing of ours
 * replaced its entry points. Other manifests (apt's uncompressed Packages, whose names depend
 * on the packages) are written unconditionally, in their place in the order.
 *
 * Every manifest carries `signer` (SIGNER_METADATA) in its metadata, and a manifest with a
 * detached signature among `files` carries that signature too (detached-signatures.ts).
 */
export async function publish(
  storage: Storage,
  files: readonly OutputFile[],
  manifestEtags?: ReadonlyMap<string, string | undefined>,
  marker?: string,
  signer?: string,
): Promise<void> {
  const immutable = files.filter((f) => f.kind === 'immutable');
  const manifests = files.filter((f) => f.kind === 'manifest');
  await Promise.all(immutable.map(async (file) => {
    const existing = await storage.head(file.key);
    if (existing && existing.size === byteLength(file.body)) return;
    await storage.put(file.key, file.body, { contentType: file.contentType, cacheControl: IMMUTABLE_CACHE });
  }));
  if (manifestEtags) await checkUnchanged(storage, manifestEtags);
  if (marker) await storage.put(marker, JSON.stringify({ manifests: manifests.map((f) => f.key) }), { contentType: 'application/json' });
  const written: Array<{ readonly seen: string | undefined; readonly etag: string }> = [];
  const signatures = embeddedSignatures(manifests);
  const keys = manifests.map((f) => f.key);
  for (const file of manifests) {
    const conditions = manifestEtags?.has(file.key) ? await condition(storage, file.key, manifestEtags, written) : {};
    const signature = signatures.get(file.key);
    const paired = signature !== undefined || signedManifestOf(file.key, keys) !== undefined;
    const info = await storage.put(file.key, file.body, {
      contentType: file.contentType,
      cacheControl: paired ? SIGNED_MANIFEST_CACHE_CONTROL : MANIFEST_CACHE,
      ...conditions,
      ...(signer === undefined && signature === undefined ? {} : {
        metadata: {
          ...(signer === undefined ? {} : { [SIGNER_METADATA]: signer }),
          ...(signature === undefined ? {} : { [SIGNATURE_METADATA]: signature }),
        },
      }),
    });
    written.push({ seen: manifestEtags?.get(file.key), etag: info.etag });
  }
  if (marker) await storage.delete(marker);
}

/**
 * The detached signature of each manifest that has one among `manifests` (`<key>.asc` or
 * `<key>.sig`), encoded as the manifest's metadata: written with the manifest in one PUT, so
 * that the edge can answer for the signature from the manifest it goes with.
 */
function embeddedSignatures(manifests: readonly OutputFile[]): Map<string, string> {
  const keys = manifests.map((f) => f.key);
  const out = new Map<string, string>();
  for (const file of manifests) {
    const signed = signedManifestOf(file.key, keys);
    if (signed !== undefined) out.set(signed, encodeSignatureMetadata(file.body));
  }
  return out;
}

/**
 * Written before a unit's first manifest and deleted after its last: while it exists, the
 * manifests may be a mix of two publishes (a crash, a timeout), and the next run publishes
 * again even when its packages did not change, so redelivery always repairs the unit.
 */
export function publishingMarkerKey(unit: RepositoryUnit): string {
  const slug = unit.id.replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${unit.root}.pkgrepo/publishing-${slug}.json`;
}

/** Fail early, before a fixed-name file is touched, when an entry point changed since it was seen. */
async function checkUnchanged(storage: Storage, etags: ReadonlyMap<string, string | undefined>): Promise<void> {
  for (const [key, seen] of etags) {
    const now = (await storage.head(key))?.etag;
    if (now !== seen) throw new PreconditionFailedError(key, `its etag is ${now ?? 'none'}, not ${seen ?? 'none'} as seen before the index was loaded`);
  }
}

/**
 * The precondition of one manifest: absent as seen (If-None-Match: *), or still the etag seen
 * (If-Match). A manifest that had the same etag as one written before it in this publish may
 * be that very object under another name (repo-add leaves `extra.db` as a link to
 * `extra.db.tar.gz`, which a local directory follows) and then shows what was just written
 * there: it is looked at again, and either etag is accepted.
 */
async function condition(
  storage: Storage,
  key: string,
  etags: ReadonlyMap<string, string | undefined>,
  written: ReadonlyArray<{ readonly seen: string | undefined; readonly etag: string }>,
): Promise<PutOptions> {
  const seen = etags.get(key);
  if (seen === undefined) return { ifNoneMatch: '*' };
  const aliased = written.filter((w) => w.seen === seen).map((w) => w.etag);
  if (aliased.length === 0) return { ifMatch: seen };
  const now = (await storage.head(key))?.etag;
  if (now === undefined || (now !== seen && !aliased.includes(now))) {
    throw new PreconditionFailedError(key, `its etag is ${now ?? 'none (deleted)'}, not ${seen} as seen before the index was loaded`);
  }
  return { ifMatch: now };
}

/** Content-addressed files never change: cache them for a long time. */
export const IMMUTABLE_CACHE = IMMUTABLE_CACHE_CONTROL;
/** Fixed-name manifests change on every publish: keep caches short (as the edge says too). */
export const MANIFEST_CACHE = MANIFEST_CACHE_CONTROL;

function byteLength(body: Uint8Array | string): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.length;
}

/** The object of `info` as the format reads it; every storage failure is also recorded in `failures`. */
function packageObject(storage: Storage, info: ObjectInfo, failures: StorageReadError[]): PackageObject {
  const failed = (key: string, cause: unknown) => {
    const error = cause instanceof StorageReadError ? cause : new StorageReadError(key, cause);
    failures.push(error);
    return error;
  };
  return {
    key: info.key,
    size: info.size,
    lastModified: info.lastModified,
    async read() {
      let bytes: Uint8Array | undefined;
      try {
        bytes = await storage.get(info.key);
      } catch (e) {
        throw failed(info.key, e);
      }
      if (!bytes) throw failed(info.key, new Error('the object vanished'));
      return bytes;
    },
    async stream() {
      let stream: AsyncIterable<Uint8Array> | undefined;
      try {
        stream = await storage.stream(info.key);
      } catch (e) {
        throw failed(info.key, e);
      }
      if (!stream) throw failed(info.key, new Error('the object vanished'));
      return storageErrorsTagged(info.key, stream, failed);
    },
    async scan(visit: (piece: Uint8Array) => void) {
      // what the reader throws is about the package; anything else is the storage's
      let thrown: { readonly error: unknown } | undefined;
      let found: boolean;
      try {
        found = await scanObject(storage, info.key, (piece) => {
          try {
            visit(piece);
          } catch (e) {
            thrown = { error: e };
            throw e;
          }
        });
      } catch (e) {
        if (thrown && e === thrown.error) throw e;
        throw failed(info.key, e);
      }
      if (!found) throw failed(info.key, new Error('the object vanished'));
    },
    async readRelated(key: string) {
      try {
        return await storage.get(key);
      } catch (e) {
        throw failed(key, e);
      }
    },
  };
}

/** Errors raised by the storage while a stream is consumed are storage errors, not package errors. */
async function* storageErrorsTagged(
  key: string,
  source: AsyncIterable<Uint8Array>,
  failed: (key: string, cause: unknown) => StorageReadError,
): AsyncGenerator<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await iterator.next();
      } catch (e) {
        throw failed(key, e);
      }
      if (step.done) return;
      yield step.value;
    }
  } finally {
    await iterator.return?.();
  }
}
