import { createHash, verify } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import type { Report } from '../engine/engine';
import type { FormatName } from '../engine/format';
import { apkFileName, buildApk, readApkIndexArchive } from '../formats/apk';
import { buildDeb, debFileName } from '../formats/deb/build-deb';
import { buildPacmanPackage, pacmanPackageFileName } from '../formats/pacman';
import { buildRpm, type RpmBuildSpec } from '../formats/rpm';
import { KEYS_FOLDER, OPENPGP_ARMORED_KEY, OPENPGP_BINARY_KEY } from '../handlers/contract';
import { startLocalPipeline, type LocalPipeline, type LocalRepository } from '../pipeline/local-pipeline';
import { S3RVER_CREDENTIALS } from '../pipeline/s3rver';
import type { SigningKeys } from '../signing/signer';
import { AptSandbox } from './clients/apt';
import { DnfSandbox, dnfRepoFile } from './clients/dnf';
import { PacmanSandbox } from './clients/pacman';
import { keygen, loadKeyFiles } from './keys';
import type { Io } from './main';

export interface DemoOptions {
  /** Where the keys and the bucket's data (s3rver's directory) go; a new temporary directory when absent. */
  readonly dir?: string;
  /** TCP port of the edge server (what clients use); 0 picks a free one. */
  readonly port: number;
  /** Run the real clients and return their verdict instead of serving until a signal. */
  readonly check: boolean;
  readonly io: Io;
  readonly waitForSignal: () => Promise<void>;
}

const KEY = 'pkgrepo-demo';
const BUCKET = 'pkgrepo-demo';
const BUILD_TIME = 1_760_000_000;
const HELLO = (version: string) => `#!/bin/sh\necho "hello from pkgrepo-hello ${version}"\n`;

/** One object the demo uploads: its key under the repository prefix and its bytes. */
interface Upload {
  readonly key: string;
  readonly body: Uint8Array;
}

