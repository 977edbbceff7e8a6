import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

/** Byte sizes for limits and buffers. */
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** A .deb recipe from test/fixtures/deb/packages.json. */
export interface DebRecipe {
  readonly id: string;
  readonly compression: 'gzip' | 'xz' | 'zstd' | 'none';
  /** Control fields in order; multi-line values use "\n " continuation lines. */
  readonly control: Readonly<Record<string, string>>;
  /** Payload files: path below the package root -> text. */
  readonly files?: Readonly<Record<string, string>>;
}

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'deb');

/** The recipes of the committed fixture list. */
export function loadRecipes(): DebRecipe[] {
  return (JSON.parse(readFileSync(path.join(FIXTURES, 'packages.json'), 'utf8')) as { packages: DebRecipe[] }).packages;
}

/** Throws (a failure, never a skip) when a tool the tests need is missing. */
export function requireTools(...tools: string[]): void {
  for (const tool of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe' });
    } catch {
      throw new Error(`the tests need '${tool}' on PATH (install it; a missing tool is a failure, not a skip)`);
    }
  }
}

const created: string[] = [];

/** A fresh temp directory, removed by `removeTempDirs`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
  created.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made in this test file (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Control fields as control-file text. */
export function controlText(fields: Readonly<Record<string, string>>): string {
  return Object.entries(fields).map(([k, v]) => `${k}: ${v}\n`).join('');
}

/** Builds a recipe with dpkg-deb into `outDir`; returns the .deb path. Extra fields override the recipe's. */
export function buildDeb(recipe: DebRecipe, outDir: string, override: Readonly<Record<string, string>> = {}): string {
  const root = tempDir(`deb-${recipe.id}`);
  mkdirSync(path.join(root, 'DEBIAN'), { recursive: true });
  writeFileSync(path.join(root, 'DEBIAN', 'control'), controlText({ ...recipe.control, ...override }));
  for (const [file, text] of Object.entries(recipe.files ?? {})) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text, { mode: file.includes('/bin/') ? 0o755 : 0o644 });
  }
  const fields = { ...recipe.control, ...override };
  const out = path.join(outDir, `${fields.Package}_${fields.Version.replace(/^[0-9]+:/, '')}_${fields.Architecture}.deb`);
  mkdirSync(outDir, { recursive: true });
  execFileSync('dpkg-deb', [`-Z${recipe.compression}`, '--root-owner-group', '--build', root, out], { stdio: 'pipe' });
  return out;
}

/** Builds every committed recipe into `outDir`; returns recipe id -> path. */
export function buildAllRecipes(outDir: string): Map<string, string> {
  requireTools('dpkg-deb', 'xz', 'zstd', 'gzip');
  return new Map(loadRecipes().map((r) => [r.id, buildDeb(r, outDir)]));
}

/** Hex SHA-256 of a file. */
export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * An ar archive written byte by byte (for hostile inputs the real tools refuse to make).
 * Names use the dpkg form (no trailing slash) unless `bsd` asks for `#1/<len>` names.
 */
export function arArchive(members: ReadonlyArray<{ name: string; data: Uint8Array }>, options: { bsd?: boolean } = {}): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const m of members) {
    const bsd = options.bsd === true;
    const nameField = bsd ? `#1/${m.name.length}` : m.name;
    const size = m.data.length + (bsd ? m.name.length : 0);
    const header = nameField.padEnd(16) + '0'.padEnd(12) + '0'.padEnd(6) + '0'.padEnd(6) + '100644'.padEnd(8)
      + String(size).padEnd(10) + '`\n';
    parts.push(Buffer.from(header, 'latin1'));
    if (bsd) parts.push(Buffer.from(m.name, 'latin1'));
    parts.push(Buffer.from(m.data));
    if (size % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** A gzipped tar (made by the real tar) holding `files` (name -> bytes), names prefixed `./`. */
export function tarGz(files: Readonly<Record<string, string | Uint8Array>>): Buffer {
  const dir = tempDir('tar');
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), body);
  }
  const names = Object.keys(files).map((f) => `./${f}`);
  const tarBytes = execFileSync('tar', ['--format=gnu', '--owner=0', '--group=0', '-C', dir, '-cf', '-', ...(names.length ? names : ['-T', '/dev/null'])],
    { maxBuffer: 256 * MiB });
  return zlib.gzipSync(tarBytes);
}

/** A .deb assembled by hand around raw control-file bytes (dpkg-deb would refuse hostile ones). */
export function debWithControl(control: string | Uint8Array): Buffer {
  return arArchive([
    { name: 'debian-binary', data: Buffer.from('2.0\n') },
    { name: 'control.tar.gz', data: tarGz({ control: typeof control === 'string' ? Buffer.from(control, 'utf8') : control }) },
    { name: 'data.tar.gz', data: tarGz({}) },
  ]);
}

const LISTS = '/var/lib/apt/lists';
const PACKAGES_LIST = /_Packages(\.[a-z0-9]+)?$/;

/** Runs `apt-get update` when apt has no Packages lists yet. */
export function ensureAptLists(): void {
  requireTools('apt-get');
  if (!existsSync(LISTS) || !readdirSync(LISTS).some((f) => PACKAGES_LIST.test(f))) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'pipe' });
  }
}

/**
 * The stanzas of Debian's own Packages indexes (apt's lists on this machine) for files with
 * the given SHA-256 digests, as raw text; digest -> stanza.
 */
export function debianStanzasBySha256(digests: readonly string[]): Map<string, string> {
  ensureAptLists();
  const found = new Map<string, string>();
  for (const f of readdirSync(LISTS).filter((n) => PACKAGES_LIST.test(n))) {
    // apt-helper decompresses whatever apt stored (lz4 here, gz/xz/zst elsewhere)
    const text = execFileSync('/usr/lib/apt/apt-helper', ['cat-file', path.join(LISTS, f)], { maxBuffer: GiB }).toString('utf8');
    for (const digest of digests) {
      const at = text.indexOf(`\nSHA256: ${digest}\n`);
      if (at < 0 || found.has(digest)) continue;
      const start = text.lastIndexOf('\n\n', at) + 2;
      const end = text.indexOf('\n\n', at);
      found.set(digest, text.slice(start, end < 0 ? text.length : end + 1));
    }
  }
  return found;
}

/**
 * Real .debs from the machine's configured Debian mirror: `apt-get download` into a temp dir
 * (after `apt-get update` when apt has no lists yet). Returns file paths.
 */
export function downloadRealDebs(names: readonly string[]): string[] {
  ensureAptLists();
  const dir = tempDir('real-debs');
  execFileSync('apt-get', ['download', '-q', ...names], { cwd: dir, stdio: 'pipe' });
  return readdirSync(dir).filter((f) => f.endsWith('.deb')).sort().map((f) => path.join(dir, f));
}
