import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { QueueStats } from '../../src/pipeline/fifo-queue';
import type { LocalPipeline, LocalRepository, PipelineFaults } from '../../src/pipeline/local-pipeline';
import { generatePgpKey, loadPgpSigner } from '../../src/signing/pgp';
import { generateRsaKey, loadRsaSigner } from '../../src/signing/rsa';
import type { SigningKeys } from '../../src/signing/signer';

/** Fresh keys, smaller than the CLI's (RSA 2048) to keep the tests quick. */
export async function testKeys(): Promise<SigningKeys> {
  const pgp = await generatePgpKey({ name: 'Pipeline Test', email: 'pipeline@example.com', type: 'rsa', rsaBits: 2048 });
  const rsa = generateRsaKey(2048);
  return { pgp: await loadPgpSigner(pgp.privateKeyArmored), rsa: loadRsaSigner(rsa.privateKeyPem, 'pipeline@example.com-1.rsa.pub') };
}

/**
 * At-least-once delivery at its worst: EventBridge sends every event twice (content-based
 * deduplication must drop the copy) and every message is delivered again after it was
 * processed (its delete is lost), so the indexer sees every change twice.
 */
export const DUPLICATES: PipelineFaults = {
  resendEvent: () => true,
  redeliverAfterDelete: (message) => message.receiveCount === 1,
};

/** A short visibility timeout: duplicates and retries come back within a fraction of a second. */
export const VISIBILITY_TIMEOUT_MS = 200;

/** Runs `work` over `items`, `concurrency` at a time (uploads race like concurrent publishers). */
export async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** GET through the edge server; throws on a status other than 200. */
export async function fetchBytes(url: string): Promise<Buffer> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** The queue's counters gained since `before`. */
export function statsSince(repository: LocalRepository, before: QueueStats): QueueStats {
  const now = repository.queue.stats;
  return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - before[k as keyof QueueStats]])) as unknown as QueueStats;
}

/** The only repository of a one-format pipeline. */
export function only(pipeline: LocalPipeline): LocalRepository {
  if (pipeline.repositories.length !== 1) throw new Error('expected one repository');
  return pipeline.repositories[0];
}

/** A temporary directory, removed by the returned function. */
export function scratch(prefix: string): { dir: string; file(name: string, body: Uint8Array | string): string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return {
    dir,
    file: (name, body) => {
      const file = path.join(dir, name);
      writeFileSync(file, body);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The 50 package numbers of the bulk test, zero-padded so names sort as numbers. */
export const BULK = Array.from({ length: 50 }, (_, i) => String(i + 1).padStart(2, '0'));

/** The package names in a yum repository's published primary.xml (found through repomd.xml), sorted. */
export async function yumIndexNames(unitUrl: string): Promise<string[]> {
  const repomd = (await fetchBytes(`${unitUrl}repodata/repomd.xml`)).toString('utf8');
  const primary = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd);
  if (!primary) throw new Error(`repomd.xml names no primary: ${repomd}`);
  const xml = gunzipSync(await fetchBytes(`${unitUrl}${primary[1]}`)).toString('utf8');
  const count = Number(/<metadata [^>]*packages="(\d+)"/.exec(xml)?.[1]);
  const names = [...xml.matchAll(/<package type="rpm">\s*<name>([^<]+)<\/name>/g)].map((m) => m[1]).sort();
  if (count !== names.length) throw new Error(`primary.xml says packages="${count}" but holds ${names.length}`);
  return names;
}
