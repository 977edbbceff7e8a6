import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SaxesParser } from 'saxes';
import { afterAll, describe, expect, it } from 'vitest';
import type { IndexedPackage, RepositoryUnit } from '../../src/engine/format';
import { listingPageFile, PAGED_ABOVE, pagedListing, renderListing, writeDirectoryListing, type ListingEntry, type ModifiedDates } from '../../src/engine/listing';
import { LocalStorage } from '../../src/storage/local';
import { MeteredStorage } from '../../src/storage/metered';

/** The hrefs of a page's links and the cell texts of its table rows, read back by an XML parser. */
function parse(html: string): { links: string[]; rows: string[][] } {
  const parser = new SaxesParser();
  const links: string[] = [];
  const rows: string[][] = [];
  let cell: string | undefined;
  parser.on('opentag', (tag) => {
    if (tag.name === 'a') links.push(String(tag.attributes.href));
    if (tag.name === 'tr') rows.push([]);
    if (tag.name === 'td') cell = '';
  });
  parser.on('text', (t) => {
    if (cell !== undefined) cell += t;
  });
  parser.on('closetag', (tag) => {
    if (tag.name === 'td') {
      rows[rows.length - 1].push(cell!);
      cell = undefined;
    }
  });
  parser.write(html).close();
  return { links, rows: rows.filter((r) => r.length > 0) };
}

const DATE = new Date(Date.UTC(2030, 0, 1));
function entries(count: number, from = 0): ListingEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    path: `Packages/pkg${from + i}-1.0-1.x86_64.rpm`,
    name: `pkg${from + i}${i % 97 === 0 ? '&<b>' : ''}`,
    version: '1.0-1',
    arch: 'x86_64',
    size: 1000 + i,
    lastModified: new Date(DATE.getTime() + i * 1000),
  }));
}

describe('paged listings', () => {
  it('keeps one page up to PAGED_ABOVE packages', () => {
    const listing = { title: 'yum repository /', entries: entries(PAGED_ABOVE), generated: DATE };
    expect(pagedListing(listing)).toEqual({ index: renderListing(listing), pages: [], fingerprints: [] });
  });

  it('splits a larger listing into pages that hold every row once, in order, linked from the index and to each other', () => {
    const listing = { title: 'yum repository /', entries: entries(5000), links: [{ path: 'repodata/repomd.xml', label: 'repomd' }], generated: DATE };
    const paged = pagedListing(listing);
    const total = paged.pages.length;
    expect(total).toBeGreaterThanOrEqual(3);
    expect(paged.fingerprints).toHaveLength(total);
    expect(paged.pages.map((p) => p.n)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const single = parse(renderListing(listing)).rows;
    const pages = paged.pages.map((p) => parse(p.html));
    expect(pages.flatMap((p) => p.rows)).toEqual(single);
    pages.forEach((p, i) => {
      expect(p.links[0]).toBe('index.html');
      if (i > 0) expect(p.links).toContain(listingPageFile(i));
      if (i + 1 < total) expect(p.links).toContain(listingPageFile(i + 2));
    });
    const index = parse(paged.index);
    expect(index.links).toEqual(['repodata/repomd.xml', ...paged.pages.map((p) => listingPageFile(p.n))]);
    expect(index.rows.map((r) => Number(r[3]))).toEqual(pages.map((p) => p.rows.length));
    expect(paged.index).toContain('5000 packages on');
  });

  it('makes again only the pages whose rows changed', () => {
    const before = entries(5000);
    const first = pagedListing({ title: 't', entries: before, generated: DATE });
    expect(pagedListing({ title: 't', entries: before, generated: new Date(DATE.getTime() + 1) }, first.fingerprints).pages).toEqual([]);
    // one package more, one size changed: the pages that hold them
    const after = [...before, ...entries(1, 9000)];
    after[10] = { ...after[10], size: 1 };
    const second = pagedListing({ title: 't', entries: after, generated: DATE }, first.fingerprints);
    expect(second.pages.length).toBeGreaterThanOrEqual(1);
    expect(second.pages.length).toBeLessThanOrEqual(3);
    const changed = new Set(second.pages.map((p) => p.n));
    second.fingerprints.forEach((f, i) => expect(f === first.fingerprints[i]).toBe(!changed.has(i + 1)));
  });
});

describe('writeDirectoryListing of a large unit', () => {
  const temps: string[] = [];
  afterAll(() => Promise.all(temps.map((d) => rm(d, { recursive: true, force: true }))));

  /** What the engine's object journal keeps for the listing, in memory. */
  class Known implements ModifiedDates {
    public pages?: readonly string[];
    modifiedOf(): string | undefined {
      return DATE.toISOString();
    }
    noteModified(): void {}
    listingPages() {
      return this.pages;
    }
    noteListingPages(fingerprints: readonly string[]) {
      this.pages = fingerprints;
    }
  }

  it('writes the pages and the index, then only what changed, and removes the pages a smaller listing no longer has', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'listing-pages-'));
    temps.push(dir);
    const storage = new MeteredStorage(new LocalStorage(dir));
    const unit: RepositoryUnit = { id: 'yum:el9/', root: 'el9/', params: {} };
    const packages = (n: number, from = 0): IndexedPackage[] => entries(n, from).map((e) => ({
      key: `el9/${e.path}`, size: e.size, name: e.name, version: e.version, arch: e.arch, digest: '',
    }));
    const known = new Known();
    await writeDirectoryListing(storage, 'yum', unit, packages(5000), DATE, known);
    const pages = known.pages!.length;
    expect(storage.keysWritten).toEqual([...Array.from({ length: pages }, (_, i) => `el9/${listingPageFile(i + 1)}`), 'el9/index.html']);
    storage.reset();
    await writeDirectoryListing(storage, 'yum', unit, [...packages(5000), ...packages(1, 9000)], DATE, known);
    expect(storage.keysWritten.length).toBeGreaterThanOrEqual(2);
    expect(storage.keysWritten.length).toBeLessThan(pages);
    expect(storage.keysWritten[storage.keysWritten.length - 1]).toBe('el9/index.html');
    await writeDirectoryListing(storage, 'yum', unit, packages(10), DATE, known);
    expect(known.pages).toEqual([]);
    expect((await readdir(path.join(dir, 'el9'))).sort()).toEqual(['index.html']);
  });
});
