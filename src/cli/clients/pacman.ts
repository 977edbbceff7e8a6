import { execFile } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface PacmanSandboxOptions {
  /** Repository name: the pacman.conf section and the `<name>.db` file. */
  readonly repo: string;
  /** URL of the directory holding `<repo>.db`. */
  readonly serverUrl: string;
  /** The repository's armored public key: added to the sandbox keyring and locally signed. */
  readonly publicKeyArmored: string;
  /** Its fingerprint. */
  readonly fingerprint: string;
  /** pacman.conf SigLevel. @default 'Required DatabaseRequired' */
  readonly sigLevel?: string;
}

/**
 * The real pacman, isolated from the machine: its own root, database path, cache, log, hook
 * directory and keyring (pacman-key --init, our key added and locally signed), gpg's network
 * helpers off. pacman and pacman-key insist on root; as another user they run under fakeroot.
 */
export class PacmanSandbox {
  static async create(options: PacmanSandboxOptions): Promise<PacmanSandbox> {
    const dir = await mkdtemp(path.join(tmpdir(), 'pkgrepo-pacman-'));
    for (const sub of ['root', 'db', 'cache', 'hooks']) await mkdir(path.join(dir, sub));
    await mkdir(path.join(dir, 'gnupg'), { mode: 0o700 });
    const sandbox = new PacmanSandbox(dir);
    await writeFile(sandbox.config, [
      '[options]',
      `RootDir = ${path.join(dir, 'root')}`,
      `DBPath = ${path.join(dir, 'db')}`,
      `CacheDir = ${path.join(dir, 'cache')}`,
      `LogFile = ${path.join(dir, 'pacman.log')}`,
      `GPGDir = ${sandbox.gpgDir}`,
      `HookDir = ${path.join(dir, 'hooks')}`,
      'Architecture = x86_64',
      `SigLevel = ${options.sigLevel ?? 'Required DatabaseRequired'}`,
      'LocalFileSigLevel = Optional',
      '',
      `[${options.repo}]`,
      `Server = ${options.serverUrl}`,
      '',
    ].join('\n'));
    await sandbox.pacmanKey(['--init']);
    // no key lookups: everything the sandbox trusts is in its keyring already
    await appendFile(path.join(sandbox.gpgDir, 'gpg.conf'), 'no-auto-key-retrieve\nno-auto-key-locate\n');
    await writeFile(path.join(sandbox.gpgDir, 'dirmngr.conf'), 'disable-http\ndisable-ldap\n');
    const keyFile = path.join(dir, 'repo-key.asc');
    await writeFile(keyFile, options.publicKeyArmored);
    await sandbox.pacmanKey(['--add', keyFile]);
    await sandbox.pacmanKey(['--lsign-key', options.fingerprint]);
    return sandbox;
  }

  private constructor(public readonly dir: string) {}

  get config(): string {
    return path.join(this.dir, 'pacman.conf');
  }

  get gpgDir(): string {
    return path.join(this.dir, 'gnupg');
  }

  get cacheDir(): string {
    return path.join(this.dir, 'cache');
  }

  /** Runs pacman with the sandbox configuration; rejects (with stdout/stderr) on a non-zero exit. */
  pacman(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    return this.run('pacman', ['--config', this.config, '--noconfirm', '--noprogressbar', '--color', 'never',
      '--disable-download-timeout', ...args]);
  }

  private pacmanKey(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    return this.run('pacman-key', ['--config', this.config, '--gpgdir', this.gpgDir, ...args]);
  }

  private run(command: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    const asRoot = process.getuid?.() === 0 ? [command, ...args] : ['fakeroot', command, ...args];
    return exec(asRoot[0], asRoot.slice(1), { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  }

  async dispose(): Promise<void> {
    await exec('gpgconf', ['--homedir', this.gpgDir, '--kill', 'all']).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
