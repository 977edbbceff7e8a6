import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDeb } from '../../../src/formats/deb/deb-package';
import { formatParagraph } from '../../../src/formats/deb/deb822';
import { PackageFormatError } from '../../../src/formats/errors';
import {
  arArchive, buildAllRecipes, debWithControl, downloadRealDebs, loadRecipes, MiB, removeTempDirs, tarGz, tempDir,
} from '../../support/deb-fixtures';

async function* inChunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const hash = (algo: string, bytes: Uint8Array) => createHash(algo).update(bytes).digest('hex');
const GOOD_CONTROL = 'Package: ok\nVersion: 1.0\nArchitecture: all\nMaintainer: A <a@example.org>\nDescription: ok\n';

describe('readDeb', () => {
  let fixtures: Map<string, string>;
  let real: string[];

  afterAll(removeTempDirs);

  beforeAll(() => {
    fixtures = buildAllRecipes(tempDir('deb-package'));
    real = downloadRealDebs(['hello', 'jq', 'tree', 'libjq1', 'libonig5']);
  });

  it('covers gzip, xz, zstd and uncompressed control members', () => {
    const names = [...fixtures.values()].map((f) => execFileSync('ar', ['t', f]).toString().split('\n')[1]);
    expect(names.sort()).toEqual(['control.tar', 'control.tar.gz', 'control.tar.xz', 'control.tar.zst']);
  });

  it('returns the control stanza field for field, as `dpkg-deb -f` prints it (fixtures and real .debs)', async () => {
    for (const file of [...fixtures.values(), ...real]) {
      const deb = await readDeb(readFileSync(file));
      expect(formatParagraph(deb.control)).toBe(execFileSync('dpkg-deb', ['-f', file]).toString('utf8'));
    }
  });

  it('keeps the recipe values: epoch, ~ and + in versions, Architecture all, multi-line Description', async () => {
    for (const recipe of loadRecipes()) {
      const deb = await readDeb(readFileSync(fixtures.get(recipe.id)!));
      expect(deb.control.fields.map((f) => [f.name, f.value])).toEqual(Object.entries(recipe.control));
      expect([deb.package, deb.version, deb.architecture]).toEqual([recipe.control.Package, recipe.control.Version, recipe.control.Architecture]);
    }
    const epoch = await readDeb(readFileSync(fixtures.get('epoch-gzip')!));
    expect(epoch.version).toBe('2:1.4.0~rc1+git20240101.abc-1~bpo12+1');
    expect(epoch.control.get('Description')).toContain('\n .\n');
  });

  it('hashes and sizes the whole file, also when streamed in small chunks', async () => {
    for (const file of [...fixtures.values(), ...real]) {
      const bytes = readFileSync(file);
      const deb = await readDeb(inChunks(bytes, 997));
      expect([deb.size, deb.md5, deb.sha1, deb.sha256]).toEqual([bytes.length, hash('md5', bytes), hash('sha1', bytes), hash('sha256', bytes)]);
      const whole = await readDeb(bytes);
      expect([whole.size, whole.md5, whole.sha1, whole.sha256, formatParagraph(whole.control)])
        .toEqual([deb.size, deb.md5, deb.sha1, deb.sha256, formatParagraph(deb.control)]);
      expect(deb.sha256).toBe(execFileSync('sha256sum', [file]).toString().split(' ')[0]);
    }
  });

  it('accepts a hand-made .deb with a signature member and GNU-style names', async () => {
    const bytes = arArchive([
      { name: 'debian-binary', data: Buffer.from('2.0\n') },
      { name: '_gpgorigin', data: Buffer.from('signature') },
      { name: 'control.tar.gz/', data: tarGz({ control: GOOD_CONTROL }) },
      { name: 'data.tar.gz/', data: tarGz({}) },
    ]);
    expect((await readDeb(bytes)).package).toBe('ok');
  });

  describe('broken input: rejected with a clear reason', () => {
    const cases: Array<[string, () => Uint8Array, RegExp]> = [
      ['truncated inside data.tar', () => { const b = readFileSync(fixtures.get('epoch-gzip')!); return b.subarray(0, b.length - 10); }, /truncated ar member data\.tar\.gz/],
      ['truncated inside the control member', () => readFileSync(fixtures.get('common-xz')!).subarray(0, 200), /truncated ar member control\.tar\.xz/],
      ['no control member', () => arArchive([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'data.tar.gz', data: tarGz({}) }]), /no control\.tar member before data\.tar\.gz/],
      ['no data member', () => arArchive([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'control.tar.gz', data: tarGz({ control: GOOD_CONTROL }) }]), /no data\.tar member/],
      ['control tar without ./control', () => arArchive([
        { name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'control.tar.gz', data: tarGz({ md5sums: '' }) }, { name: 'data.tar.gz', data: tarGz({}) },
      ]), /control\.tar\.gz has no \.\/control file/],
      ['debian-binary not first', () => arArchive([{ name: 'control.tar.gz', data: tarGz({ control: GOOD_CONTROL }) }]), /first ar member is "control\.tar\.gz"/],
      ['format version 3.0', () => arArchive([{ name: 'debian-binary', data: Buffer.from('3.0\n') }]), /unsupported \.deb format version/],
      ['two control members', () => arArchive([
        { name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'control.tar.gz', data: tarGz({ control: GOOD_CONTROL }) },
        { name: 'control.tar.xz', data: Buffer.from('') },
      ]), /two control members/],
      ['an unknown member', () => arArchive([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'evil.sh', data: Buffer.from('') }]), /unknown member "evil\.sh"/],
      ['a control member that is not gzip', () => arArchive([
        { name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'control.tar.gz', data: Buffer.from('not gzip at all') }, { name: 'data.tar.gz', data: tarGz({}) },
      ]), /corrupt (gzip|control\.tar\.gz)/],
      ['a huge control member size', () => {
        const b = debWithControl(GOOD_CONTROL);
        const at = b.indexOf('control.tar.gz') + 48;
        b.write('9999999999', at, 'latin1');
        return b;
      }, /control\.tar\.gz is 9999999999 bytes, more than the limit/],
      ['a control file with an injected paragraph', () => debWithControl(GOOD_CONTROL + '\nPackage: evil\nVersion: 6.6.6\nArchitecture: all\n'), /more than one paragraph/],
      ['a control file injecting a Filename field', () => debWithControl(GOOD_CONTROL.replace('Description: ok\n', 'Description: ok\nFilename: ../../etc/passwd\n')), /sets Filename, a field only the archive may write/],
      ['a control file injecting a duplicate field', () => debWithControl(GOOD_CONTROL + 'Package: other\n'), /duplicate field Package/],
      ['a control file with non-UTF-8 bytes', () => debWithControl(Buffer.concat([Buffer.from(GOOD_CONTROL), Buffer.from('Maintainer2: J'), Buffer.from([0xfc]), Buffer.from('rgen\n')])), /not valid UTF-8/],
      ['a control file with CR line ends', () => debWithControl(GOOD_CONTROL.replace(/\n/g, '\r\n')), /U\+000D/],
      ['a control file without Version', () => debWithControl(GOOD_CONTROL.replace('Version: 1.0\n', '')), /no Version field/],
      ['an invalid package name', () => debWithControl(GOOD_CONTROL.replace('Package: ok', 'Package: ../Evil')), /invalid package name/],
      ['an invalid version', () => debWithControl(GOOD_CONTROL.replace('Version: 1.0', 'Version: 1.0 evil')), /invalid version/],
      ['an empty file', () => new Uint8Array(0), /truncated ar archive/],
      ['not an ar file', () => Buffer.from('PK\u0003\u0004 this is a zip'), /no !<arch> magic/],
    ];

    it.each(cases)('%s', async (_name, make, message) => {
      const bytes = make();
      await expect(readDeb(bytes)).rejects.toThrow(PackageFormatError);
      await expect(readDeb(bytes)).rejects.toThrow(message);
    });

    it('dpkg-scanpackages refuses the duplicate-field package too (apt-ftparchive would index "Package: other")', () => {
      const dir = tempDir('hostile');
      writeFileSync(`${dir}/dup.deb`, debWithControl(GOOD_CONTROL + 'Package: other\n'));
      expect(() => execFileSync('dpkg-scanpackages', ['.'], { cwd: dir, stdio: 'pipe' })).toThrow(/duplicate field Package/);
    });

    it('caps the decompressed control tar (bomb)', async () => {
      const bomb = debWithControl(Buffer.concat([Buffer.from(GOOD_CONTROL), Buffer.alloc(4 * MiB, 0x20)]));
      await expect(readDeb(bomb, { maxControlTarBytes: MiB, maxControlFileBytes: 8 * MiB })).rejects.toThrow(/beyond the limit/);
      await expect(readDeb(bomb, { maxControlFileBytes: MiB })).rejects.toThrow(/more than the limit of 1048576/);
    });
  });
});
