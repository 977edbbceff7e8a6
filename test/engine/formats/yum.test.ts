import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyChanges, syncAll } from '../../../src/engine/engine';
import { yumFormat } from '../../../src/engine/formats/yum';
import { PackageFormatError } from '../../../src/formats/errors';
import { buildRpm, parseRepomd, taggedMembers, type Repomd } from '../../../src/formats/rpm';
import { generatePgpKey, loadPgpSigner } from '../../../src/signing/pgp';
import type { SigningKeys } from '../../../src/signing/signer';
import { LocalStorage } from '../../../src/storage/local';
import { MeteredStorage } from '../../../src/storage/metered';

const MTIME = new Date('2026-02-01T00:00:00Z');
const DATA = ['primary', 'filelists', 'other'];

/** A small package with files, a dependency and a changelog; `Packages/<name>-1.0-1.noarch.rpm`. */
async function writePackage(root: string, name: string, i: number, bytes?: Uint8Array): Promise<string> {
  const key = `Packages/${name}-1.0-1.noarch.rpm`;
  await mkdir(path.join(root, 'Packages'), { recursive: true });
  await writeFile(path.join(root, key), bytes ?? buildRpm({
    name,
    version: '1.0',
    release: '1',
    summary: `package ${i}`,
    description: `line one of ${name}\nline two & <more>`,
    buildTime: 1_700_000_000 + i,
    files: [{ path: `/usr/share/${name}/data-${i}.txt`, contents: `data ${i}\n` }, { path: `/usr/bin/${name}`, contents: '#!/bin/sh\n', mode: 0o755 }],
    requires: i > 0 ? [{ name: `pkg-${i - 1}`, flags: 'GE', ver: '1.0' }] : [],
    changelog: [{ author: 'Jo <jo@example.org> - 1.0-1', date: 1_600_000_000 + i * 86400, text: `- release ${i}` }],
  }));
  await utimes(path.join(root, key), MTIME, MTIME);
  return key;
}

const repomdOf = async (root: string): Promise<Repomd> => parseRepomd(await readFile(path.join(root, 'repodata/repomd.xml'), 'utf8'));

/**
 * SHA-256 and length of the uncompressed primary, filelists and other: equal when the XML is
 * byte-identical. Computed from the files (our repomd.xml has no open-checksum); the stated
 * open-size must agree.
 */
async function openChecksums(root: string): Promise<string[]> {
  const repomd = await repomdOf(root);
  return Promise.all(DATA.map(async (t) => {
    const record = repomd.records.find((r) => r.type === t)!;
    const xml = gunzipSync(await readFile(path.join(root, record.href)));
    expect(record.openSize).toBe(xml.length);
    return `${createHash('sha256').update(xml).digest('hex')} ${xml.length}`;
  }));
}

/** The compressed metadata files, by type. */
async function metadataFiles(root: string): Promise<Buffer[]> {
  const repomd = await repomdOf(root);
  return Promise.all(DATA.map((t) => readFile(path.join(root, repomd.records.find((r) => r.type === t)!.href))));
}

/** A copy of the .rpm files of `from` (same mtimes) indexed by createrepo_c. */
async function createrepoOf(from: string, to: string): Promise<string> {
  await mkdir(path.join(to, 'Packages'), { recursive: true });
  for (const f of await readdir(path.join(from, 'Packages'))) {
    if (f.endsWith('.rpm')) await cp(path.join(from, 'Packages', f), path.join(to, 'Packages', f), { preserveTimestamps: true });
  }
  execFileSync('createrepo_c', ['--quiet', '--no-database', to]);
  return to;
}

