import { verify } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { syncAll } from '../engine/engine';
import type { FormatName } from '../engine/format';
import { createFormat } from '../engine/formats';
import { apkFileName, buildApk, readApkIndexArchive } from '../formats/apk';
import { buildDeb, debFileName } from '../formats/deb/build-deb';
import { buildPacmanPackage, pacmanPackageFileName } from '../formats/pacman';
import { buildRpm, type RpmBuildSpec } from '../formats/rpm';
import type { SigningKeys } from '../signing/signer';
import { LocalStorage } from '../storage/local';
import { AptSandbox } from './clients/apt';
import { DnfSandbox, dnfRepoFile } from './clients/dnf';
import { PacmanSandbox } from './clients/pacman';
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

const KEY = 'pkgrepo-demo';
const BUILD_TIME = 1_760_000_000;
const HELLO = (version: string) => `#!/bin/sh\necho "hello from pkgrepo-hello ${version}"\n`;

/** What the demo knows about one format: where its repository lives, how to fill and check it. */
interface DemoRepository {
  readonly format: FormatName;
  /** Directory under the demo root holding this format's tree. */
  readonly tree: string;
  /** Build the sample packages into the tree; returns how many. */
  build(dir: string, keys: SigningKeys): Promise<number>;
  /** Client configuration for a server at `url`. */
  setup(url: string, keys: SigningKeys): string[];
  /** Run the real client (or, for apk, independent checks) against the served repository. */
  check(url: string, dir: string, keys: SigningKeys, expected: number, io: Io): Promise<boolean>;
}

/** The sample rpm packages: a command, a noarch companion with an epoch and `~`, a `+` in the name. */
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
    buildTime: BUILD_TIME,
    files: [
      { path: '/usr/bin/pkgrepo-hello', contents: HELLO(version), mode: 0o755 },
      { path: '/etc/pkgrepo-hello.conf', contents: 'greeting=hello\n' },
    ],
    requires: [{ name: 'pkgrepo-hello-data', flags: 'GE', epoch: '0', ver: '1.0' }],
    changelog: [{ author: 'Demo <demo@example.com> - 1.0-1', date: BUILD_TIME, text: '- First demo release' }],
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
      buildTime: BUILD_TIME,
      files: [{ path: '/usr/share/pkgrepo-hello/greeting.txt', contents: 'hello\n' }],
      provides: [{ name: 'pkgrepo-greeting', flags: 'EQ', epoch: '0', ver: '2.0' }],
    },
    {
      name: 'pkgrepo-c++-tools',
      version: '0.9',
      release: '1',
      summary: 'A package whose name has a plus sign',
      buildTime: BUILD_TIME,
      files: [{ path: '/usr/share/pkgrepo-c++-tools/README', contents: 'plus signs in file names work\n' }],
    },
  ];
}

function rpmFileName(spec: RpmBuildSpec): string {
  return `${spec.name}-${spec.version}-${spec.release}.${spec.arch ?? 'noarch'}.rpm`;
}

const yum: DemoRepository = {
  format: 'yum',
  tree: 'yum',
  async build(dir) {
    const repo = path.join(dir, 'el', 'x86_64');
    await mkdir(repo, { recursive: true });
    const specs = sampleRpms();
    for (const spec of specs) await writeFile(path.join(repo, rpmFileName(spec)), buildRpm(spec));
    return specs.length;
  },
  setup: (url) => [
    'dnf/yum: /etc/yum.repos.d/pkgrepo-demo.repo',
    ...dnfRepoFile({ id: KEY, name: 'pkgrepo demo', baseUrl: `${url}/yum/el/x86_64/`, gpgKeyUrl: `${url}/keys/${KEY}.asc` })
      .trimEnd().split('\n').map((l) => `  ${l}`),
  ],
  async check(url, _dir, _keys, expected, io) {
    const dnf = await DnfSandbox.create({ baseUrl: `${url}/yum/el/x86_64/`, gpgKeyUrl: `${url}/keys/${KEY}.asc` });
    try {
      await dnf.dnf(['makecache']);
      const { stdout } = await dnf.dnf(['-q', 'repoquery', '--qf', '%{name}-%{evr}.%{arch}']);
      const listed = stdout.split('\n').filter(Boolean);
      await dnf.dnf(['download', '--destdir', path.join(dnf.dir, 'downloads'), ...listed]);
      io.out(`check yum: dnf verified repomd.xml.asc (repo_gpgcheck=1), listed and downloaded ${listed.length} packages: ${listed.join(', ')}`);
      return listed.length === expected;
    } finally {
      await dnf.dispose();
    }
  },
};

