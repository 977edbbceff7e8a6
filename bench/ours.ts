/**
 * Our indexer as the benchmark runs it: one process, the engine over a local directory
 * through MeteredStorage, exactly what `pkgrepo index` (a full scan) or the indexer Lambda
 * (a batch of changed keys) does. Prints what the storage delivered as one JSON line.
 */
import { readFile } from 'node:fs/promises';
import { applyChanges, syncAll, type Report } from '../src/engine/engine';
import type { FormatName } from '../src/engine/format';
import { parallelFormat } from '../src/engine/parallel';
import { loadPgpSigner } from '../src/signing/pgp';
import { loadRsaSigner } from '../src/signing/rsa';
import type { SigningKeys } from '../src/signing/signer';
import { LocalStorage } from '../src/storage/local';
import { MeteredStorage } from '../src/storage/metered';

/** What the benchmark asks one run to do. */
export interface OursJob {
  readonly format: FormatName;
  /** The repository tree (the storage root). */
  readonly dir: string;
  /** Armored OpenPGP private key (yum, apt, pacman) or PEM RSA key (apk). */
  readonly keyFile: string;
  /** pacman: the repository name. */
  readonly repoName?: string;
  /** Threads parsing packages once more than 1,000 are read (DEFAULT_START_AFTER), as `pkgrepo index --workers` (0: none). */
  readonly workers: number;
  /** Absent: a full scan (`syncAll`); present: only these keys changed (`applyChanges`). */
  readonly changes?: { readonly upserted?: readonly string[]; readonly deleted?: readonly string[] };
}

/** The JSON line a run prints. */
export interface OursResult {
  /** Bytes the engine read from storage (MeteredStorage). */
  readonly bytesRead: number;
  /** Objects read. */
  readonly reads: number;
  /**
   * Wall time of the engine call alone, without starting Node, loading the code and the key:
   * what a warm indexer Lambda spends on the batch.
   */
  readonly engineSeconds: number;
  /** Their keys, for incremental runs (a full scan reads every package). */
  readonly keysRead: readonly string[];
  readonly packageCount: number;
  readonly added: number;
  readonly removed: number;
}

async function keysOf(job: OursJob): Promise<SigningKeys> {
  const text = await readFile(job.keyFile, 'utf8');
  return job.format === 'apk' ? { rsa: loadRsaSigner(text, 'bench.rsa.pub') } : { pgp: await loadPgpSigner(text) };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]) as OursJob;
  const storage = new MeteredStorage(new LocalStorage(job.dir));
  const format = parallelFormat(job.format, { repoName: job.repoName, localLinks: true }, { workers: job.workers });
  const options = { storage, format, keys: await keysOf(job) };
  const started = process.hrtime.bigint();
  const report: Report = await (job.changes ? applyChanges(options, job.changes) : syncAll(options)).finally(() => format.close());
  const engineSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (report.rejected.length) throw new Error(`rejected: ${report.rejected.map((r) => `${r.key}: ${r.reason}`).join('\n')}`);
  const result: OursResult = {
    bytesRead: storage.bytesRead,
    reads: storage.reads,
    engineSeconds,
    keysRead: job.changes ? storage.keysRead : [],
    packageCount: report.units.reduce((n, u) => n + u.packageCount, 0),
    added: report.units.reduce((n, u) => n + u.added.length, 0),
    removed: report.units.reduce((n, u) => n + u.removed.length, 0),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
  process.exitCode = 1;
});
