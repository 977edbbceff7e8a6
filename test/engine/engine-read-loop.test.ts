import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { syncAll, StorageReadError } from '../../src/engine/engine';
import { LocalStorage } from '../../src/storage/local';
import { MeteredStorage } from '../../src/storage/metered';
import { toyFormat } from '../support/toy-format';

/** Package reads take a varying time, so they finish out of order; counts the reads in flight. */
class SlowStorage extends MeteredStorage {
  public inFlight = 0;
  public maxInFlight = 0;
  public readonly started: string[] = [];
  public failOn?: string;

  async get(key: string): Promise<Uint8Array | undefined> {
    if (!key.endsWith('.pkg')) return super.get(key);
    this.started.push(key);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const n = Number(/(\d+)\.pkg$/.exec(key)?.[1] ?? 0);
      await new Promise((resolve) => setTimeout(resolve, (n * 7919) % 13));
      if (key === this.failOn) throw new Error('the network is down');
      return await super.get(key);
    } finally {
      this.inFlight--;
    }
  }
}

describe('engine read loop: several packages in flight, results in key order', () => {
  let dir: string;
  let storage: SlowStorage;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'engine-read-loop-'));
    storage = new SlowStorage(new LocalStorage(dir));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('reads concurrently, boundedly, and reports added and rejected packages in key order', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 60; i++) {
      const key = `r/p${String(i).padStart(2, '0')}.pkg`;
      keys.push(key);
      await storage.put(key, i % 7 === 3 ? 'NOT A PACKAGE' : `pkg${i} 1.${i}\n`);
    }
    const lines: string[] = [];
    const report = await syncAll({ storage, format: toyFormat(), keys: {}, log: (l) => lines.push(l) });
    expect(storage.started).toEqual(keys);
    expect(storage.maxInFlight).toBeGreaterThan(1);
    expect(storage.maxInFlight).toBeLessThanOrEqual(16);
    const bad = keys.filter((_k, i) => i % 7 === 3);
    expect(report.units[0].added.map((e) => e.key)).toEqual(keys.filter((k) => !bad.includes(k)));
    expect(report.rejected.map((r) => r.key)).toEqual(bad);
    expect(lines.filter((l) => l.startsWith('rejected: ')).map((l) => l.split(': ')[1])).toEqual(bad);
  });

  it('a storage failure stops the run: no read starts after it, and the reads in flight finish first', async () => {
    for (let i = 0; i < 60; i++) await storage.put(`r/p${String(i).padStart(2, '0')}.pkg`, `pkg${i} 1.${i}\n`);
    storage.failOn = 'r/p20.pkg';
    const failure = syncAll({ storage, format: toyFormat(), keys: {} });
    await expect(failure).rejects.toBeInstanceOf(StorageReadError);
    expect(storage.inFlight).toBe(0);
    expect(storage.started.length).toBeLessThan(60);
    expect(await storage.inner.get('r/meta/index.json')).toBeUndefined(); // nothing published
  });
});
