/**
 * Reading a binary package (.deb): the ar container holds `debian-binary` ("2.0\n"), then
 * `control.tar[.gz|.xz|.zst]`, then `data.tar[.*]`; members whose name starts with `_` are
 * optional extras (signatures) and skipped, as dpkg-deb does (`dpkg-deb/extract.c`). The
 * control stanza is `./control` inside the control tar. The whole file is read once, to hash
 * it (MD5, SHA-1, SHA-256 for the Packages index): a file given whole is hashed once it
 * parsed; a streamed one as it passes, holding only the small control member.
 */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { compressionOfName, decompressAll } from '../compression';
import { PackageFormatError, check } from '../errors';
import { readAr, type ArLimits } from './ar';
import { Deb822Paragraph, decodeUtf8, parseDeb822 } from './deb822';

const MiB = 1024 * 1024;

/** What the Packages index needs to know about one .deb file. */
export interface DebPackage {
  /** The control stanza, field for field, in the order of the control file. */
  readonly control: Deb822Paragraph;
  /** `Package`, `Version` (with epoch) and `Architecture`, validated. */
  readonly package: string;
  readonly version: string;
  readonly architecture: string;
  /** Size of the whole .deb file in bytes. */
  readonly size: number;
  /** Lower-case hex digests of the whole file. */
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
}

/** Caps for hostile input. */
export interface DebLimits {
  /** Largest control.tar member (compressed). @default 16 MiB */
  readonly maxControlMemberBytes?: number;
  /** Largest control.tar once decompressed. @default 64 MiB */
  readonly maxControlTarBytes?: number;
  /** Largest `control` file. @default 1 MiB */
  readonly maxControlFileBytes?: number;
  /** Most ar members. @default 64 */
  readonly maxMembers?: ArLimits['maxMembers'];
}

/**
 * Fields the archive writes about the file; a control file that sets them is refused
 * (apt-ftparchive would silently replace them; a package carrying them is broken or hostile).
 */
export const ARCHIVE_FIELDS: readonly string[] = ['Filename', 'MSDOS-Filename', 'Size', 'MD5sum', 'SHA1', 'SHA256', 'SHA512'];

const CONTROL_MEMBERS = new Set(['control.tar', 'control.tar.gz', 'control.tar.xz', 'control.tar.zst']);
const DATA_MEMBERS = new Set(['data.tar', 'data.tar.gz', 'data.tar.xz', 'data.tar.zst', 'data.tar.bz2', 'data.tar.lzma']);

/** Debian policy 5.6.1: lower case letters, digits, `+`, `-`, `.`; starting alphanumeric. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]*$/;
/** Debian policy 5.6.12: `[epoch:]upstream[-revision]`. */
const VERSION = /^(?:[0-9]+:)?[0-9A-Za-z][0-9A-Za-z.+~-]*$/;
/** dpkg-architecture names: `amd64`, `arm64`, `all`, `musl-linux-amd64`, ... */
const ARCHITECTURE = /^[a-z0-9][a-z0-9-]*$/;

/** The validated identity of a stanza; throws PackageFormatError naming `what`. */
export function packageIdentity(control: Deb822Paragraph, what: string): { package: string; version: string; architecture: string } {
  const name = control.get('Package');
  const version = control.get('Version');
  const architecture = control.get('Architecture');
  check(name !== undefined && name !== '', `${what} has no Package field`);
  check(version !== undefined && version !== '', `${what} has no Version field`);
  check(architecture !== undefined && architecture !== '', `${what} has no Architecture field`);
  check(PACKAGE_NAME.test(name), `${what}: invalid package name ${JSON.stringify(name)}`);
  check(VERSION.test(version) && !version.endsWith('-'), `${what}: invalid version ${JSON.stringify(version)}`);
  check(ARCHITECTURE.test(architecture), `${what}: invalid architecture ${JSON.stringify(architecture)}`);
  return { package: name, version, architecture };
}

