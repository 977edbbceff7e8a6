import { verify } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { aptProblems } from '../../src/cli/clients/apt';
import { DnfSandbox } from '../../src/cli/clients/dnf';
import { startServer, type RunningServer } from '../../src/cli/serve';
import { addFileToken, FileTokenStore } from '../../src/edge/file-token-store';
import type { EdgeConfig } from '../../src/edge/router';
import { readApkIndexArchive } from '../../src/formats/apk';
import { aptFromRoot, dnfFromRoot, PacmanRoot } from '../edge/support/client-roots';
import { APK_KEY_NAME, buildRepositoryTree, removePacmanLinks, type RepositoryTree } from '../edge/support/repos';
import { runSetupScript } from '../edge/support/setup-script';

/**
 * Private repositories through `pkgrepo serve --tokens`: the real clients, set up by the
 * served script fetched with a token, succeed; with no token or a wrong one they fail, and
 * the server tells them nothing but 401.
 */
describe('private repositories, through the edge router', () => {
  let work: string;
  let tree: RepositoryTree;
  let server: RunningServer;
  let token: string;
  const requests: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'serve-private-'));
    tree = await buildRepositoryTree(path.join(work, 'repos'));
    await removePacmanLinks(tree);
    const tokens = path.join(work, 'tokens.json');
    token = (await addFileToken(tokens, 'ci')).token;
    await addFileToken(tokens, 'other', { prefixes: ['elsewhere/'] });
    const config: EdgeConfig = {
      repositories: tree.config.repositories.map((r) => ({ ...r, private: true })),
      tokens: { ssmRegion: 'local', ssmParameterPath: '/unused/' },
    };
    server = await startServer({ root: tree.root, router: config, tokens: new FileTokenStore(tokens), onRequest: (m, u, s) => requests.push(`${m} ${u} ${s}`) });
  });
  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  it('answers every path of a private repository, existing or not, with a bare 401 without a valid token', async () => {
    for (const url of ['/yum/el/x86_64/repodata/repomd.xml', '/apt/keys/repository.gpg', '/pacman/setup/setup.sh', '/apk/nothing/here', '/yum/']) {
      for (const headers of [{}, basic('ci', 'wrong'), basic('nobody', token), basic('other', 'x')]) {
        const response = await fetch(`${server.url}${url}`, { headers });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Basic realm="package repository", charset="UTF-8"');
        expect(await response.text()).toBe('');
      }
    }
    expect((await fetch(`${server.url}/yum/el/x86_64/repodata/repomd.xml`, { headers: basic('ci', token) })).status).toBe(200);
  });

  it('dnf: the script fetched with the token sets it up; no token or a wrong one fails', async () => {
    const root = path.join(work, 'dnf-root');
    expect((await runSetupScript(`${server.url}/yum/setup/setup.sh`, root)).status).not.toBe(0);
    expect((await runSetupScript(`${server.url}/yum/setup/setup.sh`, root, { credentials: `ci:${token}` })).status).toBe(0);
    const repoFile = path.join(root, 'etc/yum.repos.d/acme-rpm.repo');
    const good = await readFile(repoFile, 'utf8');
    expect(good).toContain(`username=ci\npassword=${token}\n`);
    const dnf = await dnfFromRoot(root, 'acme-rpm');
    try {
      await dnf.dnf(['makecache']);
      await dnf.dnf(['download', '--destdir', path.join(dnf.dir, 'dl'), 'pkgrepo-c++-tools']);
    } finally {
      await dnf.dispose();
    }
    for (const bad of [good.replace(`password=${token}`, 'password=wrong'), good.replace(/^username=.*\npassword=.*\n/m, '')]) {
      await writeFile(repoFile, bad);
      const denied = await dnfFromRoot(root, 'acme-rpm');
      try {
        await expect(denied.dnf(['makecache'])).rejects.toThrow(/401|Cannot download repomd\.xml|Failed to download metadata/);
      } finally {
        await denied.dispose();
      }
    }
  });

  it('dnf: the standalone .repo file, fetched with the token, works as is (key download included)', async () => {
    const repo = await (await fetch(`${server.url}/yum/setup/acme-rpm.repo`, { headers: basic('ci', token) })).text();
    const dnf = await DnfSandbox.create({ id: 'acme-rpm', baseUrl: 'http://127.0.0.1:9/unused/', gpgKeyUrl: 'http://127.0.0.1:9/unused.asc' });
    try {
      await writeFile(path.join(dnf.dir, 'repos.d', 'acme-rpm.repo'), repo);
      requests.length = 0;
      await dnf.dnf(['makecache']);
      // the server notes a request once the client has it all or hangs up: dnf has exited, the notes follow
      await vi.waitFor(() => expect(requests).toEqual(expect.arrayContaining([
        'GET /yum/keys/RPM-GPG-KEY-acme-rpm 200', 'GET /yum/el/x86_64/repodata/repomd.xml.asc 200',
      ])));
    } finally {
      await dnf.dispose();
    }
  });

  it('apt-get: auth.conf.d from the script opens the repository; a wrong or no password gets 401', async () => {
    const root = path.join(work, 'apt-root');
    expect((await runSetupScript(`${server.url}/apt/setup/setup.sh`, root, { credentials: `ci:${token}` })).status).toBe(0);
    const auth = path.join(root, 'etc/apt/auth.conf.d/acme-deb.conf');
    const good = await readFile(auth, 'utf8');
    const apt = await aptFromRoot(root);
    try {
      const update = await apt.update();
      expect(aptProblems(update)).toEqual([]);
      const download = await apt.run('apt-get', ['download', ...tree.packages.apt], path.join(apt.dir, 'download'));
      expect(download.status).toBe(0);
    } finally {
      await apt.dispose();
    }
    for (const bad of [good.replace(token, 'wrong'), '']) {
      await writeFile(auth, bad);
      const denied = await aptFromRoot(root);
      try {
        const update = await denied.update();
        expect(aptProblems(update).join('\n')).toMatch(/401/);
      } finally {
        await denied.dispose();
      }
    }
  });

  it('pacman: the Server URL from the script carries the token; a wrong or no password fails', async () => {
    const pacman = await PacmanRoot.create(path.join(work, 'pacman-root'));
    try {
      const run = await runSetupScript(`${server.url}/pacman/setup/setup.sh`, pacman.root, { credentials: `ci:${token}`, wrapper: PacmanRoot.asRoot });
      expect(run.status).toBe(0);
      await pacman.pacman(['-Sy']);
      await pacman.pacman(['-Sw', '-dd', 'acme-c++-tools']);
      const good = await readFile(pacman.config, 'utf8');
      const host = server.url.slice('http://'.length);
      for (const bad of [good.replace(`ci:${token}@`, 'ci:wrong@'), good.replace(`ci:${token}@`, '')]) {
        await writeFile(pacman.config, bad);
        await expect(pacman.pacman(['-Syy'])).rejects.toThrow(/401|failed to synchronize/);
        expect(bad).toContain(host);
      }
    } finally {
      await pacman.dispose();
    }
  });

  it('apk: the served repositories line carries the token; the index it reaches verifies with the installed key', async () => {
    const root = path.join(work, 'apk-root');
    expect((await runSetupScript(`${server.url}/apk/setup/setup.sh`, root, { credentials: `ci:${token}` })).status).toBe(0);
    const line = (await readFile(path.join(root, 'etc/apk/repositories'), 'utf8')).trim();
    // what apk does with the line: <line>/<arch>/APKINDEX.tar.gz, basic auth from the URL's user info
    const url = new URL(`${line}/x86_64/APKINDEX.tar.gz`);
    const authorization = basic(decodeURIComponent(url.username), decodeURIComponent(url.password));
    url.username = '';
    url.password = '';
    const response = await fetch(url, { headers: authorization });
    expect(response.status).toBe(200);
    const index = await readApkIndexArchive(new Uint8Array(await response.arrayBuffer()));
    const key = await readFile(path.join(root, 'etc/apk/keys', APK_KEY_NAME), 'utf8');
    const signature = index.signatures.find((s) => s.keyName === APK_KEY_NAME)!;
    expect(verify(signature.type === 'RSA256' ? 'sha256' : 'sha1', index.signedBytes, key, signature.signature!)).toBe(true);
    expect((await fetch(url)).status).toBe(401);
  });
});
