import { access, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SaxesParser } from 'saxes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRepositoryTree, REPOSITORIES, type RepositoryTree } from './support/repos';
import type { FormatName } from '../../src/engine/format';
import { createFormat } from '../../src/engine/formats';
import { humanSize, LISTING_FILE, renderListing, writeDirectoryListing } from '../../src/engine/listing';
import { LocalStorage } from '../../src/storage/local';

/** The page parsed as XML (it is well-formed XHTML-compatible HTML): its links and table cells. */
function parse(html: string): { links: string[]; rows: string[][]; title: string } {
  const parser = new SaxesParser();
  const links: string[] = [];
  const rows: string[][] = [];
  let title = '';
  let inTitle = false;
  let cell: string | undefined;
  parser.on('opentag', (tag) => {
    if (tag.name === 'a') links.push(String(tag.attributes.href));
    if (tag.name === 'tr') rows.push([]);
    if (tag.name === 'td') cell = '';
    if (tag.name === 'title') inTitle = true;
  });
  parser.on('text', (text) => {
    if (cell !== undefined) cell += text;
    if (inTitle) title += text;
  });
  parser.on('closetag', (tag) => {
    if (tag.name === 'td') {
      rows[rows.length - 1].push(cell!);
      cell = undefined;
    }
    if (tag.name === 'title') inTitle = false;
  });
  parser.write(html).close();
  return { links, rows: rows.filter((r) => r.length > 0), title };
}

describe('renderListing', () => {
  it('escapes every name and link, and sorts by name', () => {
    const hostile = '<script>alert("x")</script>&\'';
    const html = renderListing({
      title: `repo ${hostile}`,
      entries: [
        { path: 'b/z.rpm', name: 'zeta', version: '1', arch: 'x86_64', size: 5 },
        { path: `a/${hostile}.rpm`, name: hostile, version: '1:2.0~rc1&"', arch: 'noarch', size: 2048, lastModified: new Date('2030-01-02T03:04:05Z') },
      ],
      links: [{ path: 'repodata/repomd.xml', label: 'repodata/repomd.xml' }],
      generated: new Date('2030-01-02T03:04:05Z'),
    });
    expect(html).not.toContain('<script>');
    const page = parse(html);
    expect(page.title).toBe(`repo ${hostile}`);
    expect(page.rows).toEqual([
      [hostile, '1:2.0~rc1&"', 'noarch', '2.0 KiB', '2030-01-02 03:04 UTC'],
      ['zeta', '1', 'x86_64', '5 B', ''],
    ]);
    expect(page.links).toEqual(['repodata/repomd.xml', `a/${hostile.split('/').map(encodeURIComponent).join('/')}.rpm`, 'b/z.rpm']);
  });

  it.each([[0, '0 B'], [1023, '1023 B'], [1536, '1.5 KiB'], [10 * 1024 * 1024, '10 MiB'], [3.2 * 1024 ** 3, '3.2 GiB']])('%d bytes: %s', (bytes, text) => {
    expect(humanSize(bytes)).toBe(text);
  });
});

describe('writeDirectoryListing, as the engine calls it after a publish', () => {
  let work: string;
  let tree: RepositoryTree;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'listing-'));
    tree = await buildRepositoryTree(path.join(work, 'repos'));
  });
  afterAll(() => rm(work, { recursive: true, force: true }));

  it.each<[FormatName, string, string]>([
    ['yum', 'el/x86_64/Packages/x.rpm', 'el/x86_64/'],
    ['apt', 'pool/stable/main/x.deb', 'pool/stable/'],
    ['pacman', 'demo/x86_64/x-1-1-any.pkg.tar.zst', 'demo/x86_64/'],
    ['apk', 'v1/main/x86_64/x-1-r0.apk', 'v1/main/x86_64/'],
  ])('%s: every package of the unit, linked, sized and dated; every link resolves', async (format, packageKey, dir) => {
    const root = path.join(tree.root, REPOSITORIES[format].prefix);
    const storage = new LocalStorage(root);
    const plugin = createFormat(format);
    const unit = plugin.unitOf(packageKey)!;
    const index = await plugin.loadIndex(storage, unit);
    const key = await writeDirectoryListing(storage, format, unit, index.entries.values(), new Date('2030-01-01T00:00:00Z'));
    expect(key).toBe(`${dir}${LISTING_FILE}`);
    const info = await storage.head(key);
    expect(info?.size).toBeGreaterThan(0);
    const page = parse(new TextDecoder().decode(await storage.get(key)));
    expect(page.rows.map((r) => r[0]).sort()).toEqual([...index.entries.values()].map((e) => e.name).sort());
    for (const link of page.links) await access(path.join(root, dir, decodeURIComponent(link)));
    // the date is the package file's
    const first = [...index.entries.values()].sort((a, b) => (a.name < b.name ? -1 : 1))[0];
    const mtime = (await stat(path.join(root, first.key))).mtime.toISOString().slice(0, 16).replace('T', ' ');
    expect(page.rows.find((r) => r[0] === first.name)![4]).toBe(`${mtime} UTC`);
  });
});
