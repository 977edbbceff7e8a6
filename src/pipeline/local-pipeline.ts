import { randomUUID } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startEdgeServer, type EdgeServer } from './edge-server';
import { FifoQueue, type ReceivedMessage } from './fifo-queue';
import { QueuePoller } from './queue-poller';
import { startS3rver, type ObjectEvent, type S3rverHandle } from './s3rver';
import { matches, messageBody, uploadRule, type UploadRule } from './upload-rule';
import type { EdgeConfig } from '../edge/router';
import { applyChanges, syncAll, type EngineOptions, type Report } from '../engine/engine';
import type { FormatName } from '../engine/format';
import { createFormat, type FormatOptions } from '../engine/formats';
import { KEYS_FOLDER, reconcileMessageBody } from '../handlers/contract';
import type { RepositoryEvent } from '../handlers/events';
import { processBatch, type BatchResponse, type SqsEvent } from '../handlers/indexer';
import { engineOptionsOf, type RetentionPolicy, type SameVersionPolicy } from '../handlers/policies';
import { createReporter } from '../handlers/reporter';
import { publicKeyFiles } from '../signing/keys';
import type { SigningKeys } from '../signing/signer';
import { S3Storage } from '../storage/s3';

/** One repository of the pipeline. */
export interface LocalRepositoryOptions {
  readonly format: FormatName;
  /** Key prefix in the bucket: '' or ending in '/'. @default `<format>/` */
  readonly prefix?: string;
  /** The engine's options for the format (apt origin and label, pacman repoName, apk keyName). @default {} */
  readonly formatOptions?: FormatOptions;
  /** The indexer's same-version policy (the constructs' `sameVersionPolicy`). @default - the engine's ('refuse') */
  readonly sameVersion?: SameVersionPolicy;
  /** The indexer's retention (the constructs' `retention`). @default - every version is kept */
  readonly retention?: RetentionPolicy;
}

/** Failures to inject, for tests: the pipeline must come out right anyway. */
export interface PipelineFaults {
  /** Lose the delete of a processed message, so it is delivered again (see FifoQueue). @default never */
  readonly redeliverAfterDelete?: (message: ReceivedMessage) => boolean;
  /** EventBridge delivers at least once: send the message of this event twice. @default never */
  readonly resendEvent?: (event: ObjectEvent) => boolean;
  /** Lose this event (a missed upload or deletion that only the reconcile repairs). @default never */
  readonly dropEvent?: (event: ObjectEvent) => boolean;
  /** Wraps every invocation of the indexer; throw to fail the whole batch. @default - the indexer as is */
  readonly aroundIndexer?: (event: SqsEvent, indexer: (event: SqsEvent) => Promise<BatchResponse>) => Promise<BatchResponse>;
}

export interface LocalPipelineOptions {
  /** The repositories, all in one bucket behind one edge server (like one RepositoryHost). */
  readonly formats: ReadonlyArray<FormatName | LocalRepositoryOptions>;
  /** The signing keys: OpenPGP for yum, apt and pacman, RSA for apk. */
  readonly keys: SigningKeys;
  /** @default 'pkgrepo-local' */
  readonly bucket?: string;
  /** TCP port of the edge server on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /** Where s3rver keeps the bucket; kept after stop. @default - a temporary directory, removed at stop */
  readonly s3Directory?: string;
  /** The queues' visibility timeout: how long a failed batch waits before it is retried. @default 30 seconds */
  readonly visibilityTimeoutMs?: number;
  /** Receives of a message before it goes to the dead-letter queue (the constructs' value). @default 5 */
  readonly maxReceiveCount?: number;
  /** Messages per indexer invocation, 1 to 10. @default 10 (the constructs' value) */
  readonly batchSize?: number;
  readonly faults?: PipelineFaults;
  /** Where the indexer's log lines (JSON, as in CloudWatch) go. @default nowhere */
  readonly log?: (line: string) => void;
  /** Called with the engine's report of every batch the indexer applied. */
  readonly onReport?: (repository: LocalRepository, report: Report) => void;
  /**
   * Receives the events the indexer sends to EventBridge in AWS (`Package Rejected`,
   * `Repository Published`, `Repository Reconciled`), made by the same code; nothing is sent.
   */
  readonly onEvent?: (event: RepositoryEvent) => void;
}

/** A repository of a running pipeline and its parts. */
export interface LocalRepository {
  readonly format: FormatName;
  readonly prefix: string;
  /** The repository's URL through the edge server (ends in '/'). */
  readonly url: string;
  readonly rule: UploadRule;
  readonly queue: FifoQueue;
  readonly deadLetterQueue: FifoQueue;
  /** The indexer's event source mapping. */
  readonly poller: QueuePoller;
  /**
   * Sends the reconcile schedule's message into the queue, in the repository's message group (so
   * it runs after the events queued before it): the indexer runs the engine's `syncAll`.
   */
  reconcile(): void;
}

