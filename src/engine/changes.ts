import type { Rejection, RejectionCode, SameVersionPolicy } from './engine';
import type { IndexedPackage } from './format';

/** What became of a package offered to the index. */
export type Offered =
  /** Indexed: new, or rewritten (or a duplicate) in 'replace' mode. */
  | { readonly outcome: 'added'; readonly replaced?: string }
  /** The index already holds these very bytes. */
  | { readonly outcome: 'unchanged' }
  /** Refused by the 'refuse' policy: `conflict` is the indexed key it collided with. */
  | { readonly outcome: 'refused'; readonly code: 'duplicate-version' | 'changed-bytes'; readonly conflict: string };

function identity(entry: IndexedPackage): string {
  return `${entry.name}\0${entry.version}\0${entry.arch}`;
}

/**
 * The entries of one unit's index while a run changes them, with what changed: packages
 * removed, offered (under the same-version policy), rejected and pruned.
 */
export class UnitChanges {
  public readonly entries: Map<string, IndexedPackage>;
  public readonly removed: string[] = [];
  public readonly replaced: string[] = [];
  public readonly pruned: string[] = [];
  public readonly rejected: Rejection[] = [];
  /** name+version+arch → the key indexed under it. */
  private readonly byIdentity = new Map<string, string>();
  /** Entries indexed in this run, by key, in the order they were offered. */
  private readonly addedByKey = new Map<string, IndexedPackage>();

  constructor(indexed: ReadonlyMap<string, IndexedPackage>, private readonly policy: SameVersionPolicy) {
    this.entries = new Map(indexed);
    for (const entry of this.entries.values()) this.byIdentity.set(identity(entry), entry.key);
  }

  /** Packages indexed in this run (new, or in place of an entry). */
  public get added(): IndexedPackage[] {
    return [...this.addedByKey.values()];
  }

  /** Did anything change that the index must show? */
  public get changed(): boolean {
    return this.addedByKey.size + this.removed.length + this.replaced.length + this.pruned.length > 0;
  }

  /** The object of `key` is gone: its entry leaves the index. */
  public remove(key: string): void {
    if (this.drop(key)) this.removed.push(key);
  }

  public reject(key: string, code: RejectionCode, reason: string): Rejection {
    const rejection = { key, code, reason };
    this.rejected.push(rejection);
    return rejection;
  }

  /**
   * A package just read. Same key and digest as indexed: unchanged. Same key, other digest
   * ('changed-bytes'), or a new key whose name+version+arch is indexed under another key
   * ('duplicate-version'): refused, or in 'replace' mode indexed in place of the old entry.
   * An entry from an index that records no digest is taken as it is read now.
   */
  public offer(entry: IndexedPackage): Offered {
    const current = this.entries.get(entry.key);
    if (current) {
      if (current.digest === entry.digest && current.size === entry.size) return { outcome: 'unchanged' };
      if (current.digest !== '' && current.digest !== entry.digest) {
        if (this.policy === 'refuse') return { outcome: 'refused', code: 'changed-bytes', conflict: entry.key };
        this.put(entry);
        this.replaced.push(entry.key);
        return { outcome: 'added', replaced: entry.key };
      }
      this.put(entry);
      return { outcome: 'added' };
    }
    const other = this.byIdentity.get(identity(entry));
    if (other !== undefined && this.entries.has(other)) {
      if (this.policy === 'refuse') return { outcome: 'refused', code: 'duplicate-version', conflict: other };
      this.drop(other);
      this.put(entry);
      this.replaced.push(other);
      return { outcome: 'added', replaced: other };
    }
    this.put(entry);
    return { outcome: 'added' };
  }

  /**
   * Retention: these keys leave the index. A package added in this run and pruned at once is
   * reported as pruned only.
   */
  public prune(keys: readonly string[]): void {
    for (const key of keys) {
      if (this.drop(key)) this.pruned.push(key);
    }
  }

  private put(entry: IndexedPackage): void {
    const previous = this.entries.get(entry.key);
    if (previous) this.byIdentity.delete(identity(previous));
    this.entries.set(entry.key, entry);
    this.byIdentity.set(identity(entry), entry.key);
    this.addedByKey.set(entry.key, entry);
  }

  private drop(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    this.addedByKey.delete(key);
    if (this.byIdentity.get(identity(entry)) === key) this.byIdentity.delete(identity(entry));
    return true;
  }
}
