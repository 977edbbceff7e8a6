/**
 * Hostile metadata through the WRITERS: XML specials, newlines, control characters, `../`
 * and `/` in every text field. Each case must end one of two ways: a reader or writer rejects
 * it with a PackageFormatError, or what the writer produced reads back (with our reader and,
 * for XML, with Python's xml.etree) to the same value, with no element, field, stanza or
 * entry injected. Values enter as the pipeline has them: rpm header strings straight into the
 * model (parseRpm passes any header text on), control files and .PKGINFO as text through
 * their readers; each writer is also fed hostile models directly.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Prng } from './prng';
import { buildApkIndexArchive, indexEntryOf, parseApkIndex, readApkIndexArchive, writeApkIndex } from '../../src/formats/apk/apkindex';
import type { ApkIndexEntry, ApkPackage } from '../../src/formats/apk/model';
import { parsePkgInfo as parseApkPkgInfo } from '../../src/formats/apk/pkginfo';
import { parseControlFile, type DebPackage } from '../../src/formats/deb/deb-package';
import { Deb822Paragraph } from '../../src/formats/deb/deb822';
import { packagesEntryOf, readPackages, writePackages } from '../../src/formats/deb/packages-index';
import { readRelease, writeRelease, type Release } from '../../src/formats/deb/release';
import { PackageFormatError } from '../../src/formats/errors';
import { entryOfPackage, readDatabase, writeDatabase, type PacmanDbEntry } from '../../src/formats/pacman/db';
import { parsePkgInfo as parsePacmanPkgInfo } from '../../src/formats/pacman/pkginfo';
import { writeFilelistsXml } from '../../src/formats/rpm/filelists-xml';
import type { RpmDependency, RpmPackage } from '../../src/formats/rpm/model';
import { writeOtherXml } from '../../src/formats/rpm/other-xml';
import { isPrimaryFile, writePrimaryXml } from '../../src/formats/rpm/primary-xml';
import { parseFilelists, parseOther, parsePrimary } from '../../src/formats/rpm/read-metadata';
import { parseRepomd, writeRepomd, type RepomdRecord } from '../../src/formats/rpm/repomd-xml';

const CASES = Number(process.env.WRITER_CASES ?? 300);

/** Pieces of hostile text: markup of every format, line and field breaks, controls, paths. */
const HOSTILE = [
  '<', '>', '&', '&amp;', '&lt;', '"', "'", ']]>', '<![CDATA[', '<!--', '<?xml version="1.0"?>', '</name><name>evil', '<package type="rpm">', '<file>/etc/shadow</file>',
  '\n', '\r', '\r\n', '\t', '\n\n', '\n ', '\n.', ' .', '\u0000', '\u0001', '\u000b', '\u000c', '\u001b[31m', '\u001f', '\u007f', '\u0085', '\u2028', '\u00a0',
  '\ud800', '\udfff', '\ufffe', '\uffff', '\ufeff', '\u{1f600}', 'é', '../', '..', '/', '/etc/passwd', '../../etc/passwd', './', '//',
  'Package: evil', '\nPackage: evil', '\n\nPackage: evil\n', '\nFilename: evil.deb', '%NAME%', '\n%NAME%\nevil\n', '\n\n%FILES%\nevil', '\nC:Q1evil',
  '\nP:evil\n', '\n\nC:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:evil\nV:1-r0\n', ' = ', '\npkgname = evil', '#', ':', '%', ' ', '',
];

