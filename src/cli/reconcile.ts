import * as path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { loadKeyFiles, PASSPHRASE_ENV } from './keys';
import type { Io } from './main';
import { syncAll, type EngineOptions, type RejectionCode, type Report } from '../engine/engine';
import type { FormatName, RepositoryFormat, RepositoryUnit } from '../engine/format';
import { createFormat, FORMAT_NAMES } from '../engine/formats';
import { engineOptionsOf, type RetentionPolicy, type SameVersionPolicy } from '../handlers/policies';
import { LocalStorage } from '../storage/local';
import type { ObjectInfo, Storage } from '../storage/storage';

/**
 * `pkgrepo reconcile`: make the indexes agree with the packages actually stored, as the
 * constructs' scheduled reconcile does. Packages whose upload event was missed are indexed,
 * packages deleted behind the index's back leave it. `--dry-run` lists what would change from the
 * listing and the published indexes only, reading no package and writing nothing.
 */

/** A rejection as the reconcile report shows it. */
export interface ReconcileRejection {
  readonly key: string;
  readonly unit?: string;
  readonly code: RejectionCode;
  readonly reason: string;
}

/** What a reconcile did (or, dry, would do) to one unit. Keys are relative to the repository. */
export interface ReconcileUnitResult {
  readonly unit: string;
  readonly root: string;
  /** A new index was published (never in a dry run). */
  readonly published: boolean;
  readonly revision?: string;
  /** Packages in the index after the run (dry run: before). */
  readonly packageCount: number;
  /** Indexed now (dry run: to be read, new or changed in size). */
  readonly added: string[];
  /** Out of the index now (dry run: to be removed): their files are gone. */
  readonly removed: string[];
  readonly replaced: string[];
  readonly pruned: string[];
  readonly rejected: ReconcileRejection[];
  /** Indexed packages left as they were. */
  readonly unchanged: number;
}

/** The whole reconcile report (`--json` prints it). */
export interface ReconcileResult {
  readonly dryRun: boolean;
  /** The directory, or `s3://bucket/prefix`. */
  readonly location: string;
  readonly units: ReconcileUnitResult[];
  /** Every rejection, packages outside every unit of the layout included. */
  readonly rejected: ReconcileRejection[];
  readonly totals: { readonly added: number; readonly removed: number; readonly rejected: number; readonly unchanged: number };
}

/** The reconcile report of an engine run (`syncAll`). */
export function resultOfReport(report: Report, location: string): ReconcileResult {
  const unitOf = new Map<string, string>();
  for (const u of report.units) for (const r of u.rejected) unitOf.set(r.key, u.unit.id);
  const rejection = (r: Report['rejected'][number]): ReconcileRejection => {
    const unit = unitOf.get(r.key);
    return { key: r.key, ...(unit !== undefined ? { unit } : {}), code: r.code, reason: r.reason };
  };
  const units = report.units.map((u): ReconcileUnitResult => {
    const pruning = new Set(u.pruned);
    const added = u.added.map((p) => p.key);
    return {
      unit: u.unit.id,
      root: u.unit.root,
      published: u.published,
      ...(u.revision !== undefined ? { revision: u.revision } : {}),
      packageCount: u.packageCount,
      added,
      removed: [...u.removed],
      replaced: [...u.replaced],
      pruned: [...u.pruned],
      rejected: u.rejected.map(rejection),
      unchanged: Math.max(0, u.packageCount - added.filter((k) => !pruning.has(k)).length),
    };
  });
  return withTotals({ dryRun: false, location, units, rejected: report.rejected.map(rejection) });
}

function withTotals(result: Omit<ReconcileResult, 'totals'>): ReconcileResult {
  const sum = (f: (u: ReconcileUnitResult) => number) => result.units.reduce((n, u) => n + f(u), 0);
  return {
    ...result,
    totals: {
      added: sum((u) => u.added.length),
      removed: sum((u) => u.removed.length),
      rejected: result.rejected.length,
      unchanged: sum((u) => u.unchanged),
    },
  };
}

/**
 * What a reconcile would change, from the storage listing and each unit's published index: the
 * same decision `syncAll` makes (listed but not indexed, or indexed with another size → read;
 * indexed but not listed → removed) without reading a package or writing anything. Package keys
 * outside every unit of the layout are rejected (`misplaced`), as the run would.
 */
