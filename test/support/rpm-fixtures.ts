/**
 * Builds the rpm test fixtures from the recipes in test/fixtures/rpm/*.spec with the real
 * rpmbuild, once per test process, into a temporary directory. No network is needed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import type { RpmFileInfo } from '../../src/formats/rpm/rpm-file';

const run = promisify(execFile);

/** Where the recipes live. */
export const RPM_FIXTURE_RECIPES = join(__dirname, '..', 'fixtures', 'rpm');

/** One rpmbuild run: a recipe and the macros it is built with. */
interface FixtureBuild {
  readonly spec: string;
  readonly defines?: Readonly<Record<string, string>>;
}

/** The fixture set: hello 1.0 and 1.1 (x86_64, compiled), hello-data (noarch), tilde-tool (Epoch, `~`), c++-utils (`+` in the file name). */
const BUILDS: readonly FixtureBuild[] = [
  { spec: 'hello.spec', defines: { fixture_version: '1.0' } },
  { spec: 'hello.spec', defines: { fixture_version: '1.1' } },
  { spec: 'hello-data.spec' },
  { spec: 'tilde.spec' },
  { spec: 'plus.spec' },
];

/** The built packages. */
export interface RpmFixtures {
  /** Directory holding all the .rpm files (and nothing else). */
  readonly dir: string;
  /** Absolute paths of the .rpm files, sorted by file name. */
  readonly files: readonly string[];
}

let cached: Promise<RpmFixtures> | undefined;

/** Build (once per process) and return the fixture packages. */
export function buildRpmFixtures(): Promise<RpmFixtures> {
  cached ??= build();
  return cached;
}

async function build(): Promise<RpmFixtures> {
  const root = await mkdtemp(join(tmpdir(), 'rpm-fixtures-'));
  const dir = join(root, 'rpms');
  await mkdir(dir);
  await Promise.all(BUILDS.map(async (b, i) => {
    const top = join(root, `top${i}`);
    const tmp = join(top, 'tmp');
    await mkdir(tmp, { recursive: true });
    const defines = { _topdir: top, _tmppath: tmp, _buildhost: 'fixture.example', ...b.defines };
    const args = ['-bb', '--quiet', ...Object.entries(defines).flatMap(([k, v]) => ['--define', `${k} ${v}`]), join(RPM_FIXTURE_RECIPES, b.spec)];
    try {
      await run('rpmbuild', args, { maxBuffer: 64 * 1024 * 1024 });
    } catch (e) {
      const err = e as { code?: string; stderr?: string; message: string };
      if (err.code === 'ENOENT') throw new Error('rpmbuild is not installed: the rpm fixtures need it (apt-get install rpm)');
      throw new Error(`rpmbuild ${b.spec} failed: ${err.stderr || err.message}`);
    }
    for (const arch of await readdir(join(top, 'RPMS'))) {
      for (const f of await readdir(join(top, 'RPMS', arch))) await copyFile(join(top, 'RPMS', arch, f), join(dir, f));
    }
  }));
  const files = (await readdir(dir)).filter((f) => f.endsWith('.rpm')).sort().map((f) => join(dir, f));
  return { dir, files };
}

/** The uncompressed metadata createrepo_c writes for a directory of packages. */
export interface CreaterepoOutput {
  readonly primary: string;
  readonly filelists: string;
  readonly other: string;
  readonly repomd: string;
}

/**
 * Run the real createrepo_c over `dir` (sqlite off, plain file names) and return its metadata,
 * decompressed. Extra arguments go before the directory.
 */
export async function runCreaterepo(dir: string, ...extraArgs: string[]): Promise<CreaterepoOutput> {
  try {
    await run('createrepo_c', ['--quiet', '--no-database', '--simple-md-filenames', ...extraArgs, dir]);
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === 'ENOENT') throw new Error('createrepo_c is not installed: the rpm-md tests compare with it (apt-get install createrepo-c)');
    throw new Error(`createrepo_c failed: ${err.stderr || err.message}`);
  }
  const read = async (name: string) => gunzipSync(await readFile(join(dir, 'repodata', `${name}.xml.gz`))).toString('utf8');
  return {
    primary: await read('primary'),
    filelists: await read('filelists'),
    other: await read('other'),
    repomd: await readFile(join(dir, 'repodata', 'repomd.xml'), 'utf8'),
  };
}

/** What `parseRpm` needs to know about a package file besides its bytes, read from disk. */
export async function rpmFileInfo(path: string, href = basename(path)): Promise<{ bytes: Buffer; info: RpmFileInfo }> {
  const bytes = await readFile(path);
  const st = await stat(path);
  return {
    bytes,
    info: { href, size: st.size, mtime: Math.floor(st.mtimeMs / 1000), sha256: createHash('sha256').update(bytes).digest('hex') },
  };
}

/** A fresh directory holding copies of `files` (createrepo_c writes into the directory it indexes). */
export async function copyToTempDir(files: readonly string[], prefix = 'rpm-repo-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await Promise.all(files.map((f) => copyFile(f, join(dir, basename(f)))));
  return dir;
}
