import { S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { IndexerEnv } from './contract';
import { applyChanges, type EngineOptions, type Report } from '../engine/engine';
import type { FormatName } from '../engine/format';
import { createFormat, isFormatName, type FormatOptions } from '../engine/formats';
import { loadSigningKeys } from '../signing/keys';
import type { SigningKeys } from '../signing/signer';
import { S3Storage } from '../storage/s3';

/**
 * The indexer Lambda: SQS FIFO batches of S3 upload events in, the engine's `applyChanges`,
 * partial batch failures out. A thin adapter: parsing and the FIFO failure rule are pure
 * functions below; the engine does the work.
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
  apply(changes: { upserted: string[]; deleted: string[] }): Promise<Report>;
  log(line: string): void;
}

/**
 * Process a batch, group by group: the records of a group up to its first unparseable one are
 * applied in one engine call; if the engine fails, the whole group fails (and is retried).
 * Rejected packages are not failures: the report lists them.
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
    const changes: Change[] = [];
    for (const record of records) {
      try {
        const change = parseChange(record.body, deps.bucket, deps.prefix);
        if (change) changes.push(change);
      } catch (e) {
        deps.log(JSON.stringify({ level: 'error', messageId: record.messageId, error: (e as Error).message }));
        failed.add(record.messageId);
        break;
      }
    }
    if (changes.length === 0) continue;
    try {
      const report = await deps.apply(changesOf(changes));
      deps.log(JSON.stringify({ level: report.rejected.length > 0 ? 'warn' : 'info', ...summary(report) }));
    } catch (e) {
      deps.log(JSON.stringify({ level: 'error', error: (e as Error).message, stack: (e as Error).stack }));
      failed.add(records[0].messageId);
    }
  }
  return { batchItemFailures: fifoBatchFailures(event.Records, failed).map((itemIdentifier) => ({ itemIdentifier })) };
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

/** The engine's options for a configuration: the bucket (under the prefix) as storage, the format, the keys. */
export async function engineOptionsFor(
  config: IndexerConfig,
  clients: { readonly s3: S3Client; readonly ssm: SSMClient },
  log: (line: string) => void,
): Promise<EngineOptions> {
  return {
    storage: new S3Storage({ client: clients.s3, bucket: config.bucket, prefix: config.prefix }),
    format: createFormat(config.format, config.formatOptions),
    keys: await loadKeysFromSsm(clients.ssm, config),
    log: (line: string) => log(JSON.stringify({ level: 'debug', engine: line })),
  };
}

let engine: Promise<{ config: IndexerConfig; options: EngineOptions }> | undefined;

/** Engine options, built once per execution environment (keys are fetched and decrypted once). */
function engineOptions(): Promise<{ config: IndexerConfig; options: EngineOptions }> {
  engine ??= (async () => {
    const config = configFromEnv(process.env);
    const options = await engineOptionsFor(config, { s3: new S3Client({}), ssm: new SSMClient({}) }, (line) => console.log(line));
    return { config, options };
  })();
  // a failed start (throttled SSM, a key not yet generated) is retried by the next invocation
  engine.catch(() => {
    engine = undefined;
  });
  return engine;
}

/** Lambda entry point (SQS event source with ReportBatchItemFailures). */
export async function handler(event: SqsEvent): Promise<BatchResponse> {
  const { config, options } = await engineOptions();
  return processBatch(event, {
    bucket: config.bucket,
    prefix: config.prefix,
    apply: (changes) => applyChanges(options, changes),
    log: (line) => console.log(line),
  });
}
