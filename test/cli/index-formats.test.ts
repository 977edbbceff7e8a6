import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { program, type Io } from '../../src/cli/main';
import { apkFileName, buildApk, readApkIndexArchive } from '../../src/formats/apk';
import { buildDeb, debFileName } from '../../src/formats/deb/build-deb';
import { buildPacmanPackage, pacmanPackageFileName, readDatabase } from '../../src/formats/pacman';

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const saved = process.exitCode;
  process.exitCode = 0;
  await program(io).parseAsync(['node', 'pkgrepo', ...args]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = saved;
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** `pkgrepo index` for the formats beyond yum (their end-to-end tests with the real clients live with each format). */
describe('pkgrepo index --format apt|pacman|apk', () => {
  let work: string;
  let pgpKey: string;
  let rsaKey: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'cli-formats-'));
    expect((await cli(['keygen', '--type', 'pgp', '--name', 'ci', '--algorithm', 'ed25519', '--out', work])).code).toBe(0);
    expect((await cli(['keygen', '--type', 'rsa', '--name', 'builder', '--out', work])).code).toBe(0);
    pgpKey = path.join(work, 'ci.private.asc');
    rsaKey = path.join(work, 'builder.rsa');
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('apt: writes a clearsigned InRelease with the given Origin and Label that gpgv accepts', async () => {
    const tree = path.join(work, 'apt');
    const pool = path.join(tree, 'pool', 'stable', 'main');
    await mkdir(pool, { recursive: true });
    const spec = { name: 'cli-tool', version: '1.0-1', architecture: 'amd64', maintainer: 'CI <ci@example.com>', summary: 'a tool' };
    await writeFile(path.join(pool, debFileName(spec)), await buildDeb(spec));

    const r = await cli(['index', tree, '--format', 'apt', '--key', pgpKey, '--origin', 'Acme', '--label', 'Acme Tools']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const inRelease = await readFile(path.join(tree, 'dists', 'stable', 'InRelease'), 'utf8');
    expect(inRelease).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----/);
    expect(inRelease).toMatch(/^Origin: Acme$/m);
    expect(inRelease).toMatch(/^Label: Acme Tools$/m);
    expect(await readFile(path.join(tree, 'dists', 'stable', 'main', 'binary-amd64', 'Packages'), 'utf8')).toMatch(/^Package: cli-tool$/m);
    const keyring = path.join(work, 'ci.gpg');
    execFileSync('gpg', ['--batch', '--dearmor', '--yes', '-o', keyring, path.join(work, 'ci.public.asc')]);
    execFileSync('gpgv', ['--keyring', keyring, path.join(tree, 'dists', 'stable', 'InRelease')], { stdio: 'pipe' });
  });

  it('pacman: names the repository with --repo and writes the databases, their signatures and the .db links', async () => {
    const tree = path.join(work, 'arch');
    const dir = path.join(tree, 'x86_64');
    await mkdir(dir, { recursive: true });
    const spec = { name: 'cli-tool', version: '1.0', release: '1', arch: 'x86_64', description: 'a tool' };
    await writeFile(path.join(dir, pacmanPackageFileName(spec)), await buildPacmanPackage(spec));

    const r = await cli(['index', tree, '--format', 'pacman', '--key', pgpKey, '--repo', 'tools']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    for (const name of ['tools.db.tar.gz', 'tools.db.tar.gz.sig', 'tools.files.tar.gz', 'tools.files.tar.gz.sig', 'tools.db', 'tools.db.sig', 'tools.files', 'tools.files.sig']) {
      expect(existsSync(path.join(dir, name)), name).toBe(true);
    }
    const db = await readDatabase(await readFile(path.join(dir, 'tools.db.tar.gz')));
    expect(db.map((e) => `${e.name}-${e.version}`)).toEqual(['cli-tool-1.0-1']);
    execFileSync('gpg', ['--batch', '--no-default-keyring', '--keyring', path.join(work, 'ci.gpg'), '--verify', path.join(dir, 'tools.db.tar.gz.sig'), path.join(dir, 'tools.db.tar.gz')], { stdio: 'pipe' });
  });

  it('apk: signs APKINDEX.tar.gz under NAME.rsa.pub by default and under --key-name when given', async () => {
    const tree = path.join(work, 'alpine');
    const dir = path.join(tree, 'v1', 'main', 'x86_64');
    await mkdir(dir, { recursive: true });
    const spec = { name: 'cli-tool', version: '1.0-r0', arch: 'x86_64', description: 'a tool' };
    await writeFile(path.join(dir, apkFileName(spec)), await buildApk(spec));

    const first = await cli(['index', tree, '--format', 'apk', '--key', rsaKey]);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    const index = await readApkIndexArchive(await readFile(path.join(dir, 'APKINDEX.tar.gz')));
    expect(index.signatures.map((s) => s.keyName)).toEqual(['builder.rsa.pub']);
    expect(index.entries.map((e) => e.name)).toEqual(['cli-tool']);
    const signed = path.join(work, 'signed.tar.gz');
    await writeFile(signed, index.signedBytes);
    await writeFile(path.join(work, 'sig'), index.signatures[0].signature!);
    execFileSync('openssl', ['dgst', '-sha1', '-verify', path.join(work, 'builder.rsa.pub'), '-signature', path.join(work, 'sig'), signed], { stdio: 'pipe' });

    // a new key name alone changes nothing in the index: add a package so it is published again
    const next = { name: 'cli-extra', version: '2.0-r0', arch: 'x86_64', description: 'another tool' };
    await writeFile(path.join(dir, apkFileName(next)), await buildApk(next));
    const second = await cli(['index', tree, '--format', 'apk', '--key', rsaKey, '--key-name', 'ops@example.com-5f3a.rsa.pub']);
    expect(second.code).toBe(0);
    const again = await readApkIndexArchive(await readFile(path.join(dir, 'APKINDEX.tar.gz')));
    expect(again.signatures.map((s) => s.keyName)).toEqual(['ops@example.com-5f3a.rsa.pub']);
  });
});
