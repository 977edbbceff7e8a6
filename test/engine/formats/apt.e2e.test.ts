import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../../src/cli/serve';
import { syncAll, type EngineOptions, type Report } from '../../../src/engine/engine';
import { aptFormat, type AptFormatOptions } from '../../../src/engine/formats/apt';
import { parseDeb822 } from '../../../src/formats/deb/deb822';
import { readRelease } from '../../../src/formats/deb/release';
import { generatePgpKey, loadPgpSigner } from '../../../src/signing/pgp';
import type { PgpSigner } from '../../../src/signing/signer';
import { LocalStorage } from '../../../src/storage/local';
import { MeteredStorage } from '../../../src/storage/metered';
import { AptSandbox, aptProblems } from '../../support/apt-sandbox';
import {
  arArchive, buildDeb, debWithControl, downloadRealDebs, loadRecipes, removeTempDirs, requireTools, tarGz, tempDir,
} from '../../support/deb-fixtures';

/** One .deb placed in a tree, with what dpkg-deb itself says about it (the independent expectation). */
interface Placed {
  readonly file: string;
  readonly distribution: string;
  readonly component: string;
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  readonly sha256: string;
}

const DISTRIBUTIONS = ['stable', 'testing'];
const COMPONENTS = ['main', 'contrib'];
const ARCHES = ['amd64', 'arm64'];

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const field = (file: string, name: string) => execFileSync('dpkg-deb', ['-f', file, name]).toString('utf8').trim();

function place(file: string, root: string, distribution: string, component: string, subdir = ''): Placed {
  const dir = path.join(root, 'pool', distribution, component, subdir);
  mkdirSync(dir, { recursive: true });
  const target = path.join(dir, path.basename(file));
  copyFileSync(file, target);
  return {
    file: target,
    distribution,
    component,
    name: field(target, 'Package'),
    version: field(target, 'Version'),
    arch: field(target, 'Architecture'),
    sha256: sha256(readFileSync(target)),
  };
}

/** What apt must list for a distribution: every package in every served architecture it belongs to. */
function expectedListing(placed: readonly Placed[], distribution: string, arches: readonly string[]): string[] {
  return placed.filter((p) => p.distribution === distribution)
    .flatMap((p) => arches.filter((a) => p.arch === a || p.arch === 'all').map((a) => `${p.name} ${p.version} ${a} ${p.component}`))
    .sort();
}

/** What apt lists: `apt-cache madison` for every package name and architecture. */
async function aptListing(apt: AptSandbox, arches: readonly string[]): Promise<string[]> {
  const names = (await apt.run('apt-cache', ['pkgnames'])).stdout.split('\n').filter(Boolean);
  const out = new Set<string>();
  // plain names find native and Architecture: all packages, name:arch the foreign ones
  for (const query of [names, ...arches.slice(1).map((arch) => names.map((n) => `${n}:${arch}`))]) {
    const run = await apt.run('apt-cache', ['madison', ...query]);
    for (const line of run.stdout.split('\n').filter(Boolean)) {
      const [name, version, source] = line.split('|').map((s) => s.trim());
      const m = / [^ /]+\/([^ ]+) ([^ ]+) Packages$/.exec(source);
      if (m && arches.includes(m[2])) out.add(`${name.replace(/:.*$/, '')} ${version} ${m[2]} ${m[1]}`);
    }
  }
  return [...out].sort();
}

/** `apt-get download` of each package; returns the SHA-256 of every downloaded file. */
async function aptDownload(apt: AptSandbox, packages: readonly Placed[]): Promise<string[]> {
  const dest = path.join(apt.dir, 'download');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest);
  const specs = packages.map((p) => (p.arch === 'all' || p.arch === ARCHES[0] ? `${p.name}=${p.version}` : `${p.name}:${p.arch}=${p.version}`));
  const run = await apt.run('apt-get', ['download', ...specs], dest);
  expect(aptProblems(run), run.stdout + run.stderr).toEqual([]);
  expect(run.status).toBe(0);
  return readdirSync(dest).map((f) => sha256(readFileSync(path.join(dest, f)))).sort();
}

