/* eslint-disable no-bitwise -- file modes are bit sets */
import { execFileSync } from 'node:child_process';
import { basename } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RpmDependency, RpmPackage } from '../../../src/formats/rpm/model';
import { parseRpm, rpmHeaderSpan } from '../../../src/formats/rpm/rpm-file';
import { buildRpmFixtures, rpmFileInfo } from '../../support/rpm-fixtures';

const SEP = '\n@@8<@@\n';

/** Text as rpm prints it: UTF-8, or Latin-1 for the odd old package. */
function text(b: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return b.toString('latin1');
  }
}

/** `rpm -qp --qf` split into fields (the query format joins them with SEP). */
function rpmQuery(file: string, ...formats: string[]): string[] {
  const out = execFileSync('rpm', ['-qp', '--qf', formats.join(SEP.replace(/\n/g, '\\n')), file]);
  return text(out).split(SEP);
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '');
const noneToEmpty = (s: string) => (s === '(none)' ? '' : s);
const OPS = { EQ: '=', LT: '<', LE: '<=', GT: '>', GE: '>=' } as const;

/** A dependency as rpm prints it (`name >= [epoch:]ver-rel`), epoch 0 left out. */
function nevr(d: RpmDependency): string {
  if (!d.flags) return d.name;
  const e = d.epoch && d.epoch !== '0' ? `${d.epoch}:` : '';
  return `${d.name} ${OPS[d.flags]} ${e}${d.ver ?? ''}${d.rel ? `-${d.rel}` : ''}`;
}
const dropZeroEpoch = (s: string) => s.replace(/ (=|<|>|<=|>=) 0:/, ' $1 ');

