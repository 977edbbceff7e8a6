/**
 * The `ar` container of .deb files (apt `apt-pkg/contrib/arfile.cc`, dpkg `lib/dpkg/ar.c`):
 * the magic `!<arch>\n`, then members, each a 60-byte header followed by its data padded to
 * an even length. Names are the common form padded with spaces (a trailing `/` as GNU ar
 * writes it is dropped) or the BSD form `#1/<length>` with the name at the start of the data.
 * GNU long-name tables (`//`, `/<offset>`) never occur in .deb files and are rejected.
 *
 * The reader streams: it holds one header and, for members the caller keeps, their data
 * (bounded by a limit); every other member is skipped as it passes. No buffer is ever sized
 * by an unchecked length field.
 */
import { check } from '../errors';

/** The eight bytes every ar archive starts with. */
export const AR_MAGIC = '!<arch>\n';
/** Size of a member header. */
export const AR_HEADER_SIZE = 60;

/** A member header, decoded. */
export interface ArMemberHeader {
  /** Member name without padding or the GNU trailing slash. */
  readonly name: string;
  readonly mtime: number;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  /** Size of the member's data (for BSD names: without the name bytes). */
  readonly size: number;
}

/** A member as the reader yields it. */
export interface ArMember {
  readonly header: ArMemberHeader;
  /** Offset of the member's data in the archive. */
  readonly offset: number;
  /** The data, present only for members the caller chose to keep. */
  readonly data?: Uint8Array;
}

/** Caps for hostile input. */
export interface ArLimits {
  /** Most members in one archive. @default 64 */
  readonly maxMembers?: number;
  /** Largest member the caller may keep in memory. @default 64 MiB */
  readonly maxKeptBytes?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_MAX_MEMBERS = 64;
const DEFAULT_MAX_KEPT = 64 * MiB;
const BSD_NAME_MAX = 256;

function field(block: Uint8Array, start: number, length: number): string {
  return Buffer.from(block.buffer, block.byteOffset + start, length).toString('latin1');
}

function number(block: Uint8Array, start: number, length: number, radix: 8 | 10, what: string, offset: number): number {
  const text = field(block, start, length).replace(/ +$/, '');
  if (text === '' && what !== 'size') return 0;
  const digits = radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  check(digits.test(text), `invalid ar member ${what} ${JSON.stringify(text)} in the header at offset ${offset}`);
  return parseInt(text, radix);
}

/**
 * Decodes one 60-byte member header found at `offset` of the archive. For a BSD name the
 * returned `name` is empty and `bsdNameLength` tells how many data bytes hold the name.
 */
export function decodeArHeader(block: Uint8Array, offset: number): ArMemberHeader & { readonly bsdNameLength: number } {
  check(block.length >= AR_HEADER_SIZE,
    `truncated ar member header: need ${AR_HEADER_SIZE} bytes at offset ${offset}, have ${block.length}`);
  check(block[58] === 0x60 && block[59] === 0x0a, `bad ar member header at offset ${offset}: missing the \`\\n terminator`);
  const rawName = field(block, 0, 16);
  check(/^[\x21-\x7e][\x20-\x7e]*$/.test(rawName), `bad ar member name ${JSON.stringify(rawName)} at offset ${offset}`);
  const size = number(block, 48, 10, 10, 'size', offset);
  const common = {
    mtime: number(block, 16, 12, 10, 'mtime', offset),
    uid: number(block, 28, 6, 10, 'uid', offset),
    gid: number(block, 34, 6, 10, 'gid', offset),
    mode: number(block, 40, 8, 8, 'mode', offset),
  };
  if (rawName.startsWith('#1/')) {
    const length = Number(rawName.slice(3).replace(/ +$/, ''));
    check(Number.isInteger(length) && length > 0 && length <= BSD_NAME_MAX,
      `bad BSD ar member name ${JSON.stringify(rawName)} at offset ${offset}`);
    check(length <= size, `BSD ar member name length ${length} exceeds the member size ${size} at offset ${offset}`);
    return { name: '', ...common, size: size - length, bsdNameLength: length };
  }
  const name = rawName.replace(/ +$/, '').replace(/\/$/, '');
  check(name.length > 0 && !name.startsWith('/'),
    `unsupported ar member name ${JSON.stringify(rawName.trim())} at offset ${offset} (GNU symbol or long-name tables are not used in .deb files)`);
  return { name, ...common, size, bsdNameLength: 0 };
}

/** Pulls exact byte counts out of an async chunk source, tracking the offset. */
class ByteReader {
  offset = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private done = false;
  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  private async fill(want: number): Promise<void> {
    while (this.pendingBytes < want && !this.done) {
      const next = await this.source.next();
      if (next.done) {
        this.done = true;
      } else if (next.value.length > 0) {
        this.pending.push(next.value);
        this.pendingBytes += next.value.length;
      }
    }
  }

