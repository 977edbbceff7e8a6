import type { RepositoryUnit } from './format';
import type { ObjectInfo, Storage } from '../storage/storage';

/** Why a package object that sits in the unit is not indexed. */
export type SetAsideReason = 'duplicate-version' | 'changed-bytes' | 'replaced' | 'pruned';

/** A package object left out of the index, as it was when that was decided. */
export interface SetAsideObject {
  readonly etag: string;
  readonly size: number;
  readonly reason: SetAsideReason;
  /** The indexed key it lost to; once that key leaves the index, the object is looked at again. */
  readonly conflict?: string;
}

/** The journal's storage key: beside the garbage journal, in the unit's `.pkgrepo/` area. */
export function objectJournalKey(unit: RepositoryUnit): string {
  const slug = unit.id.replace(/[^A-Za-z0-9._-]+/g, '_');
  return `${unit.root}.pkgrepo/objects-${slug}.json`;
}

/**
 * What the engine knows about a unit's package objects beyond its index, kept as a small
 * JSON object in the unit's `.pkgrepo/` area:
 *
 * - `indexed`: the etag of each indexed package's object when its entry was read (or first
 *   seen): an event or a listing with that etag needs no read; another etag means the object
 *   was written again, and it is read to compare digests. About 100 bytes per package, read
 *   and (when it changed) written once per run.
 * - `setAside`: objects deliberately left out of the index (refused uploads, replaced and
 *   pruned versions), skipped while their etag and size are the ones recorded.
 * - `modified`: when each indexed object was last written (the directory listing's dates), so
 *   that a publish need not list the whole unit again for them.
 *
 * A lost or damaged journal only costs reading some objects once more.
 */
export class ObjectJournal {
  /** Reads the unit's journal (an empty one when there is none or it is damaged). */
  public static async load(storage: Storage, unit: RepositoryUnit): Promise<ObjectJournal> {
    const key = objectJournalKey(unit);
    const bytes = await storage.get(key);
    const parsed = bytes ? parse(bytes) : undefined;
    return new ObjectJournal(key, parsed?.indexed ?? new Map(), parsed?.setAside ?? new Map(), parsed?.modified ?? new Map(), parsed?.listingPages);
  }

  private changed = false;

  private constructor(
    private readonly key: string,
    private readonly indexed: Map<string, string>,
    private readonly setAside: Map<string, SetAsideObject>,
    private readonly modified: Map<string, string>,
    private pages: readonly string[] | undefined,
  ) {}

  /** When the object of an indexed key was last written (ISO 8601), if known. */
  public modifiedOf(key: string): string | undefined {
    return this.indexed.has(key) ? this.modified.get(key) : undefined;
  }

  /** Note when the object of an indexed key was last written (learned from a listing). */
  public noteModified(key: string, date: Date): void {
    if (!this.indexed.has(key)) return;
    const iso = date.toISOString();
    if (this.modified.get(key) === iso) return;
    this.modified.set(key, iso);
    this.changed = true;
  }

  /** The fingerprints of the directory listing's pages as last written (see pagedListing). */
  public listingPages(): readonly string[] | undefined {
    return this.pages;
  }

  /** Note the fingerprints of the listing's pages just written. */
  public noteListingPages(fingerprints: readonly string[]): void {
    if (this.pages !== undefined && this.pages.length === fingerprints.length && this.pages.every((f, i) => f === fingerprints[i])) return;
    this.pages = [...fingerprints];
    this.changed = true;
  }

  /** The etag the object of an indexed key had when it was read, if known. */
  public indexedEtag(key: string): string | undefined {
    return this.indexed.get(key);
  }

  /** The object of `key` is indexed as it is now. */
  public noteIndexed(info: ObjectInfo): void {
    if (this.indexed.get(info.key) !== info.etag) {
      this.indexed.set(info.key, info.etag);
      this.changed = true;
    }
    this.noteModified(info.key, info.lastModified);
  }

  /** The record of `key`, if it is set aside. */
  public setAsideOf(key: string): SetAsideObject | undefined {
    return this.setAside.get(key);
  }

  /** Is this object set aside, unchanged since? */
  public isSetAside(info: ObjectInfo): boolean {
    const found = this.setAside.get(info.key);
    return found !== undefined && found.etag === info.etag && found.size === info.size;
  }