/** The Packages files of a tree (path relative to the root -> text), by-hash copies excluded. */
function packagesFiles(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, d.name);
      if (d.isDirectory() && d.name !== 'by-hash') walk(full);
      else if (d.name === 'Packages') out.set(path.relative(root, full), readFileSync(full, 'utf8'));
    }
  };
  walk(path.join(root, 'dists'));
  return out;
}

function releaseOf(root: string, distribution: string) {
  return readRelease(readFileSync(path.join(root, 'dists', distribution, 'Release')));
}

describe('apt repositories, judged by the real apt-get', () => {
  let signer: PgpSigner;
  let recipesBuilt: string;
  let real: string[];

  afterAll(removeTempDirs);

  beforeAll(async () => {
    requireTools('dpkg-deb', 'apt-get', 'apt-cache', 'apt-ftparchive', 'dpkg-scanpackages', 'gpgv', 'sqv');
    const key = await generatePgpKey({ name: 'apt e2e test', type: 'rsa', rsaBits: 3072 });
    signer = await loadPgpSigner(key.privateKeyArmored);
    recipesBuilt = tempDir('apt-e2e-debs');
    real = downloadRealDebs(['hello', 'jq', 'tree', 'libjq1', 'libonig5']);
  });

  const engine = (storage: EngineOptions['storage'], options: AptFormatOptions = {}, extra: Partial<EngineOptions> = {}): EngineOptions => ({
    storage, format: aptFormat({ origin: 'cdk-package-repos', label: 'e2e', ...options }), keys: { pgp: signer }, ...extra,
  });
  const publish = (root: string, options: AptFormatOptions = {}, extra: Partial<EngineOptions> = {}): Promise<Report> =>
    syncAll(engine(new LocalStorage(root), options, extra));

  /** Each recipe built for a distribution and component: names and versions differ per place. */
  function fixtureDebs(distribution: string, component: string): string[] {
    return loadRecipes().map((r) => buildDeb(r, path.join(recipesBuilt, distribution, component), {
      Package: `${r.control.Package}-${component}`,
      Version: `${r.control.Version}+${distribution}`,
    }));
  }

  /** Two distributions x two components x amd64/arm64 (+ all), the real .debs in stable/main. */
  function buildTree(): { root: string; placed: Placed[] } {
    const root = tempDir('apt-tree');
    const placed: Placed[] = [];
    for (const distribution of DISTRIBUTIONS) {
      for (const component of COMPONENTS) {
        for (const deb of fixtureDebs(distribution, component)) placed.push(place(deb, root, distribution, component, 'c'));
      }
    }
    for (const deb of real) placed.push(place(deb, root, 'stable', 'main', path.basename(deb)[0]));
    return { root, placed };
  }

  async function withServer<T>(root: string, fn: (server: RunningServer) => Promise<T>): Promise<T> {
    const server = await startServer({ root });
    try {
      return await fn(server);
    } finally {
      await server.close();
    }
  }

  async function sandbox(url: string, distribution: string, extra: Partial<Parameters<typeof AptSandbox.create>[0]> = {}): Promise<AptSandbox> {
    return AptSandbox.create({ url, distribution, components: COMPONENTS, publicKey: signer.publicKeyBinary, architectures: ARCHES, ...extra });
  }

  async function updateCleanly(apt: AptSandbox): Promise<void> {
    const run = await apt.update();
    expect(aptProblems(run), run.stdout + run.stderr).toEqual([]);
    expect(run.status, run.stderr).toBe(0);
  }

  it('two distributions x two components x amd64+arm64: apt-get update is clean, apt-cache lists every package, apt-get download fetches each', async () => {
    const { root, placed } = buildTree();
    expect(placed.some((p) => p.version.includes(':') && p.version.includes('~') && p.version.includes('+'))).toBe(true);
    const report = await publish(root);
    expect(report.rejected).toEqual([]);
    expect(report.units.map((u) => u.unit.id).sort()).toEqual(['apt:stable', 'apt:testing']);

    await withServer(root, async (server) => {
      for (const distribution of DISTRIBUTIONS) {
        // stable: a one-line source; testing: a deb822 .sources file
        const apt = await sandbox(server.url, distribution, { deb822: distribution === 'testing' });
        try {
          await updateCleanly(apt);
          expect(await aptListing(apt, ARCHES)).toEqual(expectedListing(placed, distribution, ARCHES));
          const mine = placed.filter((p) => p.distribution === distribution);
          expect(await aptDownload(apt, mine)).toEqual(mine.map((p) => p.sha256).sort());
        } finally {
          await apt.dispose();
        }
      }
    });
  });

  it('signs InRelease and Release.gpg so that gpgv and sqv accept them, and apt falls back to Release + Release.gpg', async () => {
    const { root, placed } = buildTree();
    await publish(root);
    const dist = path.join(root, 'dists', 'stable');
    const keyring = path.join(root, 'key.gpg');
    writeFileSync(keyring, signer.publicKeyBinary);
    const inRelease = readFileSync(path.join(dist, 'InRelease'), 'utf8');
    expect(inRelease.startsWith('-----BEGIN PGP SIGNED MESSAGE-----\n')).toBe(true);
    expect(inRelease.trimEnd().endsWith('-----END PGP SIGNATURE-----')).toBe(true);
    const signed = execFileSync('gpgv', ['--keyring', keyring, '--output', '-', path.join(dist, 'InRelease')], { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(signed.toString('utf8')).toBe(readFileSync(path.join(dist, 'Release'), 'utf8'));
    execFileSync('gpgv', ['--keyring', keyring, path.join(dist, 'Release.gpg'), path.join(dist, 'Release')], { stdio: 'pipe' });
    expect(readFileSync(path.join(dist, 'Release.gpg'), 'utf8')).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    execFileSync('sqv', ['--keyring', keyring, path.join(dist, 'Release.gpg'), path.join(dist, 'Release')], { stdio: 'pipe' });

    // a tree without InRelease: apt takes Release and its detached signature
    rmSync(path.join(dist, 'InRelease'));
    await withServer(root, async (server) => {
      const apt = await sandbox(server.url, 'stable');
      try {
        const run = await apt.update();
        expect(run.stdout).toMatch(/Get:\d+ \S+ stable Release\.gpg/);
        expect(aptProblems(run), run.stdout + run.stderr).toEqual([]);
        expect(await aptListing(apt, ARCHES)).toEqual(expectedListing(placed, 'stable', ARCHES));
      } finally {
        await apt.dispose();
      }
    });
  });

  it('apt refuses the repository when Release was changed after signing, or when signed by another key', async () => {
    const { root } = buildTree();
    await publish(root);
    const other = await loadPgpSigner((await generatePgpKey({ name: 'someone else', type: 'ed25519' })).privateKeyArmored);
    await withServer(root, async (server) => {
      const stranger = await sandbox(server.url, 'stable', { publicKey: other.publicKeyBinary });
      try {
        const run = await stranger.update();
        expect(run.lines.join('\n')).toMatch(/NO_PUBKEY|not signed|signature/i);
        expect(aptProblems(run).length).toBeGreaterThan(0);
      } finally {
        await stranger.dispose();
      }
      const inRelease = path.join(root, 'dists', 'stable', 'InRelease');
      writeFileSync(inRelease, readFileSync(inRelease, 'utf8').replace('Acquire-By-Hash: yes', 'Acquire-By-Hash: no'));
      const apt = await sandbox(server.url, 'stable');
      try {
        const run = await apt.update();
        expect(run.lines.join('\n')).toMatch(/BADSIG|invalid|signature/i);
        expect(aptProblems(run).length).toBeGreaterThan(0);
      } finally {
        await apt.dispose();
      }
    });
  });

  it('stays consistent while changing: a client holding the previous InRelease still gets the Packages it names (by-hash)', async () => {
    const { root, placed } = buildTree();
    await publish(root);
    const recipe = loadRecipes()[0];
    let step = 0;
    const republish = async () => {
      step++;
      const deb = buildDeb(recipe, path.join(recipesBuilt, `update-${step}`), { Package: `cdkpr-update-${step}`, Version: `${step}.0` });
      place(deb, root, 'stable', 'main');
      const report = await publish(root);
      expect(report.units.find((u) => u.unit.id === 'apt:stable')!.added.map((a) => a.name)).toEqual([`cdkpr-update-${step}`]);
    };

    await withServer(root, async (server) => {
      // the repository changes right after apt has InRelease, before it asks for any Packages
      const proxy = await interceptingProxy(server.url, republish);
      try {
        const apt = await sandbox(proxy.url, 'stable');
        try {
          proxy.armed = true;
          await updateCleanly(apt);
          expect(step).toBe(1);
          expect(proxy.requests.some((r) => r.includes('/by-hash/SHA256/'))).toBe(true);
          // apt sees the state its InRelease describes...
          expect(await aptListing(apt, ARCHES)).toEqual(expectedListing(placed, 'stable', ARCHES));
          // ...and the new state on the next update
          await updateCleanly(apt);
          expect((await aptListing(apt, ARCHES)).filter((l) => l.startsWith('cdkpr-update-1 '))).toEqual(['cdkpr-update-1 1.0 amd64 main']);
        } finally {
          await apt.dispose();
        }

        // control experiment: the same race without by-hash breaks apt ("Mirror sync in progress?")
        const noByHash = await sandbox(proxy.url, 'stable', { options: ['Acquire::By-Hash=no'] });
        try {
          proxy.armed = true;
          const run = await noByHash.update();
          expect(step).toBe(2);
          expect(run.lines.join('\n')).toMatch(/Hash Sum mismatch|unexpected size/);
        } finally {
          await noByHash.dispose();
        }
      } finally {
        await proxy.close();
      }
    });
  });

  it('keeps superseded by-hash files for the grace period and at least 3 generations, then collects them', async () => {
    const root = tempDir('apt-gc');
    const recipe = loadRecipes()[3];
    const start = Date.parse('2026-01-01T00:00:00Z');
    const releases: string[] = [];
    const reports: Report[] = [];
    for (let i = 0; i < 5; i++) {
      place(buildDeb(recipe, path.join(recipesBuilt, `gc-${i}`), { Package: `cdkpr-gc-${i}` }), root, 'stable', 'main');
      // four publishes within the grace period, the fifth 49 hours later
      const now = new Date(start + (i < 4 ? i * 60_000 : 49 * 3600_000));
      reports.push(await publish(root, {}, { now: () => now }));
      releases.push(readFileSync(path.join(root, 'dists', 'stable', 'Release'), 'utf8'));
    }
    const byHashOf = (release: string) => readRelease(Buffer.from(release)).files
      .map((f) => path.join(root, 'dists', 'stable', path.dirname(f.path), 'by-hash', 'SHA256', f.sha256));
    expect(reports.slice(0, 4).every((r) => r.units[0].collected.length === 0)).toBe(true);
    // the generation superseded 3 publishes ago is gone; the last three and the current remain
    expect(byHashOf(releases[0]).some((f) => existsSync(f))).toBe(false);
    expect(reports[4].units[0].collected.length).toBeGreaterThan(0);
    for (const release of releases.slice(1)) {
      for (const f of byHashOf(release)) expect(existsSync(f), f).toBe(true);
    }
  });

  it('makes Date strictly increasing and never changes Origin, Label or Codename once published', async () => {
    const root = tempDir('apt-date');
    const recipe = loadRecipes()[3];
    const now = new Date('2026-02-03T04:05:06.700Z');
    place(buildDeb(recipe, path.join(recipesBuilt, 'date-0'), { Package: 'cdkpr-date-0' }), root, 'stable', 'main');
    await publish(root, { origin: 'First', label: 'First label' }, { now: () => now });
    place(buildDeb(recipe, path.join(recipesBuilt, 'date-1'), { Package: 'cdkpr-date-1' }), root, 'stable', 'main');
    await publish(root, { origin: 'Second', label: 'Second label' }, { now: () => now });
    const release = releaseOf(root, 'stable');
    expect(release.date.toISOString()).toBe('2026-02-03T04:05:07.000Z');
    expect([release.origin, release.label, release.codename, release.suite]).toEqual(['First', 'First label', 'stable', 'stable']);
  });

  it('incremental: adding reads only the new package and equals a full rebuild; removing drops it from the index and from apt', async () => {
    const { root, placed } = buildTree();
    const initial = placed.filter((p) => p.name !== 'hello');
    rmSync(placed.find((p) => p.name === 'hello')!.file);
    await publish(root);

    const hello = place(real.find((f) => path.basename(f).startsWith('hello_'))!, root, 'stable', 'main', 'h');
    const storage = new MeteredStorage(new LocalStorage(root));
    const report = await syncAll(engine(storage));
    expect(report.units.find((u) => u.unit.id === 'apt:stable')!.added.map((a) => a.key)).toEqual([path.relative(root, hello.file)]);
    expect(report.units.find((u) => u.unit.id === 'apt:testing')!.published).toBe(false);
    expect(storage.keysRead.filter((k) => k.endsWith('.deb'))).toEqual([path.relative(root, hello.file)]);

    const rebuilt = tempDir('apt-rebuild');
    cpSync(path.join(root, 'pool'), path.join(rebuilt, 'pool'), { recursive: true });
    await publish(rebuilt);
    expect(packagesFiles(root)).toEqual(packagesFiles(rebuilt));

    await withServer(root, async (server) => {
      const apt = await sandbox(server.url, 'stable');
      try {
        await updateCleanly(apt);
        expect(await aptListing(apt, ARCHES)).toEqual(expectedListing([...initial, hello], 'stable', ARCHES));
        rmSync(hello.file);
        const removal = await publish(root);
        expect(removal.units.find((u) => u.unit.id === 'apt:stable')!.removed).toEqual([path.relative(root, hello.file)]);
        expect([...packagesFiles(root).values()].join('')).not.toContain('Package: hello\n');
        await updateCleanly(apt);
        expect(await aptListing(apt, ARCHES)).toEqual(expectedListing(initial, 'stable', ARCHES));
      } finally {
        await apt.dispose();
      }
    });
  });

  it.each(['apt-ftparchive', 'dpkg-scanpackages'])('adopts an index made by %s: reads only new packages, and publishes what a full rebuild makes', async (tool) => {
    const { root } = buildTree();
    for (const distribution of DISTRIBUTIONS) {
      for (const component of COMPONENTS) {
        for (const arch of ARCHES) {
          const dir = path.join(root, 'dists', distribution, component, `binary-${arch}`);
          mkdirSync(dir, { recursive: true });
          const pool = `pool/${distribution}/${component}`;
          const text = tool === 'apt-ftparchive'
            ? execFileSync('apt-ftparchive', ['-a', arch, 'packages', pool], { cwd: root })
            : execFileSync('dpkg-scanpackages', ['-m', '-a', arch, pool], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
          writeFileSync(path.join(dir, 'Packages'), text);
        }
      }
      writeFileSync(path.join(root, 'dists', distribution, 'Release'),
        execFileSync('apt-ftparchive', ['-o', `APT::FTPArchive::Release::Codename=${distribution}`, 'release', '.'], { cwd: path.join(root, 'dists', distribution) }));
    }
    // the engine republishes a distribution when something changed: one new package in each
    const added = [place(fixtureDebs('stable', 'extra')[3], root, 'stable', 'main'), place(fixtureDebs('testing', 'extra')[1], root, 'testing', 'contrib')];
    const storage = new MeteredStorage(new LocalStorage(root));
    const report = await syncAll(engine(storage));
    expect(report.rejected).toEqual([]);
    expect(storage.keysRead.filter((k) => k.endsWith('.deb')).sort()).toEqual(added.map((p) => path.relative(root, p.file)).sort());
    expect(report.units.map((u) => [u.unit.id, u.added.length, u.removed.length, u.published])).toEqual([['apt:stable', 1, 0, true], ['apt:testing', 1, 0, true]]);

    const rebuilt = tempDir('apt-rebuild');
    cpSync(path.join(root, 'pool'), path.join(rebuilt, 'pool'), { recursive: true });
    await publish(rebuilt);
    expect(packagesFiles(root)).toEqual(packagesFiles(rebuilt));
    // Origin and Label stay as the adopted Release had them (none), Codename too
    expect(releaseOf(root, 'stable').origin).toBeUndefined();
    expect(releaseOf(root, 'stable').codename).toBe('stable');
  });

  it('rejects broken packages with a reason, indexes the good ones, and apt-get still updates cleanly', async () => {
    const { root, placed } = buildTree();
    const good = readFileSync(placed[0].file);
    const control = 'Package: evil\nVersion: 1.0\nArchitecture: all\nMaintainer: A <a@example.org>\nDescription: x\n';
    const broken: Record<string, Uint8Array> = {
      'truncated_1_all.deb': good.subarray(0, good.length - 100),
      'nocontrol_1_all.deb': arArchive([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'data.tar.gz', data: tarGz({}) }]),
      'injected_1_all.deb': debWithControl(control.replace('Description: x\n', 'Description: x\nFilename: pool/stable/main/c/other.deb\n')),
      'paragraph_1_all.deb': debWithControl(control + '\nPackage: second\nVersion: 1\nArchitecture: all\n'),
      'latin1_1_all.deb': debWithControl(Buffer.concat([Buffer.from(control.replace('A <', 'J')), Buffer.from([0xfc]), Buffer.from('rgen <a@example.org>\n')])),
    };
    for (const [name, bytes] of Object.entries(broken)) writeFileSync(path.join(root, 'pool', 'stable', 'main', name), bytes);
    writeFileSync(path.join(root, 'stray.deb'), good);

    const report = await publish(root);
    const reasons = new Map(report.rejected.map((r) => [path.basename(r.key), r.reason]));
    expect(reasons.get('truncated_1_all.deb')).toMatch(/truncated ar member/);
    expect(reasons.get('nocontrol_1_all.deb')).toMatch(/no control\.tar member/);
    expect(reasons.get('injected_1_all.deb')).toMatch(/sets Filename/);
    expect(reasons.get('paragraph_1_all.deb')).toMatch(/more than one paragraph/);
    expect(reasons.get('latin1_1_all.deb')).toMatch(/not valid UTF-8/);
    expect(reasons.get('stray.deb')).toMatch(/not in a apt repository layout/);
    expect(reasons.size).toBe(6);

    const index = [...packagesFiles(root).values()].join('');
    expect(index).not.toMatch(/Package: (evil|second)\n/);
    for (const stanzaText of index.split('\n\n').filter((s) => s.trim())) expect(parseDeb822(stanzaText)).toHaveLength(1);
    await withServer(root, async (server) => {
      const apt = await sandbox(server.url, 'stable');
      try {
        await updateCleanly(apt);
        expect(await aptListing(apt, ARCHES)).toEqual(expectedListing(placed, 'stable', ARCHES));
      } finally {
        await apt.dispose();
      }
    });
  });

  it('serves Architecture: all packages from binary-all when a distribution has no other architecture', async () => {
    const root = tempDir('apt-all');
    const common = loadRecipes().find((r) => r.control.Architecture === 'all')!;
    const placed = [place(buildDeb(common, path.join(recipesBuilt, 'all-only')), root, 'indep', 'main')];
    await publish(root);
    const release = releaseOf(root, 'indep');
    expect(release.architectures).toEqual(['all']);
    await withServer(root, async (server) => {
      const apt = await sandbox(server.url, 'indep', { components: ['main'], architectures: ['amd64'] });
      try {
        await updateCleanly(apt);
        const listed = (await apt.run('apt-cache', ['madison', placed[0].name])).stdout;
        expect(listed).toContain(`${placed[0].name} | ${placed[0].version} |`);
      } finally {
        await apt.dispose();
      }
    });
  });
});

interface InterceptingProxy {
  readonly url: string;
  /** When true, the next InRelease request runs the hook before apt gets the (old) bytes. */
  armed: boolean;
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * A proxy in front of the repository server. When armed, it fetches InRelease, then runs
 * `onInRelease` (which publishes a new version), and only then answers with the InRelease bytes
 * it fetched before: apt holds the previous InRelease while the repository has already changed.
 */
async function interceptingProxy(upstream: string, onInRelease: () => Promise<void>): Promise<InterceptingProxy> {
  const state = { armed: false, requests: [] as string[] };
  const server = http.createServer((req, res) => {
    void (async () => {
      state.requests.push(req.url ?? '');
      const response = await fetch(upstream + (req.url ?? '/'), { method: req.method });
      const body = Buffer.from(await response.arrayBuffer());
      if (state.armed && (req.url ?? '').endsWith('/InRelease')) {
        state.armed = false;
        await onInRelease();
      }
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'last-modified']) {
        const value = response.headers.get(name);
        if (value) headers[name] = value;
      }
      headers['content-length'] = String(req.method === 'HEAD' ? Number(response.headers.get('content-length') ?? 0) : body.length);
      res.writeHead(response.status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    })().catch((e) => {
      res.writeHead(500);
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: InterceptingProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get armed() { return state.armed; },
    set armed(v: boolean) { state.armed = v; },
    requests: state.requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return proxy;
}
