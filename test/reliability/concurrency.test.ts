import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AptSandbox, aptProblems } from '../../src/cli/clients/apt';
import { DnfSandbox } from '../../src/cli/clients/dnf';
import { PacmanSandbox } from '../../src/cli/clients/pacman';
import type { FormatName } from '../../src/engine/format';
import { apkFileName, buildApk } from '../../src/formats/apk';
import { buildDeb, debFileName } from '../../src/formats/deb/build-deb';
import { buildPacmanPackage, pacmanPackageFileName } from '../../src/formats/pacman';
import { buildRpm } from '../../src/formats/rpm';
import type { SqsEvent } from '../../src/handlers/indexer';
import type { ReceivedMessage } from '../../src/pipeline/fifo-queue';
import { startLocalPipeline, type LocalPipeline, type LocalRepository, type PipelineFaults } from '../../src/pipeline/local-pipeline';
import type { ObjectEvent } from '../../src/pipeline/s3rver';
import type { SigningKeys } from '../../src/signing/signer';
import { hashString, Prng } from '../fuzz/prng';
import { fetchBytes, inParallel, scratch, testKeys } from '../pipeline/support';
import { pythonCheck, requireTools, verifyIndexWithTools } from '../support/apk-fixtures';

/**
 * Issue 8: 1,000 distinct packages across four formats and ten repositories go through one local
 * pipeline (s3rver → EventBridge rule → FIFO queue → real indexer → edge server) in a random
 * order, 32 uploads in flight, with at-least-once delivery at work: events sent twice, deletes of
 * processed messages lost (redelivered), indexer invocations that crash before or after they
 * publish, identical re-uploads and deletions (some before the upload was indexed). Once the
 * pipeline is idle every repository must list exactly the expected packages, each once: in the
 * indexes the edge serves, and for the real clients with signature checking on.
 *
 * After the run, a reconcile (the schedule's `syncAll`) must find nothing to change: the event
 * path alone brought the indexes to the bucket's state. (No reconcile runs during the uploads: the
 * indexer lags the uploads, so a reconcile would index most packages ahead of their events and
 * hide an update the event path lost.)
 *
 * Everything random comes from CONCURRENCY_SEED (printed): the packages, the order of the
 * operations, and the duplicate and redelivery decisions (a hash of the seed and the message's
 * subject, so the same message gets the same decision whatever the timing). Batch boundaries
 * depend on timing, so the fault counts vary a little between runs of one seed.
 */

const SEED = Number(process.env.CONCURRENCY_SEED ?? 0x8c0ffee);
const PACKAGES = 1000;
const IN_FLIGHT = 32;
const RESEND_RATE = 0.1;
const REDELIVER_RATE = 0.1;
/** Every 20th invocation (of those whose messages were received at most FAULTY_RECEIVES times) crashes: 5%. */
const FAIL_EVERY = 20;
const REUPLOAD_RATE = 0.05;
const DELETE_RATE = 0.05;
/** Packages each client downloads and compares with what was uploaded, per format. */
const SAMPLE = 20;
/** Retries and redeliveries come back after this long. */
const VISIBILITY_TIMEOUT_MS = 200;
/** Faults only hit the first receives of a message, so none reaches maxReceiveCount (5) by bad luck. */
const FAULTY_RECEIVES = 2;

/** One repository as a client sees it (a yum root, an apt distribution, a pacman repo, an apk branch/repo/arch). */
type Unit =
  | { readonly format: 'yum'; readonly prefix: string; readonly root: string; readonly packagesDir: boolean }
  | { readonly format: 'apt'; readonly prefix: string; readonly distribution: string; readonly components: readonly string[] }
  | { readonly format: 'pacman'; readonly prefix: string; readonly repo: string; readonly root: string }
  | { readonly format: 'apk'; readonly prefix: string; readonly root: string; readonly arch: string };

