import { createHash } from 'node:crypto';
import type { FormatName, IndexedPackage, RepositoryUnit } from './format';
import { MANIFEST_CACHE_CONTROL } from '../cache-control';
import { chunkEndsAfter } from '../formats/gzip-members';
import type { Storage } from '../storage/storage';

/**
 * Directory listings: an `index.html` a person can browse (name, version, architecture,
 * size, date of every package, and the metadata entry points), written after each publish.
 * The edge and `pkgrepo serve` answer a directory request (`…/`) with it; S3 has no listings.
 */

/** One row of a listing. */
export interface ListingEntry {
  /** Link target, relative to the listing's directory, not yet URL-encoded. */
  readonly path: string;
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  readonly size: number;
  /** A date, or an ISO 8601 text (canonical ones, as `toISOString` writes them, are used as they are). */
  readonly lastModified?: Date | string;
}

/** A listing page. */
export interface Listing {
  /** Shown as the heading, e.g. `yum repository el/9/x86_64/`. */
  readonly title: string;
  readonly entries: readonly ListingEntry[];
  /** Other files worth a link (metadata entry points), relative paths. */
  readonly links?: ReadonlyArray<{ readonly path: string; readonly label: string }>;
  /** When the page was made. */
  readonly generated: Date;
}

/** The object name of a listing in its directory. */
export const LISTING_FILE = 'index.html';

