import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { syncAll } from '../engine/engine';
import { yumFormat } from '../engine/formats/yum';
import { buildRpm, type RpmBuildSpec } from '../formats/rpm';
import { LocalStorage } from '../storage/local';
import { DnfSandbox, dnfRepoFile } from './clients/dnf';
import { keygen, loadKeyFiles } from './keys';
import type { Io } from './main';
import { startServer } from './serve';

export interface DemoOptions {
  /** Where to build; a new temporary directory when absent. */
  readonly dir?: string;
  readonly port: number;
  /** Run the real clients and return their verdict instead of serving until a signal. */
  readonly check: boolean;
  readonly io: Io;
  readonly waitForSignal: () => Promise<void>;
}

const KEY_NAME = 'pkgrepo-demo';

/** The sample rpm packages: a command, a noarch companion, an epoch with `~`, a `+` in the name. */
export function sampleRpms(): RpmBuildSpec[] {
  const hello = (version: string): RpmBuildSpec => ({
    name: 'pkgrepo-hello',
    version,
    release: '1',
    arch: 'x86_64',
    summary: 'Says hello from a pkgrepo demo repository',
    description: 'A tiny shell command, packaged by the pkgrepo demo.',
    license: 'Apache-2.0',
    url: 'https://github.com/cdk-package-repos/cdk-package-repos',
    buildTime: 1_760_000_000,
    files: [
      { path: '/usr/bin/pkgrepo-hello', contents: `#!/bin/sh\necho "hello from pkgrepo-hello ${version}"\n`, mode: 0o755 },
      { path: '/etc/pkgrepo-hello.conf', contents: 'greeting=hello\n' },
    ],
    requires: [{ name: 'pkgrepo-hello-data', flags: 'GE', epoch: '0', ver: '1.0' }],
    changelog: [{ author: 'Demo <demo@example.com> - 1.0-1', date: 1_760_000_000, text: '- First demo release' }],
  });
  return [
    hello('1.0'),
    hello('1.1'),
    {
      name: 'pkgrepo-hello-data',
      version: '2.0~rc1',
      release: '1',
      epoch: 1,
      summary: 'Data files of the pkgrepo demo',
      buildTime: 1_760_000_000,
      files: [{ path: '/usr/share/pkgrepo-hello/greeting.txt', contents: 'hello\n' }],
      provides: [{ name: 'pkgrepo-greeting', flags: 'EQ', epoch: '0', ver: '2.0' }],
    },
    {
      name: 'pkgrepo-c++-tools',
      version: '0.9',
      release: '1',
      summary: 'A package whose name has a plus sign',
      buildTime: 1_760_000_000,
      files: [{ path: '/usr/share/pkgrepo-c++-tools/README', contents: 'plus signs in file names work\n' }],
    },
  ];
}

function rpmFileName(spec: RpmBuildSpec): string {
  return `${spec.name}-${spec.version}-${spec.release}.${spec.arch ?? 'noarch'}.rpm`;
}

/**
 * The main job, end to end on this machine: sample packages, a fresh key, index + sign, serve,
 * print client configuration; with `check`, the real dnf consumes the repository.
 */
export async function runDemo(options: DemoOptions): Promise<boolean> {
  const { io } = options;
  const dir = path.resolve(options.dir ?? await mkdtemp(path.join(tmpdir(), 'pkgrepo-demo-')));
  const keysDir = path.join(dir, 'keys');
  const repoDir = path.join(dir, 'yum', 'el', 'x86_64');
  await mkdir(repoDir, { recursive: true });

  io.out(`demo repository tree: ${dir}`);
  const specs = sampleRpms();
  for (const spec of specs) await writeFile(path.join(repoDir, rpmFileName(spec)), buildRpm(spec));
  io.out(`built ${specs.length} sample rpm packages`);

  const keyFiles = await keygen({ type: 'pgp', name: KEY_NAME, outDir: path.join(dir, '.keys') });
  await mkdir(keysDir, { recursive: true });
  await writeFile(path.join(keysDir, `${KEY_NAME}.asc`), await readFile(keyFiles.publicKey));
  const keys = await loadKeyFiles({ pgp: keyFiles.privateKey });
  io.out(`generated an RSA 4096 OpenPGP key ${keys.pgp!.fingerprint}`);

  const report = await syncAll({ storage: new LocalStorage(dir), format: yumFormat(), keys });
  for (const u of report.units) io.out(`indexed ${u.unit.root}: ${u.packageCount} packages, signed`);
  if (report.rejected.length) {
    for (const r of report.rejected) io.err(`rejected: ${r.key}: ${r.reason}`);
    return false;
  }

  const server = await startServer({ root: dir, port: options.port });
  const repo = { id: 'pkgrepo-demo', name: 'pkgrepo demo', baseUrl: `${server.url}/yum/el/x86_64/`, gpgKeyUrl: `${server.url}/keys/${KEY_NAME}.asc` };
  await writeFile(path.join(dir, 'yum', 'pkgrepo-demo.repo'), dnfRepoFile(repo));
  io.out('');
  io.out(`serving ${dir} at ${server.url}/`);
  io.out('');
  io.out(`dnf/yum: put this into /etc/yum.repos.d/pkgrepo-demo.repo (or fetch ${server.url}/yum/pkgrepo-demo.repo):`);
  for (const line of dnfRepoFile(repo).trimEnd().split('\n')) io.out(`  ${line}`);
  io.out('');

  try {
    if (!options.check) {
      io.out('Ctrl-C stops the server.');
      await options.waitForSignal();
      return true;
    }
    return await checkYum(io, repo, specs.length);
  } finally {
    await server.close();
  }
}

async function checkYum(io: Io, repo: { id: string; baseUrl: string; gpgKeyUrl: string }, expected: number): Promise<boolean> {
  const dnf = await DnfSandbox.create(repo);
  try {
    await dnf.dnf(['makecache']);
    io.out('check dnf: makecache verified repomd.xml.asc with repo_gpgcheck=1');
    const { stdout } = await dnf.dnf(['-q', 'repoquery', '--qf', '%{name}-%{evr}.%{arch}']);
    const listed = stdout.split('\n').filter(Boolean);
    io.out(`check dnf: repoquery lists ${listed.length} packages: ${listed.join(', ')}`);
    const downloads = path.join(dnf.dir, 'downloads');
    await dnf.dnf(['download', '--destdir', downloads, ...listed]);
    io.out(`check dnf: downloaded and checksum-verified ${listed.length} packages`);
    const ok = listed.length === expected;
    io.out(ok ? 'check dnf: PASS' : `check dnf: FAIL (expected ${expected} packages)`);
    return ok;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    io.err(`check dnf: FAIL: ${(err.stderr || err.message).trim()}`);
    return false;
  } finally {
    await dnf.dispose();
  }
}
