import type { RepositoryFormat, RepositoryUnit } from './format';
import type { Storage } from '../storage/storage';

/** dnf keeps metadata for 48 hours; apk 4 hours; apt fetches by-hash right after InRelease. */
export const DEFAULT_GRACE_MS = 48 * 3600 * 1000;
/** apt clients may hold any of the last few InRelease files. */
export const DEFAULT_MIN_GENERATIONS = 3;

/**
 * The journal of superseded metadata of one unit: when each file stopped being referenced, and
 * at which publish generation. Kept beside the unit's metadata as a small JSON object.
 */
interface Journal {
  generation: number;
  superseded: Record<string, { since: string; generation: number }>;
}

export function journalKey(unit: RepositoryUnit): string {
  const slug = unit.id.replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${unit.root}.pkgrepo/gc-${slug}.json`;
}

export interface GarbageOptions {
  readonly storage: Storage;
  readonly format: RepositoryFormat<any>;
  readonly unit: RepositoryUnit;
  /** Every key the publish just wrote: referenced, never garbage. */
  readonly current: ReadonlySet<string>;
  readonly now: Date;
  readonly graceMs: number;
  readonly minGenerations: number;
}

/**
 * After a publish: note owned metadata that the new index no longer references, and delete
 * what has been superseded for longer than the grace period AND at least `minGenerations`
 * publishes ago. Returns the deleted keys.
 */
export async function collectGarbage(options: GarbageOptions): Promise<string[]> {
  const { storage, format, unit, current, now } = options;
  const key = journalKey(unit);
  const journal = await readJournal(storage, key);
  journal.generation += 1;

  const seen = new Set<string>();
  for (const prefix of format.metadataPrefixes?.(unit) ?? [unit.root]) {
    for await (const info of storage.list(prefix)) {
      if (info.key === key || current.has(info.key) || !format.isOwnedMetadata(unit, info.key)) continue;
      seen.add(info.key);
      journal.superseded[info.key] ??= { since: now.toISOString(), generation: journal.generation };
    }
  }

  const deleted: string[] = [];
  for (const [file, mark] of Object.entries(journal.superseded)) {
    if (!seen.has(file)) {
      delete journal.superseded[file]; // gone already, or referenced again
      continue;
    }
    const age = now.getTime() - Date.parse(mark.since);
    if (age >= options.graceMs && journal.generation - mark.generation >= options.minGenerations) {
      await storage.delete(file);
      delete journal.superseded[file];
      deleted.push(file);
    }
  }
  await storage.put(key, JSON.stringify(journal, undefined, 1), { contentType: 'application/json' });
  return deleted.sort();
}

async function readJournal(storage: Storage, key: string): Promise<Journal> {
  const bytes = await storage.get(key);
  if (!bytes) return { generation: 0, superseded: {} };
  try {
    const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Journal;
    if (typeof parsed.generation === 'number' && parsed.superseded && typeof parsed.superseded === 'object') return parsed;
  } catch {
    // a damaged journal only costs a later collection: start over
  }
  return { generation: 0, superseded: {} };
}
