import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../../src/cli/serve';
import { syncAll, type Report } from '../../../src/engine/engine';
import { pacmanFormat, type PacmanFormatOptions } from '../../../src/engine/formats/pacman';
import { generatePgpKey, loadPgpSigner, type GeneratedPgpKey } from '../../../src/signing/pgp';
import type { PgpSigner } from '../../../src/signing/signer';
import { LocalStorage } from '../../../src/storage/local';
import { MeteredStorage } from '../../../src/storage/metered';
import type { Storage } from '../../../src/storage/storage';
import { PacmanSandbox } from '../../support/pacman-client';
import {
  bsdtarExtract, bsdtarPackage, FIXTURE_EPOCH, makepkg, pkginfoText, removeTempDirs, requireTools, runTool, tempDir,
} from '../../support/pacman-fixtures';

const REPO_DIR = 'extra/os/x86_64';
const NOW = new Date('2026-01-01T00:00:00Z');

/** Keys read, without the engine's own bookkeeping (the garbage collection journal). */
function packageAndIndexReads(storage: MeteredStorage): string[] {
  return storage.keysRead.filter((k) => !k.includes('/.pkgrepo/')).sort();
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** name, version and arch from a package file name (`name-[epoch:]ver-rel-arch.pkg.tar.*`): the independent expectation. */
function nameOf(file: string): { name: string; version: string; arch: string } {
  const parts = path.basename(file).replace(/\.pkg\.tar(\.\w+)?$/, '').split('-');
  const arch = parts.pop()!;
  const rel = parts.pop()!;
  const ver = parts.pop()!;
  return { name: parts.join('-'), version: `${ver}-${rel}`, arch };
}

/** What `pacman -Sl extra` prints for these package files. */
function listing(files: readonly string[]): string[] {
  return files.map((f) => `extra ${nameOf(f).name} ${nameOf(f).version}`).sort();
}

/** Every regular file of an extracted database archive: relative path -> text. */
async function databaseFiles(archive: string): Promise<Map<string, string>> {
  const root = bsdtarExtract(archive);
  const out = new Map<string, string>();
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const full = path.join(entry.parentPath, entry.name);
      out.set(path.relative(root, full), await readFile(full, 'utf8'));
    }
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

const GOOD_PKGINFO: [string, string][] = [
  ['pkgname', 'crafted'], ['pkgbase', 'crafted'], ['pkgver', '1.0-1'], ['pkgdesc', 'crafted package'],
  ['builddate', String(FIXTURE_EPOCH)], ['packager', 'Test'], ['size', '3'], ['arch', 'x86_64'],
];

describe('pacman repositories, judged by the real pacman', () => {
  let key: GeneratedPgpKey;
  let signer: PgpSigner;
  /** hello-epoch (zst), plain (xz), split-lib and split-tools (gz). */
  let packages: string[];

  beforeAll(async () => {
    requireTools('makepkg', 'fakeroot', 'bsdtar', 'pacman', 'pacman-key', 'repo-add', 'gpg', 'gpgconf', 'zstd', 'xz', 'gzip');
    packages = [
      ...makepkg('full', '.pkg.tar.zst'),
      ...makepkg('plain', '.pkg.tar.xz'),
      ...makepkg('split', '.pkg.tar.gz'),
    ];
    key = await generatePgpKey({ name: 'pacman e2e test', email: 'pacman-e2e@example.org', type: 'ed25519' });
    signer = await loadPgpSigner(key.privateKeyArmored);
  });
  afterAll(removeTempDirs);

  /** A tree with the packages in extra/os/x86_64/, each with a binary detached signature by our key unless told not to. */
  async function tree(files: readonly string[], options: { signPackages?: boolean } = {}): Promise<string> {
    const root = tempDir('pacman-tree');
    await mkdir(path.join(root, REPO_DIR), { recursive: true });
    for (const file of files) await addPackage(root, file, options.signPackages ?? true);
    return root;
  }

  async function addPackage(root: string, file: string, sign = true): Promise<string> {
    const target = path.join(root, REPO_DIR, path.basename(file));
    await copyFile(file, target);
    if (sign) await writeFile(`${target}.sig`, await signer.signDetachedBinary(await readFile(file)));
    return target;
  }

  function index(root: string, options: PacmanFormatOptions = {}, storage: Storage = new LocalStorage(root)): Promise<Report> {
    return syncAll({ storage, format: pacmanFormat({ localLinks: true, ...options }), keys: { pgp: signer }, now: () => NOW });
  }

  async function withPacman<T>(root: string, fn: (pacman: PacmanSandbox) => Promise<T>): Promise<T> {
    const server: RunningServer = await startServer({ root });
    const sandbox = await PacmanSandbox.create({
      repo: 'extra',
      serverUrl: `${server.url}/extra/os/$arch`,
      publicKeyArmored: key.publicKeyArmored,
      fingerprint: key.fingerprint,
    });
    try {
      return await fn(sandbox);
    } finally {
      await sandbox.dispose();
      await server.close();
    }
  }

  async function listed(pacman: PacmanSandbox): Promise<string[]> {
    return (await pacman.pacman(['-Sl', 'extra'])).stdout.split('\n').filter(Boolean).sort();
  }

  it('pacman -Sy verifies the db signature, -Sl lists every package, -Sw downloads and verifies each, -Fl lists files', async () => {
    const root = await tree(packages);
    const report = await index(root);
    expect(report.rejected).toEqual([]);
    expect(report.units.map((u) => [u.unit.id, u.unit.params.repo, u.packageCount])).toEqual([[`pacman:${REPO_DIR}/`, 'extra', 4]]);

    const dir = path.join(root, REPO_DIR);
    for (const kind of ['db', 'files']) {
      expect(await readFile(path.join(dir, `extra.${kind}`))).toEqual(await readFile(path.join(dir, `extra.${kind}.tar.gz`)));
      expect(await readFile(path.join(dir, `extra.${kind}.sig`))).toEqual(await readFile(path.join(dir, `extra.${kind}.tar.gz.sig`)));
    }

    await withPacman(root, async (pacman) => {
      await pacman.pacman(['-Sy']);
      expect(await listed(pacman)).toEqual(listing(packages));

      // -dd: the fixtures depend on packages this repository does not have
      await pacman.pacman(['-Sw', '-dd', ...packages.map((f) => nameOf(f).name)]);
      for (const file of packages) {
        const cached = await readFile(path.join(pacman.cacheDir, path.basename(file)));
        expect(sha256(cached), path.basename(file)).toBe(sha256(await readFile(file)));
      }

      await pacman.pacman(['-Fy']);
      const files = (await pacman.pacman(['-Fl', 'hello-epoch'])).stdout.split('\n').filter(Boolean).sort();
      const members = runTool('bsdtar', ['-tf', packages[0]], { env: { ...process.env, LC_ALL: 'C.UTF-8' } }).toString()
        .split('\n').filter((m) => m !== '' && !m.startsWith('.')).map((m) => `hello-epoch ${m}`).sort();
      expect(files).toEqual(members);
    });
  });

  it('pacman refuses a tampered db, a db without signature and a db signed by an unknown key', async () => {
    const root = await tree(packages.slice(0, 2));
    await index(root);
    const dir = path.join(root, REPO_DIR);
    const db = path.join(dir, 'extra.db');
    const original = await readFile(db);
    await withPacman(root, async (pacman) => {
      await pacman.pacman(['-Sy']);

      const other = await tree(packages.slice(2));
      await index(other);
      await copyFile(path.join(other, REPO_DIR, 'extra.db'), db);
      await expect(pacman.pacman(['-Syy'])).rejects.toMatchObject({ stderr: expect.stringContaining('extra: signature from "pacman e2e test <pacman-e2e@example.org>" is invalid') });

      await writeFile(db, original);
      await rm(`${db}.sig`);
      await expect(pacman.pacman(['-Syy'])).rejects.toMatchObject({ stderr: expect.stringContaining("failed retrieving file 'extra.db.sig'") });

      const strangerKey = await generatePgpKey({ name: 'stranger', type: 'ed25519' });
      const stranger = await loadPgpSigner(strangerKey.privateKeyArmored);
      await writeFile(`${db}.sig`, await stranger.signDetachedBinary(original));
      // the lookup fails: the sandbox keyring has no network
      await expect(pacman.pacman(['-Syy'])).rejects.toMatchObject({ stderr: expect.stringContaining(`extra: key "${strangerKey.fingerprint}" is unknown`) });
    });
  });

  it('with SigLevel Required, a package needs a valid signature: its .sig, or PGPSIG in the signed db when opted in', async () => {
    const [hello, plain] = packages;
    const root = await tree([hello]);
    await addPackage(root, plain, false);
    await index(root);
    await withPacman(root, async (pacman) => {
      await pacman.pacman(['-Sy']);
      await pacman.pacman(['-Sw', '-dd', 'hello-epoch']);
      // pacman 6 fetches `<package>.sig` when the db has no PGPSIG: a missing one is fatal
      await expect(pacman.pacman(['-Sw', '-dd', 'plain'])).rejects.toMatchObject({ stderr: expect.stringMatching(/failed retrieving file 'plain-0\.1-3-any\.pkg\.tar\.xz\.sig'/) });
      const sig = path.join(root, REPO_DIR, `${path.basename(hello)}.sig`);
      await writeFile(sig, await signer.signDetachedBinary(Buffer.from('something else')));
      await rm(path.join(pacman.cacheDir, path.basename(hello)));
      await rm(path.join(pacman.cacheDir, `${path.basename(hello)}.sig`), { force: true });
      await expect(pacman.pacman(['-Sw', '-dd', 'hello-epoch'])).rejects.toMatchObject({ stderr: expect.stringContaining('hello-epoch: signature from "pacman e2e test <pacman-e2e@example.org>" is invalid') });
    });

    // opted in: the signatures travel in the signed db (PGPSIG), and pacman checks those; it
    // still fetches `<package>.sig`, so the files must stay, but their content no longer matters
    const embedded = await tree(packages);
    await index(embedded, { includePackageSignatures: true });
    const descs = await databaseFiles(path.join(embedded, REPO_DIR, 'extra.db.tar.gz'));
    for (const file of packages) {
      const { name, version } = nameOf(file);
      const sig = path.join(embedded, REPO_DIR, `${path.basename(file)}.sig`);
      expect(descs.get(`${name}-${version}/desc`)).toContain(`%PGPSIG%\n${(await readFile(sig)).toString('base64')}\n`);
      await writeFile(sig, await signer.signDetachedBinary(Buffer.from('something else')));
    }
    await withPacman(embedded, async (pacman) => {
      await pacman.pacman(['-Sy']);
      await pacman.pacman(['-Sw', '-dd', ...packages.map((f) => nameOf(f).name)]);
    });
  });

  it('incremental: adding packages reads only them and equals a full rebuild; removing one drops it', async () => {
    const root = await tree(packages.slice(0, 2));
    await index(root);
    const storage = new MeteredStorage(new LocalStorage(root));
    const added = await Promise.all(packages.slice(2).map((f) => addPackage(root, f)));
    const report = await index(root, {}, storage);
    expect(report.units[0].added.map((p) => p.key).sort()).toEqual(added.map((f) => path.relative(root, f)).sort());
    // both databases (our own: the .db lists the entries, unchanged chunks of both are reused), and the new packages
    expect(packageAndIndexReads(storage)).toEqual([`${REPO_DIR}/extra.db.tar.gz`, `${REPO_DIR}/extra.files.tar.gz`, ...added.map((f) => path.relative(root, f))].sort());

    const full = await tree(packages);
    await index(full);
    for (const name of ['extra.db.tar.gz', 'extra.files.tar.gz']) {
      expect(await databaseFiles(path.join(root, REPO_DIR, name))).toEqual(await databaseFiles(path.join(full, REPO_DIR, name)));
      expect(await readFile(path.join(root, REPO_DIR, name))).toEqual(await readFile(path.join(full, REPO_DIR, name)));
    }

    const plain = path.join(root, REPO_DIR, path.basename(packages[1]));
    await rm(plain);
    const removal = await index(root);
    expect(removal.units[0].removed).toEqual([path.relative(root, plain)]);
    expect([...(await databaseFiles(path.join(root, REPO_DIR, 'extra.db.tar.gz'))).keys()].some((k) => k.startsWith('plain-'))).toBe(false);
    await withPacman(root, async (pacman) => {
      await pacman.pacman(['-Sy']);
      expect(await listed(pacman)).toEqual(listing(packages.filter((_, i) => i !== 1)));

      // the last package gone: an empty, signed database
      for (const file of packages) await rm(path.join(root, REPO_DIR, path.basename(file)), { force: true });
      expect((await index(root)).units[0].packageCount).toBe(0);
      await pacman.pacman(['-Syy']);
      expect(await listed(pacman)).toEqual([]);
    });
  });

  it('adopts a repository made by repo-add: keeps its entries without reading their packages', async () => {
    const root = await tree(packages.slice(0, 3), { signPackages: true });
    const dir = path.join(root, REPO_DIR);
    runTool('repo-add', ['-q', '--nocolor', 'extra.db.tar.gz', ...packages.slice(0, 3).map((f) => path.basename(f))], { cwd: dir });
    const theirs = await databaseFiles(path.join(dir, 'extra.files.tar.gz'));
    const newcomer = await addPackage(root, packages[3]);
    const storage = new MeteredStorage(new LocalStorage(root));
    const report = await index(root, {}, storage);
    expect(report.rejected).toEqual([]);
    expect(packageAndIndexReads(storage)).toEqual([`${REPO_DIR}/extra.files.tar.gz`, path.relative(root, newcomer)].sort());
    const ours = await databaseFiles(path.join(dir, 'extra.files.tar.gz'));
    for (const [name, text] of theirs) expect(ours.get(name), name).toBe(text);
    await withPacman(root, async (pacman) => {
      await pacman.pacman(['-Sy']);
      expect(await listed(pacman)).toEqual(listing(packages));
    });
  });

  it('rejects bad packages with a reason and indexes the good ones', async () => {
    const root = await tree(packages.slice(0, 2));
    const dir = path.join(root, REPO_DIR);
    const bad = (name: string, members: Parameters<typeof bsdtarPackage>[1]) => bsdtarPackage(path.join(dir, name), members);
    const truncated = path.join(dir, 'cut-1.0-1-x86_64.pkg.tar.zst');
    const whole = await readFile(packages[0]);
    await writeFile(truncated, whole.subarray(0, whole.length / 2));
    bad('nopkginfo-1.0-1-x86_64.pkg.tar.zst', { 'usr/bin/x': 'x' });
    bad('newline-1.0-1-x86_64.pkg.tar.gz', { '.PKGINFO': pkginfoText(GOOD_PKGINFO.map(([k, v]) => [k, k === 'pkgdesc' ? 'one\n%DEPENDS%\nevil' : v])) });
    bad('slash-1.0-1-x86_64.pkg.tar.xz', { '.PKGINFO': pkginfoText(GOOD_PKGINFO.map(([k, v]) => [k, k === 'pkgname' ? 'a/b' : v])) });
    bad('bomb-1.0-1-x86_64.pkg.tar.zst', { '.PKGINFO': pkginfoText(GOOD_PKGINFO), 'usr/share/zeros': { zeros: 64 * 1024 * 1024 } });
    await writeFile(path.join(dir, 'old-1.0-1-x86_64.pkg.tar.bz2'), 'BZh9');

    const options = { packageLimits: { maxUncompressedBytes: 16 * 1024 * 1024 } };
    const report = await index(root, options);
    const reasons = Object.fromEntries(report.rejected.map((r) => [path.basename(r.key), r.reason]));
    expect(Object.keys(reasons).sort()).toEqual([
      'bomb-1.0-1-x86_64.pkg.tar.zst', 'cut-1.0-1-x86_64.pkg.tar.zst', 'newline-1.0-1-x86_64.pkg.tar.gz',
      'nopkginfo-1.0-1-x86_64.pkg.tar.zst', 'old-1.0-1-x86_64.pkg.tar.bz2', 'slash-1.0-1-x86_64.pkg.tar.xz',
    ]);
    expect(reasons['bomb-1.0-1-x86_64.pkg.tar.zst']).toMatch(/expands beyond the limit of 16777216 bytes/);
    expect(reasons['cut-1.0-1-x86_64.pkg.tar.zst']).toMatch(/corrupt zstd data|truncated/);
    expect(reasons['newline-1.0-1-x86_64.pkg.tar.gz']).toMatch(/is not "key = value": "%DEPENDS%"/);
    expect(reasons['nopkginfo-1.0-1-x86_64.pkg.tar.zst']).toMatch(/no \.PKGINFO/);
    expect(reasons['old-1.0-1-x86_64.pkg.tar.bz2']).toMatch(/unsupported package compression \.bz2/);
    expect(reasons['slash-1.0-1-x86_64.pkg.tar.xz']).toMatch(/invalid pkgname "a\/b"/);
    expect(report.units[0].packageCount).toBe(2);

    const before = await readFile(path.join(dir, 'extra.db.tar.gz'));
    const again = await index(root, options);
    expect(again.units[0].published).toBe(false);
    expect(again.rejected).toHaveLength(6);
    expect(await readFile(path.join(dir, 'extra.db.tar.gz'))).toEqual(before);
    await withPacman(root, async (pacman) => {
      await pacman.pacman(['-Sy']);
      expect(await listed(pacman)).toEqual(listing(packages.slice(0, 2)));
    });
  });
});
