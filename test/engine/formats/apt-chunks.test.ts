import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyChanges, syncAll, type EngineOptions } from '../../../src/engine/engine';
import { aptFormat } from '../../../src/engine/formats/apt';
import { buildDeb, debFileName } from '../../../src/formats/deb/build-deb';
import { readPackages } from '../../../src/formats/deb/packages-index';
import { taggedMembers } from '../../../src/formats/rpm/gzip-members';
import { generatePgpKey, loadPgpSigner } from '../../../src/signing/pgp';
import type { PgpSigner } from '../../../src/signing/signer';
import { LocalStorage } from '../../../src/storage/local';
import { MeteredStorage } from '../../../src/storage/metered';

const PACKAGES = 'dists/stable/main/binary-amd64/Packages';

/** Builds package `i` into the tree; returns its key. */
async function place(root: string, i: number): Promise<string> {
  const spec = { name: `tool${i}`, version: `1.${i}-1`, architecture: i % 9 === 0 ? 'all' : 'amd64', maintainer: 'A <a@example.org>', summary: `tool ${i}` };
  const key = `pool/stable/main/t/${debFileName(spec)}`;
  mkdirSync(path.join(root, path.dirname(key)), { recursive: true });
  writeFileSync(path.join(root, key), await buildDeb(spec));
  return key;
}

/** The gzip members of the published Packages.gz. */
const members = (root: string) => taggedMembers(readFileSync(path.join(root, `${PACKAGES}.gz`)), 'Packages.gz')!;
/** XFL 4: a member compressed at level 1 (the first publish), i.e. reused since. */
const reused = (root: string) => members(root).filter((m) => m.bytes[8] === 4).length;

describe('apt updates reuse the unchanged chunks of Packages.gz', () => {
  let root: string;
  let signer: PgpSigner;
  const options = (storage: MeteredStorage, compressionLevel: number): EngineOptions =>
    ({ storage, format: aptFormat({ compressionLevel }), keys: { pgp: signer } });

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'apt-chunks-'));
    signer = await loadPgpSigner((await generatePgpKey({ name: 'apt chunks test', type: 'ed25519' })).privateKeyArmored);
    for (let i = 0; i < 1200; i++) await place(root, i);
    await syncAll(options(new MeteredStorage(new LocalStorage(root)), 1));
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('adding a package reads only the Release, Packages.gz (its by-hash copy) and the package, and compresses one chunk', async () => {
    const gzDigest = createHash('sha256').update(readFileSync(path.join(root, `${PACKAGES}.gz`))).digest('hex');
    const before = members(root).length;
    expect(before).toBeGreaterThan(3);
    expect(reused(root)).toBe(before);
    const key = await place(root, 5000);
    const storage = new MeteredStorage(new LocalStorage(root));
    const report = await applyChanges(options(storage, 9), { upserted: [key] });
    expect(report.units[0].added.map((a) => a.key)).toEqual([key]);
    const byHash = `${PACKAGES.slice(0, PACKAGES.lastIndexOf('/'))}/by-hash/SHA256/${gzDigest}`;
    expect(storage.keysRead.filter((k) => !k.startsWith('.pkgrepo/'))).toEqual(['dists/stable/Release', byHash, key]);
    expect(reused(root)).toBe(members(root).length - 1);
    const plain = readFileSync(path.join(root, PACKAGES));
    expect(Buffer.compare(zlib.gunzipSync(readFileSync(path.join(root, `${PACKAGES}.gz`))), plain)).toBe(0);
    expect(readPackages(plain)).toHaveLength(1201);
  });

  it('removing it again compresses only the chunk it was in', async () => {
    const key = readPackages(readFileSync(path.join(root, PACKAGES))).find((e) => e.control.get('Package') === 'tool5000')!.filename;
    rmSync(path.join(root, key));
    const report = await applyChanges(options(new MeteredStorage(new LocalStorage(root)), 9), { deleted: [key] });
    expect(report.units[0].removed).toEqual([key]);
    expect(reused(root)).toBe(members(root).length - 1);
    expect(readPackages(readFileSync(path.join(root, PACKAGES)))).toHaveLength(1200);
  });
});