/** Six pipeline repositories (prefixes, one queue each) holding ten client repositories. */
const UNITS: readonly Unit[] = [
  { format: 'yum', prefix: 'yum/el9/', root: 'x86_64/', packagesDir: false },
  { format: 'yum', prefix: 'yum/fc40/', root: '', packagesDir: true },
  { format: 'apt', prefix: 'apt/debian/', distribution: 'bookworm', components: ['main', 'contrib'] },
  { format: 'apt', prefix: 'apt/debian/', distribution: 'trixie', components: ['main'] },
  { format: 'apt', prefix: 'apt/ubuntu/', distribution: 'noble', components: ['main', 'universe'] },
  { format: 'pacman', prefix: 'arch/', repo: 'core', root: 'core/os/x86_64/' },
  { format: 'pacman', prefix: 'arch/', repo: 'extra', root: 'extra/os/x86_64/' },
  { format: 'apk', prefix: 'alpine/', root: 'v3.20/main/x86_64/', arch: 'x86_64' },
  { format: 'apk', prefix: 'alpine/', root: 'v3.20/community/x86_64/', arch: 'x86_64' },
  { format: 'apk', prefix: 'alpine/', root: 'edge/testing/aarch64/', arch: 'aarch64' },
];

type UnitOf<F extends Unit['format']> = Extract<Unit, { readonly format: F }>;

const unitName = (u: Unit) => (u.format === 'apt' ? `apt ${u.prefix}${u.distribution}` : `${u.format} ${u.prefix}${u.root}`);

/** `[name, unit]` rows of the units of one format, for `it.each`. */
function unitsOf<F extends Unit['format']>(format: F): Array<readonly [string, UnitOf<F>]> {
  return UNITS.filter((u): u is UnitOf<F> => u.format === format).map((u) => [unitName(u), u] as const);
}

/** A package built for the run. */
interface Pkg {
  readonly unit: Unit;
  /** Bucket key. */
  readonly key: string;
  readonly body: Uint8Array;
  /** pacman: the detached signature uploaded beside it. */
  readonly signature?: Uint8Array;
  /** How the client lists it (dnf NEVRA, apt `name version arch`, pacman `name version`, apk `name-version`). */
  readonly identity: string;
  /** `identity` and the package's path as the served index records it. */
  readonly record: string;
  /** What the client downloads it as (a dnf/apt/pacman argument). */
  readonly request: string;
  /** Resolved when its first upload is done (re-uploads and deletions wait for it). */
  uploaded: Promise<void>;
}

const SYLLABLES = ['ka', 'lo', 'mi', 'zu', 're', 'pa', 'ti', 'no', 'su', 've', 'gra', 'fen', 'dor', 'lix', 'qua'];

function word(prng: Prng): string {
  return Array.from({ length: prng.range(2, 4) }, () => prng.pick(SYLLABLES)).join('');
}

