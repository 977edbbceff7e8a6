/**
 * The file tree of a package built without the distribution tools (`buildDeb`, `buildApk`,
 * `buildPacmanPackage`): the files a spec lists, validated, every parent directory added
 * (apk-tools refuses a file whose directory is not in the archive; dpkg-deb and makepkg
 * archive every directory too), sorted; and a ustar writer for it (tar-stream) with root
 * ownership and one fixed modification time, so the same spec always gives the same bytes.
 */
import * as tar from 'tar-stream';

/** One file, directory or symlink in a package. */
export interface PackageBuildFile {
  /** Absolute path, e.g. `/usr/bin/hello`. */
  readonly path: string;
  /** @default 'file' */
  readonly type?: 'file' | 'dir' | 'symlink';
  /** File content (type 'file'). @default empty */
  readonly contents?: Uint8Array | string;
  /** Symlink target (type 'symlink'), relative or absolute. */
  readonly target?: string;
  /** Permission bits. @default 0o644 for files, 0o755 for directories, 0o777 for symlinks */
  readonly mode?: number;
}

/** A validated entry of the tree. */
export interface TreeEntry {
  /** The path without its leading slash, e.g. `usr/bin/hello`. */
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink';
  /** Permission bits (no file type bits). */
  readonly mode: number;
  /** The content of a file; empty for directories and symlinks. */
  readonly data: Buffer;
  /** The target of a symlink; empty otherwise. */
  readonly target: string;
}

/**
 * Member order: `per-directory` = depth first, each directory's entries sorted bytewise (what
 * dpkg-deb and GNU tar `--sort=name` write); `bytewise` = every path sorted bytewise as one
 * list (makepkg's `printf '%s\0' **` under LC_COLLATE=C).
 */
export type TreeOrder = 'per-directory' | 'bytewise';

/** Longest path accepted (PATH_MAX less the room apk-tools keeps). */
const MAX_PATH_BYTES = 4000;
/** The latest modification time the 11 octal digits of a ustar header hold (year 2242). */
const MAX_USTAR_TIME = 0o77777777777;
/** Longest path component (NAME_MAX). */
const MAX_NAME_BYTES = 255;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A comparator of entries by path in `order`. */
export function comparePaths(order: TreeOrder): (a: TreeEntry, b: TreeEntry) => number {
  if (order === 'bytewise') return (a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
  return (a, b) => {
    const x = a.path.split('/');
    const y = b.path.split('/');
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const c = Buffer.compare(Buffer.from(x[i]), Buffer.from(y[i]));
      if (c !== 0) return c;
    }
    return x.length - y.length;
  };
}

function checkMode(mode: number, path: string, builder: string): number {
  // tar-stream writes its default mode for 0, so a mode of 0 cannot be kept
  if (!Number.isInteger(mode) || mode < 1 || mode > 0o7777) {
    throw new Error(`${builder}: mode of ${path} must be permission bits from 0o1 to 0o7777, got ${mode}`);
  }
  return mode;
}

function entryOf(f: PackageBuildFile, builder: string): TreeEntry {
  const where = JSON.stringify(f.path);
  if (typeof f.path !== 'string' || !f.path.startsWith('/') || f.path.endsWith('/') || CONTROL.test(f.path)) {
    throw new Error(`${builder}: file path must be absolute, without a trailing slash or control characters: ${where}`);
  }
  const path = f.path.slice(1);
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..' || Buffer.byteLength(p) > MAX_NAME_BYTES)) {
    throw new Error(`${builder}: file path has an empty, '.', '..' or over-long (${MAX_NAME_BYTES} bytes) component: ${where}`);
  }
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) throw new Error(`${builder}: file path is longer than ${MAX_PATH_BYTES} bytes: ${where}`);
  const type = f.type ?? 'file';
  if (type === 'dir') return { path, type, mode: checkMode(f.mode ?? 0o755, f.path, builder), data: Buffer.alloc(0), target: '' };
  if (type === 'symlink') {
    if (!f.target || CONTROL.test(f.target) || Buffer.byteLength(f.target) > MAX_PATH_BYTES) {
      throw new Error(`${builder}: symlink ${f.path} needs a target of 1 to ${MAX_PATH_BYTES} bytes without control characters`);
    }
    return { path, type, mode: checkMode(f.mode ?? 0o777, f.path, builder), data: Buffer.alloc(0), target: f.target };
  }
  if (type !== 'file') throw new Error(`${builder}: unknown file type ${JSON.stringify(type)} of ${f.path}`);
  const data = typeof f.contents === 'string' ? Buffer.from(f.contents) : Buffer.from(f.contents ?? new Uint8Array(0));
  return { path, type, mode: checkMode(f.mode ?? 0o644, f.path, builder), data, target: '' };
}

