import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectJournal, objectJournalKey } from '../../src/engine/object-journal';
import { LocalStorage } from '../../src/storage/local';

const unit = { id: 'yum:el9/', root: 'el9/', params: {} };
const info = (key: string, etag: string, iso: string) => ({ key, etag, size: 10, lastModified: new Date(iso) });

describe('ObjectJournal', () => {
  let dir: string;
  let storage: LocalStorage;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'object-journal-'));
    storage = new LocalStorage(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps etags, dates and set-aside objects across a save and a load, one row per indexed key', async () => {
    const journal = await ObjectJournal.load(storage, unit);
    journal.noteIndexed(info('el9/b.rpm', 'e-b', '2030-01-02T00:00:00.000Z'));
    journal.noteIndexed(info('el9/a.rpm', 'e-a', '2030-01-01T00:00:00.000Z'));
    journal.putAside(info('el9/c.rpm', 'e-c', '2030-01-03T00:00:00.000Z'), 'duplicate-version', 'el9/a.rpm');
    await journal.save(storage);

    const stored = JSON.parse(await readFile(path.join(dir, objectJournalKey(unit)), 'utf8'));
    expect(stored.version).toBe(2);
    expect(stored.indexed).toEqual([['el9/a.rpm', 'e-a', '2030-01-01T00:00:00.000Z'], ['el9/b.rpm', 'e-b', '2030-01-02T00:00:00.000Z']]);

    const loaded = await ObjectJournal.load(storage, unit);
    expect(loaded.indexedEtag('el9/a.rpm')).toBe('e-a');
    expect(loaded.modifiedOf('el9/b.rpm')).toBe('2030-01-02T00:00:00.000Z');
    expect(loaded.setAsideOf('el9/c.rpm')).toEqual({ etag: 'e-c', size: 10, reason: 'duplicate-version', conflict: 'el9/a.rpm' });
    expect(loaded.indexedEtag('el9/c.rpm')).toBeUndefined();
  });

  it('reads a journal of the first layout (objects keyed by package), dropping dates of keys not indexed', async () => {
    await mkdir(path.join(dir, 'el9', '.pkgrepo'), { recursive: true });
    await writeFile(path.join(dir, objectJournalKey(unit)), JSON.stringify({
      indexed: { 'el9/a.rpm': 'e-a', 'el9/b.rpm': 'e-b', 'el9/bad.rpm': 7 },
      setAside: { 'el9/c.rpm': { etag: 'e-c', size: 3, reason: 'pruned' }, 'el9/d.rpm': { etag: 1 } },
      modified: { 'el9/a.rpm': '2030-01-01T00:00:00.000Z', 'el9/gone.rpm': '2030-01-01T00:00:00.000Z' },
    }));
    const loaded = await ObjectJournal.load(storage, unit);
    expect(loaded.indexedEtag('el9/a.rpm')).toBe('e-a');
    expect(loaded.indexedEtag('el9/bad.rpm')).toBeUndefined();
    expect(loaded.modifiedOf('el9/a.rpm')).toBe('2030-01-01T00:00:00.000Z');
    expect(loaded.modifiedOf('el9/b.rpm')).toBeUndefined();
    expect(loaded.modifiedOf('el9/gone.rpm')).toBeUndefined();
    expect(loaded.setAsideOf('el9/c.rpm')).toEqual({ etag: 'e-c', size: 3, reason: 'pruned' });
    expect(loaded.setAsideOf('el9/d.rpm')).toBeUndefined();
  });

  it.each(['{', 'null', '[1]', '{"version":2,"indexed":[["a"],[1,2],"x"]}'])('starts over from a damaged journal %s', async (text) => {
    await mkdir(path.join(dir, 'el9', '.pkgrepo'), { recursive: true });
    await writeFile(path.join(dir, objectJournalKey(unit)), text);
    const loaded = await ObjectJournal.load(storage, unit);
    expect(loaded.indexedEtag('a')).toBeUndefined();
    expect(loaded.modifiedOf('a')).toBeUndefined();
  });
});
