import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DnfRepoOptions {
  /** Repository id in the generated .repo file. @default 'pkgrepo' */
  readonly id?: string;
  /** URL of the repository root (the directory holding repodata/). */
  readonly baseUrl: string;
  /** URL (or file:// path) of the armored public key. */
  readonly gpgKeyUrl: string;
  /** Check package signatures too (`gpgcheck`). @default false: our packages are unsigned */
  readonly gpgcheck?: boolean;
}

/**
 * The real dnf, isolated from the machine: its own install root, cache, repos directory and
 * rpm keyring, one repository with `repo_gpgcheck=1` and `skip_if_unavailable=False` (dnf
 * otherwise only warns and exits 0 when a repository fails verification).
 */
export class DnfSandbox {
  static async create(options: DnfRepoOptions): Promise<DnfSandbox> {
    const dir = await mkdtemp(path.join(tmpdir(), 'pkgrepo-dnf-'));
    const id = options.id ?? 'pkgrepo';
    await mkdir(path.join(dir, 'repos.d'));
    await mkdir(path.join(dir, 'root'));
    await writeFile(path.join(dir, 'repos.d', `${id}.repo`), dnfRepoFile({ ...options, id }));
    return new DnfSandbox(dir, id);
  }

  private constructor(public readonly dir: string, public readonly repoId: string) {}

  /** Run dnf with the sandbox's options and these arguments; rejects on a non-zero exit. */
  async dnf(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    const base = [
      '-y',
      '--installroot', path.join(this.dir, 'root'),
      '--releasever', '1',
      '--setopt', `reposdir=${path.join(this.dir, 'repos.d')}`,
      '--setopt', `cachedir=${path.join(this.dir, 'cache')}`,
      '--setopt', 'skip_if_unavailable=False',
      '--setopt', 'keepcache=False',
      '--disablerepo', '*',
      '--enablerepo', this.repoId,
    ];
    return run('dnf', [...base, ...args], { maxBuffer: 256 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C.UTF-8' } });
  }

  /** Drop the metadata cache (before a makecache that must fetch anew). */
  async clearCache(): Promise<void> {
    await rm(path.join(this.dir, 'cache'), { recursive: true, force: true });
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A dnf/yum `.repo` file for one repository, with metadata signature checking on. */
export function dnfRepoFile(options: DnfRepoOptions & { readonly id: string; readonly name?: string }): string {
  return [
    `[${options.id}]`,
    `name=${options.name ?? options.id}`,
    `baseurl=${options.baseUrl}`,
    'enabled=1',
    `gpgcheck=${options.gpgcheck ? 1 : 0}`,
    'repo_gpgcheck=1',
    `gpgkey=${options.gpgKeyUrl}`,
    '',
  ].join('\n');
}
