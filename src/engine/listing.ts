import type { FormatName, IndexedPackage, RepositoryUnit } from './format';
import { MANIFEST_CACHE_CONTROL } from '../cache-control';
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
  const entries = [...listing.entries].sort((a, b) => compare(a.name, b.name) || compare(a.version, b.version) || compare(a.path, b.path));
  const title = escapeHtml(listing.title);
  const generated = listing.generated.toISOString();
  const links = listing.links ?? [];
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
    `<p>${entries.length} package${entries.length === 1 ? '' : 's'}; updated <time datetime="${generated}">${date(generated)}</time>.</p>`,
    ...(links.length ? ['<p>', links.map((l) => `<a href="${escapeHtml(hrefOf(l.path))}">${escapeHtml(l.label)}</a>`).join(' · '), '</p>'] : []),
    '<table>',
    '<thead><tr><th>Name</th><th>Version</th><th>Arch</th><th>Size</th><th>Date</th></tr></thead>',
    '<tbody>',
    ...(entries.length ? [entries.map(row).join('\n')] : []),
    '</tbody>',
    '</table>',
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
}

/**
 * Write the listing of a unit after a publish: `entries` are the unit's packages as indexed
 * (full storage keys). Their dates come from `dates` (the engine's object journal); when it
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
  await storage.put(key, renderListing({ title: place.title, entries: rows, links: place.links, generated: now }), {
    contentType: 'text/html; charset=utf-8',
    cacheControl: MANIFEST_CACHE_CONTROL,
  });
  return key;
}
