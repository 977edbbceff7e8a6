import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncAll } from '../../../src/engine/engine';
import { pacmanFormat, type PacmanFormatOptions } from '../../../src/engine/formats/pacman';
import { buildPacmanPackage, chunkMembers, pacmanPackageFileName, readDatabase } from '../../../src/formats/pacman';
import { generatePgpKey, loadPgpSigner } from '../../../src/signing/pgp';
import type { PgpSigner } from '../../../src/signing/signer';
import { LocalStorage } from '../../../src/storage/local';
import { MeteredStorage } from '../../../src/storage/metered';
import type { Storage } from '../../../src/storage/storage';
import { FIXTURE_EPOCH, bsdtarPackage, pkginfoText, removeTempDirs, requireTools, tempDir } from '../../support/pacman-fixtures';

describe('pacmanFormat layout', () => {
  const format = pacmanFormat();

  it.each([
    ['extra/x86_64/a-1-1-x86_64.pkg.tar.zst', 'extra/x86_64/', 'extra'],
    ['extra/os/x86_64/a-1:2-1-x86_64.pkg.tar.xz', 'extra/os/x86_64/', 'extra'],
    ['custom/a-1-1-any.pkg.tar.gz', 'custom/', 'custom'],
  ])('%s is in repository %s named %s', (key, root, repo) => {
    expect(format.isPackage(key)).toBe(true);
    expect(format.unitOf(key)).toEqual({ id: `pacman:${root}`, root, params: { repo } });
  });

  it('leaves packages at the root out unless the name is configured', () => {
    expect(format.unitOf('a-1-1-any.pkg.tar.zst')).toBeUndefined();
    expect(pacmanFormat({ repoName: 'mine' }).unitOf('a-1-1-any.pkg.tar.zst')).toEqual({ id: 'pacman:', root: '', params: { repo: 'mine' } });
    expect(pacmanFormat({ repoName: 'mine' }).unitOf('extra/os/x86_64/a-1-1-any.pkg.tar.zst')?.params.repo).toBe('mine');
  });

  it('rejects an invalid configured name', () => {
    expect(() => pacmanFormat({ repoName: 'a/b' })).toThrow(/invalid pacman repository name "a\/b"/);
  });

  it('knows signatures and databases are not packages', () => {
    for (const key of ['extra/a-1-1-any.pkg.tar.zst.sig', 'extra/extra.db.tar.gz', 'extra/extra.db', 'extra/x.tar.gz']) {
      expect(format.isPackage(key)).toBe(false);
    }
  });

  it('finds units from their databases and owns what it and repo-add write', () => {
    const unit = format.unitOf('extra/os/x86_64/a-1-1-any.pkg.tar.zst')!;
    expect(format.unitsOfMetadata!('extra/os/x86_64/extra.db.tar.gz')).toEqual(unit);
    expect(format.unitsOfMetadata!('extra/os/x86_64/extra.db.tar.zst')).toEqual(unit);
    expect(format.unitsOfMetadata!('extra/os/x86_64/other.db.tar.gz')).toBeUndefined();
    for (const name of ['extra.db', 'extra.db.sig', 'extra.db.tar.gz', 'extra.db.tar.gz.sig', 'extra.files.tar.zst',
      'extra.db.tar.gz.old', 'extra.db.tar.gz.old.sig', 'extra.files', 'extra.files.sig']) {
      expect(format.isOwnedMetadata(unit, `extra/os/x86_64/${name}`), name).toBe(true);
    }
    for (const name of ['a-1-1-any.pkg.tar.zst', 'a-1-1-any.pkg.tar.zst.sig', 'extra.dbx', 'other.db', 'sub/extra.db']) {
      expect(format.isOwnedMetadata(unit, `extra/os/x86_64/${name}`), name).toBe(false);
    }
  });
});

