import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APK_KEY_NAME, buildRepositoryTree, REPOSITORIES, type RepositoryTree } from './support/repos';
import { runSetupScript } from './support/setup-script';
import { startServer, type RunningServer } from '../../src/cli/serve';
import { addFileToken, FileTokenStore } from '../../src/edge/file-token-store';
import type { EdgeRepository } from '../../src/edge/router';
import { requestOrigin, setupFile, setupFileNames } from '../../src/edge/setup';

const origin = 'https://packages.example.com';

describe('setup files', () => {
  it.each([
    ['yum', REPOSITORIES.yum, 'acme-rpm.repo', [
      '[acme-rpm]', 'baseurl=https://packages.example.com/yum/el/$basearch/', 'repo_gpgcheck=1', 'gpgkey=https://packages.example.com/yum/keys/RPM-GPG-KEY-acme-rpm',
    ]],
    ['apt', REPOSITORIES.apt, 'acme-deb.sources', [
      'Types: deb', 'URIs: https://packages.example.com/apt/', 'Suites: stable', 'Components: main', 'Signed-By: /etc/apt/keyrings/acme-deb.gpg',
    ]],
    ['pacman', REPOSITORIES.pacman, 'pacman.conf', [
      '[demo]', 'SigLevel = PackageOptional DatabaseRequired', 'Server = https://packages.example.com/pacman/$repo/$arch',
    ]],
    ['apk', REPOSITORIES.apk, 'repositories', ['https://packages.example.com/apk/v1/main']],
  ])('%s: %s', (_format, repository, file, lines) => {
    const generated = setupFile(file, { origin, repository })!;
    expect(generated.contentType).toBe('text/plain; charset=utf-8');
    for (const line of lines) expect(generated.body.split('\n')).toContain(line);
  });

  it('writes verified credentials where each client takes them', () => {
    const credentials = { user: 'ci', password: 'tok-en_1' };
    const priv = (r: EdgeRepository) => ({ ...r, private: true });
    expect(setupFile('acme-rpm.repo', { origin, repository: priv(REPOSITORIES.yum), credentials })!.body).toContain('username=ci\npassword=tok-en_1\n');
    expect(setupFile('auth.conf', { origin, repository: priv(REPOSITORIES.apt), credentials })!.body).toBe('machine packages.example.com/apt/ login ci password tok-en_1\n');
    // apt sends auth.conf entries without a scheme over https only
    expect(setupFile('auth.conf', { origin: 'http://127.0.0.1:8080', repository: priv(REPOSITORIES.apt), credentials })!.body)
      .toBe('machine http://127.0.0.1:8080/apt/ login ci password tok-en_1\n');
    expect(setupFile('pacman.conf', { origin, repository: priv(REPOSITORIES.pacman), credentials })!.body).toContain('Server = https://ci:tok-en_1@packages.example.com/pacman/$repo/$arch\n');
    expect(setupFile('repositories', { origin, repository: priv(REPOSITORIES.apk), credentials })!.body).toBe('https://ci:tok-en_1@packages.example.com/apk/v1/main\n');
    // no credentials, no auth.conf
    expect(setupFile('auth.conf', { origin, repository: REPOSITORIES.apt })).toBeUndefined();
  });

  it('lists what there is, and nothing else exists', () => {
    expect(setupFileNames(REPOSITORIES.yum)).toEqual(['acme-rpm.repo', 'setup.sh']);
    expect(setupFile('other.repo', { origin, repository: REPOSITORIES.yum })).toBeUndefined();
    const overview = setupFile('', { origin, repository: REPOSITORIES.yum })!.body;
    expect(overview).toContain('curl -fsSL https://packages.example.com/yum/setup/setup.sh | sudo sh');
    expect(overview).toContain('https://packages.example.com/yum/keys/RPM-GPG-KEY-acme-rpm');
  });

  it.each([
    ['packages.example.com', 'https://packages.example.com'],
    ['Packages.Example.com:8443', 'https://packages.example.com:8443'],
    ['127.0.0.1:8080', 'https://127.0.0.1:8080'],
    ['[::1]:8080', 'https://[::1]:8080'],
    ['x;rm -rf /', undefined],
    ['a b', undefined],
    ['evil.com/path', undefined],
    ['$(id)', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('host %j gives origin %j', (host, expected) => {
    expect(requestOrigin('https', host)).toBe(expected);
  });

  it.each(Object.values(REPOSITORIES).flatMap((r) => [[r.format, false, r], [r.format, true, r]] as const))(
    'the %s script (with credentials: %s) is valid POSIX sh and bash',
    (_format, withCredentials, repository) => {
      const script = setupFile('setup.sh', {
        origin, repository: { ...repository, private: withCredentials }, credentials: withCredentials ? { user: 'ci', password: 'p4ss-w_rd' } : undefined,
      })!.body;
      expect(script.startsWith('#!/bin/sh\n')).toBe(true);
      execFileSync('dash', ['-n'], { input: script });
      execFileSync('bash', ['-n'], { input: script });
    },
  );
});

describe('setup scripts, run as users run them (curl | sh), under a test root', () => {
  let work: string;
  let tree: RepositoryTree;
  let server: RunningServer;
  let token: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'setup-'));
    tree = await buildRepositoryTree(path.join(work, 'repos'), undefined, ['yum', 'apt', 'apk']);
    const tokens = path.join(work, 'tokens.json');
    token = (await addFileToken(tokens, 'ci')).token;
    const privateApk = { ...REPOSITORIES.apk, prefix: 'apk/', private: true };
    server = await startServer({
      root: tree.root,
      router: { repositories: [REPOSITORIES.yum, REPOSITORIES.apt, privateApk], tokens: { ssmRegion: 'local', ssmParameterPath: '/unused/' } },
      tokens: new FileTokenStore(tokens),
    });
  });
  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('apt: installs the key and the source, says so, and changes nothing the second time', async () => {
    const root = path.join(work, 'apt-root');
    const first = await runSetupScript(`${server.url}/apt/setup/setup.sh`, root);
    expect(first).toMatchObject({ status: 0, stderr: '' });
    expect(first.stdout).toContain(`pkgrepo setup: wrote ${root}/etc/apt/keyrings/acme-deb.gpg`);
    expect(first.stdout).toContain(`pkgrepo setup: wrote ${root}/etc/apt/sources.list.d/acme-deb.sources`);
    expect(Buffer.from(await readFile(path.join(root, 'etc/apt/keyrings/acme-deb.gpg'))).equals(Buffer.from(tree.keys.pgp.publicKeyBinary))).toBe(true);
    expect(await readFile(path.join(root, 'etc/apt/sources.list.d/acme-deb.sources'), 'utf8')).toBe([
      'Types: deb', `URIs: ${server.url}/apt/`, 'Suites: stable', 'Components: main', `Signed-By: ${root}/etc/apt/keyrings/acme-deb.gpg`, '',
    ].join('\n'));
    const second = await runSetupScript(`${server.url}/apt/setup/setup.sh`, root);
    expect(second.status).toBe(0);
    expect(second.stdout).not.toContain('wrote');
    expect(second.stdout.match(/unchanged/g)).toHaveLength(2);
  });

  it('yum: installs the key (through its RPM-GPG-KEY alias) and a .repo that points at it', async () => {
    const root = path.join(work, 'yum-root');
    const run = await runSetupScript(`${server.url}/yum/setup/setup.sh`, root);
    expect(run).toMatchObject({ status: 0, stderr: '' });
    expect(await readFile(path.join(root, 'etc/pki/rpm-gpg/RPM-GPG-KEY-acme-rpm'), 'utf8')).toBe(tree.keys.pgp.publicKeyArmored);
    const repo = await readFile(path.join(root, 'etc/yum.repos.d/acme-rpm.repo'), 'utf8');
    // dnf's variables reach the file unexpanded
    expect(repo).toContain(`baseurl=${server.url}/yum/el/$basearch/\n`);
    expect(repo).toContain(`gpgkey=file://${root}/etc/pki/rpm-gpg/RPM-GPG-KEY-acme-rpm\n`);
  });

  it('apk (private): installs the key under its exact name and replaces only its own repositories line', async () => {
    const root = path.join(work, 'apk-root');
    await mkdir(path.join(root, 'etc/apk'), { recursive: true });
    const repositories = path.join(root, 'etc/apk/repositories');
    const line = (user: string) => `http://${user}@${server.url.slice('http://'.length)}/apk/v1/main`;
    await writeFile(repositories, ['https://dl-cdn.alpinelinux.org/alpine/v3.20/main', line('old:stale-token'), ''].join('\n'));
    // without the token: 401, nothing written
    expect((await runSetupScript(`${server.url}/apk/setup/setup.sh`, root)).status).not.toBe(0);
    const run = await runSetupScript(`${server.url}/apk/setup/setup.sh`, root, { credentials: `ci:${token}` });
    expect(run).toMatchObject({ status: 0, stderr: '' });
    expect(await readFile(path.join(root, 'etc/apk/keys', APK_KEY_NAME), 'utf8')).toBe(tree.keys.rsa.publicKeyPem);
    expect(await readFile(repositories, 'utf8')).toBe(['https://dl-cdn.alpinelinux.org/alpine/v3.20/main', line(`ci:${token}`), ''].join('\n'));
    expect(run.stdout).toContain('the read token is in /etc/apk/repositories');
    const again = await runSetupScript(`${server.url}/apk/setup/setup.sh`, root, { credentials: `ci:${token}` });
    expect(again.stdout).not.toContain('wrote');
  });

  it('writes files holding a token readable by root only', async () => {
    const root = path.join(work, 'apt-private-root');
    const tokens = path.join(work, 'tokens-apt.json');
    const secret = (await addFileToken(tokens, 'ci')).token;
    const privateServer = await startServer({
      root: tree.root,
      router: { repositories: [{ ...REPOSITORIES.apt, private: true }], tokens: { ssmRegion: 'local', ssmParameterPath: '/unused/' } },
      tokens: new FileTokenStore(tokens),
    });
    try {
      const run = await runSetupScript(`${privateServer.url}/apt/setup/setup.sh`, root, { credentials: `ci:${secret}` });
      expect(run.status).toBe(0);
      const auth = path.join(root, 'etc/apt/auth.conf.d/acme-deb.conf');
      expect(await readFile(auth, 'utf8')).toBe(`machine ${privateServer.url}/apt/ login ci password ${secret}\n`);
      expect((await stat(auth)).mode & 0o777).toBe(0o600);
    } finally {
      await privateServer.close();
    }
  });
});
