import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { IndexerEnv } from './contract';
import type { RunKind } from './events';
import { engineOptionsOf, retentionOf, sameVersionOf, type RetentionPolicy, type SameVersionPolicy } from './policies';
import { createReporter, type RunReporter } from './reporter';
import { applyChanges, syncAll, type EngineOptions, type Report } from '../engine/engine';
import type { FormatName } from '../engine/format';
import { createFormat, isFormatName, type FormatOptions } from '../engine/formats';
import { loadSigningKeys } from '../signing/keys';
import type { SigningKeys } from '../signing/signer';
import { S3Storage } from '../storage/s3';

/**
 * The indexer Lambda: SQS FIFO batches of S3 upload events (and the reconcile schedule's
 * messages) in, the engine's `applyChanges` (or `syncAll`), partial batch failures out, and a
 * report of every run (EMF metric line, EventBridge events; see reporter.ts). A thin adapter:
 * parsing and the FIFO failure rule are pure functions below; the engine does the work.
 */

/** One SQS record as Lambda delivers it (the fields used here). */
export interface SqsRecord {
  readonly messageId: string;
  readonly body: string;
  readonly attributes?: { readonly MessageGroupId?: string };
}

/** An SQS event source batch. */
export interface SqsEvent {
  readonly Records: readonly SqsRecord[];
}

/** Lambda's partial batch response (ReportBatchItemFailures). */
export interface BatchResponse {
  readonly batchItemFailures: Array<{ readonly itemIdentifier: string }>;
}

/** What one message says happened, with the key relative to the repository prefix. */
export interface Change {
  readonly kind: 'upserted' | 'deleted';
  readonly key: string;
}

/** A message that cannot be understood: it fails (and, after 5 tries, goes to the dead-letter queue). */
export class MessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageError';
  }
}

/**
 * Parse a message body. Two shapes are accepted: the rule's input transformer output
 * `{ "detail-type", "bucket", "key", "sequencer" }`, and a whole EventBridge S3 event
 * (`detail.bucket.name`, `detail.object.key`), which is what a local pipeline may send.
 * EventBridge S3 events carry the key as is (not URL-encoded, unlike S3 notifications).
 * Returns undefined for a key outside the prefix (nothing to do).
 */
export function parseChange(body: string, bucket: string, prefix: string): Change | undefined {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    throw new MessageError(`the message body is not JSON: ${body.slice(0, 200)}`);
  }
  const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, any>;
  const detailType = m['detail-type'];
  const eventBucket = m.detail ? m.detail.bucket?.name : m.bucket;
  const key = m.detail ? m.detail.object?.key : m.key;
  if (detailType !== 'Object Created' && detailType !== 'Object Deleted') {
    throw new MessageError(`unexpected detail-type ${JSON.stringify(detailType)}: expected "Object Created" or "Object Deleted"`);
  }
  if (typeof key !== 'string' || key === '') throw new MessageError('the message has no object key');
  if (eventBucket !== bucket) throw new MessageError(`the event is about bucket ${JSON.stringify(eventBucket)}, not ${JSON.stringify(bucket)}`);
  if (!key.startsWith(prefix) || key.length === prefix.length) return undefined;
  return { kind: detailType === 'Object Created' ? 'upserted' : 'deleted', key: key.slice(prefix.length) };
}

/** A message of the reconcile schedule (see `ReconcileMessage` in contract.ts). */
export interface ReconcileRequest {
  readonly kind: 'reconcile';
}

/**
 * Parse any message of the queue: the reconcile schedule's `{"reconcile":true,...}`, or an
 * upload event (see parseChange).
 */
export function parseMessage(body: string, bucket: string, prefix: string): Change | ReconcileRequest | undefined {
  if (isReconcileBody(body)) return { kind: 'reconcile' };
  return parseChange(body, bucket, prefix);
}