const apt: DemoRepository = {
  format: 'apt',
  tree: 'apt',
  async build(dir) {
    const pool = path.join(dir, 'pool', 'stable', 'main');
    await mkdir(pool, { recursive: true });
    const base = { maintainer: 'pkgrepo demo <demo@example.com>', buildTime: BUILD_TIME, section: 'utils' };
    const specs = [
      {
        ...base,
        name: 'pkgrepo-hello',
        version: '1.0-1',
        architecture: 'amd64',
        summary: 'Says hello from a pkgrepo demo repository',
        description: 'A tiny shell command.\n\nPackaged by the pkgrepo demo.',
        depends: ['pkgrepo-hello-data (>= 1:2.0~rc1)'],
        files: [{ path: '/usr/bin/pkgrepo-hello', contents: HELLO('1.0'), mode: 0o755 }],
      },
      {
        ...base,
        name: 'pkgrepo-hello-data',
        version: '1:2.0~rc1-1',
        architecture: 'all',
        summary: 'Data files of the pkgrepo demo',
        files: [{ path: '/usr/share/pkgrepo-hello/greeting.txt', contents: 'hello\n' }],
      },
      {
        ...base,
        name: 'pkgrepo-c++-tools',
        version: '0.9+git1-1',
        architecture: 'all',
        summary: 'A package whose name has a plus sign',
        files: [{ path: '/usr/share/doc/pkgrepo-c++-tools/README', contents: 'plus signs work\n' }],
      },
    ];
    for (const spec of specs) await writeFile(path.join(pool, debFileName(spec)), await buildDeb(spec));
    return specs.length;
  },
  setup: (url) => [
    'apt: /etc/apt/sources.list.d/pkgrepo-demo.sources (key: /etc/apt/keyrings/pkgrepo-demo.gpg from the URL below)',
    `  Types: deb\n  URIs: ${url}/apt\n  Suites: stable\n  Components: main\n  Signed-By: /etc/apt/keyrings/${KEY}.gpg`,
    `  key: ${url}/keys/${KEY}.gpg`,
  ].flatMap((l) => l.split('\n')),
  async check(url, _dir, keys, expected, io) {
    const sandbox = await AptSandbox.create({
      url: `${url}/apt`, distribution: 'stable', components: ['main'], publicKey: keys.pgp!.publicKeyBinary, deb822: true,
    });
    try {
      const update = await sandbox.update();
      const problems = update.lines.filter((l) => /^(W|E|Err):/.test(l.trim()));
      if (update.status !== 0 || problems.length) throw new Error(`apt-get update: ${problems.join(' | ') || update.stderr}`);
      const names = ['pkgrepo-hello', 'pkgrepo-hello-data', 'pkgrepo-c++-tools'];
      const download = await sandbox.run('apt-get', ['download', ...names], path.join(sandbox.dir, 'download'));
      if (download.status !== 0) throw new Error(`apt-get download: ${download.stderr}`);
      io.out(`check apt: apt-get verified InRelease (signed-by only), downloaded ${names.length} packages`);
      return names.length === expected;
    } finally {
      await sandbox.dispose();
    }
  },
};

