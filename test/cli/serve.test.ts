import { access, copyFile, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { aptProblems } from '../../src/cli/clients/apt';
import { PacmanSandbox } from '../../src/cli/clients/pacman';
import { detectEdgeConfig, startServer, type RunningServer } from '../../src/cli/serve';
import { createFormat } from '../../src/engine/formats';
import { writeDirectoryListing } from '../../src/engine/listing';
import { LocalStorage } from '../../src/storage/local';
import { aptFromRoot, dnfFromRoot, PacmanRoot } from '../edge/support/client-roots';
import { buildRepositoryTree, removePacmanLinks, REPOSITORIES, type RepositoryTree } from '../edge/support/repos';
import { runSetupScript } from '../edge/support/setup-script';

/**
 * `pkgrepo serve` with the router, against the real clients, signatures required: the tree
 * is laid out as on S3, the clients are configured only from what the server generates.
 */
describe('pkgrepo serve, through the edge router', () => {
  let work: string;
  let tree: RepositoryTree;
  let server: RunningServer;
  const requests: string[] = [];

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'serve-'));
    tree = await buildRepositoryTree(path.join(work, 'repos'));
    // what S3 has: no links (pkgrepo index writes them; the router must not need them)
    const links = await removePacmanLinks(tree);
    for (const link of links) await expect(access(link)).rejects.toThrow();
    server = await startServer({ root: tree.root, router: tree.config, onRequest: (method, url, status) => requests.push(`${method} ${url} ${status}`) });
  });
  afterAll(async () => {
    await server?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('pacman syncs, verifies demo.db.sig and downloads every package without any .db link file', async () => {
    const pacman = await PacmanSandbox.create({
      repo: 'demo', serverUrl: `${server.url}/pacman/demo/x86_64`, publicKeyArmored: tree.keys.pgp.publicKeyArmored, fingerprint: tree.keys.pgp.fingerprint,
    });
    try {
      requests.length = 0;
      await pacman.pacman(['-Sy']);
      await vi.waitFor(() => expect(requests).toEqual(expect.arrayContaining(['GET /pacman/demo/x86_64/demo.db 200', 'GET /pacman/demo/x86_64/demo.db.sig 200'])));
      const listed = (await pacman.pacman(['-Sl', 'demo'])).stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[1]);
      expect(listed.sort()).toEqual([...tree.packages.pacman].sort());
      await pacman.pacman(['-Sw', '-dd', ...listed]);
      expect((await readdir(pacman.cacheDir)).filter((f) => !f.endsWith('.sig'))).toHaveLength(listed.length);
    } finally {
      await pacman.dispose();
    }
  });

  it('dnf, set up only by the served setup script, verifies repomd.xml.asc and downloads packages with + and ~ in their names', async () => {
    const root = path.join(work, 'dnf-root');
    const run = await runSetupScript(`${server.url}/yum/setup/setup.sh`, root);
    expect(run).toMatchObject({ status: 0, stderr: '' });
    const dnf = await dnfFromRoot(root, 'acme-rpm');
    try {
      requests.length = 0;
      await dnf.dnf(['makecache']);
      await vi.waitFor(() => expect(requests).toContain('GET /yum/el/x86_64/repodata/repomd.xml.asc 200'));
      const listed = (await dnf.dnf(['-q', 'repoquery', '--qf', '%{name}-%{evr}.%{arch}'])).stdout.split('\n').filter(Boolean);
      expect(listed).toEqual(expect.arrayContaining(['pkgrepo-c++-tools-0.9-1.noarch', 'pkgrepo-hello-data-1:2.0~rc1-1.noarch']));
      const downloads = path.join(dnf.dir, 'downloads');
      await dnf.dnf(['download', '--destdir', downloads, ...listed]);
      expect((await readdir(downloads)).sort()).toEqual(expect.arrayContaining(['pkgrepo-c++-tools-0.9-1.noarch.rpm', 'pkgrepo-hello-data-2.0~rc1-1.noarch.rpm']));
    } finally {
      await dnf.dispose();
    }
  });

  it('apt-get, set up only by the served setup script, verifies InRelease (Signed-By only) and downloads packages with +, ~ and epochs', async () => {
    const root = path.join(work, 'apt-root');
    expect((await runSetupScript(`${server.url}/apt/setup/setup.sh`, root)).status).toBe(0);
    const apt = await aptFromRoot(root);
    try {
      requests.length = 0;
      const update = await apt.update();
      await vi.waitFor(() => expect(requests).toContain('GET /apt/dists/stable/InRelease 200'));
      expect(aptProblems(update)).toEqual([]);
      expect(update.status).toBe(0);
      const download = await apt.run('apt-get', ['download', ...tree.packages.apt], path.join(apt.dir, 'download'));
      expect(download.stderr).toBe('');
      expect((await readdir(path.join(apt.dir, 'download'))).sort()).toEqual(['acme-c++-tools_0.9+git1-1_all.deb', 'acme-data_1%3a2.0~rc1-1_all.deb', 'acme-hello_1.0-1_all.deb']);
    } finally {
      await apt.dispose();
    }
  });

  it('pacman, set up only by the served setup script (pacman-key and pacman.conf), verifies the database and downloads', async () => {
    const pacman = await PacmanRoot.create(path.join(work, 'pacman-root'));
    try {
      const run = await runSetupScript(`${server.url}/pacman/setup/setup.sh`, pacman.root, { wrapper: PacmanRoot.asRoot });
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(`trusts key ${tree.keys.pgp.fingerprint.toUpperCase()}`);
      expect(await readFile(pacman.config, 'utf8')).toContain(`[demo]\nSigLevel = PackageOptional DatabaseRequired\nServer = ${server.url}/pacman/$repo/$arch\n`);
      // idempotent: the section is not added twice
      const again = await runSetupScript(`${server.url}/pacman/setup/setup.sh`, pacman.root, { wrapper: PacmanRoot.asRoot });
      expect(again.stdout).toContain(`unchanged ${pacman.config}`);
      await pacman.pacman(['-Sy']);
      const listed = (await pacman.pacman(['-Sl', 'demo'])).stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[1]);
      expect(listed.sort()).toEqual([...tree.packages.pacman].sort());
      await pacman.pacman(['-Sw', '-dd', ...listed]);
      // '+' and an epoch's ':' in the file names
      expect((await readdir(pacman.cacheDir)).filter((f) => !f.endsWith('.sig')).sort())
        .toEqual(['acme-c++-tools-0.9-1-any.pkg.tar.gz', 'acme-data-1:2.0rc1-1-any.pkg.tar.gz', 'acme-hello-1.0-1-any.pkg.tar.gz']);
    } finally {
      await pacman.dispose();
    }
  });

  it('downloads a package whose name has + and ~ by every spelling clients use, with its content type and a year of caching', async () => {
    const dir = path.join(tree.root, 'yum/el/x86_64/Packages');
    for (const [file, spellings] of [
      ['pkgrepo-c++-tools-0.9-1.noarch.rpm', ['pkgrepo-c++-tools-0.9-1.noarch.rpm', 'pkgrepo-c%2B%2B-tools-0.9-1.noarch.rpm', 'pkgrepo-c%2b%2b-tools-0.9-1.noarch.rpm']],
      ['pkgrepo-hello-data-2.0~rc1-1.noarch.rpm', ['pkgrepo-hello-data-2.0~rc1-1.noarch.rpm', 'pkgrepo-hello-data-2.0%7Erc1-1.noarch.rpm']],
    ] as const) {
      const bytes = await readFile(path.join(dir, file));
      for (const spelling of spellings) {
        const response = await fetch(`${server.url}/yum/el/x86_64/Packages/${spelling}`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('application/x-rpm');
        expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
      }
    }
  });

  it('answers a detached signature from the manifest it signs, and from its own file for a tree made elsewhere', async () => {
    const repodata = path.join(tree.root, 'yum/el/x86_64/repodata');
    const signature = await readFile(path.join(repodata, 'repomd.xml.asc'));
    const asc = await fetch(`${server.url}/yum/el/x86_64/repodata/repomd.xml.asc`);
    expect([asc.status, asc.headers.get('content-type'), asc.headers.get('cache-control')]).toEqual([200, 'application/pgp-signature', 'public, no-cache']);
    expect(Buffer.from(await asc.arrayBuffer()).equals(signature)).toBe(true);
    // the signature served is the one inside the manifest, not the file: they differ only after a crash between the two writes
    await writeFile(path.join(repodata, 'repomd.xml.asc'), 'a signature of another generation');
    expect(Buffer.from(await (await fetch(`${server.url}/yum/el/x86_64/repodata/repomd.xml.asc`)).arrayBuffer()).equals(signature)).toBe(true);
    // a manifest written by another tool (here: copied over, so without our metadata): the signature file itself
    await copyFile(path.join(repodata, 'repomd.xml'), path.join(repodata, 'copy'));
    await rename(path.join(repodata, 'copy'), path.join(repodata, 'repomd.xml'));
    expect(await (await fetch(`${server.url}/yum/el/x86_64/repodata/repomd.xml.asc`)).text()).toBe('a signature of another generation');
    await writeFile(path.join(repodata, 'repomd.xml.asc'), signature);
    const pacman = await fetch(`${server.url}/pacman/demo/x86_64/demo.db.sig`, { method: 'HEAD' });
    expect([pacman.status, pacman.headers.get('content-length')]).toEqual([200, String((await stat(path.join(tree.root, 'pacman/demo/x86_64/demo.db.tar.gz.sig'))).size)]);
  });

  it('serves manifests briefly cached, keys under the names users expect, setup files, and 404 outside the repositories', async () => {
    const repomd = await fetch(`${server.url}/yum/el/x86_64/repodata/repomd.xml`);
    expect(repomd.headers.get('cache-control')).toBe('public, no-cache');
    expect((await fetch(`${server.url}/apt/dists/stable/InRelease`)).headers.get('cache-control')).toBe('public, max-age=60, must-revalidate');
    for (const [url, type, body] of [
      ['/yum/keys/RPM-GPG-KEY-acme-rpm', 'application/pgp-keys', tree.keys.pgp.publicKeyArmored],
      ['/pacman/keys/acme-arch.asc', 'application/pgp-keys', tree.keys.pgp.publicKeyArmored],
      ['/apk/keys/acme-packages.rsa.pub', 'application/x-pem-file', tree.keys.rsa.publicKeyPem],
    ]) {
      const response = await fetch(`${server.url}${url}`);
      expect(response.headers.get('content-type')).toBe(type);
      expect(await response.text()).toBe(body);
    }
    const gpg = await fetch(`${server.url}/apt/keys/acme-deb-archive-keyring.gpg`);
    expect(Buffer.from(await gpg.arrayBuffer()).equals(Buffer.from(tree.keys.pgp.publicKeyBinary))).toBe(true);
    const sources = await fetch(`${server.url}/apt/setup/acme-deb.sources`);
    expect(sources.headers.get('cache-control')).toBe('no-store');
    expect(await sources.text()).toContain(`URIs: ${server.url}/apt/\n`);
    expect((await fetch(`${server.url}/elsewhere/file`)).status).toBe(404);
    expect((await fetch(`${server.url}/yum/setup/nothing.repo`)).status).toBe(404);
  });

  it('answers a directory with the listing the indexer writes', async () => {
    const storage = new LocalStorage(path.join(tree.root, 'yum'));
    const format = createFormat('yum');
    const unit = format.unitOf('el/x86_64/Packages/x.rpm')!;
    const index = await format.loadIndex(storage, unit);
    await writeDirectoryListing(storage, 'yum', unit, index.entries.values());
    const response = await fetch(`${server.url}/yum/el/x86_64/`);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toContain('<a href="Packages/pkgrepo-c%2B%2B-tools-0.9-1.noarch.rpm">pkgrepo-c++-tools</a>');
    // every link of the listing resolves
    for (const href of [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1])) {
      expect((await fetch(new URL(href, `${server.url}/yum/el/x86_64/`))).status).toBe(200);
    }
  });

  it('finds the same repositories in the tree by itself (pkgrepo serve without --config)', async () => {
    const detected = await detectEdgeConfig(tree.root);
    expect(detected.repositories).toEqual([
      { prefix: 'apk/', format: 'apk', name: 'apk', apkKeyName: 'acme-packages.rsa.pub', setup: { path: 'v1/main/' } },
      { prefix: 'apt/', format: 'apt', name: 'apt', setup: { distribution: 'stable', components: ['main'] } },
      { prefix: 'pacman/', format: 'pacman', name: 'pacman', pacmanRepositories: ['demo'], setup: { path: 'demo/$arch/' } },
      { prefix: 'yum/', format: 'yum', name: 'yum', setup: { path: 'el/x86_64/' } },
    ]);
    // one repository made by `pkgrepo index DIR` is served at the root
    expect((await detectEdgeConfig(path.join(tree.root, REPOSITORIES.yum.prefix))).repositories).toEqual([
      { prefix: '', format: 'yum', name: 'yum', setup: { path: 'el/x86_64/' } },
    ]);
    expect((await detectEdgeConfig(path.join(tree.root, REPOSITORIES.pacman.prefix))).repositories).toEqual([
      { prefix: '', format: 'pacman', name: 'pacman', pacmanRepositories: ['demo'], setup: { path: 'demo/$arch/' } },
    ]);
  });
});
