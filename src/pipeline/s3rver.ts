import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';

/** An object change s3rver reported, in the terms of S3's EventBridge events. */
export interface ObjectEvent {
  /** EventBridge's detail-type: PUT, POST, copy and multipart completion create; DELETE deletes. */
  readonly detailType: 'Object Created' | 'Object Deleted';
  readonly bucket: string;
  /** The object key, not URL-encoded (as EventBridge S3 events carry it). */
  readonly key: string;
  /** Orders the events of one key: 16 upper-case hex digits, increasing. */
  readonly sequencer: string;
  /** Created objects only. */
  readonly size?: number;
  readonly etag?: string;
}

/** A running s3rver (a real S3 API server on 127.0.0.1) with a client and an empty bucket. */
export interface S3rverHandle {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** A client for the server: path-style, s3rver's credentials, region us-east-1. */
  readonly client: S3Client;
  /** The bucket created at start. */
  readonly bucket: string;
  /** Creates another empty bucket (a fresh name unless one is given) and returns its name. */
  createBucket(name?: string): Promise<string>;
  /**
   * Listens to object events. s3rver reports PUT, POST, copy, multipart completion and
   * DELETE of an existing object; it reports nothing for multi-object DeleteObjects.
   * Returns a function that stops listening.
   */
  onObjectEvent(listener: (event: ObjectEvent) => void): () => void;
  /**
   * Resolves once every event of every request s3rver answered before this call has been
   * handed to the listeners (s3rver emits an event before it answers the request).
   */
  flushEvents(): Promise<void>;
  /** Stops the server and removes its data directory unless it was given. */
  stop(): Promise<void>;
}

export interface StartS3rverOptions {
  /** @default 'test-bucket' */
  readonly bucket?: string;
  /** Where s3rver keeps the objects; kept after stop. @default - a temporary directory, removed at stop */
  readonly directory?: string;
  /** TCP port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
}

/** s3rver checks request signatures against these (its built-in account). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

const STARTUP_TIMEOUT_MS = 30_000;

/**
 * Runs in the child: starts s3rver on 127.0.0.1, prints `{"port":N}`, then one JSON line per
 * object event, and `{"flushed":N}` for every `flush N` line read from stdin (stdout keeps
 * order, so a flush answer comes after every event emitted before it). Exits when stdin closes
 * (the parent stopped it or died).
 */
const CHILD_SCRIPT = `
const S3rver = require(process.argv[1]);
const server = new S3rver({ address: '127.0.0.1', port: Number(process.argv[3]), directory: process.argv[2], silent: true });
const out = (value) => process.stdout.write(JSON.stringify(value) + '\\n');
let last = 0;
server.on('event', (event) => {
  for (const record of event.Records) {
    const object = record.s3.object;
    last = Math.max(Date.now() * 1000, last + 1);
    out({ event: {
      detailType: record.eventName.startsWith('ObjectCreated:') ? 'Object Created' : 'Object Deleted',
      bucket: record.s3.bucket.name,
      key: object.key,
      sequencer: last.toString(16).toUpperCase().padStart(16, '0'),
      size: object.size,
      etag: object.eTag,
    } });
  }
});
server.run().then(
  (address) => out({ port: address.port }),
  (error) => { console.error(error); process.exit(1); },
);
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const flush = /^flush (\\d+)$/.exec(line);
  if (flush) out({ flushed: Number(flush[1]) });
});
process.stdin.on('end', () => process.exit(0));
`;

let bucketCounter = 0;

/**
 * Starts s3rver in a child process. It runs under `node --openssl-legacy-provider` because
 * s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in its
 * legacy provider: without it every listing beyond the first page fails. A flag of the node
 * binary cannot be turned on in a running process, hence the child.
 */
export async function startS3rver(options: StartS3rverOptions = {}): Promise<S3rverHandle> {
  const keepDirectory = options.directory !== undefined;
  const directory = options.directory ?? await mkdtemp(path.join(tmpdir(), 'pkgrepo-s3rver-'));
  await mkdir(directory, { recursive: true });
  const s3rverMain = createRequire(__filename).resolve('s3rver');
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD_SCRIPT, s3rverMain, directory, String(options.port ?? 0)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const messages = new ChildMessages(child);

  const stopChild = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      child.kill('SIGTERM');
      await exited;
    }
    messages.close(new Error('s3rver stopped'));
    if (!keepDirectory) await rm(directory, { recursive: true, force: true });
  };

  let client: S3Client | undefined;
  try {
    const port = await messages.port(() => stderr);
    const endpoint = `http://127.0.0.1:${port}`;
    client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    await waitUntilServing(client, child, () => stderr);
    const s3 = client;
    const createBucket = async (name?: string) => {
      const bucket = name ?? `bucket-${process.pid}-${++bucketCounter}`;
      try {
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      } catch (e) {
        // a kept data directory may hold the bucket already
        if ((e as { name?: string }).name !== 'BucketAlreadyOwnedByYou' && (e as { name?: string }).name !== 'BucketAlreadyExists') throw e;
      }
      return bucket;
    };
    const bucket = await createBucket(options.bucket ?? 'test-bucket');
    return {
      endpoint,
      client,
      bucket,
      createBucket,
      onObjectEvent: (listener) => messages.onEvent(listener),
      flushEvents: () => messages.flush(),
      stop: async () => {
        s3.destroy();
        await stopChild();
      },
    };
  } catch (e) {
    client?.destroy();
    await stopChild();
    throw e;
  }
}