const pacman: DemoRepository = {
  format: 'pacman',
  tree: 'pacman',
  async build(dir, keys) {
    const repo = path.join(dir, 'demo', 'x86_64');
    await mkdir(repo, { recursive: true });
    const base = { packager: 'pkgrepo demo <demo@example.com>', buildTime: BUILD_TIME, licenses: ['Apache-2.0'] };
    const specs = [
      {
        ...base,
        name: 'pkgrepo-hello',
        version: '1.0',
        release: '1',
        arch: 'x86_64',
        description: 'Says hello from a pkgrepo demo repository',
        depends: ['pkgrepo-hello-data>=2.0'],
        files: [{ path: '/usr/bin/pkgrepo-hello', contents: HELLO('1.0'), mode: 0o755 }],
      },
      {
        ...base,
        name: 'pkgrepo-hello-data',
        version: '2.0',
        release: '1',
        epoch: 1,
        arch: 'any',
        description: 'Data files of the pkgrepo demo',
        files: [{ path: '/usr/share/pkgrepo-hello/greeting.txt', contents: 'hello\n' }],
      },
      {
        ...base,
        name: 'pkgrepo-c++-tools',
        version: '0.9',
        release: '1',
        arch: 'any',
        description: 'A package whose name has a plus sign',
        files: [{ path: '/usr/share/doc/pkgrepo-c++-tools/README', contents: 'plus signs work\n' }],
      },
    ];
    for (const spec of specs) {
      const bytes = await buildPacmanPackage(spec);
      const file = path.join(repo, pacmanPackageFileName(spec));
      await writeFile(file, bytes);
      // pacman with SigLevel Required checks package signatures too: sign them like makepkg --sign
      await writeFile(`${file}.sig`, await keys.pgp!.signDetachedBinary(bytes));
    }
    return specs.length;
  },
  setup: (url, keys) => [
    `pacman: /etc/pacman.conf (then: pacman-key --add the key below && pacman-key --lsign-key ${keys.pgp!.fingerprint})`,
    `  [demo]\n  SigLevel = Required DatabaseRequired\n  Server = ${url}/pacman/demo/$arch`,
    `  key: ${url}/keys/${KEY}.asc`,
  ].flatMap((l) => l.split('\n')),
  async check(url, _dir, keys, expected, io) {
    const sandbox = await PacmanSandbox.create({
      repo: 'demo', serverUrl: `${url}/pacman/demo/x86_64`, publicKeyArmored: keys.pgp!.publicKeyArmored, fingerprint: keys.pgp!.fingerprint,
    });
    try {
      await sandbox.pacman(['-Sy']);
      const { stdout } = await sandbox.pacman(['-Sl', 'demo']);
      const listed = stdout.split('\n').filter(Boolean);
      await sandbox.pacman(['-Sw', '-dd', ...listed.map((l) => l.split(' ')[1])]);
      io.out(`check pacman: pacman verified demo.db.sig (SigLevel Required DatabaseRequired), listed and downloaded ${listed.length} packages`);
      return listed.length === expected;
    } finally {
      await sandbox.dispose();
    }
  },
};

const apk: DemoRepository = {
  format: 'apk',
  tree: 'apk',
  async build(dir, keys) {
    const repo = path.join(dir, 'v1', 'main', 'x86_64');
    await mkdir(repo, { recursive: true });
    const specs = [
      {
        name: 'pkgrepo-hello',
        version: '1.0-r0',
        arch: 'x86_64',
        description: 'Says hello from a pkgrepo demo repository',
        license: 'Apache-2.0',
        depends: ['pkgrepo-hello-data>=2.0_rc1'],
        buildTime: BUILD_TIME,
        files: [{ path: '/usr/bin/pkgrepo-hello', contents: HELLO('1.0'), mode: 0o755 }],
      },
      {
        name: 'pkgrepo-hello-data',
        version: '2.0_rc1-r0',
        arch: 'noarch',
        description: 'Data files of the pkgrepo demo',
        license: 'Apache-2.0',
        buildTime: BUILD_TIME,
        files: [{ path: '/usr/share/pkgrepo-hello/greeting.txt', contents: 'hello\n' }],
      },
    ];
    for (const spec of specs) await writeFile(path.join(repo, apkFileName(spec)), await buildApk(spec, { signer: keys.rsa }));
    return specs.length;
  },
  setup: (url) => [
    `apk: echo '${url}/apk/v1/main' >> /etc/apk/repositories`,
    `  key: ${url}/keys/${KEY}.rsa.pub -> /etc/apk/keys/${KEY}.rsa.pub`,
  ],
  async check(url, _dir, keys, expected, io) {
    // no apk client on Debian: check the signature with the public key alone, as apk does
    const response = await fetch(`${url}/apk/v1/main/x86_64/APKINDEX.tar.gz`);
    if (!response.ok) throw new Error(`APKINDEX.tar.gz: HTTP ${response.status}`);
    const index = await readApkIndexArchive(new Uint8Array(await response.arrayBuffer()));
    const signature = index.signatures.find((s) => s.keyName === keys.rsa!.keyName);
    if (!signature?.signature) throw new Error(`APKINDEX.tar.gz is not signed by ${keys.rsa!.keyName}`);
    const digest = signature.type === 'RSA256' ? 'sha256' : 'sha1';
    if (!verify(digest, index.signedBytes, keys.rsa!.publicKeyPem, signature.signature)) throw new Error('APKINDEX.tar.gz: bad signature');
    for (const entry of index.entries) {
      const pkg = await fetch(`${url}/apk/v1/main/x86_64/${entry.name}-${entry.version}.apk`);
      if (!pkg.ok) throw new Error(`${entry.name}-${entry.version}.apk: HTTP ${pkg.status}`);
    }
    io.out(`check apk: APKINDEX signature verified (${signature.type}, ${keys.rsa!.keyName}), ${index.entries.length} packages fetchable`);
    return index.entries.length === expected;
  },
};