function isReconcileBody(body: string): boolean {
  try {
    const message: unknown = JSON.parse(body);
    return typeof message === 'object' && message !== null && (message as { reconcile?: unknown }).reconcile === true;
  } catch {
    return false;
  }
}

/**
 * The keys to hand to the engine. The last event of a key decides its list; the engine looks
 * every key up in storage anyway, so a stale or duplicate event cannot do harm.
 */
export function changesOf(changes: readonly Change[]): { upserted: string[]; deleted: string[] } {
  const last = new Map<string, Change['kind']>();
  for (const change of changes) {
    last.delete(change.key);
    last.set(change.key, change.kind);
  }
  const upserted: string[] = [];
  const deleted: string[] = [];
  for (const [key, kind] of last) (kind === 'upserted' ? upserted : deleted).push(key);
  return { upserted, deleted };
}

/**
 * Partial batch failures the FIFO way: in each message group, the first failed record and
 * every later record of that group are reported failed (processing them out of order would
 * break the group's order). Records of other groups are not affected.
 */
export function fifoBatchFailures(records: readonly SqsRecord[], failed: ReadonlySet<string>): string[] {
  const failedGroups = new Set<string>();
  const result: string[] = [];
  for (const record of records) {
    const group = groupOf(record);
    if (failedGroups.has(group) || failed.has(record.messageId)) {
      failedGroups.add(group);
      result.push(record.messageId);
    }
  }
  return result;
}

function groupOf(record: SqsRecord): string {
  return record.attributes?.MessageGroupId ?? '';
}

/** What processBatch needs from the outside world. */
export interface BatchDependencies {
  readonly bucket: string;
  readonly prefix: string;
  /** Reports each engine run (metrics, events); it must not throw for a failed delivery. @default - the log line only */
  readonly report?: RunReporter;
  apply(changes: { upserted: string[]; deleted: string[] }): Promise<Report>;
  /** The engine's `syncAll`, for reconcile messages. @default - a reconcile message fails (MessageError) */
  reconcile?(): Promise<Report>;
  log(line: string): void;
}

/** A run of a group: upload messages applied in one engine call, or one reconcile message. */
interface Step {
  readonly kind: RunKind;
  readonly records: SqsRecord[];
  readonly changes: Change[];
}

/**
 * Process a batch, group by group and in order within a group: consecutive upload messages are
 * applied in one engine call; a reconcile message runs `syncAll` on its own, after the uploads
 * before it and before those after it (the group's FIFO order). An unparseable message fails with
 * the rest of its group; if an engine run fails, its messages and the rest of the group fail
 * (and are retried). Rejected packages are not failures: the report lists them.
 */
export async function processBatch(event: SqsEvent, deps: BatchDependencies): Promise<BatchResponse> {
  const groups = new Map<string, SqsRecord[]>();
  for (const record of event.Records) {
    const group = groups.get(groupOf(record)) ?? [];
    group.push(record);
    groups.set(groupOf(record), group);
  }
  const failed = new Set<string>();
  for (const records of groups.values()) {
    const { steps, unreadable } = stepsOf(records, deps);
    for (const step of steps) {
      if (!(await runStep(step, deps))) {
        failed.add(step.records[0].messageId);
        break;
      }
    }
    if (unreadable) failed.add(unreadable.messageId);
  }
  return { batchItemFailures: fifoBatchFailures(event.Records, failed).map((itemIdentifier) => ({ itemIdentifier })) };
}

/** The group's steps up to its first unreadable message (which is returned, failed and logged). */
function stepsOf(records: readonly SqsRecord[], deps: BatchDependencies): { steps: Step[]; unreadable?: SqsRecord } {
  const steps: Step[] = [];
  for (const record of records) {
    try {
      const message = parseMessage(record.body, deps.bucket, deps.prefix);
      if (message?.kind === 'reconcile') {
        if (!deps.reconcile) throw new MessageError('a reconcile message, but this indexer cannot reconcile');
        steps.push({ kind: 'reconcile', records: [record], changes: [] });
        continue;
      }
      const last = steps[steps.length - 1];
      const step = last?.kind === 'changes' ? last : { kind: 'changes' as const, records: [], changes: [] };
      if (step !== last) steps.push(step);
      step.records.push(record);
      if (message) step.changes.push(message);
    } catch (e) {
      deps.log(JSON.stringify({ level: 'error', messageId: record.messageId, error: (e as Error).message }));
      return { steps, unreadable: record };
    }
  }
  return { steps };
}

