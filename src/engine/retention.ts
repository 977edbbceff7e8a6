import type { IndexedPackage } from './format';

/** How many versions of each package a unit keeps in its index. */
export interface RetentionPolicy {
  /** The newest this many versions of each name+arch stay indexed; older ones leave the index. */
  readonly keepVersions: number;
  /**
   * Also delete the package objects of the versions that left the index, after the new index
   * is published. Without it they stay in storage, unindexed (and are not indexed again
   * unless they are rewritten).
   * @default false
   */
  readonly deleteObjects?: boolean;
}

/** Throws when the policy cannot be applied (keepVersions must be a whole number of at least 1). */
export function checkRetention(policy: RetentionPolicy): void {
  if (!Number.isInteger(policy.keepVersions) || policy.keepVersions < 1) {
    throw new Error(`retention.keepVersions must be a whole number of at least 1, not ${policy.keepVersions}`);
  }
}

/**
 * The keys of the entries a policy prunes: for each name+arch, every entry after the newest
 * `keepVersions` by `compareVersions` (entries of equal versions ordered by key, the later key
 * kept first). Sorted by key.
 */
export function prunedKeys(
  entries: Iterable<IndexedPackage>,
  keepVersions: number,
  compareVersions: (a: string, b: string) => number,
): string[] {
  const groups = new Map<string, IndexedPackage[]>();
  for (const entry of entries) {
    const id = `${entry.name}\0${entry.arch}`;
    const group = groups.get(id);
    if (group) group.push(entry);
    else groups.set(id, [entry]);
  }
  const pruned: string[] = [];
  for (const group of groups.values()) {
    if (group.length <= keepVersions) continue;
    group.sort((a, b) => compareVersions(b.version, a.version) || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
    pruned.push(...group.slice(keepVersions).map((e) => e.key));
  }
  return pruned.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
