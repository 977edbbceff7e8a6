import type { IndexedPackage, OutputFile, PackageObject, RepositoryFormat, RepositoryUnit, UnitIndex } from './format';
import { collectGarbage, DEFAULT_GRACE_MS, DEFAULT_MIN_GENERATIONS } from './garbage';
import { writeDirectoryListing } from './listing';
import { PackageFormatError } from '../formats/errors';
import type { SigningKeys } from '../signing/signer';
import type { ObjectInfo, Storage } from '../storage/storage';

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
}

export interface Rejection {
  /** Storage key of the package. */
  readonly key: string;
  /** Why it was not indexed, for a person. */
  readonly reason: string;
}

export interface UnitReport {
  readonly unit: RepositoryUnit;
  /** Packages read and indexed in this run. */
  readonly added: IndexedPackage[];
  /** Keys removed from the index in this run. */
  readonly removed: string[];
  readonly rejected: Rejection[];
  /** Whether a new index was published. */
  readonly published: boolean;
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
 * is removed (indexed, no longer listed). Packages already indexed are not read again.
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
      else misplaced.push({ key: info.key, reason: `not in a ${format.name} repository layout` });
      continue;
    }
    const unit = format.unitsOfMetadata?.(info.key);
    if (unit) unitEntry(unit);
  }

  const reports: UnitReport[] = [];
  for (const { unit, listing } of [...units.values()].sort((a, b) => a.unit.id.localeCompare(b.unit.id))) {
    reports.push(await updateUnit(options, unit, async (index) => {
      const candidates = new Map<string, ObjectInfo | undefined>(listing);
      for (const key of index.entries.keys()) if (!listing.has(key)) candidates.set(key, undefined);
      return candidates;
    }));
  }
  return { units: reports, rejected: [...misplaced, ...reports.flatMap((r) => r.rejected)] };
}

/**
 * Apply a batch of changed keys (from storage events). Events only say that something changed:
 * the storage is the truth, so each key is looked up and indexed if present, removed if absent.
 * Duplicate and out-of-order deliveries therefore converge on the storage's state.
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
      misplaced.push({ key, reason: `not in a ${format.name} repository layout` });
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
      const candidates = new Map<string, ObjectInfo | undefined>();
      for (const key of keys) candidates.set(key, await options.storage.head(key));
      return candidates;
    }));
  }
  return { units: reports, rejected: [...misplaced, ...reports.flatMap((r) => r.rejected)] };
}

/**
 * The heart: load the unit's index, fold in the candidates (present → index if not yet
 * indexed, absent → remove), render, publish immutable files first and manifests last, then
 * collect superseded metadata.
 */