/** Runs one step; false when the engine failed (logged). */
async function runStep(step: Step, deps: BatchDependencies): Promise<boolean> {
  if (step.kind === 'changes' && step.changes.length === 0) return true;
  let report: Report;
  try {
    report = step.kind === 'reconcile' ? await deps.reconcile!() : await deps.apply(changesOf(step.changes));
  } catch (e) {
    deps.log(JSON.stringify({ level: 'error', run: step.kind, error: (e as Error).message, stack: (e as Error).stack }));
    return false;
  }
  deps.log(JSON.stringify({ level: report.rejected.length > 0 ? 'warn' : 'info', ...(step.kind === 'reconcile' ? { run: 'reconcile' } : {}), ...summary(report) }));
  try {
    await deps.report?.(report, step.kind);
  } catch (e) {
    // the index is published: a report that cannot be made must not have it redone
    deps.log(JSON.stringify({ level: 'error', report: 'failed', error: (e as Error).message }));
  }
  return true;
}

/** The report without the package models: what was added, removed, rejected, per unit. */
export function summary(report: Report): Record<string, unknown> {
  return {
    units: report.units.map((u) => ({
      unit: u.unit.id,
      added: u.added.map((p) => p.key),
      removed: u.removed,
      published: u.published,
      packageCount: u.packageCount,
      collected: u.collected.length,
    })),
    rejected: report.rejected,
  };
}

/** The indexer's configuration, from its environment. */
export interface IndexerConfig {
  readonly format: FormatName;
  readonly formatOptions: FormatOptions;
  readonly bucket: string;
  readonly prefix: string;
  readonly pgpKeyParameter?: string;
  readonly rsaKeyParameter?: string;
  readonly passphraseParameter?: string;
  /** The engine's same-version policy. @default 'refuse' (the engine's default) */
  readonly sameVersion?: SameVersionPolicy;
  /** The engine's retention. @default - every version is kept */
  readonly retention?: RetentionPolicy;
  /** The bus events go to (name or ARN). @default - the account's default bus */
  readonly eventBusName?: string;
  /** The metrics' `Repository` dimension. @default - the prefix */
  readonly repositoryName?: string;
}

/** Reads and checks the environment the constructs set. */
export function configFromEnv(env: NodeJS.ProcessEnv): IndexerConfig {
  const format = env[IndexerEnv.FORMAT] ?? '';
  if (!isFormatName(format)) throw new Error(`${IndexerEnv.FORMAT} must be yum, apt, apk or pacman, got ${JSON.stringify(format)}`);
  const bucket = env[IndexerEnv.BUCKET_NAME];
  if (!bucket) throw new Error(`${IndexerEnv.BUCKET_NAME} is not set`);
  let formatOptions: FormatOptions;
  try {
    formatOptions = JSON.parse(env[IndexerEnv.FORMAT_OPTIONS] || '{}');
  } catch (e) {
    throw new Error(`${IndexerEnv.FORMAT_OPTIONS} is not JSON: ${(e as Error).message}`);
  }
  const pgpKeyParameter = env[IndexerEnv.PGP_KEY_PARAMETER] || undefined;
  const rsaKeyParameter = env[IndexerEnv.RSA_KEY_PARAMETER] || undefined;
  if (!pgpKeyParameter && !rsaKeyParameter) {
    throw new Error(`neither ${IndexerEnv.PGP_KEY_PARAMETER} nor ${IndexerEnv.RSA_KEY_PARAMETER} is set: the indexes cannot be signed`);
  }
  return {
    format,
    formatOptions,
    bucket,
    prefix: env[IndexerEnv.PREFIX] ?? '',
    pgpKeyParameter,
    rsaKeyParameter,
    passphraseParameter: env[IndexerEnv.PASSPHRASE_PARAMETER] || undefined,
    sameVersion: sameVersionOf(env[IndexerEnv.SAME_VERSION], IndexerEnv.SAME_VERSION),
    retention: retentionOf(env[IndexerEnv.RETENTION], IndexerEnv.RETENTION),
    eventBusName: env[IndexerEnv.EVENT_BUS_NAME] || undefined,
    repositoryName: env[IndexerEnv.REPOSITORY_NAME] || undefined,
  };
}