describe('pacmanFormat with the engine', () => {
  let signer: PgpSigner;
  beforeAll(async () => {
    requireTools('bsdtar', 'zstd');
    signer = await loadPgpSigner((await generatePgpKey({ name: 'pacman unit test', type: 'ed25519' })).privateKeyArmored);
  });
  afterAll(removeTempDirs);

  function crafted(dir: string, name: string, version: string): string {
    return bsdtarPackage(path.join(dir, `${name}-${version}-any.pkg.tar.zst`), {
      '.PKGINFO': pkginfoText([['pkgname', name], ['pkgver', version], ['builddate', String(FIXTURE_EPOCH)], ['size', '2'], ['arch', 'any']]),
      [`usr/share/${name}/${version}`]: 'x',
    });
  }

  const index = (root: string, options: PacmanFormatOptions = {}) =>
    syncAll({ storage: new LocalStorage(root), format: pacmanFormat(options), keys: { pgp: signer } });

  const entriesOf = async (file: string) => (await readDatabase(await readFile(file))).map((e) => `${e.name} ${e.version} ${e.filename}`).sort();

  it('indexes the newest version when one name has several package files', async () => {
    const root = tempDir('pacman-dups');
    const dir = path.join(root, 'repo');
    await mkdir(dir);
    crafted(dir, 'dup', '1.10-1');
    crafted(dir, 'dup', '1.9-1');
    crafted(dir, 'dup', '1:0.1-1');
    crafted(dir, 'other', '2-1');
    const report = await index(root);
    expect(report.rejected).toEqual([]);
    expect(await entriesOf(path.join(dir, 'repo.db.tar.gz'))).toEqual([
      'dup 1:0.1-1 dup-1:0.1-1-any.pkg.tar.zst',
      'other 2-1 other-2-1-any.pkg.tar.zst',
    ]);
    // the older files leave the index as pruned, not added, and a reconcile does not read them again
    expect(report.units[0].pruned.sort()).toEqual(['repo/dup-1.10-1-any.pkg.tar.zst', 'repo/dup-1.9-1-any.pkg.tar.zst']);
    expect(report.units[0].added.map((p) => p.key).sort()).toEqual(['repo/dup-1:0.1-1-any.pkg.tar.zst', 'repo/other-2-1-any.pkg.tar.zst']);
    const metered = new MeteredStorage(new LocalStorage(root));
    const again = await syncAll({ storage: metered, format: pacmanFormat(), keys: { pgp: signer } });
    expect(again.units[0]).toMatchObject({ added: [], pruned: [], published: false });
    expect(metered.keysRead.filter((k) => k.endsWith('.pkg.tar.zst'))).toEqual([]);
  });

  it('writes the link copies only when asked, and signs both databases', async () => {
    for (const localLinks of [false, true]) {
      const root = tempDir('pacman-links');
      const dir = path.join(root, 'core', 'x86_64');
      await mkdir(dir, { recursive: true });
      crafted(dir, 'a', '1-1');
      const report = await index(root, { localLinks });
      const written = report.units[0].published ? (await readdir(dir)).filter((f) => f.startsWith('core.')).sort() : [];
      expect(written).toEqual([
        ...(localLinks ? ['core.db'] : []), ...(localLinks ? ['core.db.sig'] : []), 'core.db.tar.gz', 'core.db.tar.gz.sig',
        ...(localLinks ? ['core.files'] : []), ...(localLinks ? ['core.files.sig'] : []), 'core.files.tar.gz', 'core.files.tar.gz.sig',
      ]);
      if (localLinks) {
        expect(await readFile(path.join(dir, 'core.db'))).toEqual(await readFile(path.join(dir, 'core.db.tar.gz')));
        expect(await readFile(path.join(dir, 'core.files.sig'))).toEqual(await readFile(path.join(dir, 'core.files.tar.gz.sig')));
      }
    }
  });

  it('publishes an empty database when the last package goes, found through the database', async () => {
    const root = tempDir('pacman-empty');
    const dir = path.join(root, 'repo');
    await mkdir(dir);
    const only = crafted(dir, 'a', '1-1');
    await index(root);
    await rm(only);
    const report = await index(root);
    expect(report.units.map((u) => [u.unit.id, u.removed, u.packageCount])).toEqual([['pacman:repo/', ['repo/a-1-1-any.pkg.tar.zst'], 0]]);
    expect(await readDatabase(await readFile(path.join(dir, 'repo.db.tar.gz')))).toEqual([]);
  });

  it('refuses to publish over a database it cannot read', async () => {
    const root = tempDir('pacman-corrupt');
    const dir = path.join(root, 'repo');
    await mkdir(dir);
    crafted(dir, 'a', '1-1');
    await index(root);
    await writeFile(path.join(dir, 'repo.files.tar.gz'), 'not a database');
    await expect(index(root)).rejects.toThrow(/repo\/repo\.files\.tar\.gz is not a readable pacman database .*remove it to rebuild/);
  });

  it('falls back to the package database when there is no files database', async () => {
    const root = tempDir('pacman-dbonly');
    const dir = path.join(root, 'repo');
    await mkdir(dir);
    crafted(dir, 'a', '1-1');
    await index(root);
    await rm(path.join(dir, 'repo.files.tar.gz'));
    const b = crafted(dir, 'b', '1-1');
    const report = await index(root);
    expect(report.units[0].added.map((p) => p.key)).toEqual([path.relative(root, b)]);
    const files = await readDatabase(await readFile(path.join(dir, 'repo.files.tar.gz')));
    expect(files.map((e) => [e.name, e.files])).toEqual([['a', undefined], ['b', ['usr/', 'usr/share/', 'usr/share/b/', 'usr/share/b/1-1']]]);
  });

  it('updates its own databases chunk by chunk, the same bytes as a full rebuild', async () => {
    const now = () => new Date(FIXTURE_EPOCH * 1000);
    const write = async (dir: string, i: number) => {
      const spec = { name: `pkg${String(i).padStart(4, '0')}`, version: '1.0', description: `package ${i}`, files: [{ path: `/usr/share/p${i}/data`, contents: `${i}` }] };
      const file = path.join(dir, pacmanPackageFileName(spec));
      await writeFile(file, await buildPacmanPackage(spec));
      return file;
    };
    const root = tempDir('pacman-chunks');
    const dir = path.join(root, 'repo');
    await mkdir(dir);
    for (let i = 0; i < 400; i++) await write(dir, i);
    const run = (storage: Storage) => syncAll({ storage, format: pacmanFormat(), keys: { pgp: signer }, now });
    await run(new LocalStorage(root));
    const members = async (kind: string) => chunkMembers(await readFile(path.join(dir, `repo.${kind}.tar.gz`)), kind)!.map((m) => Buffer.from(m.bytes));
    const before = { db: await members('db'), files: await members('files') };
    expect(before.db.length).toBeGreaterThan(4);

    const added = await write(dir, 400);
    const storage = new MeteredStorage(new LocalStorage(root));
    const report = await run(storage);
    expect(report.units[0].added.map((p) => p.key)).toEqual([path.relative(root, added)]);
    expect(storage.keysRead.filter((k) => !k.includes('/.pkgrepo/')).sort()).toEqual([path.relative(root, added), 'repo/repo.db.tar.gz', 'repo/repo.files.tar.gz']);
    for (const kind of ['db', 'files'] as const) {
      const after = await members(kind);
      const unchanged = after.filter((m) => before[kind].some((b) => b.equals(m)));
      // the new entry's chunk is compressed again (split in two if it ends a chunk); the others are reused
      expect(after.length - unchanged.length).toBeLessThanOrEqual(2);
      expect(after.length).toBeGreaterThanOrEqual(before[kind].length);
    }

    const full = tempDir('pacman-chunks-full');
    await mkdir(path.join(full, 'repo'));
    for (let i = 0; i <= 400; i++) await write(path.join(full, 'repo'), i);
    await run(new LocalStorage(full));
    for (const name of ['repo.db.tar.gz', 'repo.files.tar.gz']) {
      expect((await readFile(path.join(dir, name))).equals(await readFile(path.join(full, 'repo', name))), name).toBe(true);
    }
  });

  it('lists the packages from the summary of its .db, and from the .db itself when the summary is missing or damaged', async () => {
    const root = tempDir('pacman-summary');
    const dir = path.join(root, 'repo');
    await mkdir(dir);
    for (let i = 0; i < 150; i++) {
      const spec = { name: `pkg${i}`, version: `1.${i}`, release: '2', description: `package ${i}`, files: [{ path: `/usr/share/p${i}/data`, contents: `${i}` }] };
      await writeFile(path.join(dir, pacmanPackageFileName(spec)), await buildPacmanPackage(spec));
    }
    const format = pacmanFormat();
    await syncAll({ storage: new LocalStorage(root), format, keys: { pgp: signer }, now: () => new Date(FIXTURE_EPOCH * 1000) });
    const unit = format.unitOf('repo/x-1-1-any.pkg.tar.gz')!;
    const summaries = (await readdir(path.join(dir, '.pkgrepo'))).filter((n) => n.startsWith('repo.db-summary-'));
    const sha = createHash('sha256').update(await readFile(path.join(dir, 'repo.db.tar.gz'))).digest('hex');
    expect(summaries).toEqual([`repo.db-summary-${sha}.json`]);
    expect(format.isOwnedMetadata(unit, `repo/.pkgrepo/${summaries[0]}`)).toBe(true);

    const load = async () => {
      const storage = new MeteredStorage(new LocalStorage(root));
      const loaded = await format.loadIndex(storage, unit);
      return { entries: [...loaded.entries.values()], keysRead: storage.keysRead };
    };
    const summarized = await load();
    expect(summarized.keysRead).toContain(`repo/.pkgrepo/${summaries[0]}`);
    expect(summarized.entries).toHaveLength(150);
    // what the packages' own desc entries say, as pacman reads them
    const db = await readDatabase(await readFile(path.join(dir, 'repo.db.tar.gz')));
    expect(summarized.entries.map((e) => [e.key, e.name, e.version, e.arch, e.size, e.digest]).sort())
      .toEqual(db.map((e) => [`repo/${e.filename}`, e.name, e.version, e.arch, e.csize, e.sha256sum]).sort());

    await writeFile(path.join(dir, '.pkgrepo', summaries[0]), '{"version":1,"chunks":[[["x"]]]}');
    expect((await load()).entries).toEqual(summarized.entries);
    await rm(path.join(dir, '.pkgrepo', summaries[0]));
    expect((await load()).entries).toEqual(summarized.entries);
  });

  it('reads a .files database that does not go with the .db (another publish) as a whole', async () => {
    const root = tempDir('pacman-mixed');
    const dir = path.join(root, 'repo');
    await mkdir(dir);
    crafted(dir, 'a', '1-1');
    await index(root);
    const oldDb = await readFile(path.join(dir, 'repo.db.tar.gz'));
    crafted(dir, 'b', '1-1');
    await index(root);
    // as if the publish stopped between the two databases: the new .files beside the old .db
    await writeFile(path.join(dir, 'repo.db.tar.gz'), oldDb);
    crafted(dir, 'c', '1-1');
    const report = await index(root);
    expect(report.units[0].added.map((p) => path.basename(p.key))).toEqual(['c-1-1-any.pkg.tar.zst']);
    for (const kind of ['db', 'files']) {
      expect(await entriesOf(path.join(dir, `repo.${kind}.tar.gz`))).toEqual(['a 1-1 a-1-1-any.pkg.tar.zst', 'b 1-1 b-1-1-any.pkg.tar.zst', 'c 1-1 c-1-1-any.pkg.tar.zst']);
    }
  });

  it('needs an OpenPGP key', async () => {
    const root = tempDir('pacman-nokey');
    await mkdir(path.join(root, 'repo'));
    crafted(path.join(root, 'repo'), 'a', '1-1');
    await expect(syncAll({ storage: new LocalStorage(root), format: pacmanFormat(), keys: {} }))
      .rejects.toThrow(/signed with an OpenPGP key, and none was given/);
  });
});