  /** Leave the object out of the index; it is no longer indexed (if it was). */
  public putAside(info: ObjectInfo, reason: SetAsideReason, conflict?: string): void {
    this.setAside.set(info.key, { etag: info.etag, size: info.size, reason, ...(conflict === undefined ? {} : { conflict }) });
    if (reason !== 'changed-bytes') {
      this.indexed.delete(info.key);
      this.modified.delete(info.key);
    }
    this.changed = true;
  }

  /** Forget that the object of `key` was set aside. */
  public restore(key: string): void {
    if (this.setAside.delete(key)) this.changed = true;
  }

  /** Forget everything about `key` (its object is gone, or its entry left the index). */
  public forget(key: string): void {
    const had = this.setAside.delete(key);
    this.modified.delete(key);
    if (this.indexed.delete(key) || had) this.changed = true;
  }

  /** Forget every key for which `keep` says no (after a full listing: the ones gone). */
  public retain(keep: (key: string) => boolean): void {
    for (const key of new Set([...this.indexed.keys(), ...this.setAside.keys()])) if (!keep(key)) this.forget(key);
  }

  /** Writes the journal back when it changed. */
  public async save(storage: Storage): Promise<void> {
    if (!this.changed) return;
    const rows: Row[] = [...this.indexed.keys()].sort(ordinal).map((key) => [key, this.indexed.get(key)!, this.modified.get(key) ?? null]);
    const setAside = Object.fromEntries([...this.setAside].sort(([a], [b]) => ordinal(a, b)));
    const body: StoredJournal = { version: JOURNAL_VERSION, indexed: rows, setAside, ...(this.pages ? { listingPages: this.pages } : {}) };
    await storage.put(this.key, JSON.stringify(body), { contentType: 'application/json' });
    this.changed = false;
  }
}

/** The stored layout: version 2 keeps one row per indexed key (an array parses several times faster than an object of 10,000 keys). */
const JOURNAL_VERSION = 2;

/** An indexed key, its object's etag, and when the object was last written (ISO 8601), if known. */
type Row = [key: string, etag: string, modified: string | null];

interface StoredJournal {
  readonly version: typeof JOURNAL_VERSION;
  readonly indexed: readonly Row[];
  readonly setAside: Record<string, SetAsideObject>;
  /** The fingerprints of the directory listing's pages as last written. */
  readonly listingPages?: readonly string[];
}

function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface ParsedJournal {
  readonly indexed: Map<string, string>;
  readonly setAside: Map<string, SetAsideObject>;
  readonly modified: Map<string, string>;
  readonly listingPages?: readonly string[];
}

function parse(bytes: Uint8Array): ParsedJournal | undefined {
  let parsed: { version?: unknown; indexed?: unknown; setAside?: unknown; modified?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof parsed;
  } catch {
    return undefined; // a damaged journal only costs reading objects again: start over
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const indexed = new Map<string, string>();
  const modified = new Map<string, string>();
  if (parsed.version === JOURNAL_VERSION) {
    if (Array.isArray(parsed.indexed)) {
      for (const row of parsed.indexed as unknown[]) {
        if (!Array.isArray(row) || typeof row[0] !== 'string' || typeof row[1] !== 'string') continue;
        indexed.set(row[0], row[1]);
        if (typeof row[2] === 'string') modified.set(row[0], row[2]);
      }
    }
  } else {
    // version 1: objects keyed by package key
    if (parsed.indexed && typeof parsed.indexed === 'object') {
      for (const [key, etag] of Object.entries(parsed.indexed as Record<string, unknown>)) {
        if (typeof etag === 'string') indexed.set(key, etag);
      }
    }
    if (parsed.modified && typeof parsed.modified === 'object') {
      for (const [key, iso] of Object.entries(parsed.modified as Record<string, unknown>)) {
        if (typeof iso === 'string' && indexed.has(key)) modified.set(key, iso);
      }
    }
  }
  const setAside = new Map<string, SetAsideObject>();
  if (parsed.setAside && typeof parsed.setAside === 'object') {
    for (const [key, value] of Object.entries(parsed.setAside as Record<string, Partial<SetAsideObject> | null>)) {
      if (typeof value?.etag === 'string' && typeof value.size === 'number' && typeof value.reason === 'string') {
        setAside.set(key, value as SetAsideObject);
      }
    }
  }
  const pages = (parsed as { listingPages?: unknown }).listingPages;
  const listingPages = Array.isArray(pages) && pages.every((f) => typeof f === 'string') ? pages as string[] : undefined;
  return { indexed, setAside, modified, ...(listingPages ? { listingPages } : {}) };
}
