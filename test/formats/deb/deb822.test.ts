import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Deb822Paragraph, formatField, formatParagraph, formatParagraphs, isLegalFieldName, parseDeb822, parseDeb822Bytes,
} from '../../../src/formats/deb/deb822';
import { PackageFormatError } from '../../../src/formats/errors';
import { buildAllRecipes, removeTempDirs, requireTools, tempDir } from '../../support/deb-fixtures';

describe('deb822 paragraphs', () => {
  let ftparchiveOutput: string;

  afterAll(removeTempDirs);

  beforeAll(() => {
    requireTools('apt-ftparchive');
    const dir = tempDir('deb822');
    buildAllRecipes(path.join(dir, 'pool'));
    ftparchiveOutput = execFileSync('apt-ftparchive', ['packages', 'pool'], { cwd: dir }).toString('utf8');
  });

  it('reads apt-ftparchive output and writes it back byte for byte', () => {
    const paragraphs = parseDeb822(ftparchiveOutput);
    expect(paragraphs).toHaveLength(4);
    expect(formatParagraphs(paragraphs)).toBe(ftparchiveOutput);
  });

  it('keeps multi-line values verbatim: continuation lines, " ." lines, extra indentation', () => {
    const [p] = parseDeb822('Package: a\nDescription: short\n long one\n .\n   indented\nVersion: 1\n');
    expect(p.get('description')).toBe('short\n long one\n .\n   indented');
    expect(p.fields.map((f) => f.name)).toEqual(['Package', 'Description', 'Version']);
  });

  it('keeps a value whose first line is empty (Conffiles-style) and writes it as apt does', () => {
    const text = 'Package: a\nConffiles:\n /etc/a 0123\n /etc/b 4567\n';
    const [p] = parseDeb822(text);
    expect(p.get('Conffiles')).toBe('\n /etc/a 0123\n /etc/b 4567');
    expect(formatParagraph(p)).toBe(text);
  });

  it('keeps empty values (dpkg-deb accepts "Depends:")', () => {
    const [p] = parseDeb822('Package: a\nDepends:\n');
    expect(p.get('Depends')).toBe('');
    expect(formatParagraph(p)).toBe('Package: a\nDepends:\n');
  });

  it('separates paragraphs by empty lines, whitespace-only lines between paragraphs too', () => {
    const ps = parseDeb822('\n\nA: 1\n\n \t\n\nB: 2\nC: 3\n\n');
    expect(ps.map((p) => p.fields.map((f) => f.name))).toEqual([['A'], ['B', 'C']]);
  });

  it('looks fields up case-insensitively and replaces in place', () => {
    const p = Deb822Paragraph.of([['Package', 'a'], ['Version', '1']]);
    p.set('VERSION', '2');
    expect(p.fields).toEqual([{ name: 'Package', value: 'a' }, { name: 'Version', value: '2' }]);
    expect(p.delete('package')).toBe(true);
    expect(p.has('Package')).toBe(false);
    expect(p.get('version')).toBe('2');
  });

  it.each([
    ['Package', true], ['X-Custom_Field.2', true], ['Déjà', false], ['Has Space', false], ['a:b', false],
    ['#comment', false], ['-dash', false], ['', false],
  ])('field name %j legal: %s', (name, legal) => {
    expect(isLegalFieldName(name)).toBe(legal);
  });

  it.each([
    ['a newline starting a field', 'text\nFilename: pool/evil.deb', /would start a new field/],
    ['an empty line', 'text\n\nPackage: evil', /empty line/],
    ['a whitespace-only line', 'text\n \nmore', /only whitespace/],
    ['a trailing newline', 'text\n', /empty line/],
    ['a carriage return', 'text\r\n more', /U\+000D/],
    ['a NUL byte', 'te\0xt', /U\+0000/],
  ])('refuses to write a value with %s', (_what, value, message) => {
    expect(() => Deb822Paragraph.of([['Description', value]])).toThrow(PackageFormatError);
    expect(() => formatField('Description', value)).toThrow(message);
  });

  it.each([
    ['a comment line', 'Package: a\n# note\nVersion: 1\n', /comment lines are not allowed/],
    ['a duplicate field', 'Package: a\nVersion: 1\npackage: b\n', /duplicate field package/],
    ['a continuation before any field', ' orphan\nPackage: a\n', /continuation line without a field/],
    ['a line without colon', 'Package: a\nnonsense\n', /expected "Field: value"/],
    ['an illegal field name', 'Package: a\nBad Name: x\n', /illegal field name/],
    ['a whitespace-only line inside a paragraph', 'Package: a\n \nVersion: 1\n', /ambiguous/],
    ['CRLF line ends', 'Package: a\r\nVersion: 1\r\n', /U\+000D/],
  ])('rejects %s when reading', (_what, text, message) => {
    expect(() => parseDeb822(text)).toThrow(PackageFormatError);
    expect(() => parseDeb822(text)).toThrow(message);
  });

  it('rejects non-UTF-8 bytes with the offset (no escaping)', () => {
    const bytes = Buffer.concat([Buffer.from('Package: a\nMaintainer: J'), Buffer.from([0xfc]), Buffer.from('rgen\n')]);
    expect(() => parseDeb822Bytes(bytes, 'control file')).toThrow(/control file is not valid UTF-8 \(at byte 24\)/);
  });

  it('caps fields per paragraph and paragraphs per text', () => {
    const many = Array.from({ length: 20 }, (_, i) => `F${i}: v`).join('\n');
    expect(() => parseDeb822(many, { maxFields: 10 })).toThrow(/more than 10 fields/);
    expect(() => parseDeb822('A: 1\n\nA: 2\n\nA: 3\n', { maxParagraphs: 2 })).toThrow(/more than 2 paragraphs/);
  });

  it('round-trips a real control file of this machine (dpkg status stanzas)', () => {
    const status = readFileSync('/var/lib/dpkg/status');
    const paragraphs = parseDeb822Bytes(status, 'dpkg status');
    expect(paragraphs.length).toBeGreaterThan(50);
    expect(parseDeb822(formatParagraphs(paragraphs)).map(formatParagraph)).toEqual(paragraphs.map(formatParagraph));
  });
});
