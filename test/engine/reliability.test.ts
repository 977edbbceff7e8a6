import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applyChanges, ConcurrentPublishError, StorageReadError, syncAll, type EngineOptions } from '../../src/engine/engine';
import type { RepositoryFormat } from '../../src/engine/format';
import { apkFormat } from '../../src/engine/formats/apk';
import { aptFormat } from '../../src/engine/formats/apt';
import { pacmanFormat } from '../../src/engine/formats/pacman';
import { yumFormat } from '../../src/engine/formats/yum';
import { buildApk } from '../../src/formats/apk';
import { buildDeb } from '../../src/formats/deb/build-deb';
import { buildPacmanPackage } from '../../src/formats/pacman';
import { buildRpm } from '../../src/formats/rpm';
import { generatePgpKey, loadPgpSigner } from '../../src/signing/pgp';
import { generateRsaKey, loadRsaSigner } from '../../src/signing/rsa';
import type { SigningKeys } from '../../src/signing/signer';
import { LocalStorage } from '../../src/storage/local';
import { MeteredStorage } from '../../src/storage/metered';
import type { ObjectInfo, PutOptions, Storage } from '../../src/storage/storage';

/** One format under test: where a package of a name and version goes, and its bytes. */
interface Subject {
  readonly name: 'yum' | 'apt' | 'pacman' | 'apk';
  readonly format: () => RepositoryFormat<any>;
  /** The key of a package; `place` picks another key for the same name+version where the layout allows one. */
  readonly key: (name: string, version: string, place?: 'other') => string;
  /** Package bytes; `variant` changes the content, not the name or version. */
  readonly build: (name: string, version: string, variant?: string) => Promise<Uint8Array>;
  /** What the index records as digest, computed independently of the engine (undefined: checked by form). */
  readonly digestOf?: (bytes: Uint8Array) => string;
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
const file = (name: string, variant: string) => [{ path: `/usr/share/${name}/README`, contents: `${name} ${variant}\n` }];

const SUBJECTS: readonly Subject[] = [
  {
    name: 'yum',
    format: () => yumFormat(),
    key: (name, version, place) => `el9/x86_64/Packages/${place === 'other' ? 'more/' : ''}${name}-${version}-1.x86_64.rpm`,
    build: async (name, version, variant = 'a') => buildRpm({ name, version, release: '1', arch: 'x86_64', summary: `${name} test`, files: file(name, variant) }),
    digestOf: sha256,
  },
  {
    name: 'apt',
    format: () => aptFormat(),
    key: (name, version, place) => `pool/stable/${place === 'other' ? 'contrib' : 'main'}/${name}_${version}_amd64.deb`,
    build: (name, version, variant = 'a') => buildDeb({ name, version, architecture: 'amd64', maintainer: 'Test <t@example.org>', summary: `${name} test`, files: file(name, variant) }),
    digestOf: sha256,
  },
  {
    name: 'pacman',
    format: () => pacmanFormat(),
    key: (name, version, place) => `extra/os/x86_64/${place === 'other' ? 'copy-' : ''}${name}-${version}-1-x86_64.pkg.tar.gz`,
    build: (name, version, variant = 'a') => buildPacmanPackage({ name, version, arch: 'x86_64', description: `${name} test`, files: file(name, variant) }, 'gzip'),
    digestOf: sha256,
  },
  {
    name: 'apk',
    format: () => apkFormat(),
    key: (name, version) => `v3.20/main/x86_64/${name}-${version}-r0.apk`,
    build: async (name, version, variant = 'a') => buildApk({ name, version: `${version}-r0`, arch: 'x86_64', description: `${name} test`, files: file(name, variant) }),
  },
];

/** Counts package reads (get and stream) per key. */
class CountingStorage extends MeteredStorage {
  public readonly readCounts = new Map<string, number>();
  async get(key: string) {
    this.readCounts.set(key, (this.readCounts.get(key) ?? 0) + 1);
    return super.get(key);
  }
  async stream(key: string) {
    this.readCounts.set(key, (this.readCounts.get(key) ?? 0) + 1);
    return super.stream(key);
  }
  async scan(key: string, visit: (piece: Uint8Array) => void) {
    this.readCounts.set(key, (this.readCounts.get(key) ?? 0) + 1);
    return super.scan(key, visit);
  }
  readsOf(key: string): number {
    return this.readCounts.get(key) ?? 0;
  }
}

let keys: SigningKeys;
beforeAll(async () => {
  const pgp = await loadPgpSigner((await generatePgpKey({ name: 'reliability test', type: 'ed25519' })).privateKeyArmored);
  const rsa = generateRsaKey(2048);
  keys = { pgp, rsa: loadRsaSigner(rsa.privateKeyPem, 'test.rsa.pub') };
});

const NOW = new Date('2026-03-01T00:00:00Z');

describe.each(SUBJECTS)('engine reliability: $name', (subject) => {
  let dir: string;
  let storage: CountingStorage;
  let format: RepositoryFormat<any>;
  const options = (extra: Partial<EngineOptions> = {}): EngineOptions => ({ storage, format, keys, now: () => NOW, ...extra });
  const upload = async (name: string, version: string, variant?: string, place?: 'other') => {
    const bytes = await subject.build(name, version, variant);
    const key = subject.key(name, version, place);
    await storage.put(key, bytes);
    return { key, bytes };
  };
  /** The published index, read back as a client's tool would: key → digest. */
  const indexed = async () => {
    const unit = format.unitOf(subject.key('x', '1.0'))!;
    const index = await format.loadIndex(storage, unit);
    return Object.fromEntries([...index.entries.values()].map((e) => [e.key, e.digest]));
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'reliability-'));
    storage = new CountingStorage(new LocalStorage(dir));
    format = subject.format();
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('fills digest on read and on load, and reports the revision of the first manifest', async () => {
    const a = await upload('alpha', '1.0');
    const b = await upload('beta', '2.0');
    const report = await syncAll(options());
    const [unit] = report.units;
    const loaded = await indexed();
    expect(Object.keys(loaded).sort()).toEqual([a.key, b.key].sort());
    for (const { key, bytes } of [a, b]) {
      const added = unit.added.find((e) => e.key === key)!;
      expect(added.digest).toBe(loaded[key]);
      if (subject.digestOf) expect(loaded[key]).toBe(subject.digestOf(bytes));
      else expect(loaded[key]).toMatch(/^Q1[A-Za-z0-9+/]{27}=$/); // apk: Q1 + base64 of a SHA-1
    }
    const firstManifest = format.manifestKeys(unit.unit)[0];
    expect(unit.revision).toBe(sha256((await storage.get(firstManifest))!));
    expect(unit.replaced).toEqual([]);
    expect(unit.pruned).toEqual([]);
  });

  it("refuses an indexed key overwritten with other bytes ('changed-bytes'), keeps the original, and does not read it again", async () => {
    const a = await upload('alpha', '1.0', 'original');
    await syncAll(options());
    const before = await indexed();
    const changed = await upload('alpha', '1.0', 'changed');
    expect(Buffer.compare(changed.bytes, a.bytes)).not.toBe(0);

    const report = await applyChanges(options(), { upserted: [a.key] });
    expect(report.rejected.map((r) => [r.key, r.code])).toEqual([[a.key, 'changed-bytes']]);
    expect(report.units[0].published).toBe(false);
    expect(await indexed()).toEqual(before);

    // neither a repeated event nor a reconcile reads the refused object while it stays as it is
    storage.readCounts.clear();
    const again = await applyChanges(options(), { upserted: [a.key] });
    const reconcile = await syncAll(options());
    expect(storage.readsOf(a.key)).toBe(0);
    expect([again.rejected, reconcile.rejected, reconcile.units[0].published]).toEqual([[], [], false]);
  });

  it("replaces an indexed key overwritten with other bytes in 'replace' mode", async () => {
    const a = await upload('alpha', '1.0', 'original');
    await upload('beta', '1.0');
    await syncAll(options());
    const changed = await upload('alpha', '1.0', 'changed');
    // refused first, then the policy changes: the refusal does not hold under 'replace'
    await applyChanges(options(), { upserted: [a.key] });
    const report = await applyChanges(options({ sameVersion: 'replace' }), { upserted: [a.key] });
    expect(report.rejected).toEqual([]);
    expect(report.units[0].replaced).toEqual([a.key]);
    expect(report.units[0].added.map((e) => e.key)).toEqual([a.key]);
    const after = await indexed();
    expect(after[a.key]).toBe(report.units[0].added[0].digest);
    if (subject.digestOf) expect(after[a.key]).toBe(subject.digestOf(changed.bytes));
    expect(Object.keys(after)).toHaveLength(2);
  });

  it('a duplicate event of an indexed, unchanged object reads nothing; a same-size rewrite is read and caught', async () => {
    const a = await upload('alpha', '1.0', 'x');
    await applyChanges(options(), { upserted: [a.key] });
    storage.readCounts.clear();
    const duplicate = await applyChanges(options(), { upserted: [a.key] });
    expect([storage.readsOf(a.key), duplicate.units[0].published]).toEqual([0, false]);
    // same length of content, other bytes: the size may well be equal, the etag is not
    await upload('alpha', '1.0', 'y');
    const rewrite = await applyChanges(options(), { upserted: [a.key] });
    expect(storage.readsOf(a.key)).toBe(1);
    expect(rewrite.rejected.map((r) => r.code)).toEqual(['changed-bytes']);
  });

  if (subject.name === 'apt') {
    it('loads the index its Release names (by-hash), not fixed-name Packages files that a losing writer replaced', async () => {
      const a = await upload('alpha', '1.0');
      await syncAll(options());
      // another writer's view of the distribution (only zeta), in the fixed-name Packages files:
      // what a writer outside the queue leaves when it loses the race for the Release
      const elsewhere = await mkdtemp(path.join(tmpdir(), 'reliability-loser-'));
      try {
        const loser = new LocalStorage(elsewhere);
        await loser.put(subject.key('zeta', '9.0'), await subject.build('zeta', '9.0'));
        await syncAll({ storage: loser, format: subject.format(), keys, now: () => NOW });
        for await (const info of loser.list('dists/')) {
          if (/\/Packages(\.gz)?$/.test(info.key)) await storage.put(info.key, (await loser.get(info.key))!);
        }
      } finally {
        await rm(elsewhere, { recursive: true, force: true });
      }
      const b = await upload('beta', '1.0');
      const report = await applyChanges(options(), { upserted: [b.key] });
      expect(report.units[0].added.map((e) => e.key)).toEqual([b.key]);
      expect(Object.keys(await indexed()).sort()).toEqual([a.key, b.key].sort());
    });
  }

  if (subject.name !== 'apk') {
    // apk names every package file after its name and version: no second key can hold them
    it("refuses a second upload of an indexed name+version+arch under another key ('duplicate-version')", async () => {
      const a = await upload('alpha', '1.0', 'first');
      await syncAll(options());
      const before = await indexed();
      const dup = await upload('alpha', '1.0', 'second', 'other');
      const report = await applyChanges(options(), { upserted: [dup.key] });
      expect(report.rejected.map((r) => [r.key, r.code])).toEqual([[dup.key, 'duplicate-version']]);
      expect(report.rejected[0].reason).toContain(a.key);
      expect(await indexed()).toEqual(before);
      storage.readCounts.clear();
      const reconcile = await syncAll(options());
      expect([storage.readsOf(dup.key), reconcile.units[0].published, reconcile.rejected]).toEqual([0, false, []]);

      // the indexed one is deleted: the set-aside upload is taken at the next reconcile
      await storage.delete(a.key);
      const taken = await syncAll(options());
      expect(taken.units[0].removed).toEqual([a.key]);
      expect(taken.units[0].added.map((e) => e.key)).toEqual([dup.key]);
      expect(Object.keys(await indexed())).toEqual([dup.key]);
    });

    it("in 'replace' mode a second upload under another key takes the place of the indexed one, which stays out", async () => {
      const a = await upload('alpha', '1.0', 'first');
      await syncAll(options());
      const dup = await upload('alpha', '1.0', 'second', 'other');
      const report = await applyChanges(options({ sameVersion: 'replace' }), { upserted: [dup.key] });
      expect(report.units[0].replaced).toEqual([a.key]);
      expect(report.units[0].added.map((e) => e.key)).toEqual([dup.key]);
      expect(Object.keys(await indexed())).toEqual([dup.key]);
      // the replaced object is still in storage, and a reconcile does not bring it back
      expect(await storage.head(a.key)).toBeDefined();
      storage.readCounts.clear();
      const reconcile = await syncAll(options({ sameVersion: 'replace' }));
      expect([storage.readsOf(a.key), reconcile.units[0].published]).toEqual([0, false]);
      expect(Object.keys(await indexed())).toEqual([dup.key]);
    });
  }

  it('retention keeps the newest versions by the format\'s ordering, keeps pruned objects out, and deletes them when asked', async () => {
    // oldest first in every one of these orderings (1.10 is newer than 1.9: not text order)
    const ordered = ['1.0', '1.2', '1.9', '1.10'];
    // a pacman database lists one version per name: keep one there
    const keep = subject.name === 'pacman' ? 1 : 2;
    const key = new Map<string, string>();
    for (const v of ['1.2', '1.10', '1.9', '1.0']) key.set(v, (await upload('alpha', v)).key);
    const other = await upload('beta', '0.1');
    const retention = { keepVersions: keep };
    const report = await syncAll(options({ retention }));
    const kept = ordered.slice(-keep).map((v) => key.get(v)!);
    const pruned = ordered.slice(0, -keep).map((v) => key.get(v)!);
    expect(report.units[0].pruned).toEqual([...pruned].sort());
    expect(report.units[0].added.map((e) => e.key).sort()).toEqual([...kept, other.key].sort());
    expect(Object.keys(await indexed()).sort()).toEqual([...kept, other.key].sort());
    for (const k of pruned) expect(await storage.head(k)).toBeDefined();

    // a reconcile neither reads the pruned objects nor adds them again
    storage.readCounts.clear();
    const reconcile = await syncAll(options({ retention }));
    expect([reconcile.units[0].published, reconcile.units[0].added, reconcile.units[0].pruned]).toEqual([false, [], []]);
    for (const k of pruned) expect(storage.readsOf(k)).toBe(0);

    // a newer upload pushes the oldest kept version out; deleteObjects removes its object after the publish
    const newest = await upload('alpha', '1.11');
    // pacman: a package's detached signature beside it goes with it
    if (subject.name === 'pacman') await storage.put(`${kept[0]}.sig`, 'a detached signature');
    const next = await syncAll(options({ retention: { ...retention, deleteObjects: true } }));
    expect(next.units[0].pruned).toEqual([kept[0]]);
    expect(next.units[0].added.map((e) => e.key)).toEqual([newest.key]);
    expect(await storage.head(kept[0])).toBeUndefined();
    expect(await storage.head(`${kept[0]}.sig`)).toBeUndefined();
    expect(Object.keys(await indexed()).sort()).toEqual([...kept.slice(1), newest.key, other.key].sort());
  });
});