/** A running local pipeline. */
export interface LocalPipeline {
  /** The S3 API endpoint (s3rver): `http://127.0.0.1:PORT`; credentials S3RVER / S3RVER, path-style. */
  readonly endpoint: string;
  /** A client for the S3 API. */
  readonly client: S3Client;
  readonly bucket: string;
  /** The edge server's base URL, without a trailing slash: what clients use. */
  readonly url: string;
  readonly repositories: readonly LocalRepository[];
  /** Puts an object through the S3 API (its event flows into the pipeline). */
  upload(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  /** Deletes an object through the S3 API (its event flows into the pipeline). */
  delete(key: string): Promise<void>;
  /**
   * Resolves when every event of the requests S3 answered so far went through: all queues
   * empty (dead-letter queues aside) and no indexer running. Rejects after `timeoutMs`.
   */
  waitForIdle(timeoutMs?: number): Promise<void>;
  /** Stops the indexers after their current batch, the edge server and s3rver. */
  stop(): Promise<void>;
}

const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
const IDLE_POLL_MS = 20;
/** Public key files change only with the key (as the key-generation custom resource writes them). */
const KEY_CACHE_CONTROL = 'public, max-age=300';

/**
 * Starts the AWS deployment's parts on this machine: s3rver as the bucket; its object events
 * through each repository's rule (prefix + package suffixes, the input transformer's message,
 * one message group per repository) into the repository's FIFO queue with a dead-letter queue;
 * an event source mapping per queue invoking the real indexer (`processBatch` over the engine
 * on S3Storage) with partial batch failures; the public keys published under each prefix as the
 * key-generation custom resource does; and the edge rules in front, on an HTTP server.
 */
export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const specs = options.formats.map((f) => (typeof f === 'string' ? { format: f } : f))
    .map((f) => ({ ...f, prefix: f.prefix ?? `${f.format}/`, formatOptions: f.formatOptions ?? {} }));
  checkRepositories(specs, options.keys);

  const s3 = await startS3rver({ bucket: options.bucket ?? 'pkgrepo-local', directory: options.s3Directory });
  const started: Array<{ stop(): Promise<void> }> = [];
  let edge: EdgeServer | undefined;
  let stopping: Promise<void> | undefined;
  // the indexers first (after their current batch), then what they use
  const stopAll = async () => {
    while (started.length > 0) await started.pop()!.stop();
    await edge?.close();
    await s3.stop();
  };
  try {
    edge = await startEdgeServer({ client: s3.client, bucket: s3.bucket, config: edgeConfig(specs), port: options.port });
    const edgeUrl = edge.url;
    const repositories = specs.map((spec) => createRepository(spec, s3, edgeUrl, options));
    const stopListening = s3.onObjectEvent((event) => sendToQueues(event, repositories, options.faults));
    started.push({ stop: async () => stopListening() });
    await publishPublicKeys(s3, specs, options.keys);
    for (const repository of repositories) {
      repository.poller.start();
      started.push(repository.poller);
    }

    const pipeline: LocalPipeline = {
      endpoint: s3.endpoint,
      client: s3.client,
      bucket: s3.bucket,
      url: edgeUrl,
      repositories,
      upload: async (key, body, contentType) => {
        await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentType: contentType }));
      },
      delete: async (key) => {
        await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
      },
      waitForIdle: (timeoutMs = DEFAULT_IDLE_TIMEOUT_MS) => waitForIdle(s3, repositories, timeoutMs),
      stop: () => (stopping ??= stopAll()),
    };
    return pipeline;
  } catch (e) {
    await stopAll();
    throw e;
  }
}

type RepositorySpec = Required<Pick<LocalRepositoryOptions, 'format' | 'prefix' | 'formatOptions'>> & LocalRepositoryOptions;

/** A repository's queue, dead-letter queue and indexer behind its event source mapping. */
function createRepository(spec: RepositorySpec, s3: S3rverHandle, edgeUrl: string, options: LocalPipelineOptions): LocalRepository {
  const name = queueName(spec);
  const deadLetterQueue = new FifoQueue({ name: `${name}-dlq.fifo` });
  const queue = new FifoQueue({
    name: `${name}.fifo`,
    visibilityTimeoutMs: options.visibilityTimeoutMs,
    deadLetter: { queue: deadLetterQueue, maxReceiveCount: options.maxReceiveCount ?? 5 },
    redeliverAfterDelete: options.faults?.redeliverAfterDelete,
  });
  const engine = engineOptions(s3, spec, options);
  const log = (line: string) => options.log?.(line);
  const reported = (report: Report) => {
    options.onReport?.(repository, report);
    return report;
  };
  const indexer = (event: SqsEvent) => processBatch(event, {
    bucket: s3.bucket,
    prefix: spec.prefix,
    apply: async (changes) => reported(await applyChanges(engine, changes)),
    reconcile: async () => reported(await syncAll(engine)),
    log,
    report: createReporter({ format: spec.format, prefix: spec.prefix, bucket: s3.bucket, log, onEvent: options.onEvent }),
  });
  const around = options.faults?.aroundIndexer;
  const repository: LocalRepository = {
    format: spec.format,
    prefix: spec.prefix,
    url: `${edgeUrl}/${spec.prefix}`,
    rule: uploadRule(spec.format, s3.bucket, spec.prefix),
    queue,
    deadLetterQueue,
    poller: new QueuePoller({
      queue,
      batchSize: options.batchSize,
      handler: around ? (event) => around(event, indexer) : indexer,
      onInvocationError: (error) => options.log?.(JSON.stringify({ level: 'error', invocation: 'failed', error: error.message })),
    }),
    reconcile: () => {
      queue.send({ body: reconcileMessageBody(new Date()), messageGroupId: repository.rule.messageGroupId, deduplicationId: randomUUID() });
    },
  };
  return repository;
}