export async function planReconcile(storage: Storage, format: RepositoryFormat<any>, location: string): Promise<ReconcileResult> {
  const units = new Map<string, { unit: RepositoryUnit; listing: Map<string, ObjectInfo> }>();
  const rejected: ReconcileRejection[] = [];
  const entry = (unit: RepositoryUnit) => {
    const found = units.get(unit.id) ?? { unit, listing: new Map<string, ObjectInfo>() };
    units.set(unit.id, found);
    return found;
  };
  for await (const info of storage.list('')) {
    if (format.isPackage(info.key)) {
      const unit = format.unitOf(info.key);
      if (unit) entry(unit).listing.set(info.key, info);
      else rejected.push({ key: info.key, code: 'misplaced', reason: `not in a ${format.name} repository layout` });
      continue;
    }
    const unit = format.unitsOfMetadata?.(info.key);
    if (unit) entry(unit);
  }
  const results: ReconcileUnitResult[] = [];
  for (const { unit, listing } of [...units.values()].sort((a, b) => a.unit.id.localeCompare(b.unit.id))) {
    const index = await format.loadIndex(storage, unit);
    const added = [...listing.values()].filter((info) => index.entries.get(info.key)?.size !== info.size).map((info) => info.key).sort();
    const removed = [...index.entries.keys()].filter((key) => !listing.has(key)).sort();
    results.push({
      unit: unit.id,
      root: unit.root,
      published: false,
      packageCount: index.entries.size,
      added,
      removed,
      replaced: [],
      pruned: [],
      rejected: [],
      unchanged: [...index.entries.keys()].filter((key) => listing.get(key)?.size === index.entries.get(key)!.size).length,
    });
  }
  return withTotals({ dryRun: true, location, units: results, rejected });
}

/** Prints the report: a line per unit with its keys (unless quiet), rejections on stderr, the totals. */
export function printReconcile(io: Io, result: ReconcileResult, where: (key: string) => string, quiet: boolean): void {
  if (!quiet) {
    for (const u of result.units) {
      const state = result.dryRun ? (u.added.length + u.removed.length > 0 ? 'would change' : 'in agreement') : (u.published ? 'published' : 'unchanged');
      io.out(`${u.unit} (${where(u.root)}): ${state}, ${u.packageCount} packages (${u.added.length} added, ${u.removed.length} removed, `
        + `${u.rejected.length} rejected, ${u.unchanged} unchanged)${u.revision ? ` revision ${u.revision}` : ''}`);
      for (const key of u.added) io.out(`  added: ${where(key)}`);
      for (const key of u.removed) io.out(`  removed: ${where(key)}`);
      for (const key of u.replaced) io.out(`  replaced: ${where(key)}`);
      for (const key of u.pruned) io.out(`  pruned: ${where(key)}`);
    }
  }
  for (const r of result.rejected) io.err(`rejected: ${where(r.key)}: ${r.reason}`);
  const { added, removed, rejected, unchanged } = result.totals;
  io.out(`${result.dryRun ? 'would be ' : ''}added ${added}, removed ${removed}, rejected ${rejected}, unchanged ${unchanged}`);
}

interface ReconcileOptions {
  readonly format: FormatName;
  readonly key?: string;
  readonly keyName?: string;
  readonly origin?: string;
  readonly label?: string;
  readonly repo?: string;
  readonly bucket?: string;
  readonly prefix: string;
  readonly region?: string;
  readonly sameVersion?: SameVersionPolicy;
  readonly keepVersions?: number;
  readonly deletePruned?: boolean;
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly quiet?: boolean;
}

function keepVersions(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of at least 1');
  return n;
}

/** A repository's storage, its location as shown, and where a key is, as shown. */
interface Place {
  readonly storage: Storage;
  readonly location: string;
  where(key: string): string;
}

/**
 * Where the repository is: a directory, or a bucket and prefix through the S3 API (the SDK is
 * loaded only then: about 70 ms that every other command would pay).
 */
async function storageOf(dir: string | undefined, opts: ReconcileOptions): Promise<Place> {
  if ((dir === undefined) === (opts.bucket === undefined)) throw new InvalidArgumentError('give either DIR or --bucket NAME (with --prefix)');
  if (dir !== undefined) {
    return { storage: new LocalStorage(path.resolve(dir)), location: path.resolve(dir), where: (key) => path.join(dir, key) };
  }
  if (opts.prefix !== '' && !/^[^/].*\/$/.test(opts.prefix)) throw new InvalidArgumentError('--prefix is \'\' or ends in "/" (and does not start with it)');
  const [{ S3Client }, { S3Storage }] = await Promise.all([import('@aws-sdk/client-s3'), import('../storage/s3.js')]);
  const client = new S3Client(opts.region ? { region: opts.region } : {});
  const location = `s3://${opts.bucket}/${opts.prefix}`;
  return { storage: new S3Storage({ client, bucket: opts.bucket!, prefix: opts.prefix }), location, where: (key) => `${location}${key}` };
}