/** A field value: hostile with probability `p`, else plain printable text (so that cases also get through the readers). */
function maybeHostile(rng: Prng, p = 0.3): string {
  if (rng.chance(p)) return hostile(rng);
  return Array.from({ length: rng.range(1, 12) }, () => String.fromCharCode(rng.range(0x21, 0x7e))).join('').replace(/[=%:#]/g, 'x') + (rng.chance(0.3) ? ' word' : '');
}

function hostile(rng: Prng): string {
  let out = '';
  const parts = rng.range(1, 3);
  for (let i = 0; i < parts; i++) {
    out += rng.pick(HOSTILE);
    if (rng.chance(0.5)) out += String.fromCharCode(rng.range(0x21, 0x7e)).repeat(rng.range(1, 4));
  }
  return out;
}

/**
 * What survives a round trip through rpm-md XML: what XML 1.0 cannot carry (C0 controls but
 * tab, LF and CR; U+FFFE, U+FFFF; unpaired surrogates) is dropped, the rest is kept exactly.
 */
function xmlValue(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '');
}

type Verdict = 'round trip' | 'rejected';

/** Tallies outcomes; every failure is kept with the case that caused it. */
class Tally {
  readonly counts: Record<Verdict, number> = { 'round trip': 0, 'rejected': 0 };
  readonly failures: string[] = [];
  readonly rejections = new Map<string, number>();

  /** Run one case: a PackageFormatError is a rejection; anything else that throws is a failure. */
  async run(what: string, input: unknown, body: () => unknown): Promise<void> {
    try {
      await body();
      this.counts['round trip']++;
    } catch (e) {
      if (e instanceof PackageFormatError) {
        this.counts.rejected++;
        const key = e.message.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/\d+/g, 'N').slice(0, 70);
        this.rejections.set(key, (this.rejections.get(key) ?? 0) + 1);
      } else {
        this.failures.push(`${what}: ${(e as Error).message.split('\n').slice(0, 12).join('\n')}\n  input: ${JSON.stringify(input).slice(0, 600)}`);
      }
    }
  }

  report(name: string): void {
    console.log(`writers ${name}: ${this.counts['round trip'] + this.counts.rejected + this.failures.length} cases, `
      + `${this.counts['round trip']} round trips, ${this.counts.rejected} rejections, ${this.failures.length} failures`);
    for (const f of this.failures.slice(0, 5)) console.log(`  FAILURE ${f}`);
  }
}

/**
 * Read back what a writer wrote: a rejection here is a failure (the repository would publish
 * an index its own next publish cannot read), not a rejection.
 */
async function readBack<T>(read: () => T | Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof PackageFormatError) throw new Error(`our reader rejects what our writer wrote: ${e.message}`);
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------
// Python's xml.etree as the reference XML parser

interface XmlNode {
  readonly tag: string;
  readonly attrib: Record<string, string>;
  readonly text: string;
  readonly children: readonly XmlNode[];
}

const PYTHON_TREE = `
import json, sys, xml.etree.ElementTree as ET
def local(n): return n.split('}')[-1]
def node(e): return {'tag': local(e.tag), 'attrib': {local(k): v for k, v in e.attrib.items()}, 'text': e.text or '', 'children': [node(c) for c in e]}
out = []
for f in sys.argv[1:]:
    try: out.append(node(ET.parse(f).getroot()))
    except Exception as ex: out.append({'error': str(ex)})
json.dump(out, sys.stdout)
`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'writers-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Parse each XML text with Python's xml.etree; a missing python3 is a failure, not a skip. */
function pythonTrees(texts: readonly string[]): Array<XmlNode | { error: string }> {
  const files = texts.map((t, i) => {
    const f = path.join(tmp, `${i}.xml`);
    fs.writeFileSync(f, t, 'utf8');
    return f;
  });
  const out = execFileSync('python3', ['-c', PYTHON_TREE, ...files], { maxBuffer: 1024 ** 3 }).toString('utf8');
  return JSON.parse(out) as Array<XmlNode | { error: string }>;
}

const child = (n: XmlNode, tag: string) => n.children.find((c) => c.tag === tag);
const shape = (n: XmlNode): string => `${n.tag}(${n.children.map(shape).join(',')})`;

// ------------------------------------------------------------------------------------------------

function rpmPackage(rng: Prng, i: number, h: () => string): RpmPackage {
  const dep = (prefix: string): RpmDependency => ({ name: prefix + h(), flags: 'EQ', epoch: h(), ver: h(), rel: h() });
  return {
    pkgId: i.toString(16).padStart(64, '0'),
    checksumType: 'sha256',
    name: h(),
    arch: h(),
    epoch: h(),
    version: h(),
    release: h(),
    summary: h(),
    description: h(),
    packager: h(),
    url: h(),
    time: { file: 1, build: 2 },
    size: { package: 3, installed: 4, archive: 5 },
    location: rng.chance(0.3) ? { href: h(), base: h() } : { href: h() },
    format: {
      license: h(),
      vendor: h(),
      group: h(),
      buildhost: h(),
      sourcerpm: h(),
      headerRange: { start: 1, end: 2 },
      provides: [dep('p')],
      requires: [{ name: `r${h()}`, pre: true }],
      conflicts: [dep('c')],
      obsoletes: [{ name: `o${h()}` }],
      recommends: [],
      suggests: [],
      supplements: [],
      enhances: [],
    },
    files: [{ path: `/etc/${h()}`, type: 'file' }, { path: `/usr/bin/${h()}`, type: 'dir' }, { path: `/opt/${h()}`, type: 'ghost' }],
    changelogs: [{ author: h(), date: 7, text: h() }],
  };
}