const REPOSITORIES: readonly DemoRepository[] = [yum, apt, pacman, apk];

/**
 * The main job, end to end on this machine: sample packages of every format, fresh keys, index
 * + sign, serve, print client configuration; with `check`, the real clients consume them.
 */
export async function runDemo(options: DemoOptions): Promise<boolean> {
  const { io } = options;
  const dir = path.resolve(options.dir ?? await mkdtemp(path.join(tmpdir(), 'pkgrepo-demo-')));
  io.out(`demo repositories: ${dir}`);

  const secrets = path.join(dir, '.keys');
  const pgpFiles = await keygen({ type: 'pgp', name: KEY, outDir: secrets });
  const rsaFiles = await keygen({ type: 'rsa', name: KEY, outDir: secrets });
  const keys = await loadKeyFiles({ pgp: pgpFiles.privateKey, rsa: rsaFiles.privateKey, rsaKeyName: `${KEY}.rsa.pub` });
  const published = path.join(dir, 'keys');
  await mkdir(published, { recursive: true });
  await writeFile(path.join(published, `${KEY}.asc`), keys.pgp!.publicKeyArmored);
  await writeFile(path.join(published, `${KEY}.gpg`), keys.pgp!.publicKeyBinary);
  await writeFile(path.join(published, `${KEY}.rsa.pub`), await readFile(rsaFiles.publicKey));
  io.out(`generated keys: OpenPGP RSA 4096 ${keys.pgp!.fingerprint}; apk RSA ${keys.rsa!.keyName}`);

  const counts = new Map<FormatName, number>();
  let ok = true;
  for (const repo of REPOSITORIES) {
    const tree = path.join(dir, repo.tree);
    counts.set(repo.format, await repo.build(tree, keys));
    const report = await syncAll({ storage: new LocalStorage(tree), format: createFormat(repo.format, { localLinks: true }), keys });
    for (const r of report.rejected) io.err(`rejected: ${path.join(tree, r.key)}: ${r.reason}`);
    ok &&= report.rejected.length === 0;
    io.out(`${repo.format}: indexed and signed ${report.units.map((u) => `${u.unit.id} (${u.packageCount} packages)`).join(', ')}`);
  }

  const server = await startServer({ root: dir, port: options.port });
  try {
    io.out('');
    io.out(`serving ${dir} at ${server.url}/`);
    for (const repo of REPOSITORIES) {
      io.out('');
      for (const line of repo.setup(server.url, keys)) io.out(line);
    }
    io.out('');
    if (!options.check) {
      io.out('Ctrl-C stops the server.');
      await options.waitForSignal();
      return ok;
    }
    for (const repo of REPOSITORIES) {
      try {
        const passed = await repo.check(server.url, dir, keys, counts.get(repo.format)!, io);
        if (!passed) io.err(`check ${repo.format}: FAIL: not every sample package was listed`);
        ok &&= passed;
      } catch (e) {
        const err = e as { stderr?: string; message: string };
        io.err(`check ${repo.format}: FAIL: ${(err.stderr || err.message).trim()}`);
        ok = false;
      }
    }
    io.out(ok ? 'demo check: PASS (yum, apt, pacman, apk)' : 'demo check: FAIL');
    return ok;
  } finally {
    await server.close();
  }
}
