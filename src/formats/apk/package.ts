import { createHash, type Hash } from 'node:crypto';
import { decompress } from '../compression';
import { check } from '../errors';
import { IncompleteGzipMemberError, readGzipMember, type GzipMember } from './gzip-members';
import type { ApkPackage, ApkSignatureInfo } from './model';
import { parsePkgInfo } from './pkginfo';
import { tarEntries } from './tar-io';

/**
 * Reading an apk v2 package (apk-tools 2.14 `apk_pkg_read`, `apk_sign_ctx_mpart_cb`):
 * gzip members `[signature tar]... control tar (.PKGINFO, scripts) data tar`. The
 * signature and control tars are cut (no end-of-archive blocks), so apk reads the members
 * as one tar stream while hashing each member's raw bytes separately.
 */

/** Limits that keep reading a hostile package bounded. */
export interface ApkReadLimits {
  /** Most raw bytes of the signature and control members together. */
  readonly maxHeadBytes: number;
  /** Most bytes a signature or control member may inflate to. */
  readonly maxControlBytes: number;
  /** Most signature members before the control member. */
  readonly maxSignatureMembers: number;
  /** Most entries in the control tar. */
  readonly maxControlEntries: number;
  /** Most bytes the data member may inflate to. */
  readonly maxDataBytes: number;
  /** Most entries in the data tar. */
  readonly maxDataEntries: number;
}

const MiB = 1024 * 1024;

/** Defaults: generous for real packages, small enough for a Lambda. */
export const DEFAULT_APK_LIMITS: ApkReadLimits = {
  maxHeadBytes: 16 * MiB,
  maxControlBytes: 16 * MiB,
  maxSignatureMembers: 8,
  maxControlEntries: 64,
  maxDataBytes: 8 * 1024 ** 3,
  maxDataEntries: 1_000_000,
};

const SIGNATURE_PREFIX = '.SIGN.';
const END_OF_ARCHIVE = 1024;

/** The input: a growing head buffer for the small leading members, then the rest streamed. */
class Input {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunks: Buffer[] = [];
  private head = Buffer.alloc(0);
  private ended = false;
  /** Bytes read from the source so far. */
  total = 0;

  constructor(source: Uint8Array | AsyncIterable<Uint8Array>) {
    const iterable: AsyncIterable<Uint8Array> = source instanceof Uint8Array
      ? (async function* one() { yield source; })()
      : source;
    this.iterator = iterable[Symbol.asyncIterator]();
  }

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.iterator.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    this.total += chunk.length;
    this.chunks.push(chunk);
    return true;
  }

  private buffered(): Buffer {
    if (this.chunks.length) {
      this.head = Buffer.concat([this.head, ...this.chunks]);
      this.chunks = [];
    }
    return this.head;
  }

  /** The gzip member at `offset`, reading more input (up to `maxHeadBytes`) as needed. */
  async member(offset: number, limits: ApkReadLimits): Promise<GzipMember> {
    if (this.buffered().length <= offset) await this.pull();
    for (;;) {
      const head = this.buffered();
      try {
        return readGzipMember(head, offset, limits.maxControlBytes);
      } catch (e) {
        if (!(e instanceof IncompleteGzipMemberError) || this.ended) throw e;
        check(head.length < limits.maxHeadBytes,
          `the signature and control members exceed the limit of ${limits.maxHeadBytes} bytes`);
      }
      // read until the buffer doubles before inflating again
      const target = Math.min(Math.max(head.length * 2, 64 * 1024), limits.maxHeadBytes);
      let size = head.length;
      while (size < target && await this.pull()) size += this.chunks[this.chunks.length - 1].length;
    }
  }

  /** Whether there is input at or after `offset` (of the head buffer). */
  async has(offset: number): Promise<boolean> {
    while (this.buffered().length <= offset) {
      if (!await this.pull()) return false;
    }
    return true;
  }

  /** Bytes of the head buffer (only before `rest` is called). */
  slice(start: number, end: number): Buffer {
    return this.buffered().subarray(start, end);
  }

  /** Everything from `offset` on, streamed. */
  async *rest(offset: number): AsyncGenerator<Buffer> {
    const head = this.buffered();
    this.head = Buffer.alloc(0);
    if (offset < head.length) yield head.subarray(offset);
    while (await this.pull()) yield this.chunks.pop()!;
  }
}

function signatureOf(name: string): ApkSignatureInfo {
  const rest = name.slice(SIGNATURE_PREFIX.length);
  const dot = rest.indexOf('.');
  check(dot > 0 && dot < rest.length - 1, `malformed signature entry name ${JSON.stringify(name)}`);
  return { type: rest.slice(0, dot), keyName: rest.slice(dot + 1) };
}

