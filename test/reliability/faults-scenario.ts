import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { expect } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve';
import type { EdgeConfig, EdgeFormat } from '../../src/edge/router';
import { applyChanges, MANIFEST_CACHE, type EngineOptions, type Report } from '../../src/engine/engine';
import type { RepositoryFormat } from '../../src/engine/format';
import { LocalStorage } from '../../src/storage/local';
import type { Storage } from '../../src/storage/storage';
import { FaultyStorage, type Operation } from '../support/faulty-storage';

/**
 * Crash consistency of one format (issue 8). A repository in state A (a published, signed
 * index), then a change (two packages uploaded, one deleted: state B). The change is indexed
 * once without faults to record its storage operations; then, from a fresh copy of state A
 * each time, it is indexed again with a crash at every write and at every read of that run.
 * After each crash the real client must accept what it is served and list exactly A's or B's
 * packages (each downloads and matches its checksum); a redelivery of the same change must
 * then publish B.
 */

/** What a client makes of a served repository: the packages it lists, one string each. */
export type ClientListing = readonly string[];

/** The per-format half of a scenario: how the tree is built and how the real client judges it. */
export interface FormatScenario {
  /** The format's name in messages and the summary line. */
  readonly name: EdgeFormat;
  /** Engine options for a storage (format, keys). */
  readonly engine: (storage: Storage) => EngineOptions;
  /**
   * Builds state A in `dir`: packages placed and indexed (an earlier publish before that, so
   * that the change's garbage collection has files to delete); then the change's objects are
   * uploaded and deleted (not indexed yet). Returns the change as storage events name it.
   */
  readonly prepare: (dir: string) => Promise<{ readonly upserted: readonly string[]; readonly deleted: readonly string[] }>;
  /** What the client lists for state A and for state B (independent expectations). */
  readonly stateA: ClientListing;
  readonly stateB: ClientListing;
  /**
   * The real client, fresh, against `url` (the served tree at `dir`): must accept the
   * repository (signature checked), returns what it lists, and downloads every listed package
   * whose object exists, checking it against the package uploaded.
   */
  readonly client: (url: string, dir: string) => Promise<ClientListing>;
  /**
   * Optional: a client that fetched the repository before the crash and updates after it
   * (apt's cached lists). `before` runs against state A, `after` returns the listing.
   */
  readonly cachedClient?: (url: string) => Promise<{ after: () => Promise<ClientListing>; dispose: () => Promise<void> }>;
}

/** Counts of one campaign, for the summary line. */
export interface CampaignSummary {
  readonly writeFaults: number;
  readonly readFaults: number;
  /** Faults after which the client saw state A / state B. */
  readonly sawOld: number;
  readonly sawNew: number;
  /** Client runs made (fresh clients, cached clients excluded). */
  readonly clientRuns: number;
}