  /** Up to `n` bytes (fewer only at the end of the input). `n` must be a bounded size. */
  async read(n: number): Promise<Uint8Array> {
    await this.fill(n);
    const take = Math.min(n, this.pendingBytes);
    const out = new Uint8Array(take);
    let filled = 0;
    while (filled < take) {
      const head = this.pending[0];
      const part = Math.min(head.length, take - filled);
      out.set(head.subarray(0, part), filled);
      filled += part;
      if (part === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(part);
    }
    this.pendingBytes -= take;
    this.offset += take;
    return out;
  }

  /** Skips up to `n` bytes without holding them; returns how many were skipped. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      if (this.pendingBytes === 0) {
        await this.fill(1);
        if (this.pendingBytes === 0) break;
      }
      const head = this.pending[0];
      const part = Math.min(head.length, left);
      if (part === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(part);
      this.pendingBytes -= part;
      left -= part;
    }
    this.offset += n - left;
    return n - left;
  }

  async atEnd(): Promise<boolean> {
    await this.fill(1);
    return this.pendingBytes === 0;
  }
}

async function* chunks(source: Uint8Array | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) yield source;
  else yield* source;
}

/**
 * Reads an ar archive member by member. `keep(header)` decides which members' data is
 * collected (at most `maxKeptBytes` each); the others are skipped. Throws PackageFormatError
 * for a bad magic, a bad header, a truncated member (data or padding) or too many members.
 */
export async function* readAr(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  keep: (header: ArMemberHeader) => boolean,
  limits: ArLimits = {},
): AsyncGenerator<ArMember> {
  const maxMembers = limits.maxMembers ?? DEFAULT_MAX_MEMBERS;
  const maxKept = limits.maxKeptBytes ?? DEFAULT_MAX_KEPT;
  const iterator = chunks(source)[Symbol.asyncIterator]();
  try {
    yield* members(new ByteReader(iterator), keep, maxMembers, maxKept);
  } finally {
    // an early stop (an error, or the caller breaking off) releases the source, e.g. a file handle
    await iterator.return?.(undefined);
  }
}

async function* members(
  input: ByteReader,
  keep: (header: ArMemberHeader) => boolean,
  maxMembers: number,
  maxKept: number,
): AsyncGenerator<ArMember> {
  const magic = await input.read(AR_MAGIC.length);
  check(Buffer.from(magic).toString('latin1') === AR_MAGIC,
    magic.length < AR_MAGIC.length
      ? `truncated ar archive: need ${AR_MAGIC.length} magic bytes, have ${magic.length}`
      : 'not an ar archive (no !<arch> magic)');
  let count = 0;
  while (!(await input.atEnd())) {
    check(count < maxMembers, `more than ${maxMembers} ar members`);
    count++;
    const headerOffset = input.offset;
    const block = await input.read(AR_HEADER_SIZE);
    const decoded = decodeArHeader(block, headerOffset);
    let name = decoded.name;
    if (decoded.bsdNameLength > 0) {
      const raw = await input.read(decoded.bsdNameLength);
      check(raw.length === decoded.bsdNameLength,
        `truncated ar member name at offset ${headerOffset + AR_HEADER_SIZE}: need ${decoded.bsdNameLength} bytes, have ${raw.length}`);
      name = Buffer.from(raw).toString('latin1').replace(/\0+$/, '');
      check(/^[\x21-\x7e]+$/.test(name), `bad BSD ar member name ${JSON.stringify(name)} at offset ${headerOffset}`);
    }
    const header: ArMemberHeader = {
      name, mtime: decoded.mtime, uid: decoded.uid, gid: decoded.gid, mode: decoded.mode, size: decoded.size,
    };
    const offset = input.offset;
    const pad = (decoded.size + decoded.bsdNameLength) % 2;
    let data: Uint8Array | undefined;
    if (keep(header)) {
      check(header.size <= maxKept, `ar member ${name} is ${header.size} bytes, more than the limit of ${maxKept}`);
      data = await input.read(header.size);
      check(data.length === header.size,
        `truncated ar member ${name}: need ${header.size} bytes at offset ${offset}, have ${data.length}`);
    } else {
      const skipped = await input.skip(header.size);
      check(skipped === header.size,
        `truncated ar member ${name}: need ${header.size} bytes at offset ${offset}, have ${skipped}`);
    }
    if (pad) {
      check((await input.skip(1)) === 1, `truncated ar archive: missing the padding byte after member ${name}`);
    }
    yield { header, offset, data };
  }
}