/** What the demo knows about one format: its sample packages, how clients use and check it. */
interface DemoRepository {
  readonly format: FormatName;
  /** The sample package files (and companions, first), in upload order; `count` of them are packages. */
  uploads(keys: SigningKeys): Promise<{ files: Upload[]; count: number }>;
  /** Client configuration for the repository at `url` (ends in '/'). */
  setup(url: string, keys: SigningKeys): string[];
  /** Run the real client (or, for apk, independent checks) against the repository at `url`. */
  check(url: string, keys: SigningKeys, expected: number, io: Io): Promise<boolean>;
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
  async uploads() {
    const files = sampleRpms().map((spec) => ({ key: `el/x86_64/${rpmFileName(spec)}`, body: buildRpm(spec) }));
    return { files, count: files.length };
  },
  setup: (url) => [
    'dnf/yum: /etc/yum.repos.d/pkgrepo-demo.repo',
    ...dnfRepoFile({ id: KEY, name: 'pkgrepo demo', baseUrl: `${url}el/x86_64/`, gpgKeyUrl: `${url}${KEYS_FOLDER}${OPENPGP_ARMORED_KEY}` })
      .trimEnd().split('\n').map((l) => `  ${l}`),
  ],
  async check(url, _keys, expected, io) {
    const dnf = await DnfSandbox.create({ baseUrl: `${url}el/x86_64/`, gpgKeyUrl: `${url}${KEYS_FOLDER}${OPENPGP_ARMORED_KEY}` });
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
  async uploads() {
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
    const files: Upload[] = [];
    for (const spec of specs) files.push({ key: `pool/stable/main/${debFileName(spec)}`, body: await buildDeb(spec) });
    return { files, count: files.length };
  },
  setup: (url) => [
    `apt: /etc/apt/sources.list.d/pkgrepo-demo.sources (key: /etc/apt/keyrings/${KEY}.gpg from the URL below)`,
    `  Types: deb\n  URIs: ${url}\n  Suites: stable\n  Components: main\n  Signed-By: /etc/apt/keyrings/${KEY}.gpg`,
    `  key: ${url}${KEYS_FOLDER}${OPENPGP_BINARY_KEY}`,
  ].flatMap((l) => l.split('\n')),
  async check(url, _keys, expected, io) {
    const sandbox = await AptSandbox.create({
      url: url.replace(/\/$/, ''),
      distribution: 'stable',
      components: ['main'],
      publicKey: await fetchBytes(`${url}${KEYS_FOLDER}${OPENPGP_BINARY_KEY}`),
      deb822: true,
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
  async uploads(keys) {
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
    const files: Upload[] = [];
    for (const spec of specs) {
      const body = await buildPacmanPackage(spec);
      const key = `demo/x86_64/${pacmanPackageFileName(spec)}`;
      // pacman with SigLevel Required checks package signatures too: sign them like makepkg
      // --sign, and upload the signature first (its upload is no package event)
      files.push({ key: `${key}.sig`, body: await keys.pgp!.signDetachedBinary(body) }, { key, body });
    }
    return { files, count: specs.length };
  },
  setup: (url, keys) => [
    `pacman: /etc/pacman.conf (then: pacman-key --add the key below && pacman-key --lsign-key ${keys.pgp!.fingerprint})`,
    `  [demo]\n  SigLevel = Required DatabaseRequired\n  Server = ${url}demo/$arch`,
    `  key: ${url}${KEYS_FOLDER}${OPENPGP_ARMORED_KEY}`,
  ].flatMap((l) => l.split('\n')),
  async check(url, keys, expected, io) {
    const sandbox = await PacmanSandbox.create({
      repo: 'demo',
      serverUrl: `${url}demo/x86_64`,
      publicKeyArmored: new TextDecoder().decode(await fetchBytes(`${url}${KEYS_FOLDER}${OPENPGP_ARMORED_KEY}`)),
      fingerprint: keys.pgp!.fingerprint,
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
  async uploads(keys) {
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
    const files: Upload[] = [];
    for (const spec of specs) files.push({ key: `v1/main/x86_64/${apkFileName(spec)}`, body: await buildApk(spec, { signer: keys.rsa }) });
    return { files, count: files.length };
  },
  setup: (url, keys) => [
    `apk: echo '${url}v1/main' >> /etc/apk/repositories`,
    `  key: ${url}${KEYS_FOLDER}${keys.rsa!.keyName} -> /etc/apk/keys/${keys.rsa!.keyName}`,
  ],
  async check(url, keys, expected, io) {
    // no apk client on Debian: check the index signature with the public key alone, and the
    // C: identity of every package, as apk does
    const base = `${url}v1/main/x86_64/`;
    const index = await readApkIndexArchive(await fetchBytes(`${base}APKINDEX.tar.gz`));
    const signature = index.signatures.find((s) => s.keyName === keys.rsa!.keyName);
    if (!signature?.signature) throw new Error(`APKINDEX.tar.gz is not signed by ${keys.rsa!.keyName}`);
    const digest = signature.type === 'RSA256' ? 'sha256' : 'sha1';
    const publicKey = new TextDecoder().decode(await fetchBytes(`${url}${KEYS_FOLDER}${keys.rsa!.keyName}`));
    if (!verify(digest, index.signedBytes, publicKey, signature.signature)) throw new Error('APKINDEX.tar.gz: bad signature');
    for (const entry of index.entries) {
      const identity = apkIdentity(await fetchBytes(`${base}${entry.name}-${entry.version}.apk`));
      if (identity !== entry.checksum) throw new Error(`${entry.name}-${entry.version}.apk: C:${entry.checksum} in APKINDEX, ${identity} recomputed`);
    }
    io.out(`check apk: APKINDEX signature verified (${signature.type}, ${keys.rsa!.keyName}), ${index.entries.length} packages fetched, every C: recomputed`);
    return index.entries.length === expected;
  },
};

const REPOSITORIES: readonly DemoRepository[] = [yum, apt, pacman, apk];

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * The `C:` identity apk computes for a package, from the bytes alone (node's zlib, not the apk
 * reader): `Q1` + base64 SHA-1 of the control gzip member (the first one that is not the
 * signature), or of everything from it to the end when .PKGINFO has no `datahash`.
 */
export function apkIdentity(bytes: Uint8Array): string {
  const members = gzipMembers(bytes);
  for (let i = 0; i < members.length; i++) {
    const [start, end, tar] = members[i];
    const names = tarEntries(tar);
    if (names.size > 0 && [...names.keys()].every((n) => n.startsWith('.SIGN.'))) continue;
    const pkginfo = names.get('.PKGINFO');
    if (pkginfo === undefined) throw new Error('the control member has no .PKGINFO');
    const covered = /^datahash = /m.test(pkginfo) ? bytes.subarray(start, end) : bytes.subarray(start);
    return `Q1${createHash('sha1').update(covered).digest('base64')}`;
  }
  throw new Error('no control member');
}

/** [start, end, decompressed] of each concatenated gzip member. */
function gzipMembers(bytes: Uint8Array): Array<[number, number, Buffer]> {
  const members: Array<[number, number, Buffer]> = [];
  let start = 0;
  while (start < bytes.length) {
    const flags = bytes[start + 3];
    if (bytes[start] !== 0x1f || bytes[start + 1] !== 0x8b || bytes[start + 2] !== 8) throw new Error(`no gzip member at ${start}`);
    let offset = start + 10;
    if (flags & 4) offset += 2 + (bytes[offset] | (bytes[offset + 1] << 8));
    if (flags & 8) offset = bytes.indexOf(0, offset) + 1;
    if (flags & 16) offset = bytes.indexOf(0, offset) + 1;
    if (flags & 2) offset += 2;
    // with `info`, zlib also tells how many compressed bytes the member's deflate stream took
    const inflated = inflateRawSync(bytes.subarray(offset), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    const { buffer, engine } = inflated;
    const end = offset + engine.bytesWritten + 8;
    members.push([start, end, buffer]);
    start = end;
  }
  return members;
}

/** Entry names of a (possibly cut) tar stream, with the text of small regular files. */
function tarEntries(tar: Buffer): Map<string, string> {
  const entries = new Map<string, string>();
  for (let offset = 0; offset + 512 <= tar.length && tar[offset] !== 0;) {
    const name = tar.subarray(offset, offset + 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(tar.subarray(offset + 124, offset + 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    entries.set(name, tar.subarray(offset + 512, offset + 512 + Math.min(size, 1 << 20)).toString('utf8'));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

/**
 * The main job, end to end on this machine, on the local pipeline (the AWS deployment's parts):
 * fresh keys; s3rver as the bucket; sample packages of every format uploaded through the S3 API;
 * their events through each repository's rule and FIFO queue into the real indexer; the edge
 * rules in front. Prints the client configuration; with `check`, the real clients consume it.
 */
export async function runDemo(options: DemoOptions): Promise<boolean> {
  const { io } = options;
  const dir = path.resolve(options.dir ?? await mkdtemp(path.join(tmpdir(), 'pkgrepo-demo-')));
  io.out(`demo directory: ${dir}`);

  const secrets = path.join(dir, '.keys');
  const pgpFiles = await keygen({ type: 'pgp', name: KEY, outDir: secrets });
  const rsaFiles = await keygen({ type: 'rsa', name: KEY, outDir: secrets });
  const keys = await loadKeyFiles({ pgp: pgpFiles.privateKey, rsa: rsaFiles.privateKey, rsaKeyName: `${KEY}.rsa.pub` });
  io.out(`generated keys: OpenPGP RSA 4096 ${keys.pgp!.fingerprint}; apk RSA ${keys.rsa!.keyName}`);

  let ok = true;
  const pipeline = await startLocalPipeline({
    formats: REPOSITORIES.map((r) => r.format),
    keys,
    bucket: BUCKET,
    port: options.port,
    s3Directory: path.join(dir, 's3'),
    onReport: (repository, report) => {
      ok = printReport(io, repository, report) && ok;
    },
  });
  try {
    io.out(`bucket: s3://${BUCKET} on s3rver at ${pipeline.endpoint}`);
    io.out('pipeline: S3 object events -> upload rule per repository -> SQS FIFO queue (one message group per repository) '
      + '-> indexer (batches of up to 10) -> signed indexes in the bucket -> edge rules -> clients');
    const counts = new Map<FormatName, number>();
    for (const repo of REPOSITORIES) {
      const repository = repositoryOf(pipeline, repo.format);
      const { files, count } = await repo.uploads(keys);
      for (const file of files) await pipeline.upload(`${repository.prefix}${file.key}`, file.body);
      counts.set(repo.format, count);
      io.out(`${repo.format}: uploaded ${count} packages to s3://${BUCKET}/${repository.prefix}`);
    }
    await pipeline.waitForIdle();
    for (const repository of pipeline.repositories) {
      const dead = repository.deadLetterQueue.messages();
      if (dead.length > 0) {
        io.err(`${repository.format}: ${dead.length} upload events in the dead-letter queue: ${dead.map((m) => m.body).join(', ')}`);
        ok = false;
      }
    }

    io.out('');
    io.out(`serving the repositories at ${pipeline.url}/ (the edge rules in front of the bucket)`);
    for (const repo of REPOSITORIES) {
      io.out('');
      for (const line of repo.setup(repositoryOf(pipeline, repo.format).url, keys)) io.out(line);
    }
    io.out('');
    if (!options.check) {
      io.out('Upload more packages through the S3 API and watch them get indexed, e.g.:');
      io.out(`  AWS_ACCESS_KEY_ID=${S3RVER_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${S3RVER_CREDENTIALS.secretAccessKey} `
        + `aws --endpoint-url ${pipeline.endpoint} s3 cp my-1.0-1.x86_64.rpm s3://${BUCKET}/yum/el/x86_64/`);
      io.out('Ctrl-C stops the pipeline.');
      await options.waitForSignal();
      return ok;
    }
    for (const repo of REPOSITORIES) {
      try {
        const passed = await repo.check(repositoryOf(pipeline, repo.format).url, keys, counts.get(repo.format)!, io);
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
    await pipeline.stop();
  }
}

function repositoryOf(pipeline: LocalPipeline, format: FormatName): LocalRepository {
  return pipeline.repositories.find((r) => r.format === format)!;
}

/** One line per unit the indexer published; rejections on stderr. Returns false if any package was rejected. */
function printReport(io: Io, repository: LocalRepository, report: Report): boolean {
  for (const u of report.units) {
    const what = u.published ? 'published' : 'unchanged';
    io.out(`indexer ${repository.format}: ${u.unit.id} ${what}, ${u.packageCount} packages (+${u.added.length} -${u.removed.length})`);
  }
  for (const r of report.rejected) io.err(`rejected: s3://${BUCKET}/${repository.prefix}${r.key}: ${r.reason}`);
  return report.rejected.length === 0;
}