describe('parseRpm agrees with rpm -qp on every fixture', () => {
  let files: readonly string[];
  const parsed = new Map<string, RpmPackage>();

  beforeAll(async () => {
    files = (await buildRpmFixtures()).files;
    for (const f of files) {
      const { bytes, info } = await rpmFileInfo(f);
      parsed.set(f, parseRpm(bytes, info));
    }
  });

  it('has the expected fixture set', () => {
    expect(files.map((f) => basename(f))).toEqual([
      'c++-utils-2.0+git20260101-1.noarch.rpm', 'hello-1.0-1.x86_64.rpm', 'hello-1.1-1.x86_64.rpm', 'hello-data-3.2-4.fc40.noarch.rpm', 'tilde-tool-1.2~beta1-0.1.x86_64.rpm',
    ]);
  });

  it('identity, sizes, times and descriptive tags', () => {
    for (const f of files) {
      const p = parsed.get(f)!;
      const [name, epoch, version, release, arch, installed, archive, summary, description, buildtime, sourcerpm,
        license, vendor, group, buildhost, url, packager] = rpmQuery(f, '%{NAME}', '%{EPOCHNUM}', '%{VERSION}', '%{RELEASE}', '%{ARCH}',
        '%{LONGSIZE}', '%{LONGARCHIVESIZE}', '%{SUMMARY}', '%{DESCRIPTION}', '%{BUILDTIME}', '%{SOURCERPM}', '%{LICENSE}',
        '%{VENDOR}', '%{GROUP}', '%{BUILDHOST}', '%{URL}', '%{PACKAGER}');
      expect({ name: p.name, epoch: p.epoch, version: p.version, release: p.release, arch: p.arch }).toEqual({ name, epoch, version, release, arch });
      expect(p.size.installed).toBe(Number(installed));
      expect(p.size.archive).toBe(Number(archive));
      expect(p.time.build).toBe(Number(buildtime));
      expect({ summary: p.summary, description: p.description }).toEqual({ summary, description });
      expect(p.format).toMatchObject({
        sourcerpm, license, vendor: noneToEmpty(vendor), group, buildhost,
      });
      expect(p.url).toBe(noneToEmpty(url));
      expect(p.packager).toBe(noneToEmpty(packager));
    }
  });

  it('provides, conflicts, obsoletes and weak dependencies exactly', () => {
    for (const f of files) {
      const p = parsed.get(f)!.format;
      const [provides, conflicts, obsoletes, recommends, suggests, supplements, enhances] = rpmQuery(f,
        '[%{PROVIDENEVRS}\\n]', '[%{CONFLICTNEVRS}\\n]', '[%{OBSOLETENEVRS}\\n]', '[%{RECOMMENDNEVRS}\\n]',
        '[%{SUGGESTNEVRS}\\n]', '[%{SUPPLEMENTNEVRS}\\n]', '[%{ENHANCENEVRS}\\n]').map((s) => lines(s).map(dropZeroEpoch));
      expect(p.provides.map(nevr)).toEqual(provides);
      expect(p.conflicts.map(nevr)).toEqual(conflicts);
      expect(p.obsoletes.map(nevr)).toEqual(obsoletes);
      expect(p.recommends.map(nevr)).toEqual(recommends);
      expect(p.suggests.map(nevr)).toEqual(suggests);
      expect(p.supplements.map(nevr)).toEqual(supplements);
      expect(p.enhances.map(nevr)).toEqual(enhances);
    }
  });

  it('requires: a filtered subset of rpm\'s, with pre exactly where rpm says pre/post', () => {
    for (const f of files) {
      const p = parsed.get(f)!;
      const rpmRequires = lines(rpmQuery(f, '[%{REQUIRENEVRS}\\t%{REQUIREFLAGS:deptype}\\n]')[0]).map((l) => {
        const [dep, type] = l.split('\t');
        return { dep: dropZeroEpoch(dep), pre: /\b(pre|post)\b/.test(type) };
      });
      for (const r of p.format.requires) {
        const matches = rpmRequires.filter((x) => x.dep === nevr(r));
        expect(matches.length, nevr(r)).toBeGreaterThan(0);
        expect(matches.some((m) => m.pre === (r.pre ?? false)), nevr(r)).toBe(true);
      }
      const ours = new Set(p.format.requires.map(nevr));
      const provided = new Set(p.format.provides.map(nevr));
      const paths = new Set(p.files.map((x) => x.path));
      for (const { dep } of rpmRequires) {
        if (ours.has(dep)) continue;
        // every dropped require is one createrepo_c drops: rpmlib(), provided, own primary file, lower libc.so.6
        const why = dep.startsWith('rpmlib(') || provided.has(dep) || (paths.has(dep) && /^\/etc\/|bin\//.test(dep)) || dep.startsWith('libc.so.6');
        expect(why, `dropped ${dep}`).toBe(true);
      }
    }
    const hello = parsed.get(files.find((f) => basename(f) === 'hello-1.0-1.x86_64.rpm')!)!.format.requires;
    expect(hello.filter((r) => r.name.startsWith('libc.so.6')).map((r) => r.name)).toEqual(['libc.so.6(GLIBC_2.34)(64bit)']);
    expect(hello.filter((r) => r.name === '/bin/sh')).toEqual([{ name: '/bin/sh', pre: true }]);
  });

  it('files with dir and ghost types', () => {
    for (const f of files) {
      const expected = lines(rpmQuery(f, '[%{FILENAMES}\\t%{FILEMODES}\\t%{FILEFLAGS:fflags}\\n]')[0]).map((l) => {
        const [path, mode, flags] = l.split('\t');
        const type = (Number(mode) & 0o170000) === 0o040000 ? 'dir' : flags.includes('g') ? 'ghost' : 'file';
        return { path, type };
      });
      expect(parsed.get(f)!.files).toEqual(expected);
    }
  });

  it('changelog: the newest 10, oldest first', () => {
    for (const f of files) {
      const entries = rpmQuery(f, '[%{CHANGELOGTIME}\\t%{CHANGELOGNAME}\\t%{CHANGELOGTEXT}@@END@@]')[0].split('@@END@@').filter((e) => e);
      const expected = entries.slice(0, 10).reverse().map((e) => {
        const [date, author, ...t] = e.split('\t');
        return { date: Number(date), author, text: t.join('\t') };
      });
      const ours = parsed.get(f)!.changelogs;
      expect(ours.map((c) => ({ author: c.author, text: c.text }))).toEqual(expected.map((c) => ({ author: c.author, text: c.text })));
      // equal timestamps are spread one second apart, never moved backwards
      ours.forEach((c, i) => expect(c.date - expected[i].date).toBeGreaterThanOrEqual(0));
      ours.forEach((c, i) => expect(c.date - expected[i].date).toBeLessThan(10));
    }
  });

  it('header range ends where the compressed payload begins; rpmHeaderSpan finds it from a prefix', async () => {
    const magic: Record<string, string> = { gzip: '1f8b', xz: 'fd377a585a00', zstd: '28b52ffd' };
    for (const f of files) {
      const { bytes } = await rpmFileInfo(f);
      const { start, end } = parsed.get(f)!.format.headerRange;
      const [compressor] = rpmQuery(f, '%{PAYLOADCOMPRESSOR}');
      expect(bytes.subarray(end, end + magic[compressor].length / 2).toString('hex')).toBe(magic[compressor]);
      expect(bytes.subarray(start, start + 3).toString('hex')).toBe('8eade8');
      expect(rpmHeaderSpan(bytes)).toBe(end);
      // a prefix that stops inside the signature header or before the main header's sizes cannot tell
      expect(rpmHeaderSpan(bytes.subarray(0, 100))).toBeUndefined();
      expect(rpmHeaderSpan(bytes.subarray(0, start + 15))).toBeUndefined();
      expect(rpmHeaderSpan(bytes.subarray(0, start + 16))).toBe(end);
      // parsing needs the header bytes only
      expect(parseRpm(bytes.subarray(0, end), { href: 'x.rpm', size: bytes.length, mtime: 0, sha256: '0' }).name).toBe(parsed.get(f)!.name);
    }
  });
});