/** Loads the signing keys from SSM SecureString parameters. */
export async function loadKeysFromSsm(ssm: SSMClient, config: IndexerConfig): Promise<SigningKeys> {
  const value = async (name: string | undefined) => {
    if (!name) return undefined;
    const out = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    if (!out.Parameter?.Value) throw new Error(`the SSM parameter ${name} has no value`);
    return out.Parameter.Value;
  };
  const [pgpKeyArmored, rsaKeyPem, passphrase] = await Promise.all([
    value(config.pgpKeyParameter), value(config.rsaKeyParameter), value(config.passphraseParameter),
  ]);
  return loadSigningKeys({ pgpKeyArmored, rsaKeyPem, rsaKeyName: config.formatOptions.keyName, passphrase });
}

/**
 * The engine's options for a configuration: the bucket (under the prefix) as storage, the format,
 * the keys, the same-version policy and the retention.
 */
export async function engineOptionsFor(
  config: IndexerConfig,
  clients: { readonly s3: S3Client; readonly ssm: SSMClient },
  log: (line: string) => void,
): Promise<EngineOptions> {
  const policies = engineOptionsOf(config);
  return {
    storage: new S3Storage({ client: clients.s3, bucket: config.bucket, prefix: config.prefix }),
    format: createFormat(config.format, config.formatOptions),
    keys: await loadKeysFromSsm(clients.ssm, config),
    log: (line: string) => log(JSON.stringify({ level: 'debug', engine: line })),
    ...policies,
  };
}

/** The batch dependencies of a configuration: the engine for uploads and reconciles, the reporter. */
export function batchDependencies(
  config: IndexerConfig,
  options: EngineOptions,
  eventBridge: EventBridgeClient | undefined,
  log: (line: string) => void,
): BatchDependencies {
  return {
    bucket: config.bucket,
    prefix: config.prefix,
    apply: (changes) => applyChanges(options, changes),
    reconcile: () => syncAll(options),
    log,
    report: createReporter({
      format: config.format,
      prefix: config.prefix,
      bucket: config.bucket,
      repositoryName: config.repositoryName,
      eventBridge,
      eventBusName: config.eventBusName,
      log,
    }),
  };
}

let engine: Promise<{ config: IndexerConfig; options: EngineOptions; eventBridge: EventBridgeClient }> | undefined;

/** Engine options, built once per execution environment (keys are fetched and decrypted once). */
function engineOptions(): Promise<{ config: IndexerConfig; options: EngineOptions; eventBridge: EventBridgeClient }> {
  engine ??= (async () => {
    const config = configFromEnv(process.env);
    const options = await engineOptionsFor(config, { s3: new S3Client({}), ssm: new SSMClient({}) }, (line) => console.log(line));
    return { config, options, eventBridge: new EventBridgeClient({}) };
  })();
  // a failed start (throttled SSM, a key not yet generated) is retried by the next invocation
  engine.catch(() => {
    engine = undefined;
  });
  return engine;
}

/** Lambda entry point (SQS event source with ReportBatchItemFailures). */
export async function handler(event: SqsEvent): Promise<BatchResponse> {
  const { config, options, eventBridge } = await engineOptions();
  return processBatch(event, batchDependencies(config, options, eventBridge, (line) => console.log(line)));
}
