import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnfSandbox } from '../../../src/cli/clients/dnf';
import { program, type Io } from '../../../src/cli/main';
import { startServer, type RunningServer } from '../../../src/cli/serve';
import { syncAll } from '../../../src/engine/engine';
import { yumFormat } from '../../../src/engine/formats/yum';
import { buildRpm, parseRepomd } from '../../../src/formats/rpm';
import { generatePgpKey, loadPgpSigner } from '../../../src/signing/pgp';
import type { PgpSigner } from '../../../src/signing/signer';
import { LocalStorage } from '../../../src/storage/local';
import { MeteredStorage } from '../../../src/storage/metered';
import { buildRpmFixtures, type RpmFixtures } from '../../support/rpm-fixtures';

/** NEVRA of each package as rpm itself reads it: the independent expectation. */
function rpmNevra(file: string): string {
  return execFileSync('rpm', ['-qp', '--nosignature', '--qf', '%{NAME}-%{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}', file], { encoding: 'utf8' });
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

/** Uncompressed primary/filelists/other of a published repository, by type. */
async function metadataXml(root: string): Promise<Record<string, string>> {
  const repomd = parseRepomd(await readFile(path.join(root, 'repodata/repomd.xml'), 'utf8'));
  const out: Record<string, string> = {};
  for (const r of repomd.records) {
    if (['primary', 'filelists', 'other'].includes(r.type)) {
      out[r.type] = gunzipSync(await readFile(path.join(root, r.href))).toString('utf8');
    }
  }
  return out;
}

const quietIo = (): Io & { outLines: string[]; errLines: string[] } => {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
};

async function runCli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const io = quietIo();
  const saved = process.exitCode;
  process.exitCode = 0;
  await program(io).parseAsync(['node', 'pkgrepo', ...args]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = saved;
  return { code, out: io.outLines, err: io.errLines };
}

describe('yum/dnf repositories, judged by the real dnf', () => {
  let work: string;
  let fixtures: RpmFixtures;
  let keyFile: string;
  let signer: PgpSigner;
  let publicKey: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'yum-e2e-'));
    fixtures = await buildRpmFixtures();
    const key = await generatePgpKey({ name: 'yum e2e test', type: 'rsa' });
    keyFile = path.join(work, 'test.private.asc');
    await writeFile(keyFile, key.privateKeyArmored);
    signer = await loadPgpSigner(key.privateKeyArmored);
    publicKey = key.publicKeyArmored;
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  /** A served copy of `tree` with the public key at /RPM-GPG-KEY-test. */
  async function serve(tree: string): Promise<RunningServer> {
    await writeFile(path.join(tree, 'RPM-GPG-KEY-test'), publicKey);
    return startServer({ root: tree });
  }

  async function withDnf<T>(server: RunningServer, repoPath: string, fn: (dnf: DnfSandbox) => Promise<T>): Promise<T> {
    const dnf = await DnfSandbox.create({ baseUrl: `${server.url}/${repoPath}`, gpgKeyUrl: `${server.url}/RPM-GPG-KEY-test`, gpgcheck: true });
    try {
      return await fn(dnf);
    } finally {
      await dnf.dispose();
    }
  }

  it('pkgrepo index + serve: dnf verifies the signed metadata, lists every package and downloads each one', async () => {
    const tree = path.join(work, 'served');
    const repo = path.join(tree, 'el9', 'x86_64', 'Packages');
    await mkdir(repo, { recursive: true });
    for (const f of fixtures.files) await cp(f, path.join(repo, path.basename(f)));
    expect(fixtures.files.some((f) => path.basename(f).includes('+'))).toBe(true);

    const result = await runCli(['index', tree, '--format', 'yum', '--key', keyFile]);
    expect(result.err).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.out.join('\n')).toContain(`${fixtures.files.length} packages`);

    const server = await serve(tree);
    try {
      await withDnf(server, 'el9/x86_64/', async (dnf) => {
        await dnf.dnf(['makecache']);
        const { stdout } = await dnf.dnf(['-q', 'repoquery', '--qf', '%{name}-%{epoch}:%{version}-%{release}.%{arch}']);
        const listed = stdout.split('\n').filter(Boolean).sort();
        expect(listed).toEqual(fixtures.files.map(rpmNevra).sort());

        const dest = path.join(dnf.dir, 'dl');
        const specs = listed.map((n) => n.replace(/-0:/, '-'));
        await dnf.dnf(['download', '--destdir', dest, ...specs]);
        const downloaded = new Map((await listFiles(dest)).map((f) => [path.basename(f), f]));
        expect(downloaded.size).toBe(fixtures.files.length);
        for (const f of fixtures.files) {
          const got = downloaded.get(path.basename(f));
          expect(got, path.basename(f)).toBeDefined();
          expect(sha256(await readFile(got!))).toBe(sha256(await readFile(f)));
        }
      });
    } finally {
      await server.close();
    }
  });

  it('dnf refuses the repository when repomd.xml does not match its signature', async () => {
    const tree = path.join(work, 'tampered');
    await mkdir(tree, { recursive: true });
    await cp(fixtures.files[0], path.join(tree, path.basename(fixtures.files[0])));
    await runCli(['index', tree, '--format', 'yum', '--key', keyFile]);
    const repomd = path.join(tree, 'repodata', 'repomd.xml');
    await writeFile(repomd, (await readFile(repomd, 'utf8')).replace('<revision>', '<revision>1'));
    const server = await serve(tree);
    try {
      await withDnf(server, '', async (dnf) => {
        await expect(dnf.dnf(['makecache'])).rejects.toMatchObject({ stderr: expect.stringMatching(/GPG signature|signature/i) });
      });
    } finally {
      await server.close();
    }
  });

  it('dnf sees the same packages, dependencies, files and changelogs as in a createrepo_c repository', async () => {
    const ours = path.join(work, 'eq-ours');
    const theirs = path.join(work, 'eq-createrepo');
    for (const dir of [ours, theirs]) {
      await mkdir(dir, { recursive: true });
      for (const f of fixtures.files) await cp(f, path.join(dir, path.basename(f)), { preserveTimestamps: true });
    }
    await runCli(['index', ours, '--format', 'yum', '--key', keyFile]);
    execFileSync('createrepo_c', ['--quiet', '--no-database', theirs]);
    await writeFile(path.join(theirs, 'repodata', 'repomd.xml.asc'), await signer.signDetachedArmored(await readFile(path.join(theirs, 'repodata', 'repomd.xml'))));

    // list-valued tags per package through --qf; the other lists as dnf prints them for the whole set
    const queries: string[][] = [
      ['--qf', '%{name} %{epoch} %{version} %{release} %{arch} %{size} %{downloadsize} %{installsize} %{buildtime} %{sourcerpm} %{license} %{url}\n%{summary}\n%{description}'],
      ['--qf', '%{name}-%{evr}.%{arch}\nprovides: %{provides}\nrequires: %{requires}\nobsoletes: %{obsoletes}\nconflicts: %{conflicts}'],
      ['--provides'], ['--requires'], ['--obsoletes'], ['--recommends'], ['--conflicts'], ['--suggests'],
      ['--list'], ['--changelogs'],
    ];
    const nevras = fixtures.files.map((f) => rpmNevra(f).replace(/-0:/, '-'));
    const answers = async (tree: string) => {
      const server = await serve(tree);
      try {
        return await withDnf(server, '', async (dnf) => {
          await dnf.dnf(['makecache']);
          const out: string[] = [];
          for (const q of queries) {
            const { stdout } = await dnf.dnf(['-q', 'repoquery', ...q, ...nevras]);
            out.push(`${q.join(' ')}\n${stdout}`);
          }
          return out;
        });
      } finally {
        await server.close();
      }
    };
    const [a, b] = [await answers(ours), await answers(theirs)];
    expect(a.length).toBe(queries.length);
    // the answers are substantial, not two empty outputs agreeing
    expect(a[0].split('\n').length).toBeGreaterThan(3 * fixtures.files.length);
    expect(a[2].split('\n').length).toBeGreaterThan(fixtures.files.length);
    expect(a[9]).toMatch(/Changelog for/);
    for (let i = 0; i < a.length; i++) expect(a[i]).toBe(b[i]);
  });

  it('an incremental add to a 200-package repository reads only the new package and the current metadata, and equals a full rebuild', async () => {
    const tree = path.join(work, 'incremental');
    await mkdir(tree, { recursive: true });
    const mtime = new Date('2026-03-01T00:00:00Z');
    const make = async (i: number) => {
      const file = path.join(tree, `bulk-${i}-1.0-1.noarch.rpm`);
      await writeFile(file, buildRpm({
        name: `bulk-${i}`,
        version: '1.0',
        release: '1',
        summary: `bulk package ${i}`,
        buildTime: 1_700_000_000 + i,
        files: [{ path: `/usr/share/bulk-${i}/data.txt`, contents: `package ${i}\n` }, { path: `/usr/bin/bulk-${i}`, contents: '#!/bin/sh\n', mode: 0o755 }],
        requires: i > 0 ? [{ name: `bulk-${i - 1}` }] : [],
      }));
      await utimes(file, mtime, mtime);
      return file;
    };
    for (let i = 0; i < 200; i++) await make(i);
    const storage = new MeteredStorage(new LocalStorage(tree));
    const keys = { pgp: signer };
    await syncAll({ storage, format: yumFormat(), keys });

    const added = await make(200);
    storage.reset();
    const report = await syncAll({ storage, format: yumFormat(), keys });
    expect(report.units[0].added.map((e) => e.name)).toEqual(['bulk-200']);
    expect(report.units[0].packageCount).toBe(201);

    const packagesRead = storage.keysRead.filter((k) => k.endsWith('.rpm'));
    expect(packagesRead).toEqual([path.basename(added)]);
    const metadataRead = storage.keysRead.filter((k) => !k.endsWith('.rpm'));
    expect(metadataRead.every((k) => k.startsWith('repodata/') || k.startsWith('.pkgrepo/'))).toBe(true);
    // bytes read = the new package + the metadata files it read, nothing else
    let expected = (await stat(added)).size;
    for (const k of metadataRead) expected += (await storage.inner.get(k))!.length;
    expect(storage.bytesRead).toBeLessThanOrEqual(expected);
    expect(storage.bytesRead).toBeGreaterThanOrEqual(expected - 4096);

    const full = path.join(work, 'incremental-full');
    await mkdir(full, { recursive: true });
    for (const f of await readdir(tree)) {
      if (f.endsWith('.rpm')) await cp(path.join(tree, f), path.join(full, f), { preserveTimestamps: true });
    }
    await syncAll({ storage: new LocalStorage(full), format: yumFormat(), keys });
    expect(await metadataXml(tree)).toEqual(await metadataXml(full));
  });

  it('adopts a repository made by createrepo_c: keeps every package and reads only the new one', async () => {
    const tree = path.join(work, 'adopt');
    await mkdir(tree, { recursive: true });
    const [first, ...rest] = fixtures.files;
    for (const f of rest) await cp(f, path.join(tree, path.basename(f)));
    execFileSync('createrepo_c', ['--quiet', tree]);
    await cp(first, path.join(tree, path.basename(first)));

    const storage = new MeteredStorage(new LocalStorage(tree));
    const report = await syncAll({ storage, format: yumFormat(), keys: { pgp: signer } });
    expect(storage.keysRead.filter((k) => k.endsWith('.rpm'))).toEqual([path.basename(first)]);
    expect(report.units[0].packageCount).toBe(fixtures.files.length);

    const server = await serve(tree);
    try {
      await withDnf(server, '', async (dnf) => {
        const { stdout } = await dnf.dnf(['-q', 'repoquery', '--qf', '%{name}-%{epoch}:%{version}-%{release}.%{arch}']);
        expect(stdout.split('\n').filter(Boolean).sort()).toEqual(fixtures.files.map(rpmNevra).sort());
      });
    } finally {
      await server.close();
    }
  });

  it('rejects broken packages with their names and reasons, indexes the good ones, and leaves the rest of the index as it was', async () => {
    const tree = path.join(work, 'bad');
    await mkdir(tree, { recursive: true });
    const good = fixtures.files.slice(0, 2);
    await cp(good[0], path.join(tree, path.basename(good[0])));
    await runCli(['index', tree, '--format', 'yum', '--key', keyFile]);
    const before = await metadataXml(tree);

    const real = await readFile(good[1]);
    await writeFile(path.join(tree, 'truncated-1.0-1.noarch.rpm'), real.subarray(0, 300));
    await writeFile(path.join(tree, 'random-1.0-1.noarch.rpm'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    await writeFile(path.join(tree, 'empty-1.0-1.noarch.rpm'), '');
    const absurd = Buffer.from(real);
    // the main header's entry count: after the 96-byte lead and the padded signature header
    const sigEntries = absurd.readUInt32BE(96 + 8);
    const sigData = absurd.readUInt32BE(96 + 12);
    const mainAt = 96 + 16 + sigEntries * 16 + sigData + ((8 - ((sigEntries * 16 + sigData) % 8)) % 8);
    absurd.writeUInt32BE(0x7fffffff, mainAt + 8);
    absurd.writeUInt32BE(0xffffffff, mainAt + 12);
    await writeFile(path.join(tree, 'absurd-1.0-1.noarch.rpm'), absurd);
    await cp(good[1], path.join(tree, path.basename(good[1])));
    await writeFile(path.join(tree, 'cut-at-zero.rpm'), real);
    await truncate(path.join(tree, 'cut-at-zero.rpm'), 0);

    const result = await runCli(['index', tree, '--format', 'yum', '--key', keyFile]);
    expect(result.code).toBe(1);
    const rejected = result.err.map((l) => /^rejected: (.+?): (.+)$/.exec(l)).filter((m) => m !== null).map((m) => path.basename(m![1]));
    expect(rejected.sort()).toEqual(['absurd-1.0-1.noarch.rpm', 'cut-at-zero.rpm', 'empty-1.0-1.noarch.rpm', 'random-1.0-1.noarch.rpm', 'truncated-1.0-1.noarch.rpm']);
    for (const line of result.err) expect(line).toMatch(/^rejected: .+\.rpm: \S.{5,}/);

    const after = await metadataXml(tree);
    // the index is the old one plus the one good package, nothing else
    const full = path.join(work, 'bad-expected');
    await mkdir(full, { recursive: true });
    for (const g of good) await cp(path.join(tree, path.basename(g)), path.join(full, path.basename(g)), { preserveTimestamps: true });
    await syncAll({ storage: new LocalStorage(full), format: yumFormat(), keys: { pgp: signer } });
    expect(after).toEqual(await metadataXml(full));
    expect(after.primary).not.toEqual(before.primary);
  });
});
