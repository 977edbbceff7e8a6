import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyChanges, syncAll, type EngineOptions } from '../../src/engine/engine';
import { LocalStorage } from '../../src/storage/local';
import { MeteredStorage } from '../../src/storage/metered';
import type { PutOptions, Storage } from '../../src/storage/storage';
import { toyFormat } from '../support/toy-format';

const HOUR = 3600_000;

/** Records the order of writes and deletes that reach the storage. */
class JournaledStorage extends MeteredStorage {
  public readonly events: string[] = [];
  async put(key: string, body: Uint8Array | string, options?: PutOptions) {
    const info = await super.put(key, body, options);
    this.events.push(`put ${key}`);
    return info;
  }
  async delete(key: string) {
    await super.delete(key);
    this.events.push(`delete ${key}`);
  }
}

async function manifestNames(storage: Storage, root = 'r/'): Promise<string[]> {
  const format = toyFormat();
  const index = await format.loadIndex(storage, format.unitOf(`${root}x.pkg`)!);
  return [...index.entries.values()].map((e) => `${e.name}-${e.version}`).sort();
}

describe('engine (format-neutral, over a local directory)', () => {
  let dir: string;
  let storage: JournaledStorage;
  let clock: number;
  let options: EngineOptions;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'engine-'));
    storage = new JournaledStorage(new LocalStorage(dir));
    clock = Date.parse('2026-01-01T00:00:00Z');
    options = { storage, format: toyFormat(), keys: {}, now: () => new Date(clock), graceMs: 48 * HOUR, minGenerations: 3 };
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('indexes every package of every unit on first sync', async () => {
    await storage.put('r/a.pkg', 'alpha 1\n');
    await storage.put('r/b.pkg', 'beta 2\n');
    await storage.put('s/c.pkg', 'gamma 3\n');
    const report = await syncAll(options);
    expect(report.units.map((u) => [u.unit.root, u.packageCount, u.published])).toEqual([['r/', 2, true], ['s/', 1, true]]);
    expect(await manifestNames(storage)).toEqual(['alpha-1', 'beta-2']);
  });

  it('reads only new packages and the current index on an incremental sync', async () => {
    for (let i = 0; i < 50; i++) await storage.put(`r/p${i}.pkg`, `pkg${i} 1.${i}\n`);
    await syncAll(options);
    await storage.put('r/new.pkg', 'newcomer 9\n');
    storage.reset();
    const report = await syncAll(options);
    expect(report.units[0].added.map((e) => e.name)).toEqual(['newcomer']);
    const readPackages = storage.keysRead.filter((k) => k.endsWith('.pkg'));
    expect(readPackages).toEqual(['r/new.pkg']);
    expect(storage.keysRead.every((k) => k.endsWith('.pkg') || k.startsWith('r/meta/') || k.startsWith('r/.pkgrepo/'))).toBe(true);
  });

  it('publishes immutable files before the manifest', async () => {
    await storage.put('r/a.pkg', 'alpha 1\n');
    storage.events.length = 0;
    await syncAll(options);
    const data = storage.events.findIndex((e) => /-index\.json$/.test(e));
    const manifest = storage.events.indexOf('put r/meta/index.json');
    expect(data).toBeGreaterThanOrEqual(0);
    expect(manifest).toBeGreaterThan(data);
  });

  it('does nothing when nothing changed', async () => {
    await storage.put('r/a.pkg', 'alpha 1\n');
    await syncAll(options);
    storage.reset();
    const report = await syncAll(options);
    expect(report.units[0].published).toBe(false);
    expect(storage.writes).toBe(0);
  });

  it('rejects a bad package with its reason and indexes the rest of the batch', async () => {
    await storage.put('r/a.pkg', 'alpha 1\n');
    await syncAll(options);
    await storage.put('r/bad.pkg', 'garbage!!');
    await storage.put('r/b.pkg', 'beta 2\n');
    const report = await syncAll(options);
    expect(report.rejected).toEqual([{ key: 'r/bad.pkg', code: 'invalid-package', reason: 'not "name version"' }]);
    expect(await manifestNames(storage)).toEqual(['alpha-1', 'beta-2']);
  });

  it('removes packages that are gone', async () => {
    await storage.put('r/a.pkg', 'alpha 1\n');
    await storage.put('r/b.pkg', 'beta 2\n');
    await syncAll(options);
    await storage.delete('r/a.pkg');
    const report = await syncAll(options);
    expect(report.units[0].removed).toEqual(['r/a.pkg']);
    expect(await manifestNames(storage)).toEqual(['beta-2']);
  });

  it('publishes an empty index when the last package of a unit is removed', async () => {
    await storage.put('r/a.pkg', 'alpha 1\n');
    await syncAll(options);
    await storage.delete('r/a.pkg');
    const report = await syncAll(options);
    expect(report.units.map((u) => [u.unit.root, u.packageCount, u.published])).toEqual([['r/', 0, true]]);
    expect(await manifestNames(storage)).toEqual([]);
  });

  it('applies event batches by looking at the storage: duplicates and stale deletes converge', async () => {
    await storage.put('r/a.pkg', 'alpha 1\n');
    await storage.put('r/b.pkg', 'beta 2\n');
    // a duplicated create, and a delete event for an object that exists again (re-upload)
    await applyChanges(options, { upserted: ['r/a.pkg', 'r/a.pkg', 'r/b.pkg'], deleted: ['r/b.pkg'] });
    expect(await manifestNames(storage)).toEqual(['alpha-1', 'beta-2']);
    storage.reset();
    const again = await applyChanges(options, { upserted: ['r/a.pkg'] });
    expect(again.units[0].published).toBe(false);
    expect(storage.keysRead.filter((k) => k.endsWith('.pkg'))).toEqual([]);
    await storage.delete('r/a.pkg');
    await applyChanges(options, { deleted: ['r/a.pkg'] });
    expect(await manifestNames(storage)).toEqual(['beta-2']);
  });

  it('keeps superseded metadata for the grace period and 3 generations, then collects it', async () => {
    await storage.put('r/a.pkg', 'alpha 1\n');
    await syncAll(options);
    const first = (await list(storage, 'r/meta/')).filter((k) => k.endsWith('-index.json'));
    expect(first).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      clock += 1000;
      await storage.put(`r/n${i}.pkg`, `next${i} 1\n`);
      await syncAll(options);
    }
    // 3 generations later but within 48 h: still there
    expect(await list(storage, 'r/meta/')).toContain(first[0]);
    clock += 49 * HOUR;
    await storage.put('r/late.pkg', 'late 1\n');
    const report = await syncAll(options);
    expect(report.units[0].collected).toContain(first[0]);
    expect(await list(storage, 'r/meta/')).not.toContain(first[0]);
  });

  it('does not collect after the grace period alone when fewer than 3 publishes happened since', async () => {
    await storage.put('r/a.pkg', 'alpha 1\n');
    await syncAll(options);
    const first = (await list(storage, 'r/meta/')).filter((k) => k.endsWith('-index.json'))[0];
    clock += 100 * HOUR;
    await storage.put('r/b.pkg', 'beta 1\n');
    await syncAll(options);
    clock += 100 * HOUR;
    await storage.put('r/c.pkg', 'gamma 1\n');
    const report = await syncAll(options);
    expect(report.units[0].collected).toEqual([]);
    expect(await list(storage, 'r/meta/')).toContain(first);
  });

  it('writes the directory listing from the dates it keeps: an event batch does not list the whole unit', async () => {
    // GIVEN an indexed unit of 30 packages
    for (let i = 0; i < 30; i++) await storage.put(`r/p${i}.pkg`, `pkg${i} 1.${i}\n`);
    await syncAll(options);
    // WHEN one package arrives through an event, with every listing recorded
    await storage.put('r/new.pkg', 'newcomer 9\n');
    const listed: string[] = [];
    const inner = storage.list.bind(storage);
    storage.list = (prefix: string) => {
      listed.push(prefix);
      return inner(prefix);
    };
    await applyChanges(options, { upserted: ['r/new.pkg'] });
    // THEN the unit's own directory was not listed, and the page shows every package with its date
    expect(listed).not.toContain('r/');
    const page = Buffer.from((await storage.get('r/index.html'))!).toString('utf8');
    for (const key of ['p0.pkg', 'p29.pkg', 'new.pkg']) {
      const date = (await storage.head(`r/${key}`))!.lastModified.toISOString().slice(0, 10);
      expect(page).toMatch(new RegExp(`href="${key.replace('.', '\\.')}"[\\s\\S]*?${date}`));
    }
  });
});

async function list(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of storage.list(prefix)) keys.push(info.key);
  return keys;
}
