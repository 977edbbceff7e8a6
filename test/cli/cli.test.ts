import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRpm } from '../../src/formats/rpm';
import { cli } from '../support/cli';

describe('pkgrepo CLI', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'cli-'));
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it.each([[[]], [['keygen']], [['index']], [['serve']], [['demo']]])('explains itself: %j --help', async (sub) => {
    const r = await cli([...sub, '--help']);
    expect(r.out).toMatch(/Usage: pkgrepo/);
    expect(r.out.length).toBeGreaterThan(200);
    if (sub.length === 0) for (const c of ['keygen', 'index', 'serve', 'demo']) expect(r.out).toContain(c);
  });

  it('keygen writes an armored OpenPGP pair that gpg reads as RSA 4096 with a SHA-256+ self-signature', async () => {
    const out = path.join(work, 'keys');
    const r = await cli(['keygen', '--type', 'pgp', '--name', 'acme', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(path.join(out, 'acme.private.asc'));
    expect(r.out).toContain(path.join(out, 'acme.public.asc'));
    expect(((await stat(path.join(out, 'acme.private.asc'))).mode % 0o1000).toString(8)).toBe('600');
    const packets = execFileSync('gpg', ['--list-packets'], { input: await readFile(path.join(out, 'acme.public.asc')), encoding: 'utf8' });
    expect(packets).toMatch(/pkey\[0\]: \[4096 bits\]/);
    const digests = [...packets.matchAll(/digest algo (\d+)/g)].map((m) => Number(m[1]));
    expect(digests.length).toBeGreaterThan(0);
    for (const d of digests) expect([8, 9, 10]).toContain(d);
  });

  it('keygen --type rsa writes NAME.rsa and NAME.rsa.pub that openssl reads', async () => {
    const out = path.join(work, 'rsa');
    const r = await cli(['keygen', '--type', 'rsa', '--name', 'builder', '--out', out]);
    expect(r.code).toBe(0);
    const text = execFileSync('openssl', ['pkey', '-pubin', '-in', path.join(out, 'builder.rsa.pub'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toMatch(/4096 bit/);
  });

  it('index signs with a passphrase-protected key exported by gpg, taking the passphrase from PKGREPO_KEY_PASSPHRASE', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'gnupg-'));
    const gpg = (args: string[]) => execFileSync('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    gpg(['--passphrase', 's3cret', '--quick-gen-key', 'Protected <p@example.com>', 'rsa3072', 'sign', 'never']);
    const keyFile = path.join(work, 'protected.asc');
    await writeFile(keyFile, gpg(['--passphrase', 's3cret', '--export-secret-keys', '--armor']));
    const repo = path.join(work, 'protected-repo');
    await mkdir(repo, { recursive: true });
    await writeFile(path.join(repo, 'one-1-1.noarch.rpm'), buildRpm({ name: 'one', version: '1', release: '1', summary: 'one' }));

    const without = await cli(['index', repo, '--format', 'yum', '--key', keyFile], { PKGREPO_KEY_PASSPHRASE: undefined });
    expect(without.thrown ?? without.code).toBeTruthy();
    const ok = await cli(['index', repo, '--format', 'yum', '--key', keyFile], { PKGREPO_KEY_PASSPHRASE: 's3cret' });
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    gpg(['--verify', path.join(repo, 'repodata/repomd.xml.asc'), path.join(repo, 'repodata/repomd.xml')]);
    await rm(home, { recursive: true, force: true });
  });

  it('index exits non-zero and names each rejected package on stderr', async () => {
    const repo = path.join(work, 'rejects');
    await mkdir(repo, { recursive: true });
    await writeFile(path.join(repo, 'good-1-1.noarch.rpm'), buildRpm({ name: 'good', version: '1', release: '1', summary: 'good' }));
    await writeFile(path.join(repo, 'bad-1-1.noarch.rpm'), 'this is not an rpm');
    await cp(path.join(work, 'keys', 'acme.private.asc'), path.join(work, 'k.asc'));
    const r = await cli(['index', repo, '--format', 'yum', '--key', path.join(work, 'k.asc')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^rejected: ${path.join(repo, 'bad-1-1.noarch.rpm').replace(/[.+]/g, '\\$&')}: \\S`));
    expect(r.out).toMatch(/1 packages \(1 added, 0 removed, 1 rejected\)/);
  });

  it('demo --check runs all four formats through the local pipeline, and the real clients accept them', async () => {
    // through the command, which loads the demo (and the S3 SDK) only when it runs
    const r = await cli(['demo', '--check', '--dir', path.join(work, 'demo'), '--port', '0']);
    expect(r.thrown).toBeUndefined();
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const out = r.out;
    // uploaded through the S3 API, indexed by the indexer from the queue, served by the edge server
    expect(out).toMatch(/bucket: s3:\/\/pkgrepo-demo on s3rver at http:\/\/127\.0\.0\.1:\d+/);
    for (const [format, unit, count] of [['yum', 'yum:el/x86_64/', 4], ['apt', 'apt:stable', 3], ['pacman', 'pacman:demo/x86_64/', 3], ['apk', 'apk:v1/main/x86_64', 2]]) {
      expect(out).toContain(`${format}: uploaded ${count} packages to s3://pkgrepo-demo/${format}/`);
      expect(out).toContain(`indexer ${format}: ${unit} published, ${count} packages`);
    }
    expect(out).toMatch(/check yum: dnf verified repomd\.xml\.asc .* 4 packages/);
    expect(out).toMatch(/check apt: apt-get verified InRelease .* 3 packages/);
    expect(out).toMatch(/check pacman: pacman verified demo\.db\.sig .* 3 packages/);
    expect(out).toMatch(/check apk: APKINDEX signature verified \(RSA, pkgrepo-demo\.rsa\.pub\), 2 packages fetched, every C: recomputed/);
    expect(out).toMatch(/demo check: PASS/);
    expect(out).toMatch(/baseurl=http:\/\/127\.0\.0\.1:\d+\/yum\/el\/x86_64\//);
    expect(out).toMatch(/gpgkey=http:\/\/127\.0\.0\.1:\d+\/yum\/keys\/repository\.asc/);
  });
});
