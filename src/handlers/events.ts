import { PutEventsCommand, type PutEventsRequestEntry, type PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { EVENT_SOURCE, EventDetailType } from './contract';
import type { RejectionCode, Report, UnitReport } from '../engine/engine';
import type { FormatName } from '../engine/format';

/**
 * The indexer's EventBridge events (source `cdk-package-repos`), made from the engine's report
 * of one run: one `Package Rejected` per rejection, one `Repository Published` per unit that got
 * a new index, and, after a reconcile run, one `Repository Reconciled`. Keys in the details are
 * relative to the repository: the object's bucket key is `repository` + `key`.
 */

/** Why a package was not indexed. */
export type { RejectionCode } from '../engine/engine';

/** A package as the events name it. */
export interface PackageRef {
  readonly key: string;
  readonly name: string;
  readonly version: string;
  readonly arch: string;
}

/** Lists cut to fit EventBridge's size limit: list name → its full length. */
export type Truncated = Record<string, number>;

export interface PackageRejectedDetail {
  /** The repository's key prefix in the bucket ('' or ending in '/'). */
  readonly repository: string;
  readonly format: FormatName;
  /** The unit (index) the package belongs to; absent when it fits no unit of the layout (code `misplaced`). */
  readonly unit?: string;
  readonly key: string;
  readonly code: RejectionCode;
  readonly reason: string;
}

export interface RepositoryPublishedDetail {
  readonly repository: string;
  readonly format: FormatName;
  readonly unit: string;
  /** Hex SHA-256 of the unit's first manifest as published: the version a client can compare. */
  readonly revision?: string;
  readonly added: PackageRef[];
  readonly removed: string[];
  readonly replaced: string[];
  readonly pruned: string[];
  /** Packages in the index after the run. */
  readonly packageCount: number;
  /** Present when lists were cut to fit the 256 KB limit. */
  readonly truncated?: Truncated;
}

export interface RepositoryReconciledDetail {
  readonly repository: string;
  readonly format: FormatName;
  /** Packages whose upload events were missed, now indexed. */
  readonly added: PackageRef[];
  /** Packages whose deletion events were missed, now out of the index. */
  readonly removed: string[];
  readonly replaced: string[];
  readonly pruned: string[];
  readonly rejected: Array<{ readonly key: string; readonly unit?: string; readonly code: RejectionCode; readonly reason: string }>;
  /** Every unit the run looked at. */
  readonly units: Array<{ readonly unit: string; readonly published: boolean; readonly revision?: string; readonly packageCount: number }>;
  readonly truncated?: Truncated;
}

/** One event, as EventBridge delivers it to rules (`source`, `detail-type`, `detail`). */
export type RepositoryEvent =
  | EventOf<typeof EventDetailType.PACKAGE_REJECTED, PackageRejectedDetail>
  | EventOf<typeof EventDetailType.REPOSITORY_PUBLISHED, RepositoryPublishedDetail>
  | EventOf<typeof EventDetailType.REPOSITORY_RECONCILED, RepositoryReconciledDetail>;

/** An event of one detail-type. */
export interface EventOf<D extends string, T> {
  readonly source: typeof EVENT_SOURCE;
  readonly detailType: D;
  readonly detail: T;
}

/** What started an engine run: upload/delete messages, or the reconcile schedule's message. */
export type RunKind = 'changes' | 'reconcile';

/** Which repository a report is about. */
export interface EventContext {
  /** The repository's key prefix. */
  readonly repository: string;
  readonly format: FormatName;
  /** The bucket the repository lives in (two hosts may use the same prefix). @default - not said */
  readonly bucket?: string;
}

/**
 * EventBridge's limit on a PutEvents request: the entries' sizes (Source, DetailType and Detail
 * in UTF-8 bytes) must add up to less than 256 KB, with at most 10 entries.
 */
export const MAX_REQUEST_BYTES = 256 * 1024;
export const MAX_REQUEST_ENTRIES = 10;

/** The events of one run, each detail cut to fit one PutEvents request. */
export function eventsOf(report: Report, run: RunKind, context: EventContext): RepositoryEvent[] {
  const { repository, format } = context;
  const where = { repository, ...(context.bucket !== undefined ? { bucket: context.bucket } : {}), format };
  const unitOfKey = new Map<string, string>();
  for (const u of report.units) for (const r of u.rejected) unitOfKey.set(r.key, u.unit.id);
  const rejections = report.rejected.map((r) => ({ key: r.key, unit: unitOfKey.get(r.key), code: r.code, reason: r.reason }));

  const events: RepositoryEvent[] = rejections.map((r) => ({
    source: EVENT_SOURCE,
    detailType: EventDetailType.PACKAGE_REJECTED,
    detail: fitDetail(EventDetailType.PACKAGE_REJECTED, {
      ...where, ...(r.unit !== undefined ? { unit: r.unit } : {}), key: r.key, code: r.code, reason: r.reason,
    }),
  }));
  for (const u of report.units.filter((unit) => unit.published)) {
    events.push({
      source: EVENT_SOURCE,
      detailType: EventDetailType.REPOSITORY_PUBLISHED,
      detail: fitDetail(EventDetailType.REPOSITORY_PUBLISHED, {
        ...where,
        unit: u.unit.id,
        ...(u.revision !== undefined ? { revision: u.revision } : {}),
        added: u.added.map(packageRef),
        removed: [...u.removed],
        replaced: [...u.replaced],
        pruned: [...u.pruned],
        packageCount: u.packageCount,
      }),
    });
  }
  if (run === 'reconcile') {
    events.push({
      source: EVENT_SOURCE,
      detailType: EventDetailType.REPOSITORY_RECONCILED,
      detail: fitDetail(EventDetailType.REPOSITORY_RECONCILED, {
        ...where,
        added: report.units.flatMap((u) => u.added.map(packageRef)),
        removed: report.units.flatMap((u) => u.removed),
        replaced: report.units.flatMap((u) => u.replaced),
        pruned: report.units.flatMap((u) => u.pruned),
        rejected: rejections.map(({ unit, ...r }) => ({ ...r, ...(unit !== undefined ? { unit } : {}) })),
        units: report.units.map(unitSummary),
      }),
    });
  }
  return events;
}

function packageRef(p: { key: string; name: string; version: string; arch: string }): PackageRef {
  return { key: p.key, name: p.name, version: p.version, arch: p.arch };
}

function unitSummary(u: UnitReport): RepositoryReconciledDetail['units'][number] {
  return { unit: u.unit.id, published: u.published, ...(u.revision !== undefined ? { revision: u.revision } : {}), packageCount: u.packageCount };
}

/**
 * The detail, with its longest lists halved until the entry fits one PutEvents request; each list
 * cut is named in `truncated` with its full length. Strings are never cut (a key or a reason is
 * far below the limit).
 */
export function fitDetail<T extends object>(detailType: string, detail: T, maxBytes = MAX_REQUEST_BYTES - 1): T & { readonly truncated?: Truncated } {
  const budget = maxBytes - utf8Length(EVENT_SOURCE) - utf8Length(detailType);
  const fitted = { ...detail } as Record<string, unknown>;
  const truncated: Truncated = {};
  while (utf8Length(JSON.stringify(withTruncated(fitted, truncated))) > budget) {
    const lists = Object.entries(fitted).filter((entry): entry is [string, unknown[]] => Array.isArray(entry[1]) && entry[1].length > 0);
    if (lists.length === 0) break;
    const [name, list] = lists.reduce((a, b) => (b[1].length > a[1].length ? b : a));
    truncated[name] ??= list.length;
    fitted[name] = list.slice(0, Math.floor(list.length / 2));
  }
  return withTruncated(fitted, truncated) as T;
}

function withTruncated(detail: Record<string, unknown>, truncated: Truncated): Record<string, unknown> {
  return Object.keys(truncated).length > 0 ? { ...detail, truncated } : detail;
}

/** The PutEvents entries of the events, on the named bus (absent: the default bus). */
export function entriesOf(events: readonly RepositoryEvent[], eventBusName?: string): PutEventsRequestEntry[] {
  return events.map((e) => ({
    Source: e.source,
    DetailType: e.detailType,
    Detail: JSON.stringify(e.detail),
    ...(eventBusName ? { EventBusName: eventBusName } : {}),
  }));
}

/** An entry's size as EventBridge counts it against the request limit. */
export function entrySize(entry: PutEventsRequestEntry): number {
  return utf8Length(entry.Source ?? '') + utf8Length(entry.DetailType ?? '') + utf8Length(entry.Detail ?? '')
    + (entry.Resources ?? []).reduce((sum, r) => sum + utf8Length(r), 0) + (entry.Time ? 14 : 0);
}

/** The entries in order, in requests of at most 10 entries and less than 256 KB each. */
export function requestsOf(entries: readonly PutEventsRequestEntry[]): PutEventsRequestEntry[][] {
  const requests: PutEventsRequestEntry[][] = [];
  let current: PutEventsRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entrySize(entry);
    if (current.length === MAX_REQUEST_ENTRIES || (current.length > 0 && bytes + size >= MAX_REQUEST_BYTES)) {
      requests.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/** What `sendEvents` needs of an EventBridge client. */
export interface EventSender {
  send(command: PutEventsCommand): Promise<{ FailedEntryCount?: number; Entries?: PutEventsResultEntry[] }>;
}

/**
 * Sends the entries with PutEvents, request by request. Events report what already happened (the
 * index is published by the time they are sent), so a failure must not fail the batch: a failed
 * request, or entries EventBridge did not accept, are logged as one error line each and the
 * others are still sent. Returns how many entries were accepted.
 */
export async function sendEvents(client: EventSender, entries: readonly PutEventsRequestEntry[], log: (line: string) => void): Promise<number> {
  let accepted = 0;
  for (const request of requestsOf(entries)) {
    try {
      const result = await client.send(new PutEventsCommand({ Entries: request }));
      const failures = (result.Entries ?? [])
        .map((r, i) => ({ detailType: request[i]?.DetailType, errorCode: r.ErrorCode, errorMessage: r.ErrorMessage }))
        .filter((f) => f.errorCode !== undefined);
      const failed = result.FailedEntryCount ?? failures.length;
      accepted += request.length - failed;
      if (failed > 0) log(JSON.stringify({ level: 'error', events: 'PutEvents failed for some entries', failedEntryCount: failed, failures }));
    } catch (e) {
      log(JSON.stringify({ level: 'error', events: 'PutEvents failed', entries: request.length, error: (e as Error)?.message ?? String(e) }));
    }
  }
  return accepted;
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
