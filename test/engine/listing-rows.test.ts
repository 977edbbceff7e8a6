import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { renderListing, type ListingEntry } from '../../src/engine/listing';

/** Links, `<time datetime>` values and cell texts of the rows, read back by an XML parser. */
function rowsOf(html: string): Array<{ href: string; datetime?: string; cells: string[] }> {
  const parser = new SaxesParser();
  const rows: Array<{ href: string; datetime?: string; cells: string[] }> = [];
  let cell: string | undefined;
  let inBody = false;
  parser.on('opentag', (tag) => {
    if (tag.name === 'tbody') inBody = true;
    if (!inBody) return;
    if (tag.name === 'tr') rows.push({ href: '', cells: [] });
    if (tag.name === 'td') cell = '';
    if (tag.name === 'a') rows[rows.length - 1].href = String(tag.attributes.href);
    if (tag.name === 'time') rows[rows.length - 1].datetime = String(tag.attributes.datetime);
  });
  parser.on('text', (text) => {
    if (cell !== undefined) cell += text;
  });
  parser.on('closetag', (tag) => {
    if (tag.name === 'tbody') inBody = false;
    if (tag.name === 'td' && inBody) {
      rows[rows.length - 1].cells.push(cell!);
      cell = undefined;
    }
  });
  parser.write(html).close();
  return rows;
}

const base = { version: '1.0-1', arch: 'x86_64', size: 1 } as const;

describe('listing rows', () => {
  it('takes dates as Date objects or ISO texts, canonical or not, and leaves out invalid ones', () => {
    const entries: ListingEntry[] = [
      { ...base, path: 'a.rpm', name: 'a', lastModified: new Date('2030-01-02T03:04:05.678Z') },
      { ...base, path: 'b.rpm', name: 'b', lastModified: '2030-01-02T03:04:05.678Z' },
      { ...base, path: 'c.rpm', name: 'c', lastModified: '2030-01-02T03:04:05+02:00' },
      { ...base, path: 'd.rpm', name: 'd', lastModified: 'not a date' },
      { ...base, path: 'e.rpm', name: 'e', lastModified: new Date(Date.UTC(12000, 0, 1)) },
      { ...base, path: 'f.rpm', name: 'f' },
    ];
    const rows = rowsOf(renderListing({ title: 't', entries, generated: new Date(0) }));
    expect(rows.map((r) => [r.cells[0], r.datetime, r.cells[4]])).toEqual([
      ['a', '2030-01-02T03:04:05.678Z', '2030-01-02 03:04 UTC'],
      ['b', '2030-01-02T03:04:05.678Z', '2030-01-02 03:04 UTC'],
      ['c', '2030-01-02T01:04:05.000Z', '2030-01-02 01:04 UTC'],
      ['d', undefined, ''],
      ['e', '+012000-01-01T00:00:00.000Z', '+012000-01-01 00:00 UTC'],
      ['f', undefined, ''],
    ]);
  });

  it('percent-encodes what a URL path segment cannot hold and leaves plain keys as they are', () => {
    const paths = ['Packages/a/a-1.0-1.x86_64.rpm', 'p/c++-1:2.0~rc1-1.rpm', 'p/spaced name é.rpm', "p/it's(1)!*~.rpm", 'p/a%20b#c?.rpm'];
    const entries = paths.map((p, i): ListingEntry => ({ ...base, path: p, name: `n${i}` }));
    const rows = rowsOf(renderListing({ title: 't', entries, generated: new Date(0) }));
    expect(rows.map((r) => r.href)).toEqual(paths.map((p) => p.split('/').map(encodeURIComponent).join('/')));
    expect(rows.map((r) => r.href.split('/').map(decodeURIComponent).join('/'))).toEqual(paths);
    expect(rows[0].href).toBe(paths[0]);
  });

  it('an empty page has an empty table body', () => {
    const html = renderListing({ title: 't', entries: [], generated: new Date(0) });
    expect(html).toContain('<tbody>\n</tbody>');
    expect(html).toContain('<p>0 packages;');
  });
});