/** Delegates to a storage; before the engine's first write of `manifest`, runs `interpose` once per attempt. */
class InterposingStorage implements Storage {
  public interposed = 0;
  constructor(private readonly inner: Storage, private readonly manifest: string, private readonly interpose: (round: number) => Promise<void>) {}
  get(key: string) { return this.inner.get(key); }
  stream(key: string) { return this.inner.stream(key); }
  head(key: string) { return this.inner.head(key); }
  delete(key: string) { return this.inner.delete(key); }
  list(prefix: string) { return this.inner.list(prefix); }
  async put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<ObjectInfo> {
    if (key === this.manifest) await this.interpose(++this.interposed);
    return this.inner.put(key, body, options);
  }
}

describe('engine reliability: conditional publish against another writer (yum, local directory)', () => {
  let dir: string;
  let local: CountingStorage;
  const subject = SUBJECTS[0];
  const format = subject.format();
  const repomd = 'el9/x86_64/repodata/repomd.xml';
  const manifests = [repomd, `${repomd}.asc`];
  const unitKeys = async () => {
    const index = await format.loadIndex(local, format.unitOf(subject.key('x', '1'))!);
    return [...index.entries.keys()].sort();
  };
  const otherWriter = async (name: string) => {
    const key = subject.key(name, '1.0');
    await local.put(key, await subject.build(name, '1.0'));
    const report = await applyChanges({ storage: local, format, keys, now: () => NOW }, { upserted: [key] });
    expect(report.units[0].published).toBe(true);
    return key;
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'reliability-race-'));
    local = new CountingStorage(new LocalStorage(dir));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('does not overwrite a publish that happened between its load and its publish: it retries and both packages are indexed', async () => {
    const ours = subject.key('ours', '1.0');
    await local.put(ours, await subject.build('ours', '1.0'));
    let theirs = '';
    // interpose right before our first manifest is written
    const storage = new InterposingStorage(local, repomd, async (round) => {
      if (round === 1) theirs = await otherWriter('theirs');
    });
    const lines: string[] = [];
    const report = await applyChanges({ storage, format, keys, now: () => NOW, log: (l) => lines.push(l) }, { upserted: [ours] });
    expect(storage.interposed).toBe(2);
    expect(lines.some((l) => /another writer published/.test(l))).toBe(true);
    expect(report.units[0].packageCount).toBe(2);
    expect(await unitKeys()).toEqual([ours, theirs].sort());
    // our package was read once, not once per attempt
    expect(local.readsOf(ours)).toBe(1);
    expect(report.units[0].added.map((e) => e.key)).toEqual([ours]);
    expect(report.units[0].revision).toBe(sha256((await local.get(repomd))!));
  });

  it('gives up with ConcurrentPublishError after 3 attempts when the other writer always wins, leaving its index intact', async () => {
    const ours = subject.key('ours', '1.0');
    await local.put(ours, await subject.build('ours', '1.0'));
    const theirs: string[] = [];
    let theirManifests: Array<Uint8Array | undefined> = [];
    const storage = new InterposingStorage(local, repomd, async (round) => {
      theirs.push(await otherWriter(`theirs${round}`));
      theirManifests = await Promise.all(manifests.map((key) => local.get(key)));
    });
    const attempt = applyChanges({ storage, format, keys, now: () => NOW }, { upserted: [ours] });
    await expect(attempt).rejects.toThrow(ConcurrentPublishError);
    await expect(attempt).rejects.toThrow(/gave up after 3 attempts/);
    expect(storage.interposed).toBe(3);
    expect(await unitKeys()).toEqual([...theirs].sort());
    const now = await Promise.all(manifests.map((key) => local.get(key)));
    now.forEach((bytes, i) => expect(Buffer.compare(bytes!, theirManifests[i]!)).toBe(0));
  });
});