function checkRepositories(specs: readonly RepositorySpec[], keys: SigningKeys): void {
  if (specs.length === 0) throw new Error('the local pipeline needs at least one repository');
  specs.forEach((spec, i) => {
    if (spec.prefix !== '' && !spec.prefix.endsWith('/')) throw new Error(`prefix ${JSON.stringify(spec.prefix)} must be '' or end in '/'`);
    for (const other of specs.slice(0, i)) {
      if (spec.prefix.startsWith(other.prefix) || other.prefix.startsWith(spec.prefix)) {
        throw new Error(`the prefixes '${other.prefix}' and '${spec.prefix}' overlap: repositories sharing a bucket need distinct, non-nested prefixes`);
      }
    }
  });
  for (const spec of specs) {
    if (spec.format === 'apk' ? !keys.rsa : !keys.pgp) {
      throw new Error(`the ${spec.format} repository under '${spec.prefix}' needs ${spec.format === 'apk' ? 'an RSA' : 'an OpenPGP'} signing key`);
    }
  }
}

/** An SQS-style queue name for a repository: `yum`, `yum-linux-el9` (letters, digits, '-', '_'). */
function queueName(spec: RepositorySpec): string {
  const prefix = spec.prefix.replace(/\/$/, '').replace(/[^A-Za-z0-9_-]+/g, '-');
  return prefix === '' || prefix === spec.format ? spec.format : `${spec.format}-${prefix}`;
}

/** The keys a repository of this format signs with (the constructs give each repository one key). */
function keysOf(format: FormatName, keys: SigningKeys): SigningKeys {
  return format === 'apk' ? { rsa: keys.rsa } : { pgp: keys.pgp };
}

/** What the indexer builds from its environment in AWS; here the keys are given instead of read from SSM. */
function engineOptions(s3: S3rverHandle, spec: RepositorySpec, options: LocalPipelineOptions): EngineOptions {
  return {
    storage: new S3Storage({ client: s3.client, bucket: s3.bucket, prefix: spec.prefix }),
    format: createFormat(spec.format, spec.formatOptions),
    keys: keysOf(spec.format, options.keys),
    log: (line) => options.log?.(JSON.stringify({ level: 'debug', engine: line })),
    ...engineOptionsOf(spec),
  };
}

/** The edge configuration the constructs bake for these repositories. */
function edgeConfig(specs: readonly RepositorySpec[]): EdgeConfig {
  return {
    repositories: specs.map((spec) => ({
      prefix: spec.prefix,
      format: spec.format,
      ...(spec.format === 'pacman' && spec.formatOptions.repoName !== undefined ? { pacmanRepositories: [spec.formatOptions.repoName] } : {}),
    })),
  };
}

/** What the key-generation custom resource does at first deploy: the public keys under `<prefix>keys/`. */
async function publishPublicKeys(s3: S3rverHandle, specs: readonly RepositorySpec[], keys: SigningKeys): Promise<void> {
  for (const spec of specs) {
    for (const file of publicKeyFiles(keysOf(spec.format, keys), 'repository')) {
      await s3.client.send(new PutObjectCommand({
        Bucket: s3.bucket,
        Key: `${spec.prefix}${KEYS_FOLDER}${file.name}`,
        Body: file.body,
        ContentType: file.contentType,
        CacheControl: KEY_CACHE_CONTROL,
      }));
    }
  }
}

/** EventBridge: every rule that matches the event sends its message to its queue. */
function sendToQueues(event: ObjectEvent, repositories: readonly LocalRepository[], faults: PipelineFaults | undefined): void {
  if (faults?.dropEvent?.(event)) return;
  for (const repository of repositories) {
    if (!matches(repository.rule, event)) continue;
    const message = { body: messageBody(event), messageGroupId: repository.rule.messageGroupId };
    repository.queue.send(message);
    if (faults?.resendEvent?.(event)) repository.queue.send(message);
  }
}

async function waitForIdle(s3: S3rverHandle, repositories: readonly LocalRepository[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await s3.flushEvents();
  while (repositories.some((r) => !r.queue.isEmpty || r.poller.busy)) {
    if (Date.now() > deadline) {
      const state = repositories.map((r) => `${r.queue.name}: ${r.queue.messages().length} messages${r.poller.busy ? ', indexer running' : ''}`);
      throw new Error(`the pipeline is not idle after ${timeoutMs} ms (${state.join('; ')})`);
    }
    await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
  }
}