/** A package name, unique in the run: some with '+' (as in `libstdc++`), which S3 URLs trip over. */
function packageName(prng: Prng, n: number, plusAllowed: boolean): string {
  const base = `${word(prng)}${plusAllowed && prng.chance(0.1) ? '++' : ''}`;
  return `${base}-${n.toString(36)}`;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Package number `n` of unit `unit`, its build spec drawn from `prng`. */
async function buildPackage(prng: Prng, unit: Unit, n: number, keys: SigningKeys): Promise<Omit<Pkg, 'uploaded'>> {
  const name = packageName(prng, n, unit.format !== 'apk');
  const [major, minor, patch] = [prng.range(0, 12), prng.range(0, 30), prng.range(0, 99)];
  const readme = `${name}\n${Buffer.from(prng.bytes(prng.range(0, 600))).toString('base64')}\n`;
  const files = [{ path: `/usr/share/doc/${name}/README`, contents: readme }];
  const description = `${name}: package ${n} of the concurrency test`;
  switch (unit.format) {
    case 'yum': {
      const version = `${major}.${minor}${prng.chance(0.1) ? '~rc1' : ''}`;
      const release = `${patch}.el`;
      const arch = prng.chance(0.2) ? 'noarch' : 'x86_64';
      const epoch = prng.chance(0.05) ? prng.range(1, 3) : undefined;
      const file = `${name}-${version}-${release}.${arch}.rpm`;
      const location = unit.packagesDir ? `Packages/${name[0]}/${file}` : file;
      const body = buildRpm({ name, version, release, epoch, arch, summary: description, buildTime: 1_700_000_000, files });
      const identity = `${name}-${epoch ?? 0}:${version}-${release}.${arch}`;
      return { unit, key: `${unit.prefix}${unit.root}${location}`, body, identity, record: `${identity} ${location}`, request: identity };
    }
    case 'apt': {
      const version = `${major}.${minor}${prng.chance(0.1) ? '~beta2' : ''}${prng.chance(0.1) ? `+git${patch}` : ''}-${prng.range(1, 4)}`;
      const architecture = prng.chance(0.2) ? 'all' : 'amd64';
      const component = prng.pick(unit.components);
      const spec = { name, version, architecture, maintainer: 'Concurrency Test <concurrency@example.com>', summary: description, buildTime: 1_700_000_000, files };
      const filename = `pool/${unit.distribution}/${component}/${name[0]}/${name}/${debFileName(spec)}`;
      const identity = `${name} ${version} ${architecture}`;
      return { unit, key: `${unit.prefix}${filename}`, body: await buildDeb(spec), identity, record: `${identity} ${filename}`, request: `${name}=${version}` };
    }
    case 'pacman': {
      const release = String(prng.range(1, 3));
      const arch = prng.chance(0.2) ? 'any' : 'x86_64';
      const spec = { name, version: `${major}.${minor}.${patch}`, release, arch, description, buildTime: 1_700_000_000, files };
      const file = pacmanPackageFileName(spec);
      const body = await buildPacmanPackage(spec);
      const identity = `${name} ${spec.version}-${spec.release}`;
      return { unit, key: `${unit.prefix}${unit.root}${file}`, body, signature: await keys.pgp!.signDetachedBinary(body), identity, record: `${identity} ${file}`, request: name };
    }
    case 'apk': {
      const version = `${major}.${minor}.${patch}${prng.chance(0.1) ? '_rc1' : ''}-r${prng.range(0, 3)}`;
      const spec = { name, version, arch: prng.chance(0.2) ? 'noarch' : unit.arch, description, license: 'MIT', buildTime: 1_700_000_000, files };
      const file = apkFileName(spec);
      const identity = `${name}-${version}`;
      return { unit, key: `${unit.prefix}${unit.root}${file}`, body: await buildApk(spec, { signer: keys.rsa }), identity, record: `${identity} ${file}`, request: file };
    }
  }
}

/** Fisher–Yates with the run's PRNG. */
function shuffled<T>(items: readonly T[], prng: Prng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.below(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A fault decision: the same inputs always decide the same way (see the file comment). */
function decide(kind: string, identity: string, rate: number): boolean {
  // SHA-256, not FNV: inputs that differ only in their last characters must decide independently
  return createHash('sha256').update(`${SEED}\n${kind}\n${identity}`).digest().readUInt32BE(0) / 0x100000000 < rate;
}

/** What a message is about, without its sequencer or time: `Object Created <key>`, or `reconcile`. */
function messageSubject(body: string): string {
  const message = JSON.parse(body) as { 'detail-type'?: string; 'key'?: string; 'reconcile'?: boolean };
  return message.reconcile === true ? 'reconcile' : `${message['detail-type']} ${message.key}`;
}

function receiveCount(record: SqsEvent['Records'][number]): number {
  return Number((record.attributes as { ApproximateReceiveCount?: string } | undefined)?.ApproximateReceiveCount ?? 1);
}

/** What the fault callbacks did, counted as the pipeline called them. */
interface FaultCounts {
  duplicateEvents: number;
  redeliveries: number;
  failedBefore: number;
  failedAfter: number;
}

function countingFaults(counts: FaultCounts): PipelineFaults {
  const seen = new Map<string, number>();
  let eligible = 0;
  return {
    resendEvent: (event: ObjectEvent) => {
      const id = `${event.detailType} ${event.key}`;
      const nth = (seen.get(id) ?? 0) + 1;
      seen.set(id, nth);
      const resend = decide('resend', `${id} #${nth}`, RESEND_RATE);
      if (resend) counts.duplicateEvents++;
      return resend;
    },
    redeliverAfterDelete: (message: ReceivedMessage) => {
      const lose = message.receiveCount <= FAULTY_RECEIVES
        && decide('redeliver', `${messageSubject(message.body)} @${message.receiveCount}`, REDELIVER_RATE);
      if (lose) counts.redeliveries++;
      return lose;
    },
    // batches depend on timing, so a rate drawn per batch could give a run only a few crashes, all
    // of one kind, by bad luck: every FAIL_EVERY-th eligible invocation crashes instead
    aroundIndexer: async (event, indexer) => {
      if (Math.max(...event.Records.map(receiveCount)) > FAULTY_RECEIVES || ++eligible % FAIL_EVERY !== FAIL_EVERY / 2) return indexer(event);
      // crashes alternate: before touching anything, and after publishing (the retry finds the work done)
      if (counts.failedAfter < counts.failedBefore) {
        await indexer(event);
        counts.failedAfter++;
        throw new Error('injected: the indexer crashed after it published');
      }
      counts.failedBefore++;
      throw new Error('injected: the indexer crashed before it started');
    },
  };
}

describe('concurrency: 1,000 uploads across formats and repositories through the local pipeline', () => {
  let keys: SigningKeys;
  let pipeline: LocalPipeline;
  const temp = scratch('concurrency-');
  const counts: FaultCounts = { duplicateEvents: 0, redeliveries: 0, failedBefore: 0, failedAfter: 0 };
  /** Per bucket key: how often a report of the indexer added it, and removed it. */
  const added = new Map<string, number>();
  const removed = new Map<string, number>();
  const rejected: string[] = [];
  /** The indexer's error log lines, the injected crashes aside. */
  const indexerErrors: string[] = [];
  /** Batches retried because a package was deleted while the indexer read it. */
  let vanished = 0;
  let packages: Pkg[] = [];
  const deleted = new Set<Pkg>();
  let reuploads = 0;
  /** Deletions of packages not yet indexed whose upload event was in its queue, and of indexed packages. */
  const deletions = { whileQueued: 0, afterIndexed: 0 };
  /** The `record`s each repository's served index lists (filled by the index checks). */
  const served = new Map<Unit, string[]>();
  /** When set, the unit reports of the indexer go here too (the final reconcile). */
  let finalReports: Array<{ prefix: string; unit: string; added: number; removed: number }> | undefined;

  beforeAll(async () => {
    requireTools('dnf', 'apt-get', 'pacman', 'pacman-key', 'openssl', 'bsdtar', 'python3');
    keys = await testKeys();
    const prefixes = [...new Map(UNITS.map((u) => [u.prefix, u.format])).entries()];
    pipeline = await startLocalPipeline({
      formats: prefixes.map(([prefix, format]) => ({ format: format as FormatName, prefix })),
      keys,
      visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS,
      faults: countingFaults(counts),
      log: (line) => {
        if (!line.includes('"level":"error"') || line.includes('injected: ')) return;
        // a package deleted between the indexer's look-up and its read: the batch is retried
        if (line.includes('the object vanished')) vanished++;
        else indexerErrors.push(line.slice(0, 2000));
      },
      onReport: (repository, report) => {
        for (const unit of report.units) {
          finalReports?.push({ prefix: repository.prefix, unit: unit.unit.id, added: unit.added.length, removed: unit.removed.length });
          for (const p of unit.added) added.set(repository.prefix + p.key, (added.get(repository.prefix + p.key) ?? 0) + 1);
          for (const key of unit.removed) removed.set(repository.prefix + key, (removed.get(repository.prefix + key) ?? 0) + 1);
        }
        for (const r of report.rejected) rejected.push(`${repository.prefix}${r.key}: ${r.reason}`);
      },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    temp.remove();
  });

  const repositoryOf = (unit: Unit): LocalRepository => pipeline.repositories.find((r) => r.prefix === unit.prefix)!;
  const unitUrl = (unit: Unit) => `${repositoryOf(unit).url}${unit.format === 'apt' ? '' : unit.root}`;
  const expectedOf = (unit: Unit) => packages.filter((p) => p.unit === unit && !deleted.has(p));
  const sorted = (items: Iterable<string>) => [...items].sort();

  it('every upload is indexed exactly once, every deletion is honoured, nothing is lost or dead-lettered', async () => {
    const prng = new Prng(SEED);
    const perUnit = PACKAGES / UNITS.length;
    const built = await Promise.all(UNITS.flatMap((unit, u) => Array.from({ length: perUnit },
      (_, i) => buildPackage(prng, unit, u * perUnit + i, keys))));
    packages = built.map((p) => ({ ...p, uploaded: Promise.resolve() }));
    expect(new Set(packages.map((p) => p.key)).size).toBe(PACKAGES);

    // the operations: every upload in a random order, 32 in flight. Re-uploads (identical bytes)
    // and deletions come in three kinds: right after the upload (its event still queued), at a
    // random later position, and once the indexer has indexed the package.
    const chosen = shuffled(packages, prng);
    const third = (list: readonly Pkg[], k: number) => new Set(list.filter((_, i) => i % 3 === k));
    const toReupload = chosen.slice(0, PACKAGES * REUPLOAD_RATE);
    const toDelete = chosen.slice(PACKAGES * REUPLOAD_RATE, PACKAGES * (REUPLOAD_RATE + DELETE_RATE));
    const [reuploadAtOnce, reuploadLater, reuploadIndexed] = [0, 1, 2].map((k) => third(toReupload, k));
    const [deleteAtOnce, deleteLater, deleteIndexed] = [0, 1, 2].map((k) => third(toDelete, k));
    const order = shuffled(packages, prng);
    type Operation = { readonly at: number; readonly kind: 'upload' | 'reupload' | 'delete'; readonly pkg: Pkg };
    const operations: Operation[] = order.map((pkg, i) => ({ at: i, kind: 'upload', pkg }));
    order.forEach((pkg, i) => {
      const later = () => i + 1 + (prng.next() / 0x100000000) * (PACKAGES - i);
      if (reuploadLater.has(pkg)) operations.push({ at: later(), kind: 'reupload', pkg });
      if (deleteLater.has(pkg)) operations.push({ at: later(), kind: 'delete', pkg });
    });
    operations.sort((a, b) => a.at - b.at);

    const put = async (pkg: Pkg) => {
      // pacman: the signature first, as makepkg users upload them
      if (pkg.signature) await pipeline.upload(`${pkg.key}.sig`, pkg.signature);
      await pipeline.upload(pkg.key, pkg.body);
    };
    const reupload = async (pkg: Pkg) => {
      await put(pkg); // the same bytes again: a user retrying
      reuploads++;
    };
    const remove = async (pkg: Pkg) => {
      if (added.has(pkg.key)) deletions.afterIndexed++;
      else if (repositoryOf(pkg.unit).queue.messages().some((m) => messageSubject(m.body) === `Object Created ${pkg.key}`)) deletions.whileQueued++;
      deleted.add(pkg);
      await pipeline.delete(pkg.key);
      if (pkg.signature) await pipeline.delete(`${pkg.key}.sig`);
    };
    const deadline = Date.now() + 180_000;
    const whenIndexed = async (pkg: Pkg) => {
      while (!added.has(pkg.key)) {
        if (Date.now() > deadline) throw new Error(`${pkg.key} was not indexed within 180 s; indexer errors: ${indexerErrors.slice(0, 3).join('\n')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const afterIndexing: Array<Promise<void>> = [];
    const started = Date.now();
    await inParallel(operations, IN_FLIGHT, async ({ kind, pkg }) => {
      if (kind === 'upload') {
        pkg.uploaded = put(pkg);
        await pkg.uploaded;
        if (reuploadAtOnce.has(pkg)) await reupload(pkg);
        if (deleteAtOnce.has(pkg)) await remove(pkg);
        if (reuploadIndexed.has(pkg)) afterIndexing.push(whenIndexed(pkg).then(() => reupload(pkg)));
        if (deleteIndexed.has(pkg)) afterIndexing.push(whenIndexed(pkg).then(() => remove(pkg)));
      } else {
        await pkg.uploaded;
        await (kind === 'reupload' ? reupload(pkg) : remove(pkg));
      }
    });
    await Promise.all(afterIndexing);
    const uploadedMs = Date.now() - started;
    await pipeline.waitForIdle(180_000);
    const idleMs = Date.now() - started;

    expect(indexerErrors).toEqual([]);
    expect(rejected).toEqual([]);
    for (const repository of pipeline.repositories) expect(repository.deadLetterQueue.messages(), repository.queue.name).toEqual([]);
    // the fault counters agree with what the queues and the event source mappings saw
    const sum = (f: (r: LocalRepository) => number) => pipeline.repositories.reduce((total, r) => total + f(r), 0);
    expect(sum((r) => r.queue.stats.deduplicated)).toBe(counts.duplicateEvents);
    expect(sum((r) => r.queue.stats.lostDeletes)).toBe(counts.redeliveries);
    expect(sum((r) => r.poller.stats.failedInvocations)).toBe(counts.failedBefore + counts.failedAfter);
    expect(sum((r) => r.queue.stats.deadLettered)).toBe(0);

    // every kept package was added by exactly one indexer run and never removed; every deleted
    // one was removed as often as it was added (once, or never if the deletion came first)
    const survivors = packages.filter((p) => !deleted.has(p));
    const addedTwice = survivors.filter((p) => added.get(p.key) !== 1 || removed.has(p.key)).map((p) => `${p.key}: added ${added.get(p.key) ?? 0}, removed ${removed.get(p.key) ?? 0}`);
    expect(addedTwice).toEqual([]);
    const unbalanced = [...deleted].filter((p) => (added.get(p.key) ?? 0) !== (removed.get(p.key) ?? 0) || (added.get(p.key) ?? 0) > 1)
      .map((p) => `${p.key}: added ${added.get(p.key) ?? 0}, removed ${removed.get(p.key) ?? 0}`);
    expect(unbalanced).toEqual([]);

    expect(counts.duplicateEvents).toBeGreaterThan(0);
    expect(counts.redeliveries).toBeGreaterThan(0);
    expect(counts.failedBefore).toBeGreaterThan(0);
    expect(counts.failedAfter).toBeGreaterThan(0);
    expect(reuploads).toBe(PACKAGES * REUPLOAD_RATE);
    expect(deleted.size).toBe(PACKAGES * DELETE_RATE);
    expect(deletions.whileQueued).toBeGreaterThan(0);
    expect(deletions.afterIndexed).toBeGreaterThan(0);
    const stats = pipeline.repositories.map((r) => `${r.queue.name} ${r.poller.stats.invocations} batches`).join(', ');
    console.log(`concurrency: seed ${SEED}; uploads done in ${uploadedMs} ms, idle after ${idleMs} ms; ${deletions.whileQueued} deletions while the upload was queued, ${deletions.afterIndexed} after it was indexed; ${vanished} batches retried for a package deleted mid-read; ${stats}`);
  }, 240_000);

  describe('the indexes the edge serves list exactly the expected packages, each once', () => {
    /** `identity path` of every package in the served primary.xml (found through repomd.xml). */
    async function yumRecords(unit: Unit): Promise<string[]> {
      const url = unitUrl(unit);
      const repomd = (await fetchBytes(`${url}repodata/repomd.xml`)).toString('utf8');
      const primary = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1];
      const xml = gunzipSync(await fetchBytes(`${url}${primary}`)).toString('utf8');
      const blocks = [...xml.matchAll(/<package type="rpm">([\s\S]*?)<\/package>/g)].map((m) => m[1]);
      expect(Number(/<metadata [^>]*packages="(\d+)"/.exec(xml)?.[1])).toBe(blocks.length);
      return blocks.map((b) => {
        const field = (re: RegExp) => re.exec(b)![1];
        const name = field(/<name>([^<]+)<\/name>/);
        const arch = field(/<arch>([^<]+)<\/arch>/);
        const [epoch, ver, rel] = [field(/<version epoch="([^"]*)"/), field(/<version [^>]*ver="([^"]*)"/), field(/<version [^>]*rel="([^"]*)"/)];
        return `${name}-${epoch}:${ver}-${rel}.${arch} ${field(/<location href="([^"]+)"/)}`;
      });
    }

    /** `identity Filename` of every stanza of every component's Packages (amd64). */
    async function aptRecords(unit: UnitOf<'apt'>): Promise<string[]> {
      const records: string[] = [];
      for (const component of unit.components) {
        const text = (await fetchBytes(`${unitUrl(unit)}dists/${unit.distribution}/${component}/binary-amd64/Packages`)).toString('utf8');
        for (const stanza of text.split(/\n\n+/).filter((s) => s.trim() !== '')) {
          const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(stanza)![1];
          records.push(`${field('Package')} ${field('Version')} ${field('Architecture')} ${field('Filename')}`);
        }
      }
      return records;
    }

    /** `identity FILENAME` of every entry of `<repo>.db` (the name pacman fetches), unpacked by bsdtar. */
    async function pacmanRecords(unit: UnitOf<'pacman'>): Promise<string[]> {
      const dir = path.join(temp.dir, `db-${unit.repo}`);
      const db = temp.file(`${unit.repo}.db`, await fetchBytes(`${unitUrl(unit)}${unit.repo}.db`));
      mkdirSync(dir);
      execFileSync('bsdtar', ['-xf', db, '-C', dir]);
      return readdirSync(dir).map((entry) => {
        const desc = readFileSync(path.join(dir, entry, 'desc'), 'utf8');
        const field = (name: string) => new RegExp(`^%${name}%\\n(.+)$`, 'm').exec(desc)![1];
        return `${field('NAME')} ${field('VERSION')} ${field('FILENAME')}`;
      });
    }

    async function expectServed(unit: Unit, records: string[]): Promise<void> {
      served.set(unit, records);
      expect(sorted(records)).toEqual(sorted(expectedOf(unit).map((p) => p.record)));
    }

    it.each(unitsOf('yum'))('primary.xml: %s', async (_, unit) => expectServed(unit, await yumRecords(unit)));
    it.each(unitsOf('apt'))('Packages: %s', async (_, unit) => expectServed(unit, await aptRecords(unit)));
    it.each(unitsOf('pacman'))('<repo>.db: %s', async (_, unit) => expectServed(unit, await pacmanRecords(unit)));
  });

  describe('the real clients, signatures required, list exactly the expected packages and download a sample', () => {
    /** The packages of a format the clients download: SAMPLE of them, spread over its repositories. */
    function sampleOf(format: Unit['format'], unit: Unit): Pkg[] {
      const prng = new Prng(hashString(format, SEED));
      const all = shuffled(packages.filter((p) => p.unit.format === format && !deleted.has(p)), prng).slice(0, SAMPLE);
      return all.filter((p) => p.unit === unit);
    }

    /** Every downloaded file is byte for byte the package that was uploaded. */
    function expectSameBytes(dir: string, wanted: readonly Pkg[]): void {
      const files = readdirSync(dir).filter((f) => !f.endsWith('.sig') && !f.endsWith('.part'));
      const byName = new Map(files.map((f) => [f, sha256(readFileSync(path.join(dir, f)))]));
      for (const p of wanted) expect(byName.get(path.basename(p.key)), p.key).toBe(sha256(p.body));
      expect(files.length).toBe(wanted.length);
    }

    it.each(unitsOf('yum'))('dnf (repo_gpgcheck=1): %s', async (_, unit) => {
      const dnf = await DnfSandbox.create({ baseUrl: unitUrl(unit), gpgKeyUrl: `${repositoryOf(unit).url}keys/repository.asc` });
      try {
        await dnf.dnf(['makecache']);
        const listed = (await dnf.dnf(['-q', 'repoquery', '--available', '--qf', '%{name}-%{epoch}:%{version}-%{release}.%{arch}'])).stdout.split('\n').filter(Boolean);
        expect(sorted(listed)).toEqual(sorted(expectedOf(unit).map((p) => p.identity)));
        const sample = sampleOf('yum', unit);
        const downloads = path.join(dnf.dir, 'downloads');
        if (sample.length > 0) await dnf.dnf(['download', '--destdir', downloads, ...sample.map((p) => p.request)]);
        if (sample.length > 0) expectSameBytes(downloads, sample);
      } finally {
        await dnf.dispose();
      }
    });

    it.each(unitsOf('apt'))('apt-get (signed-by only): %s', async (_, unit) => {
      const apt = await AptSandbox.create({
        url: repositoryOf(unit).url.replace(/\/$/, ''),
        distribution: unit.distribution,
        components: unit.components,
        publicKey: await fetchBytes(`${repositoryOf(unit).url}keys/repository.gpg`),
      });
      try {
        const update = await apt.update();
        expect(aptProblems(update)).toEqual([]);
        expect(update.status).toBe(0);
        const dump = await apt.run('apt-cache', ['dumpavail']);
        expect(dump.status).toBe(0);
        const listed = dump.stdout.split(/\n\n+/).filter((s) => s.trim() !== '').map((stanza) => {
          const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(stanza)![1];
          return `${field('Package')} ${field('Version')} ${field('Architecture')}`;
        });
        expect(sorted(listed)).toEqual(sorted(expectedOf(unit).map((p) => p.identity)));
        const sample = sampleOf('apt', unit);
        if (sample.length > 0) {
          const downloads = path.join(apt.dir, 'download');
          const download = await apt.run('apt-get', ['download', ...sample.map((p) => p.request)], downloads);
          expect(aptProblems(download)).toEqual([]);
          expect(download.status).toBe(0);
          expectSameBytes(downloads, sample);
        }
      } finally {
        await apt.dispose();
      }
    });

    it.each(unitsOf('pacman'))('pacman (SigLevel Required DatabaseRequired): %s', async (_, unit) => {
      const pacman = await PacmanSandbox.create({
        repo: unit.repo,
        serverUrl: unitUrl(unit).replace(/\/$/, ''),
        publicKeyArmored: (await fetchBytes(`${repositoryOf(unit).url}keys/repository.asc`)).toString('utf8'),
        fingerprint: keys.pgp!.fingerprint,
      });
      try {
        await pacman.pacman(['-Sy']);
        const listed = (await pacman.pacman(['-Sl', unit.repo])).stdout.split('\n').filter(Boolean).map((line) => line.split(' ').slice(1, 3).join(' '));
        expect(sorted(listed)).toEqual(sorted(expectedOf(unit).map((p) => p.identity)));
        const sample = sampleOf('pacman', unit);
        // -Sw checks every package's detached signature too
        if (sample.length > 0) await pacman.pacman(['-Sw', '-dd', ...sample.map((p) => p.request)]);
        if (sample.length > 0) expectSameBytes(pacman.cacheDir, sample);
      } finally {
        await pacman.dispose();
      }
    });

    it.each(unitsOf('apk'))('apk index checked with openssl: %s', async (_, unit) => {
      const keyName = keys.rsa!.keyName;
      const publicKey = temp.file(keyName, await fetchBytes(`${repositoryOf(unit).url}keys/${keyName}`));
      const index = temp.file(`${unit.root.replace(/\//g, '-')}APKINDEX.tar.gz`, await fetchBytes(`${unitUrl(unit)}APKINDEX.tar.gz`));
      const { blocks } = verifyIndexWithTools(index, publicKey, `.SIGN.RSA.${keyName}`, '-sha1');
      const records = blocks.map((b) => `${b.get('P')}-${b.get('V')} ${b.get('P')}-${b.get('V')}.apk`);
      served.set(unit, records);
      expect(sorted(records)).toEqual(sorted(expectedOf(unit).map((p) => p.record)));
      expect(new Set(blocks.map((b) => b.get('A')))).toEqual(new Set([unit.arch]));
      const byIdentity = new Map(blocks.map((b) => [`${b.get('P')}-${b.get('V')}`, b]));
      for (const p of sampleOf('apk', unit)) {
        const bytes = await fetchBytes(`${unitUrl(unit)}${p.request}`);
        expect(sha256(bytes)).toBe(sha256(p.body));
        // the C: identity, recomputed by the independent Python checker
        expect(pythonCheck('identity', temp.file('sample.apk', bytes))).toBe(byIdentity.get(p.identity)!.get('C'));
      }
    });
  });

  it('a reconcile after the run finds nothing to change: the indexes match the bucket', async () => {
    finalReports = [];
    for (const repository of pipeline.repositories) repository.reconcile();
    await pipeline.waitForIdle(60_000);
    const reports = finalReports;
    finalReports = undefined;
    expect(indexerErrors).toEqual([]);
    expect(sorted(new Set(reports.map((r) => `${r.prefix} ${r.unit}`)))).toHaveLength(UNITS.length);
    expect(reports.filter((r) => r.added > 0 || r.removed > 0)).toEqual([]);
  });

  it('prints the summary, counted from the pipeline and the served indexes', () => {
    expect(served.size).toBe(UNITS.length);
    const survivors = packages.filter((p) => !deleted.has(p));
    const failed = counts.failedBefore + counts.failedAfter;
    const listings = (p: Pkg) => served.get(p.unit)!.filter((r) => r === p.record).length;
    const exactlyOnce = survivors.filter((p) => listings(p) === 1 && added.get(p.key) === 1 && !removed.has(p.key)).length;
    const lost = survivors.filter((p) => listings(p) === 0).length;
    const resurrected = [...deleted].filter((p) => listings(p) > 0).length;
    expect([exactlyOnce, lost, resurrected]).toEqual([PACKAGES - deleted.size, 0, 0]);
    console.log(`concurrency: ${PACKAGES} uploads (${counts.duplicateEvents} duplicate events, ${counts.redeliveries} redeliveries, `
      + `${failed} failed batches, ${reuploads} identical re-uploads, ${deleted.size} deletions) across ${UNITS.length} repositories; `
      + `indexed exactly once: ${exactlyOnce}; lost: ${lost}`);
  });
});