async function updateUnit(
  options: EngineOptions,
  unit: RepositoryUnit,
  candidatesFor: (index: UnitIndex) => Promise<Map<string, ObjectInfo | undefined>>,
): Promise<UnitReport> {
  const { storage, format } = options;
  const log = options.log ?? (() => undefined);
  const now = (options.now ?? (() => new Date()))();

  const index = await format.loadIndex(storage, unit);
  const hadIndex = index.entries.size > 0 || (await hasPublishedIndex(options, unit));
  const candidates = await candidatesFor(index);
  const entries = new Map<string, IndexedPackage>(index.entries);
  const added: IndexedPackage[] = [];
  const removed: string[] = [];
  const rejected: Rejection[] = [];

  const toRead: ObjectInfo[] = [];
  // ordinal order (UTF-16 code units), the order formats sort their indexes in: packages are
  // read in the order they will be listed
  for (const [key, info] of [...candidates].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const current = entries.get(key);
    if (!info) {
      if (current) {
        entries.delete(key);
        removed.push(key);
      }
      continue;
    }
    if (current && current.size === info.size) continue; // indexed already: never read again
    toRead.push(info);
  }
  // several packages in flight (storage latency overlaps parsing); results are applied in key order
  const outcomes = await inOrderBounded(toRead, READ_CONCURRENCY, READ_CONCURRENCY_BYTES, (info) => info.size, async (info) => {
    try {
      return { entry: await format.readPackage(packageObject(storage, info), unit) };
    } catch (e) {
      if (e instanceof StorageReadError) throw e;
      return { reason: e instanceof PackageFormatError ? e.message : `unexpected error reading the package: ${(e as Error)?.message ?? String(e)}` };
    }
  });
  toRead.forEach((info, i) => {
    const outcome = outcomes[i];
    if ('entry' in outcome) {
      entries.set(info.key, outcome.entry);
      added.push(outcome.entry);
    } else {
      rejected.push({ key: info.key, reason: outcome.reason });
      log(`rejected: ${info.key}: ${outcome.reason}`);
    }
  });

  const changed = added.length > 0 || removed.length > 0;
  const publishing = changed || !hadIndex || index.stale === true;
  let collected: string[] = [];
  if (publishing) {
    const files = await format.render(unit, entries, index, { keys: options.keys, now });
    await publish(storage, files);
    // a page a person can browse, written after the index it describes
    await writeDirectoryListing(storage, format.name, unit, entries.values(), now);
    log(`published ${unit.id}: ${entries.size} packages (+${added.length} -${removed.length})`);
    collected = await collectGarbage({
      storage,
      format,
      unit,
      current: new Set(files.map((f) => f.key)),
      now,
      graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
      minGenerations: options.minGenerations ?? DEFAULT_MIN_GENERATIONS,
    });
    for (const key of collected) log(`collected superseded ${key}`);
  }
  return { unit, added, removed, rejected, published: publishing, packageCount: entries.size, collected };
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
 */
export async function publish(storage: Storage, files: readonly OutputFile[]): Promise<void> {
  const immutable = files.filter((f) => f.kind === 'immutable');
  const manifests = files.filter((f) => f.kind === 'manifest');
  await Promise.all(immutable.map(async (file) => {
    const existing = await storage.head(file.key);
    if (existing && existing.size === byteLength(file.body)) return;
    await storage.put(file.key, file.body, { contentType: file.contentType, cacheControl: IMMUTABLE_CACHE });
  }));
  for (const file of manifests) {
    await storage.put(file.key, file.body, { contentType: file.contentType, cacheControl: MANIFEST_CACHE });
  }
}

/** Content-addressed files never change: cache them for a long time. */
export const IMMUTABLE_CACHE = 'public, max-age=31536000, immutable';
/** Fixed-name manifests change on every publish: keep caches short. */
export const MANIFEST_CACHE = 'public, max-age=30, must-revalidate';

function byteLength(body: Uint8Array | string): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.length;
}

function packageObject(storage: Storage, info: ObjectInfo): PackageObject {
  return {
    key: info.key,
    size: info.size,
    lastModified: info.lastModified,
    async read() {
      let bytes: Uint8Array | undefined;
      try {
        bytes = await storage.get(info.key);
      } catch (e) {
        throw new StorageReadError(info.key, e);
      }
      if (!bytes) throw new StorageReadError(info.key, new Error('the object vanished'));
      return bytes;
    },
    async stream() {
      let stream: AsyncIterable<Uint8Array> | undefined;
      try {
        stream = await storage.stream(info.key);
      } catch (e) {
        throw new StorageReadError(info.key, e);
      }
      if (!stream) throw new StorageReadError(info.key, new Error('the object vanished'));
      return storageErrorsTagged(info.key, stream);
    },
    async readRelated(key: string) {
      try {
        return await storage.get(key);
      } catch (e) {
        throw new StorageReadError(key, e);
      }
    },
  };
}

/** Errors raised by the storage while a stream is consumed are storage errors, not package errors. */
async function* storageErrorsTagged(key: string, source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await iterator.next();
      } catch (e) {
        throw new StorageReadError(key, e);
      }
      if (step.done) return;
      yield step.value;
    }
  } finally {
    await iterator.return?.();
  }
}