function asFormatError(e: unknown, context: string): PackageFormatError {
  if (e instanceof PackageFormatError) return e;
  return new PackageFormatError(`${context}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/** control.tar.gz members up to this size are inflated at once on this thread: cheaper than a zlib stream. */
const SYNC_GUNZIP_BYTES = 256 * 1024;

/** A control.tar member decompressed whole, at most `max` bytes. */
async function controlTarOf(member: Uint8Array, memberName: string, max: number): Promise<Uint8Array> {
  const kind = compressionOfName(memberName);
  if (kind !== 'gzip' || member.length > SYNC_GUNZIP_BYTES) return decompressAll(member, kind, max);
  try {
    return zlib.gunzipSync(member, { maxOutputLength: max });
  } catch (e) {
    if ((e as { code?: string })?.code === 'ERR_BUFFER_TOO_LARGE') throw new PackageFormatError(`gzip data expands beyond the limit of ${max} bytes`);
    throw new PackageFormatError(`corrupt gzip data: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
}

/** The `control` file out of a control.tar member (compressed as its name says). */
async function controlFileOf(member: Uint8Array, memberName: string, limits: DebLimits): Promise<Uint8Array> {
  const maxTar = limits.maxControlTarBytes ?? 64 * MiB;
  const maxFile = limits.maxControlFileBytes ?? MiB;
  const extract = tar.extract();
  let found: Uint8Array | undefined;
  try {
    extract.end(await controlTarOf(member, memberName, maxTar));
    for await (const entry of extract) {
      const name = entry.header.name.replace(/^\.\//, '');
      if (name !== 'control') {
        entry.resume();
        continue;
      }
      check(found === undefined, `${memberName} holds more than one control file`);
      check(entry.header.type === 'file', `${memberName}: control is a ${entry.header.type}, not a regular file`);
      const size = entry.header.size ?? 0;
      check(size <= maxFile, `${memberName}: the control file is ${size} bytes, more than the limit of ${maxFile}`);
      const parts: Buffer[] = [];
      for await (const chunk of entry) parts.push(chunk as Buffer);
      found = Buffer.concat(parts);
    }
  } catch (e) {
    throw asFormatError(e, `corrupt ${memberName}`);
  } finally {
    extract.destroy();
  }
  check(found !== undefined, `${memberName} has no ./control file`);
  return found;
}

/** Parses and checks the bytes of a control file into its one stanza. */
export function parseControlFile(bytes: Uint8Array): Deb822Paragraph {
  const paragraphs = parseDeb822(decodeUtf8(bytes, 'control file'), { maxParagraphs: 2 });
  check(paragraphs.length === 1, paragraphs.length === 0
    ? 'the control file is empty'
    : 'the control file holds more than one paragraph (an empty line inside a field?)');
  const control = paragraphs[0];
  for (const name of ARCHIVE_FIELDS) {
    check(!control.has(name), `the control file sets ${name}, a field only the archive may write`);
  }
  packageIdentity(control, 'the control file');
  return control;
}

/**
 * Reads a .deb: its control stanza and the size and digests of the whole file. Throws
 * PackageFormatError for anything dpkg-deb would refuse: a bad container, a missing or
 * misplaced member, a corrupt control tar, a control file that is not one valid stanza.
 */
export async function readDeb(source: Uint8Array | AsyncIterable<Uint8Array>, limits: DebLimits = {}): Promise<DebPackage> {
  const whole = source instanceof Uint8Array;
  const streamed = whole ? undefined : { md5: createHash('md5'), sha1: createHash('sha1'), sha256: createHash('sha256'), size: 0 };
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      streamed!.md5.update(chunk);
      streamed!.sha1.update(chunk);
      streamed!.sha256.update(chunk);
      streamed!.size += chunk.length;
      yield chunk;
    }
  }

  const maxControl = limits.maxControlMemberBytes ?? 16 * MiB;
  let sawVersion = false;
  let control: { name: string; data: Uint8Array } | undefined;
  let data: string | undefined;
  const keep = (h: { name: string }) => h.name === 'debian-binary' || CONTROL_MEMBERS.has(h.name);
  try {
    for await (const member of readAr(whole ? source : hashed(), keep, { maxMembers: limits.maxMembers, maxKeptBytes: maxControl })) {
      const name = member.header.name;
      if (!sawVersion) {
        check(name === 'debian-binary', `not a Debian package: the first ar member is ${JSON.stringify(name)}, not debian-binary`);
        const text = Buffer.from(member.data!).toString('latin1');
        check(/^2\.[0-9]+\n/.test(text), `unsupported .deb format version ${JSON.stringify(text.slice(0, 16))} (only 2.x)`);
        sawVersion = true;
      } else if (name.startsWith('_')) {
        continue;
      } else if (CONTROL_MEMBERS.has(name)) {
        check(control === undefined, `the package has two control members (${control?.name}, ${name})`);
        check(data === undefined, `${name} comes after ${data}; dpkg needs the control member first`);
        control = { name, data: member.data! };
      } else if (DATA_MEMBERS.has(name)) {
        check(data === undefined, `the package has two data members (${data}, ${name})`);
        check(control !== undefined, `the package has no control.tar member before ${name}`);
        data = name;
      } else {
        throw new PackageFormatError(`the package has an unknown member ${JSON.stringify(name)}`);
      }
    }
  } catch (e) {
    throw asFormatError(e, 'bad .deb');
  }
  check(sawVersion, 'not a Debian package: empty ar archive');
  check(control !== undefined, 'the package has no control.tar member');
  check(data !== undefined, 'the package has no data.tar member');

  const stanza = parseControlFile(await controlFileOf(control.data, control.name, limits));
  const identity = packageIdentity(stanza, 'the control file');
  const digests = whole
    ? wholeFileDigests(source)
    : { size: streamed!.size, md5: streamed!.md5.digest('hex'), sha1: streamed!.sha1.digest('hex'), sha256: streamed!.sha256.digest('hex') };
  return { control: stanza, ...identity, ...digests };
}

/** Size, MD5, SHA-1 and SHA-256 of a whole file. */
function wholeFileDigests(bytes: Uint8Array): { size: number; md5: string; sha1: string; sha256: string } {
  const hex = (algorithm: string) => createHash(algorithm).update(bytes).digest('hex');
  return { size: bytes.length, md5: hex('md5'), sha1: hex('sha1'), sha256: hex('sha256') };
}