interface LeadingMember {
  readonly names: string[];
  readonly pkginfo?: Buffer;
}

/** Lists a signature or control member and collects `.PKGINFO`; it must be cut. */
async function readLeadingMember(member: GzipMember, limits: ApkReadLimits): Promise<LeadingMember> {
  const names: string[] = [];
  let pkginfo: Buffer | undefined;
  let end = 0;
  const what = `tar in the gzip member at offset ${member.start}`;
  for await (const entry of tarEntries(member.data, what, limits.maxControlEntries)) {
    names.push(entry.header.name);
    end = entry.header.end;
    if (entry.header.name === '.PKGINFO') {
      check(pkginfo === undefined, 'the control member holds two .PKGINFO entries');
      pkginfo = await entry.read(limits.maxControlBytes);
    }
  }
  check(member.data.length - end < END_OF_ARCHIVE,
    `the ${what} ends with end-of-archive blocks; apk would stop reading there (build it with abuild-tar --cut)`);
  return { names, pkginfo };
}

/**
 * Reads an .apk (v2) from its bytes or a stream of them. Returns the identity apk computes
 * (`C:`), the file size, the parsed .PKGINFO and the names of the package's signatures.
 * The data member is streamed through (never held whole): its tar must be complete and,
 * when .PKGINFO has a `datahash`, match it. Throws PackageFormatError for bad input.
 */
export async function readApk(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  limits: ApkReadLimits = DEFAULT_APK_LIMITS,
): Promise<ApkPackage> {
  const input = new Input(source);
  const signatures: ApkSignatureInfo[] = [];
  let offset = 0;
  let control: { member: GzipMember; names: string[]; pkginfo?: Buffer } | undefined;
  while (!control) {
    const member = await input.member(offset, limits);
    const listed = await readLeadingMember(member, limits);
    if (listed.names.length > 0 && listed.names.every((n) => n.startsWith(SIGNATURE_PREFIX))) {
      check(signatures.length < limits.maxSignatureMembers, `more than ${limits.maxSignatureMembers} signature members`);
      signatures.push(...listed.names.map(signatureOf));
      offset = member.end;
    } else {
      control = { member, ...listed };
    }
  }
  check(control.pkginfo !== undefined,
    `the control member (gzip member at offset ${control.member.start}) has no .PKGINFO; entries: ${control.names.join(', ') || 'none'}`);
  const info = parsePkgInfo(control.pkginfo);
  check(await input.has(control.member.end), 'the package has no data member after the control member');

  // apk's identity: SHA-1 of the control member's raw bytes; packages without a datahash
  // (before abuild 3.3) are identified by control and data together
  const identity = createHash('sha1').update(input.slice(control.member.start, control.member.end));
  const data = await readData(input.rest(control.member.end), info.dataHash ? undefined : identity, limits);
  if (info.dataHash) {
    check(data.sha256 === info.dataHash,
      `the data member does not match .PKGINFO datahash (sha256 ${data.sha256}, expected ${info.dataHash}): truncated or altered`);
  }
  return {
    checksum: `Q1${identity.digest('base64')}`,
    size: input.total,
    info,
    signatures,
    controlEntries: control.names,
    dataEntries: data.entries,
  };
}

/** Streams the data member(s): gzip and tar must be intact. */
async function readData(
  raw: AsyncIterable<Buffer>,
  identity: Hash | undefined,
  limits: ApkReadLimits,
): Promise<{ entries: number; sha256: string }> {
  const sha256 = createHash('sha256');
  let first = true;
  // errors of the source (storage) must surface as themselves, not as corrupt gzip data
  let sourceError: unknown;
  async function* hashed(): AsyncGenerator<Buffer> {
    const iterator = raw[Symbol.asyncIterator]();
    try {
      for (;;) {
        let step: IteratorResult<Buffer>;
        try {
          step = await iterator.next();
        } catch (e) {
          sourceError = e;
          throw e;
        }
        if (step.done) return;
        const chunk = step.value;
        if (first && chunk.length) {
          check(chunk[0] === 0x1f && (chunk.length < 2 || chunk[1] === 0x8b), 'the data member is not gzip data');
          first = false;
        }
        sha256.update(chunk);
        identity?.update(chunk);
        yield chunk;
      }
    } finally {
      await iterator.return?.();
    }
  }
  let entries = 0;
  try {
    for await (const entry of tarEntries(decompress(hashed(), 'gzip', limits.maxDataBytes), 'data tar', limits.maxDataEntries)) {
      check(entry.header.name !== '', 'the data tar has an entry without a name');
      entries++;
    }
  } catch (e) {
    throw sourceError ?? e;
  }
  return { entries, sha256: sha256.digest('hex') };
}