/** A storage whose streams of package objects fail after the first part (and whose whole reads of them fail). */
class FlakyStreamStorage extends LocalStorage {
  public readonly isPackage: (key: string) => boolean = () => false;
  async get(key: string) {
    if (this.isPackage(key)) throw new Error('connection reset by peer');
    return super.get(key);
  }
  async stream(key: string) {
    const bytes = await super.get(key);
    if (!bytes) return undefined;
    const half = bytes.subarray(0, Math.floor(bytes.length / 2));
    return Readable.from((async function* () {
      yield Buffer.from(half);
      throw new Error('connection reset by peer');
    })());
  }
  async scan(key: string, visit: (piece: Uint8Array) => void) {
    const bytes = await super.get(key);
    if (!bytes) return false;
    visit(bytes.subarray(0, Math.floor(bytes.length / 2)));
    throw new Error('connection reset by peer');
  }
}

describe('engine reliability: a storage stream that fails mid-way', () => {
  it.each(SUBJECTS)('$name: the batch fails with StorageReadError (to be retried), nothing is rejected or published', async (subject) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'reliability-flaky-'));
    try {
      const format = subject.format();
      const storage = Object.assign(new FlakyStreamStorage(dir), { isPackage: (key: string) => format.isPackage(key) });
      const key = subject.key('alpha', '1.0');
      await storage.put(key, await subject.build('alpha', '1.0'));
      const attempt = applyChanges({ storage, format, keys, now: () => NOW }, { upserted: [key] });
      await expect(attempt).rejects.toThrow(StorageReadError);
      await expect(attempt).rejects.toThrow(/connection reset by peer/);
      for (const manifest of format.manifestKeys(format.unitOf(key)!)) expect(await storage.head(manifest)).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
