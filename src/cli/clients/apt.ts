import { execFile } from 'node:child_process';
import { access, constants, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** Lines apt prints for warnings and errors (W:, E:, Err:). */
export function aptProblems(run: AptRun): string[] {
  return run.lines.filter((l) => /^(W|E|Err):/.test(l.trim()));
}

/** Output of one apt run. */
export interface AptRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr lines together. */
  readonly lines: string[];
}

export interface AptSandboxOptions {
  /** Repository base URL (no trailing slash). */
  readonly url: string;
  readonly distribution: string;
  readonly components: readonly string[];
  /** The repository's public key, binary OpenPGP packets (what `gpg --export` writes). */
  readonly publicKey: Uint8Array;
  /** Architectures apt fetches; the first is the native one. @default ['amd64'] */
  readonly architectures?: readonly string[];
  /** Write the source as a deb822 `.sources` file instead of a one-line `.list`. @default false */
  readonly deb822?: boolean;
  /** Extra `-o` settings, e.g. `Acquire::By-Hash=no`. */
  readonly options?: readonly string[];
}

/**
 * apt-get and apt-cache against one repository, with every piece of state in a temp dir: its
 * own sources, lists, cache and empty dpkg status; trust comes only from `signed-by` (no
 * trusted.gpg, no trusted.gpg.d, no apt.conf.d of the machine). Signature checking stays on.
 */
export class AptSandbox {
  /** Creates the sandbox (nothing is fetched yet). */
  static async create(options: AptSandboxOptions): Promise<AptSandbox> {
    for (const tool of ['apt-get', 'apt-cache', 'gpgv']) {
      if (!(await onPath(tool))) throw new Error(`'${tool}' is not installed: apt's client tools are needed (apt-get install apt)`);
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'apt-sandbox-'));
    for (const d of ['state/lists/partial', 'cache/archives/partial', 'etc/sources.list.d', 'etc/trusted.gpg.d', 'etc/apt.conf.d', 'etc/preferences.d', 'download']) {
      await mkdir(path.join(dir, d), { recursive: true });
    }
    const keyring = path.join(dir, 'etc', 'repo-key.gpg');
    await writeFile(keyring, options.publicKey);
    await writeFile(path.join(dir, 'state', 'status'), '');
    await writeFile(path.join(dir, 'etc', 'apt.conf'), '');
    const list = options.deb822
      ? path.join(dir, 'etc', 'sources.list.d', 'repo.sources')
      : path.join(dir, 'etc', 'sources.list');
    await writeFile(list, options.deb822
      ? `Types: deb\nURIs: ${options.url}\nSuites: ${options.distribution}\nComponents: ${options.components.join(' ')}\nSigned-By: ${keyring}\n`
      : `deb [signed-by=${keyring}] ${options.url} ${options.distribution} ${options.components.join(' ')}\n`);
    const architectures = options.architectures ?? ['amd64'];
    const settings = [
      `Dir::State=${dir}/state`,
      `Dir::State::status=${dir}/state/status`,
      `Dir::Cache=${dir}/cache`,
      `Dir::Etc=${dir}/etc`,
      `Dir::Etc::SourceList=${options.deb822 ? '/dev/null' : list}`,
      `Dir::Etc::SourceParts=${dir}/etc/sources.list.d`,
      `Dir::Etc::Trusted=${dir}/etc/trusted.gpg`,
      `Dir::Etc::TrustedParts=${dir}/etc/trusted.gpg.d`,
      `Dir::Etc::Parts=${dir}/etc/apt.conf.d`,
      `Dir::Etc::PreferencesParts=${dir}/etc/preferences.d`,
      `APT::Architecture=${architectures[0]}`,
      `APT::Architectures=${architectures.join(',')}`,
      'Acquire::Languages=none',
      'Acquire::http::Proxy=DIRECT',
      'Acquire::Retries=0',
      // as root, apt hands downloads to the _apt user, which cannot write our temp dirs
      ...(process.getuid?.() === 0 ? ['APT::Sandbox::User=root'] : []),
      ...(options.options ?? []),
    ];
    return new AptSandbox(dir, settings.flatMap((s) => ['-o', s]));
  }

  private constructor(public readonly dir: string, private readonly settings: string[]) {}

  /** Runs apt-get or apt-cache with the sandbox settings (asynchronously: the test's server keeps serving). */
  run(tool: 'apt-get' | 'apt-cache', args: readonly string[], cwd?: string): Promise<AptRun> {
    return new Promise((resolve) => {
      execFile(tool, [...this.settings, ...args], {
        cwd: cwd ?? this.dir,
        env: { ...process.env, APT_CONFIG: path.join(this.dir, 'etc', 'apt.conf'), LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
        maxBuffer: 64 * 1024 * 1024,
      }, (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ status, stdout, stderr, lines: `${stdout}\n${stderr}`.split('\n').filter((l) => l.trim() !== '') });
      });
    });
  }

  /** `apt-get update`; the run is returned whatever its verdict. */
  update(): Promise<AptRun> {
    return this.run('apt-get', ['update']);
  }

  /** Removes the sandbox. */
  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function onPath(tool: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    try {
      await access(path.join(dir, tool), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
