/**
 * The `Release` file of a distribution (apt `apt-pkg/deb/debmetaindex.cc`): who publishes it
 * (Origin, Label), which suite it is (Suite, Codename), when it was made (Date, optionally
 * Valid-Until), what it serves (Architectures, Components) and the size and SHA-256 of every
 * index file below `dists/<distribution>/`.
 *
 * Only SHA256 is listed: apt treats MD5Sum and SHA1 as insecure (listing them adds nothing),
 * SHA-256 is the strongest hash Debian's own archive lists, and by-hash copies are published
 * for the strongest listed hash, so a single family keeps one by-hash tree.
 */
import { check } from '../errors';
import { Deb822Paragraph, formatParagraph, parseDeb822Bytes } from './deb822';

/** One index file the Release vouches for. */
export interface ReleaseFileEntry {
  /** Path relative to `dists/<distribution>/`, e.g. `main/binary-amd64/Packages.gz`. */
  readonly path: string;
  readonly size: number;
  /** Lower-case hex SHA-256. */
  readonly sha256: string;
}

/** The fields of a Release file this project writes and carries over. */
export interface Release {
  readonly origin?: string;
  readonly label?: string;
  readonly suite?: string;
  readonly codename?: string;
  readonly date: Date;
  readonly validUntil?: Date;
  readonly architectures: readonly string[];
  readonly components: readonly string[];
  readonly acquireByHash: boolean;
  readonly description?: string;
  /** The SHA256 list (empty when a Release read back has none). */
  readonly files: readonly ReleaseFileEntry[];
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 1123 in UTC as Debian writes it: `Sat, 11 Jul 2026 10:16:37 UTC` (whole seconds). */
export function formatReleaseDate(date: Date): string {
  check(!Number.isNaN(date.getTime()), 'invalid date');
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[date.getUTCDay()]}, ${two(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} `
    + `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} UTC`;
}

/**
 * Parses a Release date: RFC 1123 / RFC 2822 with or without the weekday, zone `UTC`, `GMT`,
 * `Z` or a numeric offset (`+0000`), as apt's `RFC1123StrToTime` accepts.
 */
export function parseReleaseDate(text: string): Date {
  const m = /^(?:[A-Za-z]{3}, *)?([0-9]{1,2}) ([A-Za-z]{3}) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) *(UTC|GMT|Z|[+-][0-9]{4})$/.exec(text.trim());
  check(m, `invalid Release date ${JSON.stringify(text)}`);
  const month = MONTHS.findIndex((x) => x.toLowerCase() === m[2].toLowerCase());
  check(month >= 0, `invalid month in Release date ${JSON.stringify(text)}`);
  const base = new Date(Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])));
  check(base.getUTCDate() === Number(m[1]) && base.getUTCHours() === Number(m[4])
    && base.getUTCMinutes() === Number(m[5]) && base.getUTCSeconds() === Number(m[6]),
  `invalid Release date ${JSON.stringify(text)}`);
  const zone = m[7];
  const offsetMinutes = /^[+-]/.test(zone)
    ? (zone[0] === '+' ? 1 : -1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)))
    : 0;
  const date = new Date(base.getTime() - offsetMinutes * 60_000);
  return date;
}

/**
 * The Date of the next Release: `now` in whole seconds, but at least one second after the
 * previous Release's Date, so that dates strictly increase between publishes.
 */
export function nextReleaseDate(now: Date, previous?: Date): Date {
  const seconds = Math.floor(now.getTime() / 1000) * 1000;
  if (!previous) return new Date(seconds);
  return new Date(Math.max(seconds, Math.floor(previous.getTime() / 1000) * 1000 + 1000));
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;

/** The Release text (one paragraph). Throws PackageFormatError for values that would break it. */
export function writeRelease(release: Release): string {
  for (const list of [release.architectures, release.components]) {
    for (const name of list) check(NAME.test(name), `invalid architecture or component name ${JSON.stringify(name)}`);
  }
  const p = new Deb822Paragraph();
  const optional = (name: string, value: string | undefined) => {
    if (value === undefined) return;
    check(value.trim() !== '' && !value.includes('\n'), `${name} must be one non-empty line, got ${JSON.stringify(value)}`);
    p.set(name, value);
  };
  optional('Origin', release.origin);
  optional('Label', release.label);
  optional('Suite', release.suite);
  optional('Codename', release.codename);
  p.set('Date', formatReleaseDate(release.date));
  if (release.validUntil) p.set('Valid-Until', formatReleaseDate(release.validUntil));
  if (release.acquireByHash) p.set('Acquire-By-Hash', 'yes');
  p.set('Architectures', release.architectures.join(' '));
  p.set('Components', release.components.join(' '));
  optional('Description', release.description);
  const width = Math.max(0, ...release.files.map((f) => String(f.size).length));
  const lines = release.files.map((f) => {
    check(/^[0-9a-f]{64}$/.test(f.sha256), `invalid SHA-256 for ${f.path}`);
    check(/^[A-Za-z0-9][A-Za-z0-9._+~/-]*$/.test(f.path) && !f.path.split('/').includes('..'), `invalid index path ${JSON.stringify(f.path)}`);
    return ` ${f.sha256} ${String(f.size).padStart(width)} ${f.path}`;
  });
  p.set('SHA256', lines.length ? '\n' + lines.join('\n') : '');
  return formatParagraph(p);
}

function words(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/\s+/).filter((w) => w.length > 0);
}

/** Reads a Release file (ours or apt-ftparchive's). Needs a valid Date; other fields are optional. */
export function readRelease(bytes: Uint8Array, what = 'Release'): Release {
  const paragraphs = parseDeb822Bytes(bytes, what, { maxParagraphs: 2 });
  check(paragraphs.length === 1, `${what} must hold exactly one paragraph, found ${paragraphs.length}`);
  const p = paragraphs[0];
  const date = p.get('Date');
  check(date !== undefined, `${what} has no Date`);
  const validUntil = p.get('Valid-Until');
  const files: ReleaseFileEntry[] = [];
  for (const line of (p.get('SHA256') ?? '').split('\n')) {
    const parts = words(line);
    if (parts.length === 0) continue;
    check(parts.length === 3 && /^[0-9a-fA-F]{64}$/.test(parts[0]) && /^[0-9]{1,15}$/.test(parts[1]),
      `${what}: bad SHA256 line ${JSON.stringify(line.trim().slice(0, 120))}`);
    files.push({ sha256: parts[0].toLowerCase(), size: Number(parts[1]), path: parts[2] });
  }
  return {
    origin: p.get('Origin'),
    label: p.get('Label'),
    suite: p.get('Suite'),
    codename: p.get('Codename'),
    date: parseReleaseDate(date),
    validUntil: validUntil === undefined ? undefined : parseReleaseDate(validUntil),
    architectures: words(p.get('Architectures')),
    components: words(p.get('Components')),
    acquireByHash: (p.get('Acquire-By-Hash') ?? '').toLowerCase() === 'yes',
    description: p.get('Description'),
    files,
  };
}

/**
 * The signed text of an InRelease file (a cleartext-signed message, RFC 4880 §7): what follows
 * the armor headers up to the signature, dash-escaping undone. The signature is not checked:
 * use this only on files read back from the repository's own storage.
 */
export function clearsignedText(bytes: Uint8Array, what = 'InRelease'): Uint8Array {
  const text = Buffer.from(bytes).toString('utf8');
  check(text.startsWith('-----BEGIN PGP SIGNED MESSAGE-----\n'), `${what} does not start with -----BEGIN PGP SIGNED MESSAGE-----`);
  const body = text.indexOf('\n\n');
  const signature = text.indexOf('\n-----BEGIN PGP SIGNATURE-----\n');
  check(body >= 0 && signature > body, `${what} is not a complete cleartext-signed message`);
  const lines = text.slice(body + 2, signature).split('\n').map((line) => (line.startsWith('- ') ? line.slice(2) : line));
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}