/** The parent's end of the child's line protocol (see CHILD_SCRIPT). */
class ChildMessages {
  private readonly listeners = new Set<(event: ObjectEvent) => void>();
  private readonly flushes = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private flushCounter = 0;
  private portWaiter?: (port: number) => void;
  private closed?: Error;

  constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.dispatch(line));
    child.once('exit', (code) => this.close(new Error(`s3rver exited (code ${code})`)));
  }

  /** Waits for the `{"port":N}` line the child prints once it listens. */
  port(stderr: () => string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within ${STARTUP_TIMEOUT_MS} ms: ${stderr()}`)), STARTUP_TIMEOUT_MS);
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited (code ${code}) before listening: ${stderr()}`));
      };
      this.child.once('exit', onExit);
      this.portWaiter = (port) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        resolve(port);
      };
    });
  }

  onEvent(listener: (event: ObjectEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  flush(): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    const id = ++this.flushCounter;
    return new Promise<void>((resolve, reject) => {
      this.flushes.set(id, { resolve, reject });
      this.child.stdin!.write(`flush ${id}\n`);
    });
  }

  close(reason: Error): void {
    this.closed ??= reason;
    for (const waiter of this.flushes.values()) waiter.reject(reason);
    this.flushes.clear();
  }

  private dispatch(line: string): void {
    let message: { port?: number; event?: ObjectEvent; flushed?: number };
    try {
      message = JSON.parse(line);
    } catch {
      return; // not ours (s3rver is silent, but a dependency might print)
    }
    if (typeof message.port === 'number') this.portWaiter?.(message.port);
    if (message.event) for (const listener of this.listeners) listener(message.event);
    if (typeof message.flushed === 'number') {
      this.flushes.get(message.flushed)?.resolve();
      this.flushes.delete(message.flushed);
    }
  }
}

/** Polls ListBuckets until the server answers S3 requests. */
async function waitUntilServing(client: S3Client, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    try {
      await client.send(new ListBucketsCommand({}));
      return;
    } catch (e) {
      if (child.exitCode !== null) throw new Error(`s3rver exited (code ${child.exitCode}): ${stderr()}`);
      if (Date.now() > deadline) throw new Error(`s3rver does not answer S3 requests: ${(e as Error).message}; ${stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