describe('yum format: our own index is updated chunk by chunk', () => {
  let work: string;
  let keys: SigningKeys;
  const format = yumFormat();

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'yum-chunks-'));
    keys = { pgp: await loadPgpSigner((await generatePgpKey({ name: 'yum chunks test', type: 'ed25519' })).privateKeyArmored) };
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('lists the packages from the summary of its primary.xml.gz, and from primary itself when the summary is missing or damaged', async () => {
    const tree = path.join(work, 'summary');
    for (let i = 0; i < 150; i++) await writePackage(tree, `pkg-${i}`, i);
    await syncAll({ storage: new LocalStorage(tree), format, keys });
    const primary = (await repomdOf(tree)).records.find((r) => r.type === 'primary')!;
    const sha = createHash('sha256').update(await readFile(path.join(tree, primary.href))).digest('hex');
    const name = `yum-primary-summary-${sha}.json`;
    expect((await readdir(path.join(tree, '.pkgrepo'))).filter((n) => n.startsWith('yum-primary-summary-'))).toEqual([name]);
    const unit = format.unitOf('Packages/x-1-1.noarch.rpm')!;
    expect(format.isOwnedMetadata(unit, `.pkgrepo/${name}`)).toBe(true);

    const load = async () => {
      const storage = new MeteredStorage(new LocalStorage(tree));
      const index = await format.loadIndex(storage, unit);
      return { entries: [...index.entries.values()], keysRead: storage.keysRead };
    };
    const summarized = await load();
    expect(summarized.keysRead).toContain(`.pkgrepo/${name}`);
    expect(summarized.entries.map((e) => [e.key, e.name, e.version, e.arch, e.digest]).sort())
      .toEqual(Array.from({ length: 150 }, (_, i) => [`Packages/pkg-${i}-1.0-1.noarch.rpm`, `pkg-${i}`, '1.0-1', 'noarch', expect.stringMatching(/^[0-9a-f]{64}$/)]).sort());

    await writeFile(path.join(tree, '.pkgrepo', name), '{"version":1,"chunks":[[["Packages/../x.rpm",1,"x","1-1","noarch","00"]]]}');
    const damaged = await load();
    expect(damaged.entries).toEqual(summarized.entries);
    await rm(path.join(tree, '.pkgrepo', name));
    const inflated = await load();
    expect(inflated.keysRead).not.toContain(`.pkgrepo/${name}`);
    expect(inflated.entries).toEqual(summarized.entries);
  });

  it('an incremental add re-compresses only the chunk it lands in and publishes the bytes a full rebuild publishes', async () => {
    const tree = path.join(work, 'incremental');
    for (let i = 0; i < 700; i++) await writePackage(tree, `pkg-${i}`, i);
    await syncAll({ storage: new LocalStorage(tree), format, keys });
    const before = await metadataFiles(tree);

    const key = await writePackage(tree, 'pkg-350a', 350);
    const storage = new MeteredStorage(new LocalStorage(tree));
    const report = await applyChanges({ storage, format, keys }, { upserted: [key] });
    expect(report.units[0].added.map((e) => e.key)).toEqual([key]);
    expect(storage.keysRead.filter((k) => k.endsWith('.rpm'))).toEqual([key]);
    // the packages were listed from the summary, not by inflating primary
    expect(storage.keysRead.filter((k) => k.startsWith('.pkgrepo/yum-primary-summary-'))).toHaveLength(1);
    const after = await metadataFiles(tree);

    for (let t = 0; t < 3; t++) {
      const old = new Set(taggedMembers(before[t], DATA[t])!.map((m) => Buffer.from(m.bytes).toString('base64')));
      const members = taggedMembers(after[t], DATA[t])!;
      expect(members.length).toBeGreaterThan(4);
      const changed = members.filter((m) => !old.has(Buffer.from(m.bytes).toString('base64')));
      // the XML header (package count) and the chunk holding the new package (split in two at most)
      expect(changed.length).toBeGreaterThanOrEqual(2);
      expect(changed.length).toBeLessThanOrEqual(3);
    }

    const full = path.join(work, 'incremental-full');
    await createrepoOf(tree, full);
    await rm(path.join(full, 'repodata'), { recursive: true });
    await syncAll({ storage: new LocalStorage(full), format, keys });
    expect(await metadataFiles(full)).toEqual(after);
    const reference = await createrepoOf(tree, path.join(work, 'incremental-createrepo'));
    expect(await openChecksums(tree)).toEqual(await openChecksums(reference));
    // repomd.xml: createrepo_c's records but for the open-checksum, which no client checks
    // (librepo verifies <checksum>; yum only the open-checksums of sqlite databases) and
    // which would make every update inflate and hash all the metadata
    const [ours, theirs] = [await repomdOf(tree), await repomdOf(reference)];
    expect(ours.records.map((r) => [r.type, r.checksumType ?? 'sha256', r.openChecksum, r.openSize]))
      .toEqual(theirs.records.map((r) => [r.type, r.checksumType ?? 'sha256', undefined, r.openSize]));
  });

  it('adopts createrepo_c\'s index in our layout, with createrepo_c\'s XML, and createrepo_c --update reads ours back', async () => {
    const tree = path.join(work, 'adopt');
    for (let i = 0; i < 150; i++) await writePackage(tree, `pkg-${i}`, i);
    execFileSync('createrepo_c', ['--quiet', '--no-database', tree]);
    expect(taggedMembers((await metadataFiles(tree))[0], 'primary')).toBeUndefined();
    const theirs = await openChecksums(tree);

    const report = await syncAll({ storage: new LocalStorage(tree), format, keys });
    expect(report.units[0].published).toBe(true); // unsigned: signed now, in our layout
    expect(report.units[0].added).toEqual([]);
    expect(await openChecksums(tree)).toEqual(theirs);
    for (const file of await metadataFiles(tree)) expect(taggedMembers(file, 'x')!.length).toBeGreaterThan(2);

    // createrepo_c reads our multi-member files: --update keeps every package and agrees with us
    const key = await writePackage(tree, 'pkg-75a', 75);
    const copy = path.join(work, 'adopt-update');
    await cp(tree, copy, { recursive: true, preserveTimestamps: true });
    await applyChanges({ storage: new LocalStorage(tree), format, keys }, { upserted: [key] });
    execFileSync('createrepo_c', ['--quiet', '--no-database', '--update', copy]);
    expect(await openChecksums(copy)).toEqual(await openChecksums(tree));
  });

  it('re-renders the index of another writer version instead of reusing its members', async () => {
    const tree = path.join(work, 'old-writer');
    for (let i = 0; i < 120; i++) await writePackage(tree, `pkg-${i}`, i);
    await syncAll({ storage: new LocalStorage(tree), format, keys });
    const repomd = await repomdOf(tree);
    for (const t of DATA) {
      const file = path.join(tree, repomd.records.find((r) => r.type === t)!.href);
      const bytes = await readFile(file);
      for (const m of taggedMembers(bytes, t)!) m.bytes[16] = 0; // writer version 0
      await writeFile(file, bytes);
    }
    const key = await writePackage(tree, 'pkg-60a', 60);
    await applyChanges({ storage: new LocalStorage(tree), format, keys }, { upserted: [key] });
    expect(await openChecksums(tree)).toEqual(await openChecksums(await createrepoOf(tree, path.join(work, 'old-writer-createrepo'))));
  });

  it('a damaged index of ours is an error, not a silent rebuild', async () => {
    const tree = path.join(work, 'damaged');
    for (let i = 0; i < 200; i++) await writePackage(tree, `pkg-${i}`, i);
    await syncAll({ storage: new LocalStorage(tree), format, keys });
    const href = (await repomdOf(tree)).records.find((r) => r.type === 'filelists')!.href;
    const bytes = await readFile(path.join(tree, href));
    taggedMembers(bytes, 'filelists')![1].bytes[17] += 1; // one package more than primary's chunk
    await writeFile(path.join(tree, href), bytes);
    const key = await writePackage(tree, 'pkg-new', 1);
    await expect(applyChanges({ storage: new LocalStorage(tree), format, keys }, { upserted: [key] }))
      .rejects.toThrow(PackageFormatError);
    await expect(applyChanges({ storage: new LocalStorage(tree), format, keys }, { upserted: [key] }))
      .rejects.toThrow(/gzip member 1 holds \d+, \d+ and \d+ packages/);
  });

  it('a package rejected in the middle of a full index leaves the precompressed chunks right', async () => {
    const tree = path.join(work, 'rejected');
    for (let i = 0; i < 400; i++) await writePackage(tree, `pkg-${i}`, i);
    const bad = await writePackage(tree, 'pkg-200b', 0, Buffer.from('not an rpm at all'));
    const report = await syncAll({ storage: new LocalStorage(tree), format, keys });
    expect(report.rejected.map((r) => r.key)).toEqual([bad]);
    await rm(path.join(tree, bad));
    expect(await openChecksums(tree)).toEqual(await openChecksums(await createrepoOf(tree, path.join(work, 'rejected-createrepo'))));
  });
});
