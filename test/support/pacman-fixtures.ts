import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** Recipes (PKGBUILDs) of the pacman fixtures; packages are built from them in the test run. */
export const PACMAN_RECIPES = path.resolve(__dirname, '../fixtures/pacman');

export type PackageExtension = '.pkg.tar.zst' | '.pkg.tar.xz' | '.pkg.tar.gz';

/** The compressor makepkg.conf uses for each extension (COMPRESSZST, COMPRESSXZ, COMPRESSGZ). */
const COMPRESSORS: Record<PackageExtension, string[]> = {
  '.pkg.tar.zst': ['zstd', '-c', '-z', '-q', '-'],
  '.pkg.tar.xz': ['xz', '-c', '-z', '-'],
  '.pkg.tar.gz': ['gzip', '-c', '-f', '-n'],
};

/** A fixed build date, so fixtures are reproducible. */
export const FIXTURE_EPOCH = 1700000000;

/** Throws (a CI failure, never a skip) unless every tool is on PATH. */
export function requireTools(...tools: string[]): void {
  const missing = tools.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (missing.length > 0) {
    throw new Error(`pacman tests need ${missing.join(', ')} on PATH (Debian: apt-get install pacman-package-manager makepkg libarchive-tools gnupg zstd xz-utils)`);
  }
}

const created: string[] = [];

/** A fresh temporary directory (`pacman-<prefix>-XXXXXX`), removed by `removeTempDirs`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `pacman-${prefix.replace(/^pacman-/, '')}-`));
  created.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Uint8Array } = {}): Buffer {
  const result = spawnSync(command, args, { ...options, maxBuffer: 1024 ** 3 });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stderr.toString()}${result.stdout.toString()}`);
  }
  return result.stdout;
}

/**
 * Builds a recipe with makepkg (`--nodeps`, no network) and returns the package paths. makepkg
 * refuses to run as root, so under root it runs as `nobody` in a world-writable temp dir.
 */
export function makepkg(recipe: string, extension: PackageExtension): string[] {
  const work = tempDir(`makepkg-${recipe}`);
  chmodSync(work, 0o777);
  cpSync(path.join(PACMAN_RECIPES, recipe, 'PKGBUILD'), path.join(work, 'PKGBUILD'));
  chmodSync(path.join(work, 'PKGBUILD'), 0o644);
  const out = path.join(work, 'out');
  const env = [
    `PATH=${process.env.PATH}`,
    `HOME=${work}`,
    'LANG=C.UTF-8',
    `PKGEXT=${extension}`,
    `PKGDEST=${out}`,
    `SRCDEST=${work}`,
    `BUILDDIR=${path.join(work, 'build')}`,
    'PACKAGER=Fixture Builder <fixtures@example.org>',
    `SOURCE_DATE_EPOCH=${FIXTURE_EPOCH}`,
  ];
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'nobody', '--'] : [];
  const [command, ...args] = [...asUser, 'env', '-i', ...env, 'makepkg', '--nodeps', '--noconfirm', '--nocolor'];
  run(command, args, { cwd: work });
  return readdirSync(out).filter((f) => f.endsWith(extension)).sort().map((f) => path.join(out, f));
}

/** Member content: text/bytes, or `{ zeros: n }` for a file of n zero bytes (sparse on disk). */
export type MemberContent = string | Uint8Array | { zeros: number };

/**
 * Writes a package with bsdtar in makepkg's member order (every path sorted bytewise, so the
 * dot files first), compressed as makepkg would. For inputs makepkg refuses to build.
 */
export function bsdtarPackage(file: string, members: Record<string, MemberContent>): string {
  const extension = (Object.keys(COMPRESSORS) as PackageExtension[]).find((e) => file.endsWith(e));
  if (!extension) throw new Error(`unknown package extension: ${file}`);
  const root = tempDir('bsdtar-pkg');
  const paths = new Set<string>();
  for (const [name, content] of Object.entries(members)) {
    const full = path.join(root, name);
    mkdirSync(path.dirname(full), { recursive: true });
    if (typeof content === 'object' && 'zeros' in content) {
      writeFileSync(full, '');
      execFileSync('truncate', ['-s', String(content.zeros), full]);
    } else {
      writeFileSync(full, content);
    }
    const parts = name.split('/');
    for (let i = 1; i <= parts.length; i++) paths.add(parts.slice(0, i).join('/'));
  }
  const list = [...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const listFile = path.join(root, '.files-from');
  writeFileSync(listFile, list.map((p) => `${p}\0`).join(''));
  // streamed through a pipe: members may be large
  run('bash', ['-c', 'set -o pipefail; bsdtar --no-fflags --no-read-sparse --uid 0 --gid 0 -cnf - --null --files-from "$1" | "${@:3}" > "$2"',
    '_', listFile, path.resolve(file), ...COMPRESSORS[extension]], { cwd: root });
  rmSync(root, { recursive: true, force: true });
  return file;
}

/** A `.PKGINFO` as makepkg writes it, from `key = value` pairs. */
export function pkginfoText(fields: readonly (readonly [string, string])[]): string {
  return `# Generated by makepkg 6.0.2\n${fields.map(([k, v]) => `${k} = ${v}\n`).join('')}`;
}

/** A throw-away GnuPG home with one unprotected signing key. */
export interface GpgHome {
  readonly home: string;
  readonly fingerprint: string;
  /** gpg's environment for this home. */
  readonly env: NodeJS.ProcessEnv;
  /** `gpg --detach-sign --no-armor` (what makepkg --sign does): writes `<file>.sig`. */
  detachSign(file: string): string;
  /** The secret key, ASCII-armored. */
  exportSecretKey(): string;
  /** The public key, ASCII-armored. */
  exportPublicKey(): string;
  /** Stops the agent and removes the home. */
  close(): void;
}

/** Creates a GnuPG home with a new ed25519 key, no passphrase, no network. */
export function createGpgHome(uid = 'Pacman Fixture <pacman-fixture@example.org>'): GpgHome {
  const home = tempDir('gpg');
  chmodSync(home, 0o700);
  writeFileSync(path.join(home, 'gpg.conf'), 'no-auto-key-retrieve\nno-auto-key-locate\n');
  writeFileSync(path.join(home, 'dirmngr.conf'), 'disable-http\ndisable-ldap\n');
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = (...args: string[]) => run('gpg', ['--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env });
  gpg('--quick-gen-key', uid, 'ed25519', 'sign', 'never');
  const colons = gpg('--with-colons', '--list-secret-keys').toString();
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)?.[1];
  if (!fingerprint) throw new Error(`no fingerprint in gpg output:\n${colons}`);
  return {
    home,
    fingerprint,
    env,
    detachSign(file) {
      gpg('--detach-sign', '--no-armor', '-u', fingerprint, '-o', `${file}.sig`, file);
      return `${file}.sig`;
    },
    exportSecretKey: () => gpg('--armor', '--export-secret-keys', fingerprint).toString(),
    exportPublicKey: () => gpg('--armor', '--export', fingerprint).toString(),
    close() {
      spawnSync('gpgconf', ['--kill', 'all'], { env });
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Extracts an archive with bsdtar into a new directory and returns it. */
export function bsdtarExtract(archive: string): string {
  const dir = tempDir('extract');
  run('bsdtar', ['-xf', archive, '-C', dir]);
  return dir;
}

/** Runs a command and returns stdout (throws with stderr on failure). */
export function runTool(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Uint8Array } = {}): Buffer {
  return run(command, args, options);
}