/** `&`, `<`, `>`, `"` and `'` as HTML entities. */
export function escapeHtml(text: string): string {
  return SPECIAL_HTML.test(text) ? text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`) : text;
}

const SPECIAL_HTML = /[&<>"']/;

/** What encodeURIComponent leaves alone, and the separators: most package keys are their own href. */
const UNRESERVED_PATH = /^[A-Za-z0-9_.!~*'()/-]*$/;

/** A relative path as an href: every segment percent-encoded ('+' included: it is a literal in paths). */
export function hrefOf(path: string): string {
  if (UNRESERVED_PATH.test(path)) return path;
  return path.split('/').map((s) => encodeURIComponent(s)).join('/');
}

const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Sizes as people read them (1024-based, one decimal below 10). */
export function humanSize(bytes: number): string {
  const units = SIZE_UNITS;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** `2030-01-02T03:04:05.678Z` → `2030-01-02 03:04 UTC`. */
function date(iso: string): string {
  // the common case (years 0000–9999) without regular expressions: a page has thousands
  if (iso.length === 24) return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
  return iso.replace('T', ' ').replace(/:\d\d\.\d{3}Z$/, ' UTC');
}

const CANONICAL_ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The canonical ISO 8601 text of a date (undefined for none or an invalid one). */
function isoOf(d: Date | string | undefined): string | undefined {
  if (typeof d === 'string' && CANONICAL_ISO.test(d)) return d;
  const parsed = typeof d === 'string' ? new Date(d) : d;
  return parsed === undefined || Number.isNaN(parsed.getTime()) ? undefined : parsed.toISOString();
}

/** One table row (string concatenation: a page has tens of thousands of them). */
function row(e: ListingEntry): string {
  const iso = isoOf(e.lastModified);
  return `<tr><td><a href="${escapeHtml(hrefOf(e.path))}">${escapeHtml(e.name)}</a></td><td>${escapeHtml(e.version)}</td>`
    + `<td>${escapeHtml(e.arch)}</td><td class="n" title="${e.size} bytes">${humanSize(e.size)}</td>`
    + `<td>${iso === undefined ? '' : `<time datetime="${iso}">${date(iso)}</time>`}</td></tr>`;
}

/** The HTML page of a listing: entries sorted by name, then version text, then path; everything escaped. */
export function renderListing(listing: Listing): string {
  const entries = sortedEntries(listing.entries);
  const links = listing.links ?? [];
  return page(escapeHtml(listing.title), [
    `<p>${packageCount(entries.length)}; updated ${timeElement(listing.generated.toISOString())}.</p>`,
    ...linkParagraph(links.map((l) => ({ href: l.path, label: l.label }))),
    ...packageTable(entries),
  ]);
}

/** Listings of more rows than this are split into pages (10,000 rows make 2.4 MB of HTML). */
export const PAGED_ABOVE = 2000;
/** Average rows of a page: pages end where the hash of a row's path says, so that an update changes one. */
const PAGE_TARGET = 500;
/** The most rows of a page. */
const PAGE_MAX = 2000;

/** The file of page `n` (from 1) of a paged listing, beside its `index.html`. */
export function listingPageFile(n: number): string {
  return `index-${n}.html`;
}

/** A listing as files: `index.html`, and its pages when it has more than PAGED_ABOVE rows. */
export interface PagedListing {
  readonly index: string;
  /** The pages that differ from the ones `previous` describes (all of them without it). */
  readonly pages: ReadonlyArray<{ readonly n: number; readonly html: string }>;
  /** What each page shows, page by page (empty for a listing of one page): the next `previous`. */
  readonly fingerprints: readonly string[];
}

/**
 * The listing as files. Up to PAGED_ABOVE rows, `index.html` is the one page renderListing
 * makes. Beyond, the sorted rows are cut into pages of about PAGE_TARGET rows where the hash of
 * a row's path says (as the index chunks are cut), and `index.html` lists the pages. Only the
 * pages whose rows differ from the `previous` fingerprints are made: adding one package to
 * 10,000 renders one page of rows, not 10,000. Only `index.html` carries the time it was made.
 */
export function pagedListing(listing: Listing, previous?: readonly string[]): PagedListing {
  const entries = sortedEntries(listing.entries);
  if (entries.length <= PAGED_ABOVE) return { index: renderListing(listing), pages: [], fingerprints: [] };
  const cuts: ListingEntry[][] = [];
  let current: ListingEntry[] = [];
  for (const e of entries) {
    current.push(e);
    if (chunkEndsAfter(e.path, current.length, PAGE_TARGET, PAGE_MAX)) {
      cuts.push(current);
      current = [];
    }
  }
  if (current.length) cuts.push(current);
  const title = escapeHtml(listing.title);
  const total = cuts.length;
  const fingerprints = cuts.map((rows) => fingerprintOf(total, rows));
  const pages = cuts.flatMap((rows, i) => (previous?.[i] === fingerprints[i] ? [] : [{
    n: i + 1,
    html: page(`${title}: page ${i + 1} of ${total}`, [
      ...linkParagraph([
        { href: LISTING_FILE, label: 'all pages' },
        ...(i > 0 ? [{ href: listingPageFile(i), label: 'previous page' }] : []),
        ...(i + 1 < total ? [{ href: listingPageFile(i + 2), label: 'next page' }] : []),
      ]),
      ...packageTable(rows),
    ]),
  }]));
  const links = listing.links ?? [];
  const index = page(title, [
    `<p>${packageCount(entries.length)} on ${total} pages; updated ${timeElement(listing.generated.toISOString())}.</p>`,
    ...linkParagraph(links.map((l) => ({ href: l.path, label: l.label }))),
    '<table>',
    '<thead><tr><th>Page</th><th>From</th><th>To</th><th>Packages</th></tr></thead>',
    '<tbody>',
    cuts.map((rows, i) => `<tr><td><a href="${listingPageFile(i + 1)}">${i + 1}</a></td><td>${escapeHtml(rows[0].name)} ${escapeHtml(rows[0].version)}</td>`
      + `<td>${escapeHtml(rows[rows.length - 1].name)} ${escapeHtml(rows[rows.length - 1].version)}</td><td class="n">${rows.length}</td></tr>`).join('\n'),
    '</tbody>',
    '</table>',
  ]);
  return { index, pages, fingerprints };
}

/** What a page shows: its rows' fields and the number of pages (in its title), hashed. */
function fingerprintOf(total: number, rows: readonly ListingEntry[]): string {
  const hash = createHash('sha256').update(`${total}\n`);
  for (const e of rows) hash.update(`${e.path}\0${e.name}\0${e.version}\0${e.arch}\0${e.size}\0${isoOf(e.lastModified) ?? ''}\n`);
  return hash.digest('hex').slice(0, 32);
}

function sortedEntries(entries: readonly ListingEntry[]): ListingEntry[] {
  return [...entries].sort((a, b) => compare(a.name, b.name) || compare(a.version, b.version) || compare(a.path, b.path));
}

function packageCount(n: number): string {
  return `${n} package${n === 1 ? '' : 's'}`;
}

function timeElement(iso: string): string {
  return `<time datetime="${iso}">${date(iso)}</time>`;
}

/** A paragraph of links (none without links). */
function linkParagraph(links: ReadonlyArray<{ readonly href: string; readonly label: string }>): string[] {
  return links.length ? ['<p>', links.map((l) => `<a href="${escapeHtml(hrefOf(l.href))}">${escapeHtml(l.label)}</a>`).join(' · '), '</p>'] : [];
}

/** The table of packages: a row each, in the given order. */
function packageTable(entries: readonly ListingEntry[]): string[] {
  return [
    '<table>',
    '<thead><tr><th>Name</th><th>Version</th><th>Arch</th><th>Size</th><th>Date</th></tr></thead>',
    '<tbody>',
    ...(entries.length ? [entries.map(row).join('\n')] : []),
    '</tbody>',
    '</table>',
  ];
}

/** A whole page: `title` (escaped) as title and heading, then the body's lines. */
function page(title: string, body: readonly string[]): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8" />',
    '<meta name="viewport" content="width=device-width, initial-scale=1" />',
    `<title>${title}</title>`,
    '<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}'
      + 'th,td{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd}td.n{text-align:right}'
      + 'th{background:#f4f4f4}a{color:#0645ad}</style>',
    '</head>',
    '<body>',
    `<h1>${title}</h1>`,
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Where a listing is written (a directory key, '' or ending in '/'), its title and links. */
export interface ListingPlace {
  readonly dir: string;
  readonly title: string;
  readonly links: ReadonlyArray<{ readonly path: string; readonly label: string }>;
}

/**
 * Where a unit's listing lives and what it links to: the unit root for yum, pacman and apk
 * (the directory clients are pointed at); `pool/<distribution>/` for apt, whose root is
 * shared by every distribution.
 */
export function listingPlace(format: FormatName, unit: RepositoryUnit): ListingPlace {
  switch (format) {
    case 'yum':
      return { dir: unit.root, title: `yum repository /${unit.root}`, links: [{ path: 'repodata/repomd.xml', label: 'repodata/repomd.xml' }] };
    case 'apt': {
      const distribution = unit.params.distribution;
      return {
        dir: `${unit.root}pool/${distribution}/`,
        title: `apt distribution ${distribution} (/${unit.root}pool/${distribution}/)`,
        links: [{ path: `../../dists/${distribution}/InRelease`, label: `dists/${distribution}/InRelease` }],
      };
    }
    case 'pacman': {
      const repo = unit.params.repo;
      return { dir: unit.root, title: `pacman repository ${repo} (/${unit.root})`, links: [{ path: `${repo}.db.tar.gz`, label: `${repo}.db` }, { path: `${repo}.files.tar.gz`, label: `${repo}.files` }] };
    }
    case 'apk':
      return { dir: unit.root, title: `apk repository /${unit.root}`, links: [{ path: 'APKINDEX.tar.gz', label: 'APKINDEX.tar.gz' }] };
  }
}

/** Where the listing may find when packages were last written, and tell what it learned. */
export interface ModifiedDates {
  /** When the object of `key` was last written (ISO 8601), if known. */
  modifiedOf(key: string): string | undefined;
  noteModified(key: string, date: Date): void;
  /** The fingerprints of the pages the last listing wrote (see pagedListing), if known. */
  listingPages?(): readonly string[] | undefined;
  noteListingPages?(fingerprints: readonly string[]): void;
}

/**
 * Write the listing of a unit after a publish: `entries` are the unit's packages as indexed
 * (full storage keys). A listing of more than PAGED_ABOVE packages is written as pages (see
 * pagedListing); `known` keeps what they show, and only the pages that changed are written. Their dates come from `dates` (the engine's object journal); when it
 * lacks some, from one listing of the listing's directory, which is then noted there. Packages
 * outside that directory are left out (they cannot be linked relatively without `..`).
 */
export async function writeDirectoryListing(
  storage: Storage,
  format: FormatName,
  unit: RepositoryUnit,
  entries: Iterable<IndexedPackage>,
  now: Date = new Date(),
  known?: ModifiedDates,
): Promise<string> {
  const place = listingPlace(format, unit);
  const listed: IndexedPackage[] = [];
  const journaled: Array<string | undefined> = [];
  let missing = 0;
  for (const e of entries) {
    if (!e.key.startsWith(place.dir)) continue;
    const modified = known?.modifiedOf(e.key);
    if (modified === undefined) missing++;
    listed.push(e);
    journaled.push(modified);
  }
  // dates the journal lacks: one listing, whose dates then hold for every package it shows
  let fromListing: Map<string, Date> | undefined;
  if (missing > 0) {
    fromListing = new Map();
    for await (const info of storage.list(place.dir)) {
      fromListing.set(info.key, info.lastModified);
      known?.noteModified(info.key, info.lastModified);
    }
  }
  const rows = listed.map((e, i): ListingEntry => ({
    path: e.key.slice(place.dir.length),
    name: e.name,
    version: e.version,
    arch: e.arch,
    size: e.size,
    lastModified: fromListing?.get(e.key) ?? journaled[i],
  }));
  const key = `${place.dir}${LISTING_FILE}`;
  const written = known?.listingPages?.();
  const paged = pagedListing({ title: place.title, entries: rows, links: place.links, generated: now }, written);
  const options = { contentType: 'text/html; charset=utf-8', cacheControl: MANIFEST_CACHE_CONTROL };
  // the pages first, then the index that links to them, then the pages it no longer has
  for (const p of paged.pages) await storage.put(`${place.dir}${listingPageFile(p.n)}`, p.html, options);
  await storage.put(key, paged.index, options);
  for (let n = paged.fingerprints.length + 1; n <= (written?.length ?? 0); n++) await storage.delete(`${place.dir}${listingPageFile(n)}`);
  known?.noteListingPages?.(paged.fingerprints);
  return key;
}