/** One fault's outcome, kept for the failure message. */
interface FaultOutcome {
  readonly label: string;
  readonly problem?: string;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** path → sha256 of every file of a tree: what a reader can see, byte for byte. */
export async function treeDigest(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out.set(path.relative(dir, full), sha256(await readFile(full)));
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function fingerprint(tree: Map<string, string>): string {
  return sha256(Buffer.from([...tree].map(([k, v]) => `${k}\0${v}\n`).join('')));
}

function describeDifference(before: Map<string, string>, after: Map<string, string>): string {
  const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
  return changed.map((k) => `${k}: ${before.has(k) ? (after.has(k) ? 'changed' : 'deleted') : 'created'}`).join(', ');
}

/** The edge configuration of one repository at the root of the served tree (how the CDN serves it). */
function edgeConfig(format: EdgeFormat, repoName?: string): EdgeConfig {
  return { repositories: [{ prefix: '', format, name: 'faults', ...(repoName ? { pacmanRepositories: [repoName] } : {}) }] };
}

function sameListing(a: ClientListing, b: ClientListing): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}

function formatOps(operations: readonly Operation[]): string {
  return operations.map((o) => `${o.kind} ${o.key}${o.putOptions?.ifMatch ? ' (If-Match)' : ''}${o.putOptions?.ifNoneMatch ? ' (If-None-Match)' : ''}`).join('\n  ');
}

/** Runs `fn` against the tree at `dir` served through the edge router; the server is closed after. */
async function served<T>(dir: string, scenario: FormatScenario, fn: (server: RunningServer) => Promise<T>): Promise<T> {
  const server = await startServer({ root: dir, router: edgeConfig(scenario.name, scenario.name === 'pacman' ? 'extra' : undefined) });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

/**
 * The whole campaign for one format. Assertions are collected per fault, so one run reports
 * every fault that breaks a client, not only the first.
 */
export async function runFaultCampaign(scenario: FormatScenario): Promise<CampaignSummary> {
  const work = await mkdtemp(path.join(tmpdir(), `faults-${scenario.name}-`));
  try {
    return await campaign(scenario, work);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function campaign(scenario: FormatScenario, work: string): Promise<CampaignSummary> {
  const pristine = path.join(work, 'state-a');
  const change = await scenario.prepare(pristine);
  const pristineTree = await treeDigest(pristine);
  let clientRuns = 0;
  const judge = async (url: string, dir: string) => {
    clientRuns++;
    return scenario.client(url, dir);
  };

  // the old state, as the client sees it
  const seenA = await served(pristine, scenario, (server) => judge(server.url, pristine));
  expect(seenA, 'state A as the client lists it').toEqual([...scenario.stateA].sort());
  expect(sameListing(scenario.stateA, scenario.stateB), 'the change must change what clients see').toBe(false);

  // the change without faults: its operations, and the new state
  const clean = path.join(work, 'clean');
  await cp(pristine, clean, { recursive: true });
  const recorder = new FaultyStorage(new LocalStorage(clean));
  const cleanReport = await applyChanges(scenario.engine(recorder), change);
  expect(cleanReport.units.map((u) => u.published)).toEqual([true]);
  expect(cleanReport.rejected).toEqual([]);
  const seenB = await served(clean, scenario, (server) => judge(server.url, clean));
  expect(seenB, 'state B as the client lists it').toEqual([...scenario.stateB].sort());
  const writes = recorder.of('write');
  const reads = recorder.of('read');
  const manifestWrites = writes.filter((o) => o.kind === 'put' && o.putOptions?.cacheControl === MANIFEST_CACHE);
  expect(manifestWrites.length, `manifest writes among:\n  ${formatOps(writes)}`).toBeGreaterThan(0);
  const lastManifest = manifestWrites[manifestWrites.length - 1].groupIndex;

  /** Verdicts of trees already judged by the client, by fingerprint. */
  const verdicts = new Map<string, ClientListing>();
  const outcomes: FaultOutcome[] = [];
  let sawOld = 0;
  let sawNew = 0;

  const inject = async (target: 'write' | 'read', at: number, planned: Operation): Promise<void> => {
    const label = `${target} fault #${at} (${planned.kind} ${planned.key})`;
    const problems: string[] = [];
    const dir = path.join(work, `${target}-${at}`);
    await cp(pristine, dir, { recursive: true });
    await served(dir, scenario, async (server) => {
      const cached = scenario.cachedClient ? await scenario.cachedClient(server.url) : undefined;
      try {
        const faulty = new FaultyStorage(new LocalStorage(dir), { target, at });
        let report: Report | undefined;
        let error: unknown;
        try {
          report = await applyChanges(scenario.engine(faulty), change);
        } catch (e) {
          error = e;
        }
        // writes already handed to the storage when the process died land or not; wait for them
        await faulty.settled();
        if (!faulty.crashed) problems.push(`the fault never happened (the run made ${faulty.of(target).length} ${target}s)`);
        if (error === undefined && !(target === 'write' && at > lastManifest && report?.units[0]?.published)) {
          problems.push('the run did not fail although the storage crashed before its last manifest');
        }
        const tree = await treeDigest(dir);
        const writtenBeforeFault = faulty.of('write').some((o) => o.outcome === 'ok');
        if (target === 'read' && !writtenBeforeFault && fingerprint(tree) !== fingerprint(pristineTree)) {
          problems.push(`a read fault before any write changed the storage: ${describeDifference(pristineTree, tree)}`);
        }
        const key = fingerprint(tree);
        let seen = verdicts.get(key);
        if (seen === undefined) {
          try {
            seen = await judge(server.url, dir);
            verdicts.set(key, seen);
          } catch (e) {
            const message = (e as Error).message;
            problems.push(`the client refused the repository after the fault: ${message.split('\n').slice(0, 6).join(' | ')}`);
          }
        }
        if (seen !== undefined) {
          if (sameListing(seen, scenario.stateA)) sawOld++;
          else if (sameListing(seen, scenario.stateB)) sawNew++;
          else problems.push(`the client lists neither state: ${JSON.stringify(seen)}`);
        }
        if (cached) {
          try {
            const after = await cached.after();
            if (!sameListing(after, scenario.stateA) && !sameListing(after, scenario.stateB)) {
              problems.push(`the client with the old index cached lists neither state: ${JSON.stringify(after)}`);
            }
          } catch (e) {
            problems.push(`the client with the old index cached refused the repository: ${(e as Error).message.split('\n').slice(0, 6).join(' | ')}`);
          }
        }

        // redelivery: the same change, no fault
        let redelivered: Report | undefined;
        try {
          redelivered = await applyChanges(scenario.engine(new LocalStorage(dir)), change);
        } catch (e) {
          problems.push(`the redelivery failed: ${(e as Error).message}`);
        }
        if (redelivered) {
          const unchanged = target === 'read' && !writtenBeforeFault;
          if (unchanged) {
            // nothing was written: the redelivery is the fault-free run again; our readers judge it
            const loaded = await loadedKeys(scenario, dir, change);
            const expected = await loadedKeys(scenario, clean, change);
            if (!sameListing(loaded, expected)) problems.push(`after redelivery the index holds ${JSON.stringify(loaded)}, not ${JSON.stringify(expected)}`);
          }
          if (!unchanged || at === 0) {
            try {
              const after = await judge(server.url, dir);
              if (!sameListing(after, scenario.stateB)) problems.push(`after redelivery the client lists ${JSON.stringify(after)}, not state B`);
            } catch (e) {
              problems.push(`after redelivery the client refused the repository: ${(e as Error).message.split('\n').slice(0, 6).join(' | ')}`);
            }
          }
        }
      } finally {
        await cached?.dispose();
      }
    });
    await rm(dir, { recursive: true, force: true });
    outcomes.push({ label, ...(problems.length ? { problem: problems.join('; ') } : {}) });
  };

  for (const op of writes) await inject('write', op.groupIndex, op);
  for (const op of reads) await inject('read', op.groupIndex, op);

  const failures = outcomes.filter((o) => o.problem !== undefined).map((o) => `${o.label}: ${o.problem}`);
  expect(failures, `operations of the fault-free run:\n  ${formatOps(recorder.operations)}\n`).toEqual([]);
  return { writeFaults: writes.length, readFaults: reads.length, sawOld, sawNew, clientRuns };
}

/** The package keys of the unit's stored index, read with our own loader. */
async function loadedKeys(scenario: FormatScenario, dir: string, change: { upserted: readonly string[] }): Promise<string[]> {
  const options = scenario.engine(new LocalStorage(dir));
  const format = options.format as RepositoryFormat;
  const unit = format.unitOf(change.upserted[0]);
  if (!unit) throw new Error(`${change.upserted[0]} is in no unit`);
  return [...(await format.loadIndex(options.storage, unit)).entries.keys()].sort();
}

/** The summary line of a campaign. */
export function summaryLine(format: string, s: CampaignSummary): string {
  return `faults ${format}: ${s.writeFaults} write faults, ${s.readFaults} read faults injected; accepted: old state ${s.sawOld}, new state ${s.sawNew}; converged on redelivery`;
}