/** Adds `pkgrepo reconcile` to the program. */
export function registerReconcile(cli: Command, io: Io): void {
  cli.command('reconcile')
    .description('Make the indexes under DIR (or under --bucket/--prefix on S3) agree with the packages stored\n'
      + 'there, as the constructs\' scheduled reconcile does: packages whose upload event was missed are\n'
      + 'indexed, packages deleted behind the index\'s back leave it. Prints what was added, removed,\n'
      + 'rejected and left unchanged. With --dry-run, lists what would change from the listing and the\n'
      + 'published indexes only: no package is read, nothing is written, no key is needed.\n'
      + 'Exit status 0 when nothing was rejected; 1 when any package was (each printed on stderr as\n'
      + '"rejected: <path>: <reason>"), the good ones being indexed all the same.')
    .argument('[dir]', 'the repository tree (or give --bucket)')
    .addOption(new Option('--format <format>', 'repository format').choices(FORMAT_NAMES as string[]).makeOptionMandatory())
    .option('--key <file>', 'private signing key: armored OpenPGP (yum, apt, pacman) or PEM RSA (apk); not needed with --dry-run')
    .option('--key-name <name>', 'apk: key name in the signature (default: the key file name + ".pub")')
    .option('--origin <origin>', 'apt: Release Origin')
    .option('--label <label>', 'apt: Release Label')
    .option('--repo <name>', 'pacman: repository name (default: first path segment)')
    .option('--bucket <name>', 'reconcile the repository in this S3 bucket instead of DIR')
    .option('--prefix <prefix>', 'with --bucket: the repository\'s key prefix (\'\' or ending in "/")', '')
    .option('--region <region>', 'with --bucket: AWS region (default: from the environment)')
    .addOption(new Option('--same-version <policy>', 'an upload of an indexed name+version+arch: refuse it or replace the indexed one').choices(['refuse', 'replace']))
    .option('--keep-versions <n>', 'keep the newest N versions of each package name and arch in the index', keepVersions)
    .option('--delete-pruned', 'with --keep-versions: delete the files of versions that leave the index')
    .option('--dry-run', 'list what would change; read no package, write nothing')
    .option('--json', 'print the report as JSON')
    .option('--quiet', 'print only rejections and the totals')
    .addHelpText('after', '\nWith --bucket, the AWS SDK\'s usual settings apply: credentials, AWS_REGION, AWS_ENDPOINT_URL_S3.\n'
      + `Passphrase of a protected key: ${PASSPHRASE_ENV}.`)
    .action(async (dir: string | undefined, opts: ReconcileOptions) => {
      if (opts.deletePruned && opts.keepVersions === undefined) throw new InvalidArgumentError('--delete-pruned needs --keep-versions N');
      if (!opts.dryRun && !opts.key) throw new InvalidArgumentError('--key FILE is needed to sign the repaired indexes (or give --dry-run)');
      const { storage, location, where } = await storageOf(dir, opts);
      const format = createFormat(opts.format, {
        origin: opts.origin, label: opts.label, repoName: opts.repo, keyName: opts.keyName, localLinks: dir !== undefined,
      });
      let result: ReconcileResult;
      if (opts.dryRun) {
        result = await planReconcile(storage, format, location);
      } else {
        const keys = await loadKeyFiles(opts.format === 'apk' ? { rsa: opts.key, rsaKeyName: opts.keyName } : { pgp: opts.key });
        const retention: RetentionPolicy | undefined = opts.keepVersions !== undefined
          ? { keepVersions: opts.keepVersions, ...(opts.deletePruned ? { deleteObjects: true } : {}) }
          : undefined;
        const options: EngineOptions = { storage, format, keys, ...engineOptionsOf({ sameVersion: opts.sameVersion, retention }) };
        result = resultOfReport(await syncAll(options), location);
      }
      if (opts.json) {
        io.out(JSON.stringify(result, undefined, 2));
        for (const r of result.rejected) io.err(`rejected: ${where(r.key)}: ${r.reason}`);
      } else {
        printReconcile(io, result, where, opts.quiet ?? false);
      }
      process.exitCode = result.rejected.length > 0 ? 1 : 0;
    });
}