/**
 * Validates `files` and returns them with every missing parent directory added (mode 0755),
 * in `order`. Throws an Error naming `builder` for a relative, duplicate or malformed path,
 * a bad mode, a symlink without a target, or a path below a file or symlink.
 */
export function buildTree(files: readonly PackageBuildFile[], order: TreeOrder, builder: string): TreeEntry[] {
  const entries = new Map<string, TreeEntry>();
  for (const f of files) {
    const entry = entryOf(f, builder);
    if (entries.has(entry.path)) throw new Error(`${builder}: duplicate file path ${f.path}`);
    entries.set(entry.path, entry);
  }
  for (const entry of [...entries.values()]) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const existing = entries.get(dir);
      if (existing && existing.type !== 'dir') {
        throw new Error(`${builder}: /${entry.path} is below /${dir}, which is a ${existing.type}, not a directory`);
      }
      if (!existing) entries.set(dir, { path: dir, type: 'dir', mode: 0o755, data: Buffer.alloc(0), target: '' });
    }
  }
  return [...entries.values()].sort(comparePaths(order));
}

/** One member of a tar written by {@link writeTar}. */
export interface TarMember {
  /** The name as stored; directories end with `/`. */
  readonly name: string;
  readonly type: 'file' | 'directory' | 'symlink';
  readonly mode: number;
  readonly data?: Uint8Array;
  readonly linkname?: string;
  /** PAX extended header records (`x`), written before the member. */
  readonly pax?: Readonly<Record<string, string>>;
}

/** The member of a tree entry, named `prefix` + path (+ `/` for directories). */
export function tarMemberOf(entry: TreeEntry, prefix: string, pax?: Readonly<Record<string, string>>): TarMember {
  return {
    name: `${prefix}${entry.path}${entry.type === 'dir' ? '/' : ''}`,
    type: entry.type === 'dir' ? 'directory' : entry.type,
    mode: entry.mode,
    data: entry.data,
    linkname: entry.type === 'symlink' ? entry.target : undefined,
    pax,
  };
}

/**
 * Whether a member fits a plain ustar header, without PAX records: ASCII name and link
 * target, the name splittable at a `/` into a prefix of at most 155 bytes and a rest of at
 * most 100 (the split tar-stream makes), a link target of at most 100 bytes.
 */
export function fitsUstar(member: Pick<TarMember, 'name' | 'linkname'>): boolean {
  const ascii = (s: string) => /^[\x20-\x7e]*$/.test(s);
  if (!ascii(member.name) || !ascii(member.linkname ?? '') || (member.linkname ?? '').length > 100) return false;
  let name = member.name;
  let prefix = '';
  while (name.length > 100) {
    const slash = name.indexOf('/');
    if (slash < 0) return false;
    prefix += (prefix ? '/' : '') + name.slice(0, slash);
    name = name.slice(slash + 1);
  }
  return prefix.length <= 155;
}

/**
 * A POSIX ustar archive of `members`, every one owned by root:root (0/0) and modified at
 * `mtime` (seconds since the epoch). Names or link targets ustar cannot hold (non-ASCII, too
 * long) go into PAX `path`/`linkpath` records. With `endOfArchive: false` the two zero blocks
 * that end a tar are left out.
 */
export async function writeTar(members: readonly TarMember[], mtime: number, endOfArchive = true): Promise<Buffer> {
  if (!Number.isInteger(mtime) || mtime < 0 || mtime > MAX_USTAR_TIME) {
    throw new Error(`modification time ${mtime} does not fit a ustar header (0 to ${MAX_USTAR_TIME} seconds)`);
  }
  const pack = tar.pack();
  const parts: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (chunk: unknown) => {
      parts.push(chunk as Buffer);
    });
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  const date = new Date(mtime * 1000);
  for (const m of members) {
    const data = Buffer.from(m.data ?? new Uint8Array(0));
    const header = {
      name: m.name,
      type: m.type,
      mode: m.mode,
      size: m.type === 'file' ? data.length : 0,
      linkname: m.linkname,
      mtime: date,
      uid: 0,
      gid: 0,
      uname: 'root',
      gname: 'root',
      pax: m.pax ? { ...m.pax } : undefined,
    };
    if (m.type === 'file') pack.entry(header, data);
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  const all = Buffer.concat(parts);
  return endOfArchive ? all : all.subarray(0, all.length - 1024);
}
