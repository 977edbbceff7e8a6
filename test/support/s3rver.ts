import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';

/** A running s3rver (a real S3 API server on 127.0.0.1) with a client and an empty bucket. */
export interface S3rverHandle {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** A client for the server: path-style, dummy credentials, region us-east-1. */
  readonly client: S3Client;
  /** The bucket created at start. */
  readonly bucket: string;
  /** Creates another empty bucket (a fresh name unless one is given) and returns its name. */
  createBucket(name?: string): Promise<string>;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}

export interface StartS3rverOptions {
  /** @default 'test-bucket' */
  readonly bucket?: string;
}

/** s3rver checks request signatures against these (its built-in account). */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

const STARTUP_TIMEOUT_MS = 30_000;

/**
 * Runs in the child: starts s3rver on a free port of 127.0.0.1, prints `{"port":N}`, and
 * exits when its stdin closes (the parent stopped it or died).
 */
const CHILD_SCRIPT = `
const S3rver = require(process.argv[1]);
new S3rver({ address: '127.0.0.1', port: 0, directory: process.argv[2], silent: true }).run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\\n'),
  (error) => { console.error(error); process.exit(1); },
);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

let bucketCounter = 0;

/**
 * Starts s3rver in a child process. It runs under `node --openssl-legacy-provider` because
 * s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in its
 * legacy provider: without it every listing beyond the first page fails.
 */
export async function startS3rver(options: StartS3rverOptions = {}): Promise<S3rverHandle> {
  const directory = await mkdtemp(path.join(tmpdir(), 'pkgrepo-s3rver-'));
  const s3rverMain = createRequire(__filename).resolve('s3rver');
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD_SCRIPT, s3rverMain, directory], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stopChild = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      child.kill('SIGTERM');
      await exited;
    }
    await rm(directory, { recursive: true, force: true });
  };

  let client: S3Client | undefined;
  try {
    const port = await readPort(child, () => stderr);
    const endpoint = `http://127.0.0.1:${port}`;
    client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
    await waitUntilServing(client, child, () => stderr);
    const s3 = client;
    const createBucket = async (name?: string) => {
      const bucket = name ?? `bucket-${process.pid}-${++bucketCounter}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    };
    const bucket = await createBucket(options.bucket ?? 'test-bucket');
    return {
      endpoint,
      client,
      bucket,
      createBucket,
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

/** Reads the `{"port":N}` line the child prints once it listens. */
function readPort(child: ChildProcess, stderr: () => string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => fail(new Error(`s3rver did not start within ${STARTUP_TIMEOUT_MS} ms: ${stderr()}`)), STARTUP_TIMEOUT_MS);
    const onExit = (code: number | null) => fail(new Error(`s3rver exited (code ${code}) before listening: ${stderr()}`));
    function fail(error: Error) {
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
      reject(error);
    }
    child.once('exit', onExit);
    lines.once('line', (line) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
      const port = (JSON.parse(line) as { port?: unknown }).port;
      if (typeof port === 'number') resolve(port);
      else reject(new Error(`s3rver printed no port: ${line}`));
    });
  });
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
