import { mkdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { sampleRpms } from '../../../src/cli/demo';
import type { EdgeConfig, EdgeRepository } from '../../../src/edge/router';
import { syncAll } from '../../../src/engine/engine';
import type { FormatName } from '../../../src/engine/format';
import { createFormat } from '../../../src/engine/formats';
import { apkFileName, buildApk } from '../../../src/formats/apk';
import { buildDeb, debFileName } from '../../../src/formats/deb/build-deb';
import { buildPacmanPackage, pacmanPackageFileName } from '../../../src/formats/pacman';
import { buildRpm } from '../../../src/formats/rpm';
import { KEYS_FOLDER, OPENPGP_ARMORED_KEY, OPENPGP_BINARY_KEY } from '../../../src/handlers/contract';
import { generatePgpKey, loadPgpSigner } from '../../../src/signing/pgp';
import { generateRsaKey, loadRsaSigner } from '../../../src/signing/rsa';
import type { SigningKeys } from '../../../src/signing/signer';
import { LocalStorage } from '../../../src/storage/local';

/**
 * A tree of four signed repositories laid out as on the bucket of a RepositoryHost: one prefix
 * per format, each indexed by the engine over its own storage root (as the indexer does with
 * the prefix), with the public keys where the keygen custom resource publishes them
 * (`<prefix>keys/repository.asc|.gpg`, `<prefix>keys/<apk key name>`). pacman's index is
 * written as `pkgrepo index` writes it, with the `<repo>.db` link files (see removePacmanLinks).
 */
export interface RepositoryTree {
  readonly root: string;
  readonly keys: Required<SigningKeys>;
  readonly config: EdgeConfig;
  /** Package names per format (what the clients must list). */
  readonly packages: Record<FormatName, string[]>;
}

const BUILD_TIME = 1_760_000_000;
export const APK_KEY_NAME = 'acme-packages.rsa.pub';

/** The repositories, as the constructs would bake them (names, setup paths). */
export const REPOSITORIES: Record<FormatName, EdgeRepository> = {
  yum: { prefix: 'yum/', format: 'yum', name: 'acme-rpm', setup: { path: 'el/$basearch/' } },
  apt: { prefix: 'apt/', format: 'apt', name: 'acme-deb', setup: { distribution: 'stable', components: ['main'] } },
  pacman: { prefix: 'pacman/', format: 'pacman', name: 'acme-arch', pacmanRepositories: ['demo'], setup: { path: '$repo/$arch/' } },
  apk: { prefix: 'apk/', format: 'apk', name: 'acme-apk', apkKeyName: APK_KEY_NAME, setup: { path: 'v1/main/' } },
};

/** Fresh keys: OpenPGP ed25519 (fast to make; every client here verifies it) and RSA 2048 for apk. */
export async function testKeys(): Promise<Required<SigningKeys>> {
  const pgp = await loadPgpSigner((await generatePgpKey({ name: 'acme packages', email: 'packages@example.com', type: 'ed25519' })).privateKeyArmored);
  const rsa = loadRsaSigner(generateRsaKey(2048).privateKeyPem, APK_KEY_NAME);
  return { pgp, rsa };
}

const HELLO = '#!/bin/sh\necho hello\n';

async function buildYum(dir: string): Promise<string[]> {
  const repo = path.join(dir, 'el', 'x86_64', 'Packages');
  await mkdir(repo, { recursive: true });
  const specs = sampleRpms();
  for (const spec of specs) await writeFile(path.join(repo, `${spec.name}-${spec.version}-${spec.release}.${spec.arch ?? 'noarch'}.rpm`), buildRpm(spec));
  return [...new Set(specs.map((s) => s.name))];
}

async function buildApt(dir: string): Promise<string[]> {
  const pool = path.join(dir, 'pool', 'stable', 'main');
  await mkdir(pool, { recursive: true });
  const base = { maintainer: 'Acme <packages@example.com>', buildTime: BUILD_TIME, section: 'utils', architecture: 'all' };
  const specs = [
    { ...base, name: 'acme-hello', version: '1.0-1', summary: 'hello', depends: ['acme-data (>= 1:2.0~rc1)'], files: [{ path: '/usr/bin/acme-hello', contents: HELLO, mode: 0o755 }] },
    { ...base, name: 'acme-data', version: '1:2.0~rc1-1', summary: 'data', files: [{ path: '/usr/share/acme/data', contents: 'data\n' }] },
    { ...base, name: 'acme-c++-tools', version: '0.9+git1-1', summary: 'a plus in the name', files: [{ path: '/usr/share/doc/acme-c++-tools/README', contents: 'plus\n' }] },
  ];
  for (const spec of specs) await writeFile(path.join(pool, debFileName(spec)), await buildDeb(spec));
  return specs.map((s) => s.name);
}

async function buildPacman(dir: string, keys: Required<SigningKeys>): Promise<string[]> {
  const repo = path.join(dir, 'demo', 'x86_64');
  await mkdir(repo, { recursive: true });
  const base = { packager: 'Acme <packages@example.com>', buildTime: BUILD_TIME, licenses: ['MIT'], arch: 'any', release: '1' };
  const specs = [
    { ...base, name: 'acme-hello', version: '1.0', description: 'hello', depends: ['acme-data>=2.0'], files: [{ path: '/usr/bin/acme-hello', contents: HELLO, mode: 0o755 }] },
    { ...base, name: 'acme-data', version: '2.0rc1', epoch: 1, description: 'data', files: [{ path: '/usr/share/acme/data', contents: 'data\n' }] },
    { ...base, name: 'acme-c++-tools', version: '0.9', description: 'a plus in the name', files: [{ path: '/usr/share/doc/acme-c++-tools/README', contents: 'plus\n' }] },
  ];
  for (const spec of specs) {
    const bytes = await buildPacmanPackage(spec);
    const file = path.join(repo, pacmanPackageFileName(spec));
    await writeFile(file, bytes);
    await writeFile(`${file}.sig`, await keys.pgp.signDetachedBinary(bytes));
  }
  return specs.map((s) => s.name);
}

async function buildApkRepo(dir: string, keys: Required<SigningKeys>): Promise<string[]> {
  const repo = path.join(dir, 'v1', 'main', 'x86_64');
  await mkdir(repo, { recursive: true });
  const specs = [
    { name: 'acme-hello', version: '1.0-r0', arch: 'x86_64', description: 'hello', license: 'MIT', buildTime: BUILD_TIME, files: [{ path: '/usr/bin/acme-hello', contents: HELLO, mode: 0o755 }] },
    { name: 'acme-data', version: '2.0_rc1-r0', arch: 'noarch', description: 'data', license: 'MIT', buildTime: BUILD_TIME, files: [{ path: '/usr/share/acme/data', contents: 'data\n' }] },
  ];
  for (const spec of specs) await writeFile(path.join(repo, apkFileName(spec)), await buildApk(spec, { signer: keys.rsa }));
  return specs.map((s) => s.name);
}

/** Delete pacman's `<repo>.db|.files[.sig]` link files (S3 has none): returns the ones deleted. */
export async function removePacmanLinks(tree: RepositoryTree): Promise<string[]> {
  const dir = path.join(tree.root, REPOSITORIES.pacman.prefix, 'demo', 'x86_64');
  const links = ['demo.db', 'demo.db.sig', 'demo.files', 'demo.files.sig'].map((f) => path.join(dir, f));
  for (const link of links) await rm(link);
  return links;
}

/** Build, index and sign the four repositories under `root`; publish their keys. */
export async function buildRepositoryTree(root: string, keys?: Required<SigningKeys>, formats: readonly FormatName[] = ['yum', 'apt', 'pacman', 'apk']): Promise<RepositoryTree> {
  const k = keys ?? await testKeys();
  const builders: Record<FormatName, (dir: string) => Promise<string[]>> = {
    yum: buildYum, apt: buildApt, pacman: (d) => buildPacman(d, k), apk: (d) => buildApkRepo(d, k),
  };
  const packages = {} as Record<FormatName, string[]>;
  for (const format of formats) {
    const repository = REPOSITORIES[format];
    const dir = path.join(root, repository.prefix);
    packages[format] = await builders[format](dir);
    const plugin = createFormat(format, { keyName: APK_KEY_NAME, localLinks: true });
    const report = await syncAll({ storage: new LocalStorage(dir), format: plugin, keys: k });
    if (report.rejected.length) throw new Error(`rejected: ${JSON.stringify(report.rejected)}`);
    const keysDir = path.join(dir, KEYS_FOLDER);
    await mkdir(keysDir, { recursive: true });
    if (format === 'apk') {
      await writeFile(path.join(keysDir, APK_KEY_NAME), k.rsa.publicKeyPem);
    } else {
      await writeFile(path.join(keysDir, OPENPGP_ARMORED_KEY), k.pgp.publicKeyArmored);
      await writeFile(path.join(keysDir, OPENPGP_BINARY_KEY), k.pgp.publicKeyBinary);
    }
  }
  return { root, keys: k, config: { repositories: formats.map((f) => REPOSITORIES[f]) }, packages };
}
