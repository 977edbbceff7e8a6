import { execFile } from 'node:child_process';
import { appendFile, copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { AptSandbox } from '../../../src/cli/clients/apt';
import { DnfSandbox } from '../../../src/cli/clients/dnf';

const exec = promisify(execFile);

/**
 * The real clients, configured from what a served setup script wrote under a test root
 * (PKGREPO_ROOT): the repository's source, key and credentials come from those files only.
 */

/** dnf's sandbox with its repository file replaced by the one the script wrote. */
export async function dnfFromRoot(root: string, id: string): Promise<DnfSandbox> {
  const dnf = await DnfSandbox.create({ id, baseUrl: 'http://127.0.0.1:9/unused/', gpgKeyUrl: 'http://127.0.0.1:9/unused.asc' });
  await copyFile(path.join(root, 'etc/yum.repos.d', `${id}.repo`), path.join(dnf.dir, 'repos.d', `${id}.repo`));
  return dnf;
}

/**
 * apt's sandbox with only the script's files: its own sources file and keyring are deleted,
 * the script's `.sources` (Signed-By pointing into the root) and `auth.conf.d` put in place.
 */
export async function aptFromRoot(root: string): Promise<AptSandbox> {
  const apt = await AptSandbox.create({ url: 'http://127.0.0.1:9/unused', distribution: 'unused', components: ['unused'], publicKey: new Uint8Array(), deb822: true });
  await rm(path.join(apt.dir, 'etc/sources.list.d/repo.sources'));
  await rm(path.join(apt.dir, 'etc/repo-key.gpg'));
  for (const [from, to] of [['etc/apt/sources.list.d', 'etc/sources.list.d'], ['etc/apt/auth.conf.d', 'etc/auth.conf.d']]) {
    const files = await readdir(path.join(root, from)).catch(() => [] as string[]);
    await mkdir(path.join(apt.dir, to), { recursive: true });
    for (const file of files) await copyFile(path.join(root, from, file), path.join(apt.dir, to, file));
  }
  return apt;
}

/**
 * A pacman installation under `root` as a system has it before the script runs: an
 * `etc/pacman.conf` with its own [options] (every path inside the root) and an initialised
 * keyring (`pacman-key --init`), gpg's network helpers off. The script then adds the key and
 * the repository section. pacman and pacman-key insist on root; as another user, fakeroot.
 */
export class PacmanRoot {
  static async create(root: string): Promise<PacmanRoot> {
    for (const sub of ['etc/pacman.d', 'var/lib/pacman', 'var/cache/pacman/pkg', 'hooks']) await mkdir(path.join(root, sub), { recursive: true });
    const gpgDir = path.join(root, 'etc/pacman.d/gnupg');
    await mkdir(gpgDir, { mode: 0o700 });
    const pacmanRoot = new PacmanRoot(root);
    await writeFile(pacmanRoot.config, [
      '[options]',
      `RootDir = ${root}`,
      `DBPath = ${path.join(root, 'var/lib/pacman')}`,
      `CacheDir = ${path.join(root, 'var/cache/pacman/pkg')}`,
      `LogFile = ${path.join(root, 'pacman.log')}`,
      `GPGDir = ${gpgDir}`,
      `HookDir = ${path.join(root, 'hooks')}`,
      'Architecture = x86_64',
      'SigLevel = Required DatabaseOptional',
      'LocalFileSigLevel = Optional',
      '',
    ].join('\n'));
    await pacmanRoot.run('pacman-key', ['--config', pacmanRoot.config, '--init']);
    await appendFile(path.join(gpgDir, 'gpg.conf'), 'no-auto-key-retrieve\nno-auto-key-locate\n');
    await writeFile(path.join(gpgDir, 'dirmngr.conf'), 'disable-http\ndisable-ldap\n');
    return pacmanRoot;
  }

  private constructor(public readonly root: string) {}

  get config(): string {
    return path.join(this.root, 'etc/pacman.conf');
  }

  get cacheDir(): string {
    return path.join(this.root, 'var/cache/pacman/pkg');
  }

  /** Runs pacman with the root's configuration; rejects (with stdout/stderr) on a non-zero exit. */
  pacman(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    return this.run('pacman', ['--config', this.config, '--noconfirm', '--noprogressbar', '--color', 'never', '--disable-download-timeout', ...args]);
  }

  /** The command prefix a setup script needs here to run as "root". */
  static get asRoot(): string[] {
    return process.getuid?.() === 0 ? [] : ['fakeroot'];
  }

  private run(command: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    const argv = [...PacmanRoot.asRoot, command, ...args];
    return exec(argv[0], argv.slice(1), { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  }

  async dispose(): Promise<void> {
    await exec('gpgconf', ['--homedir', path.join(this.root, 'etc/pacman.d/gnupg'), '--kill', 'all']).catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
  }
}
