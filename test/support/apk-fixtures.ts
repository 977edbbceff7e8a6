import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';

const MiB = 1024 * 1024;

/**
 * Builds apk v2 packages in the test run with the real tools, the way abuild's
 * create_apks does it: GNU tar in posix (PAX) format like abuild's `apk_tar`, `gzip -n -9`,
 * control tar cut like `abuild-tar --cut`, `datahash` appended to .PKGINFO, and the
 * control member signed like abuild-sign (`openssl dgst -sign`, cut tar, gzipped,
 * prepended). Also keys made like abuild-keygen (`openssl genrsa` + `openssl rsa -pubout`).
 */

export const CHECK_SCRIPT = join(__dirname, '..', 'fixtures', 'apk', 'apk_check.py');
const MTIME = '@1700000000';

/** Fails loudly when a tool the apk tests need is missing (CI must not skip silently). */
export function requireTools(...tools: string[]): void {
  for (const tool of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'pipe' });
    } catch {
      throw new Error(`the apk tests need '${tool}' on PATH`);
    }
  }
}

export function tempDir(prefix = 'apk-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** An RSA key pair as abuild-keygen makes it. */
export interface ApkTestKey {
  readonly privatePath: string;
  readonly publicPath: string;
  /** The public key's file name, as it goes into /etc/apk/keys. */
  readonly keyName: string;
  readonly privatePem: string;
  readonly publicPem: string;
}

export function makeRsaKey(dir: string, name: string, bits = 2048): ApkTestKey {
  const privatePath = join(dir, `${name}.rsa`);
  const publicPath = join(dir, `${name}.rsa.pub`);
  execFileSync('openssl', ['genrsa', '-out', privatePath, String(bits)], { stdio: 'pipe' });
  execFileSync('openssl', ['rsa', '-in', privatePath, '-pubout', '-out', publicPath], { stdio: 'pipe' });
  return {
    privatePath,
    publicPath,
    keyName: `${name}.rsa.pub`,
    privatePem: readFileSync(privatePath, 'utf8'),
    publicPem: readFileSync(publicPath, 'utf8'),
  };
}

/** `abuild-tar --cut`: drop everything from the first all-zero header block on. */
export function cutTar(tar: Buffer): Buffer {
  let offset = 0;
  while (offset + 512 <= tar.length && tar.subarray(offset, offset + 512).some((b) => b !== 0)) {
    const size = parseInt(tar.subarray(offset + 124, offset + 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return tar.subarray(0, offset);
}

function sh(script: string, cwd: string): Buffer {
  return execFileSync('sh', ['-c', script], { cwd, maxBuffer: 1024 * MiB });
}

const APK_TAR_OPTIONS = ['--format=posix', '--owner=0', '--group=0', '--numeric-owner', `--mtime=${MTIME}`, '--no-recursion'];
const PAX_OPTIONS = 'exthdr.name=%d/PaxHeaders/%f,atime:=0,ctime:=0';

/** abuild's apk_tar: GNU tar, posix format, numeric root ownership, fixed mtime. */
function apkTar(cwd: string, names: string[]): Buffer {
  return execFileSync('tar', [...APK_TAR_OPTIONS, `--pax-option=${PAX_OPTIONS}`, '-cf', '-', ...names], { cwd, maxBuffer: 1024 * MiB });
}

/**
 * The data tar as `apk_tar | abuild-tar --hash` makes it: every regular file gets a PAX
 * `APK-TOOLS.checksum.SHA1` record (apk-tools 2 marks packages without them as broken).
 */
function dataTar(cwd: string, names: string[]): Buffer {
  const tarFile = join(cwd, '..', 'data.tar');
  names.forEach((name, i) => {
    const full = join(cwd, name);
    const hash = statSync(full).isFile() ? `,APK-TOOLS.checksum.SHA1:=${createHash('sha1').update(readFileSync(full)).digest('hex')}` : '';
    execFileSync('tar', [...APK_TAR_OPTIONS, `--pax-option=${PAX_OPTIONS}${hash}`, i === 0 ? '-cf' : '-rf', tarFile, name], { cwd });
  });
  return readFileSync(tarFile);
}

function gzip(data: Buffer, cwd: string): Buffer {
  return execFileSync('gzip', ['-n', '-9', '-c'], { input: data, cwd, maxBuffer: 1024 * MiB });
}

/** The parts of an apk the builder assembles. */
export interface ApkFixtureSpec {
  /** `.PKGINFO` text without `datahash` (the builder appends it, like abuild). */
  readonly pkginfo: string;
  /** Data files: relative path → content. Directories are added for every parent. */
  readonly files: Readonly<Record<string, string | Buffer>>;
  /** Install scripts in the control tar (`.post-install` → content). */
  readonly scripts?: Readonly<Record<string, string>>;
  /** Append `datahash = <sha256 of data.tar.gz>` (default true; false = an old-style package). */
  readonly dataHash?: boolean;
  /** Sign the control member with this key (like abuild-sign). */
  readonly signWith?: ApkTestKey;
  readonly signatureType?: 'RSA' | 'RSA256';
  /** Leave the control tar's end-of-archive blocks in (a broken package). */
  readonly uncutControl?: boolean;
  /** Leave .PKGINFO out of the control tar (a broken package). */
  readonly withoutPkgInfo?: boolean;
}

/** The members of a built package, for tests that check boundaries. */
export interface ApkFixture {
  readonly bytes: Buffer;
  readonly signature?: Buffer;
  readonly control: Buffer;
  readonly data: Buffer;
}

/** Builds one .apk with the real tools. */
export function buildApk(spec: ApkFixtureSpec): ApkFixture {
  const work = tempDir('apk-build-');
  const root = join(work, 'root');
  const ctl = join(work, 'control');
  mkdirSync(root);
  mkdirSync(ctl);
  const paths = new Set<string>();
  for (const [path, content] of Object.entries(spec.files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) paths.add(parts.slice(0, i).join('/'));
  }
  const sorted = [...paths].sort();
  const data = gzip(sorted.length ? dataTar(root, sorted) : sh('tar -cf - -T /dev/null', root), work);

  let pkginfo = spec.pkginfo;
  if (spec.dataHash !== false) pkginfo += `datahash = ${createHash('sha256').update(data).digest('hex')}\n`;
  const metafiles: string[] = [];
  if (!spec.withoutPkgInfo) {
    writeFileSync(join(ctl, '.PKGINFO'), pkginfo);
    metafiles.push('.PKGINFO');
  }
  for (const [name, content] of Object.entries(spec.scripts ?? {})) {
    writeFileSync(join(ctl, name), content, { mode: 0o755 });
    metafiles.push(name);
  }
  const controlTar = apkTar(ctl, metafiles);
  const control = gzip(spec.uncutControl ? controlTar : cutTar(controlTar), work);

  let signature: Buffer | undefined;
  if (spec.signWith) {
    const type = spec.signatureType ?? 'RSA';
    const sigName = `.SIGN.${type}.${spec.signWith.keyName}`;
    // with a datahash the signature covers the control member; without one (old packages), control and data
    writeFileSync(join(work, 'control.tar.gz'), spec.dataHash === false ? Buffer.concat([control, data]) : control);
    execFileSync('openssl', ['dgst', type === 'RSA' ? '-sha1' : '-sha256', '-sign', spec.signWith.privatePath,
      '-out', join(work, sigName), join(work, 'control.tar.gz')]);
    signature = gzip(cutTar(apkTar(work, [sigName])), work);
  }
  const bytes = Buffer.concat([...(signature ? [signature] : []), control, data]);
  return { bytes, signature, control, data };
}

/** `.PKGINFO` text as abuild writes it, from key/value pairs (arrays repeat the key). */
export function pkginfoText(fields: Readonly<Record<string, string | number | readonly string[]>>): string {
  const lines = ['# Generated by abuild 3.12.0', '# using fakeroot version 1.32.1'];
  for (const [key, value] of Object.entries(fields)) {
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${key} = ${v}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Runs the independent Python checker (test/fixtures/apk/apk_check.py). */
export function pythonCheck(...args: string[]): string {
  return execFileSync('python3', [CHECK_SCRIPT, ...args], { encoding: 'utf8' }).trim();
}

const FIELD_ORDER = 'CPVASITULomtckDpi';

/** Checks the APKINDEX layout without our parser: field order, T/U/L present, blank line after every entry. */
export function apkIndexBlocks(text: string): Map<string, string>[] {
  expect(text.endsWith('\n\n')).toBe(true);
  const blocks = text.slice(0, -2).split('\n\n');
  return blocks.map((block) => {
    const lines = block.split('\n');
    const keys = lines.map((l) => {
      expect(l).toMatch(/^[A-Za-z]:/);
      return l[0];
    });
    const positions = keys.map((k) => FIELD_ORDER.indexOf(k));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(new Set(keys).size).toBe(keys.length);
    for (const required of 'CPVSITUL') expect(keys).toContain(required);
    return new Map(lines.map((l) => [l[0], l.slice(2)]));
  });
}

/** What {@link verifyIndexWithTools} found in a signed APKINDEX.tar.gz. */
export interface VerifiedIndex {
  readonly description: string;
  readonly apkindex: string;
  readonly blocks: Map<string, string>[];
}

/**
 * Checks a signed APKINDEX.tar.gz with tools only: python cuts off the first gzip member,
 * bsdtar lists the members as one tar stream and extracts the signature, openssl verifies
 * it over the exact remaining bytes, which must be one gzip member.
 */
export function verifyIndexWithTools(file: string, publicKeyPath: string, entryName: string, digest: '-sha1' | '-sha256'): VerifiedIndex {
  const dir = tempDir('apk-verify-');
  const sigMember = join(dir, 'sig.tar.gz');
  const rest = join(dir, 'unsigned.tar.gz');
  pythonCheck('split', file, sigMember, rest);
  expect(JSON.parse(pythonCheck('members', rest))).toHaveLength(1);
  const listing = execFileSync('bsdtar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
  expect(listing).toEqual([entryName, 'DESCRIPTION', 'APKINDEX']);
  const signature = join(dir, 'signature');
  writeFileSync(signature, execFileSync('bsdtar', ['-xOf', sigMember, entryName]));
  const verified = execFileSync('openssl', ['dgst', digest, '-verify', publicKeyPath, '-signature', signature, rest], { encoding: 'utf8' });
  expect(verified.trim()).toBe('Verified OK');
  const apkindex = execFileSync('bsdtar', ['-xOf', rest, 'APKINDEX'], { encoding: 'utf8' });
  return {
    description: execFileSync('bsdtar', ['-xOf', rest, 'DESCRIPTION'], { encoding: 'utf8' }),
    apkindex,
    blocks: apkIndexBlocks(apkindex),
  };
}