const benign = () => 'x';

function expectedDependency(d: RpmDependency): RpmDependency {
  const v = (s: string | undefined) => (s === undefined || xmlValue(s) === '' ? undefined : xmlValue(s));
  const out: Record<string, unknown> = { name: xmlValue(d.name) };
  if (d.flags) {
    out.flags = d.flags;
    if (v(d.epoch)) out.epoch = v(d.epoch);
    if (v(d.ver)) out.ver = v(d.ver);
    if (v(d.rel)) out.rel = v(d.rel);
  }
  if (d.pre) out.pre = true;
  return out as unknown as RpmDependency;
}

describe('writers: hostile metadata is escaped or rejected, never injected', () => {
  it('rpm-md: primary, filelists, other and repomd XML', async () => {
    const tally = new Tally();
    const rng = new Prng(0x71e5);
    const texts: string[] = [];
    const expected: Array<{ kind: 'primary' | 'filelists' | 'other' | 'repomd'; pkg?: RpmPackage; repomd?: { revision: string; records: RepomdRecord[] } }> = [];
    const reference = rpmPackage(new Prng(1), 0, benign);
    const shapes = { primary: '', filelists: '', other: '' };
    const referenceTrees = pythonTrees([writePrimaryXml([reference]), writeFilelistsXml([reference]), writeOtherXml([reference])]) as XmlNode[];
    shapes.primary = shape(referenceTrees[0]);
    shapes.filelists = shape(referenceTrees[1]);
    shapes.other = shape(referenceTrees[2]);

    for (let i = 0; i < CASES; i++) {
      const pkg = rpmPackage(rng, i, () => maybeHostile(rng, 0.5));
      const e = (s: string) => xmlValue(s);
      await tally.run('primary.xml', pkg, async () => {
        const xml = writePrimaryXml([pkg]);
        const [back] = await readBack(() => parsePrimary(xml));
        expect(back.name).toBe(e(pkg.name));
        for (const k of ['arch', 'version', 'release', 'summary', 'description', 'packager', 'url'] as const) expect(back[k]).toBe(e(pkg[k]));
        expect(back.epoch).toBe(e(pkg.epoch) || '0');
        for (const k of ['license', 'vendor', 'group', 'buildhost', 'sourcerpm'] as const) expect(back.format[k]).toBe(e(pkg.format[k]));
        expect(back.location.href).toBe(e(pkg.location.href));
        if (pkg.location.base !== undefined) expect(back.location.base).toBe(e(pkg.location.base.startsWith('/') ? `file://${pkg.location.base}` : pkg.location.base) || undefined);
        expect(back.format.provides).toEqual(pkg.format.provides.map(expectedDependency));
        expect(back.format.requires).toEqual(pkg.format.requires.map(expectedDependency));
        expect(back.format.conflicts).toEqual(pkg.format.conflicts.map(expectedDependency));
        expect(back.format.obsoletes).toEqual(pkg.format.obsoletes.map(expectedDependency));
        expect(back.files).toEqual(pkg.files.filter((f) => isPrimaryFile(f.path)).map((f) => ({ path: e(f.path), type: f.type })));
        texts.push(xml);
        expected.push({ kind: 'primary', pkg });
      });
      await tally.run('filelists.xml', pkg, async () => {
        const xml = writeFilelistsXml([pkg]);
        const [back] = await readBack(() => parseFilelists(xml));
        expect([back.name, back.arch, back.version, back.release]).toEqual([pkg.name, pkg.arch, pkg.version, pkg.release].map(e));
        expect(back.files).toEqual(pkg.files.map((f) => ({ path: e(f.path), type: f.type })));
        texts.push(xml);
        expected.push({ kind: 'filelists', pkg });
      });
      await tally.run('other.xml', pkg, async () => {
        const xml = writeOtherXml([pkg]);
        const [back] = await readBack(() => parseOther(xml));
        expect(back.name).toBe(e(pkg.name));
        expect(back.changelogs).toEqual(pkg.changelogs.map((c) => ({ author: e(c.author), date: c.date, text: e(c.text) })));
        texts.push(xml);
        expected.push({ kind: 'other', pkg });
      });
      const repomd = {
        revision: maybeHostile(rng, 0.5),
        records: [{ type: `primary${maybeHostile(rng, 0.5)}`, href: `repodata/${maybeHostile(rng, 0.5)}`, checksum: 'ab'.repeat(32), openChecksum: 'cd'.repeat(32), size: 1, openSize: 2, timestamp: 3, checksumType: maybeHostile(rng, 0.5) }],
      };
      await tally.run('repomd.xml', repomd, async () => {
        const xml = writeRepomd(repomd);
        const back = await readBack(() => parseRepomd(xml));
        expect(back.revision).toBe(e(repomd.revision).trim());
        expect(back.records).toHaveLength(1);
        const r = back.records[0];
        expect([r.type, r.href, r.checksumType]).toEqual([repomd.records[0].type, repomd.records[0].href, repomd.records[0].checksumType].map(e));
        expect([r.checksum, r.openChecksum]).toEqual([repomd.records[0].checksum, repomd.records[0].openChecksum]);
        texts.push(xml);
        expected.push({ kind: 'repomd', repomd });
      });
    }

    // the reference parser sees the same documents, the same values and no extra elements
    const trees = pythonTrees(texts);
    trees.forEach((tree, i) => {
      const { kind, pkg, repomd } = expected[i];
      if ('error' in tree) {
        tally.failures.push(`${kind}: xml.etree cannot parse what the writer wrote: ${tree.error}\n  input: ${JSON.stringify(pkg ?? repomd).slice(0, 600)}`);
        return;
      }
      const mismatch = (what: string, got: unknown, want: unknown) => {
        if (JSON.stringify(got) !== JSON.stringify(want)) tally.failures.push(`${kind}: xml.etree reads ${what} as ${JSON.stringify(got)}, written ${JSON.stringify(want)}`);
      };
      if (kind === 'repomd') {
        mismatch('the <data> records', tree.children.filter((c) => c.tag === 'data').length, 1);
        mismatch('<revision>', child(tree, 'revision')?.text, xmlValue(repomd!.revision));
        return;
      }
      mismatch('the document shape', shape(tree), shapes[kind]);
      const p = tree.children[0];
      if (kind === 'primary') {
        mismatch('<name>', child(p, 'name')?.text, xmlValue(pkg!.name));
        mismatch('<description>', child(p, 'description')?.text, xmlValue(pkg!.description));
        mismatch('<location href>', child(p, 'location')?.attrib.href, xmlValue(pkg!.location.href));
      } else if (kind === 'filelists') {
        mismatch('the files', p.children.filter((c) => c.tag === 'file').map((c) => c.text), pkg!.files.map((f) => xmlValue(f.path)));
        mismatch('the package name', p.attrib.name, xmlValue(pkg!.name));
      } else {
        mismatch('the changelog', child(p, 'changelog')?.text, xmlValue(pkg!.changelogs[0].text));
        mismatch('the changelog author', child(p, 'changelog')?.attrib.author, xmlValue(pkg!.changelogs[0].author));
      }
    });
    tally.report('rpm-md');
    expect(tally.failures).toEqual([]);
  });

  it('deb: control file -> Packages -> readPackages, and Release', async () => {
    const tally = new Tally();
    const rng = new Prng(0xdeb);
    const h = () => maybeHostile(rng);
    for (let i = 0; i < CASES; i++) {
      // the control file as an uploader may write it, hostile values spliced in raw
      const control = `Package: hostile${i}\nVersion: 1.0-${i}\nArchitecture: all\nMaintainer: ${h()}\nDescription: ${h()}\n ${h()}\n`
        + `Homepage: ${h()}\nDepends: ${h()}\nX-Custom-${i}: ${h()}\n`;
      const filename = rng.chance(0.5) ? `pool/main/h/hostile${i}.deb` : `pool/${h()}.deb`;
      await tally.run('Packages', { control, filename }, async () => {
        const paragraph = parseControlFile(Buffer.from(control));
        const deb: DebPackage = { control: paragraph, package: `hostile${i}`, version: `1.0-${i}`, architecture: 'all', size: i, md5: '0'.repeat(32), sha1: '1'.repeat(40), sha256: '2'.repeat(64) };
        const text = writePackages([packagesEntryOf(deb, filename)]);
        const back = await readBack(() => readPackages(Buffer.from(text)));
        expect(back).toHaveLength(1);
        expect(back[0].filename).toBe(filename);
        expect(back[0].size).toBe(i);
        expect(back[0].control.fields.map((f) => [f.name.toLowerCase(), f.value]).sort())
          .toEqual(paragraph.fields.map((f) => [f.name.toLowerCase(), f.value]).sort());
        // exactly one stanza: one Package line at a line start, one blank line at the end
        expect(text.match(/^Package:/gm)).toHaveLength(1);
        expect(text.endsWith('\n\n') && !text.slice(0, -2).includes('\n\n')).toBe(true);
      });
      // the writer fed a hostile paragraph directly: Deb822Paragraph validates on set
      const value = h();
      await tally.run('Deb822Paragraph', value, async () => {
        const p = Deb822Paragraph.of([['Package', `p${i}`], ['Version', '1'], ['Architecture', 'all'], ['Description', value]]);
        const text = writePackages([{ control: p, filename: `pool/p${i}.deb`, size: 1 }]);
        const back = await readBack(() => readPackages(Buffer.from(text)));
        expect(back).toHaveLength(1);
        // the documented deb822 value: first line without leading blanks, no trailing whitespace; text is UTF-8
        expect(back[0].control.get('Description')).toBe(Buffer.from(value.replace(/^[ \t]+/, '').replace(/[ \t\n]+$/, '')).toString('utf8'));
      });
      const release: Release = {
        origin: h(),
        label: h(),
        suite: h(),
        codename: h(),
        description: h(),
        date: new Date(Date.UTC(2026, 0, 1)),
        architectures: [rng.chance(0.5) ? 'amd64' : h()],
        components: [rng.chance(0.5) ? 'main' : h()],
        acquireByHash: true,
        files: [{ path: rng.chance(0.5) ? 'main/binary-amd64/Packages' : h(), size: 1, sha256: 'a'.repeat(64) }],
      };
      await tally.run('Release', release, async () => {
        const text = writeRelease(release);
        const back = await readBack(() => readRelease(Buffer.from(text)));
        // deb822 keeps a one-line value without surrounding blanks; text is UTF-8
        const deb822 = (v: string | undefined) => (v === undefined ? v : Buffer.from(v.replace(/^[ \t]+|[ \t]+$/g, '')).toString('utf8'));
        for (const k of ['origin', 'label', 'suite', 'codename', 'description'] as const) expect([k, back[k]]).toEqual([k, deb822(release[k])]);
        expect(back.architectures).toEqual(release.architectures);
        expect(back.components).toEqual(release.components);
        expect(back.files).toEqual(release.files);
      });
    }
    tally.report('deb');
    expect(tally.failures).toEqual([]);
  });

  it('pacman: .PKGINFO -> desc/files -> readDatabase, and hostile entries written directly', async () => {
    const tally = new Tally();
    const rng = new Prng(0xa4c);
    const h = () => maybeHostile(rng);
    const date = new Date(Date.UTC(2026, 0, 1));
    const same = (back: PacmanDbEntry, entry: PacmanDbEntry) => {
      for (const k of ['filename', 'name', 'version', 'desc', 'url', 'packager', 'arch', 'csize', 'sha256sum'] as const) expect(back[k]).toEqual(entry[k]);
      for (const k of ['licenses', 'groups', 'depends', 'provides', 'conflicts', 'replaces', 'optdepends'] as const) expect(back[k]).toEqual(entry[k]);
      expect(back.files).toEqual(entry.files);
    };
    for (let i = 0; i < CASES; i++) {
      const pkginfo = `pkgname = hostile${i}\npkgver = 1.0-${i}\narch = any\npkgdesc = ${h()}\nurl = ${h()}\npackager = ${h()}\nlicense = ${h()}\n`
        + `group = ${h()}\ndepend = ${h()}\noptdepend = ${h()}\nprovides = ${h()}\n`;
      const files = [`usr/share/${h()}`, `usr/${h()}/`];
      await tally.run('pacman db', { pkginfo, files }, async () => {
        const info = parsePacmanPkgInfo(Buffer.from(pkginfo));
        const entry = entryOfPackage({ info, files }, { filename: `hostile${i}-1.0-${i}-any.pkg.tar.zst`, csize: i, sha256sum: 'f'.repeat(64) });
        const db = await writeDatabase([entry], { withFiles: true, mtime: date });
        const back = await readBack(() => readDatabase(db));
        expect(back).toHaveLength(1);
        same(back[0], entry);
      });
      const direct: PacmanDbEntry = {
        filename: h(),
        name: rng.chance(0.5) ? `direct${i}` : h(),
        version: rng.chance(0.5) ? '1-1' : h(),
        desc: h(),
        groups: [h()],
        csize: 1,
        url: h(),
        licenses: [h()],
        arch: 'any',
        packager: h(),
        replaces: [],
        conflicts: [h()],
        provides: [],
        depends: [h()],
        optdepends: [],
        makedepends: [],
        checkdepends: [],
        files: [h()],
      };
      await tally.run('pacman db (direct)', direct, async () => {
        const db = await writeDatabase([direct], { withFiles: true, mtime: date });
        const back = await readBack(() => readDatabase(db));
        expect(back).toHaveLength(1);
        same(back[0], direct);
      });
    }
    tally.report('pacman');
    expect(tally.failures).toEqual([]);
  });

  it('apk: .PKGINFO -> APKINDEX -> parseApkIndex / readApkIndexArchive, and hostile entries written directly', async () => {
    const tally = new Tally();
    const rng = new Prng(0xa9c);
    const h = () => maybeHostile(rng);
    const date = new Date(Date.UTC(2026, 0, 1));
    const same = (back: ApkIndexEntry, entry: ApkIndexEntry) => {
      for (const k of ['checksum', 'name', 'version', 'arch', 'size', 'installedSize', 'description', 'url', 'license', 'origin', 'maintainer', 'commit'] as const) {
        expect(back[k]).toEqual(entry[k]);
      }
      expect([back.depends, back.provides, back.installIf]).toEqual([entry.depends, entry.provides, entry.installIf]);
    };
    for (let i = 0; i < CASES; i++) {
      const pkginfo = `pkgname = hostile${i}\npkgver = 1.0-r${i}\npkgdesc = ${h()}\nurl = ${h()}\nlicense = ${h()}\nmaintainer = ${h()}\n`
        + `origin = ${rng.chance(0.5) ? 'o' : h()}\ncommit = ${h()}\ndepend = ${h()}\nprovides = ${h()}\n`;
      await tally.run('APKINDEX', pkginfo, async () => {
        const pkg: ApkPackage = { checksum: 'Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=', size: i, info: parseApkPkgInfo(Buffer.from(pkginfo)), signatures: [], controlEntries: [], dataEntries: 0 };
        const entry = indexEntryOf(pkg);
        const text = writeApkIndex([entry]);
        const back = await readBack(() => parseApkIndex(text));
        expect(back).toHaveLength(1);
        same(back[0], entry);
        const built = await buildApkIndexArchive([entry], { description: h(), mtime: date });
        const archive = await readBack(() => readApkIndexArchive(built));
        expect(archive.entries).toHaveLength(1);
        same(archive.entries[0], entry);
      });
      const direct: ApkIndexEntry = {
        checksum: 'Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=',
        name: rng.chance(0.5) ? `direct${i}` : h(),
        version: rng.chance(0.5) ? '1.0-r0' : h(),
        arch: rng.chance(0.5) ? 'x86_64' : h(),
        size: 1,
        installedSize: 2,
        description: h(),
        url: h(),
        license: h(),
        origin: h(),
        maintainer: h(),
        commit: h(),
        depends: [h()],
        provides: [],
        installIf: [],
      };
      await tally.run('APKINDEX (direct)', direct, async () => {
        const text = writeApkIndex([direct]);
        const back = await readBack(() => parseApkIndex(text));
        expect(back).toHaveLength(1);
        same(back[0], { ...direct, depends: back[0].depends });
      });
    }
    tally.report('apk');
    expect(tally.failures).toEqual([]);
  });
});
