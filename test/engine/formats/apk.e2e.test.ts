import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../../src/cli/serve';
import { StorageReadError, syncAll } from '../../../src/engine/engine';
import { apkFormat } from '../../../src/engine/formats/apk';
import { DEFAULT_APK_LIMITS } from '../../../src/formats/apk/package';
import { loadRsaSigner } from '../../../src/signing/rsa';
import type { SigningKeys } from '../../../src/signing/signer';
import { LocalStorage } from '../../../src/storage/local';
import { MeteredStorage } from '../../../src/storage/metered';
import type { Storage } from '../../../src/storage/storage';
import {
  buildApk, cutTar, makeRsaKey, pkginfoText, pythonCheck, requireTools, tempDir, verifyIndexWithTools, type ApkTestKey,
} from '../../support/apk-fixtures';

const NOW = new Date('2024-06-01T00:00:00Z');
const MAIN = 'v3.20/main/x86_64';

interface Package {
  readonly file: string;
  readonly bytes: Buffer;
  readonly fields: Record<string, string | number | string[]>;
}

function pkgFields(name: string, version: string, arch: string, extra: Record<string, string | number | string[]> = {}) {
  return {
    pkgname: name,
    pkgver: version,
    pkgdesc: `${name} for the e2e test`,
    url: `https://example.org/${name}`,
    builddate: 1717000000,
    size: 2048,
    arch,
    license: 'MIT',
    origin: name,
    ...extra,
  };
}

describe('apk repositories (no apk client in Debian: judged by openssl, bsdtar and python)', () => {
  let work: string;
  let key: ApkTestKey;
  let keys: SigningKeys;
  const pkgs: Record<string, Package> = {};

  const make = (label: string, fields: Package['fields'], spec: Partial<Parameters<typeof buildApk>[0]> = {}) => {
    const bytes = buildApk({ pkginfo: pkginfoText(fields), files: { [`usr/share/${fields.pkgname}/file`]: `${label}\n` }, ...spec }).bytes;
    pkgs[label] = { file: `${fields.pkgname}-${fields.pkgver}.apk`, bytes, fields };
  };

  /** A fresh tree with the given packages under `dir` (relative to the tree). */
  const tree = (name: string, placed: Record<string, string[]>): string => {
    const root = join(work, name);
    for (const [dir, labels] of Object.entries(placed)) {
      mkdirSync(join(root, dir), { recursive: true });
      for (const label of labels) writeFileSync(join(root, dir, pkgs[label].file), pkgs[label].bytes);
    }
    return root;
  };

  const index = (storage: Storage, format = apkFormat()) => syncAll({ storage, format, keys, now: () => NOW });

  beforeAll(() => {
    requireTools('tar', 'gzip', 'openssl', 'bsdtar', 'python3');
    work = tempDir('apk-e2e-');
    key = makeRsaKey(work, 'e2e@example.org-665a1b2c');
    keys = { rsa: loadRsaSigner(key.privatePem, key.keyName) };
    make('hello', pkgFields('hello', '1.0_rc1-r0', 'x86_64', {
      depend: ['!hello-legacy', 'so:libc.musl-x86_64.so.1', 'world>=2.3'], provides: ['cmd:hello=1.0_rc1-r0', 'greeter=1'],
    }), { signWith: key });
    make('world', pkgFields('world', '2.3.4-r12', 'x86_64'));
    make('docs', pkgFields('docs-thing', '0.1_p2-r1', 'noarch'), { signWith: key, signatureType: 'RSA256' });
    make('later', pkgFields('later', '3.0-r1', 'x86_64', { depend: ['hello'] }));
    make('arm', pkgFields('armonly', '1.0-r0', 'aarch64'));
  });

  describe('a tree indexed with syncAll and served over HTTP', () => {
    let root: string;
    let server: RunningServer;
    let report: Awaited<ReturnType<typeof syncAll>>;

    beforeAll(async () => {
      root = tree('served', { [MAIN]: ['hello', 'world', 'docs'], 'v3.20/community/aarch64': ['arm'] });
      // two keys outside the layout: a noarch/ directory (apk never fetches from one) and a stray file
      mkdirSync(join(root, 'v3.20/main/noarch'), { recursive: true });
      writeFileSync(join(root, 'v3.20/main/noarch', pkgs.docs.file), pkgs.docs.bytes);
      writeFileSync(join(root, 'stray.apk'), pkgs.world.bytes);
      report = await index(new LocalStorage(root));
      server = await startServer({ root });
    });
    afterAll(async () => server?.close());

    async function fetchTo(path: string): Promise<string> {
      const response = await fetch(`${server.url}/${path}`);
      expect(response.status, path).toBe(200);
      const file = join(work, 'fetched', path);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, Buffer.from(await response.arrayBuffer()));
      return file;
    }

    it('publishes one index per <branch>/<repo>/<arch> and reports keys outside the layout', () => {
      expect(report.units.map((u) => [u.unit.id, u.packageCount, u.published])).toEqual([
        ['apk:v3.20/community/aarch64', 1, true],
        ['apk:v3.20/main/x86_64', 3, true],
      ]);
      expect(report.rejected.map((r) => r.key).sort()).toEqual(['stray.apk', `v3.20/main/noarch/${pkgs.docs.file}`]);
    });

    it('serves an APKINDEX.tar.gz whose signature openssl verifies over the exact unsigned bytes', async () => {
      const file = await fetchTo(`${MAIN}/APKINDEX.tar.gz`);
      const verified = verifyIndexWithTools(file, key.publicPath, `.SIGN.RSA.${key.keyName}`, '-sha1');
      expect(verified.description).toBe('v3.20/main');
      expect(verified.blocks.map((b) => b.get('P')).sort()).toEqual(['docs-thing', 'hello', 'world']);
    });

    it('lists every package with the C: and S: recomputed from the file apk would fetch', async () => {
      const file = await fetchTo(`${MAIN}/APKINDEX.tar.gz`);
      const { blocks } = verifyIndexWithTools(file, key.publicPath, `.SIGN.RSA.${key.keyName}`, '-sha1');
      for (const label of ['hello', 'world', 'docs']) {
        const { fields } = pkgs[label];
        const block = blocks.find((b) => b.get('P') === fields.pkgname)!;
        // apk fetches <repository>/<A:>/<P:>-<V:>.apk
        const fetched = await fetchTo(`v3.20/main/${block.get('A')}/${block.get('P')}-${block.get('V')}.apk`);
        expect(block.get('C')).toBe(pythonCheck('identity', fetched));
        expect(block.get('S')).toBe(String(statSync(fetched).size));
        expect(block.get('I')).toBe(String(fields.size));
        expect(block.get('A')).toBe('x86_64'); // noarch too: indexed with the directory's architecture
      }
      const hello = blocks.find((b) => b.get('P') === 'hello')!;
      expect(hello.get('D')).toBe('!hello-legacy so:libc.musl-x86_64.so.1 world>=2.3');
      expect(hello.get('p')).toBe('cmd:hello=1.0_rc1-r0 greeter=1');
    });

    it('indexes the aarch64 directory on its own', async () => {
      const file = await fetchTo('v3.20/community/aarch64/APKINDEX.tar.gz');
      const { blocks } = verifyIndexWithTools(file, key.publicPath, `.SIGN.RSA.${key.keyName}`, '-sha1');
      expect(blocks.map((b) => [b.get('P'), b.get('A')])).toEqual([['armonly', 'aarch64']]);
    });
  });

  it('signs with RSA256 and a chosen key name when asked', async () => {
    const root = tree('rsa256', { [MAIN]: ['hello'] });
    await index(new LocalStorage(root), apkFormat({ signatureType: 'RSA256', keyName: 'ops.rsa.pub', description: 'ops repo' }));
    const verified = verifyIndexWithTools(join(root, MAIN, 'APKINDEX.tar.gz'), key.publicPath, '.SIGN.RSA256.ops.rsa.pub', '-sha256');
    expect(verified.description).toBe('ops repo');
  });

  describe('incremental updates', () => {
    it('adding a package reads only it and the index, and equals a full rebuild', async () => {
      const root = tree('incremental', { [MAIN]: ['hello', 'world'] });
      const storage = new MeteredStorage(new LocalStorage(root));
      await index(storage);
      copyFileSync(join(work, 'served', MAIN, pkgs.docs.file), join(root, MAIN, pkgs.docs.file));
      writeFileSync(join(root, MAIN, pkgs.later.file), pkgs.later.bytes);
      storage.reset();
      const report = await index(storage);
      expect(report.units[0].added.map((a) => a.key).sort()).toEqual([`${MAIN}/${pkgs.docs.file}`, `${MAIN}/${pkgs.later.file}`]);
      // packages read: only the new ones; besides them only the index (and the engine's own gc journal)
      expect(storage.keysRead.filter((k) => k.endsWith('.apk')).sort()).toEqual([`${MAIN}/${pkgs.docs.file}`, `${MAIN}/${pkgs.later.file}`]);
      expect(storage.keysRead).toContain(`${MAIN}/APKINDEX.tar.gz`);

      const full = tree('full-rebuild', { [MAIN]: ['hello', 'world', 'docs', 'later'] });
      await index(new LocalStorage(full));
      expect(readFileSync(join(root, MAIN, 'APKINDEX.tar.gz')).equals(readFileSync(join(full, MAIN, 'APKINDEX.tar.gz')))).toBe(true);
    });

    it('a removed package is gone from the index, the others stay', async () => {
      const root = tree('removal', { [MAIN]: ['hello', 'world', 'docs'] });
      await index(new LocalStorage(root));
      unlinkSync(join(root, MAIN, pkgs.world.file));
      const report = await index(new LocalStorage(root));
      expect(report.units[0].removed).toEqual([`${MAIN}/${pkgs.world.file}`]);
      const { blocks } = verifyIndexWithTools(join(root, MAIN, 'APKINDEX.tar.gz'), key.publicPath, `.SIGN.RSA.${key.keyName}`, '-sha1');
      expect(blocks.map((b) => b.get('P')).sort()).toEqual(['docs-thing', 'hello']);
    });

    it('carries on from an index made by other tools (apk index layout, abuild-sign pipeline) without re-reading its packages', async () => {
      const root = tree('adopted', { [MAIN]: ['hello', 'world'] });
      const dir = join(root, MAIN);
      // an APKINDEX written without our code: fields from .PKGINFO, C: from python, S: from stat
      const text = ['hello', 'world'].map((label) => {
        const { fields, file } = pkgs[label];
        return [
          `C:${pythonCheck('identity', join(dir, file))}`, `P:${fields.pkgname}`, `V:${fields.pkgver}`, `A:${fields.arch}`,
          `S:${statSync(join(dir, file)).size}`, `I:${fields.size}`, `T:${fields.pkgdesc}`, `U:${fields.url}`, `L:${fields.license}`,
          `o:${fields.origin}`, `t:${fields.builddate}`, ...(fields.depend ? [`D:${(fields.depend as string[]).join(' ')}`] : []),
          ...(fields.provides ? [`p:${(fields.provides as string[]).join(' ')}`] : []), '', '',
        ].join('\n');
      }).join('');
      const staging = tempDir('apk-adopt-');
      writeFileSync(join(staging, 'DESCRIPTION'), 'made by other tools');
      writeFileSync(join(staging, 'APKINDEX'), text);
      // apk index writes old-GNU ustar headers owned by root; abuild-sign prepends the cut signature tar
      execFileSync('sh', ['-c', [
        'tar --format=oldgnu --owner=0 --group=0 -cf - DESCRIPTION APKINDEX | gzip -n -9 > APKINDEX.tar.gz',
        `openssl dgst -sha1 -sign ${key.privatePath} -out .SIGN.RSA.${key.keyName} APKINDEX.tar.gz`,
        `tar --format=posix --owner=0 --group=0 -cf sig.tar .SIGN.RSA.${key.keyName}`,
      ].join(' && ')], { cwd: staging });
      const sigMember = execFileSync('gzip', ['-n', '-9', '-c'], { input: cutTar(readFileSync(join(staging, 'sig.tar'))) });
      writeFileSync(join(dir, 'APKINDEX.tar.gz'), Buffer.concat([sigMember, readFileSync(join(staging, 'APKINDEX.tar.gz'))]));
      expect(execFileSync('bsdtar', ['-tf', join(dir, 'APKINDEX.tar.gz')], { encoding: 'utf8' }).trim().split('\n'))
        .toEqual([`.SIGN.RSA.${key.keyName}`, 'DESCRIPTION', 'APKINDEX']);

      const storage = new MeteredStorage(new LocalStorage(root));
      const unchanged = await index(storage);
      expect(unchanged.units[0]).toMatchObject({ published: false, packageCount: 2, added: [], removed: [] });
      expect(storage.keysRead).toEqual([`${MAIN}/APKINDEX.tar.gz`]);

      writeFileSync(join(dir, pkgs.later.file), pkgs.later.bytes);
      storage.reset();
      const grown = await index(storage);
      expect(grown.units[0].added.map((a) => a.name)).toEqual(['later']);
      expect(storage.keysRead.filter((k) => k.endsWith('.apk'))).toEqual([`${MAIN}/${pkgs.later.file}`]);
      const { blocks } = verifyIndexWithTools(join(dir, 'APKINDEX.tar.gz'), key.publicPath, `.SIGN.RSA.${key.keyName}`, '-sha1');
      expect(blocks.map((b) => b.get('P'))).toEqual(['hello', 'later', 'world']);
      const helloBlock = blocks.find((b) => b.get('P') === 'hello')!;
      expect(helloBlock.get('C')).toBe(pythonCheck('identity', join(dir, pkgs.hello.file)));
    });
  });

  describe('bad packages', () => {
    it('are rejected with a reason; the index holds the good ones and is not republished for bad ones alone', async () => {
      const root = tree('bad', { [MAIN]: ['hello'] });
      const dir = join(root, MAIN);
      await index(new LocalStorage(root));
      const before = readFileSync(join(dir, 'APKINDEX.tar.gz'));

      const bad: Record<string, Buffer> = {
        'truncated-1.0-r0.apk': pkgs.world.bytes.subarray(0, pkgs.world.bytes.length - 40),
        'renamed-9.9-r0.apk': pkgs.world.bytes,
        [pkgs.arm.file]: pkgs.arm.bytes,
        'inject-1.0-r0.apk': buildApk({ pkginfo: pkginfoText(pkgFields('inject', '1.0-r0', 'x86_64', { pkgdesc: 'x\rC:Q1forged' })), files: { a: 'a' } }).bytes,
        'noinfo-1.0-r0.apk': buildApk({ pkginfo: '', files: { a: 'a' }, scripts: { '.pre-install': '#!/bin/sh\n' }, withoutPkgInfo: true }).bytes,
        'bomb-1.0-r0.apk': buildApk({ pkginfo: pkginfoText(pkgFields('bomb', '1.0-r0', 'x86_64')), files: { zeros: Buffer.alloc(32 * 1024 * 1024) } }).bytes,
      };
      for (const [file, bytes] of Object.entries(bad)) writeFileSync(join(dir, file), bytes);
      const limited = apkFormat({ limits: { ...DEFAULT_APK_LIMITS, maxDataBytes: 4 * 1024 * 1024 } });
      const report = await index(new LocalStorage(root), limited);
      const reasons = Object.fromEntries(report.rejected.map((r) => [r.key.slice(MAIN.length + 1), r.reason]));
      expect(reasons['truncated-1.0-r0.apk']).toMatch(/unexpected end of file|Unexpected end of data|datahash/);
      expect(reasons['renamed-9.9-r0.apk']).toMatch(/named renamed-9\.9-r0\.apk but its \.PKGINFO says world-2\.3\.4-r12\.apk/);
      expect(reasons[pkgs.arm.file]).toMatch(/built for aarch64, not for the x86_64 directory/);
      expect(reasons['inject-1.0-r0.apk']).toMatch(/pkgdesc \(line \d+\) contains a newline or control character/);
      expect(reasons['noinfo-1.0-r0.apk']).toMatch(/has no \.PKGINFO/);
      expect(reasons['bomb-1.0-r0.apk']).toMatch(/expands beyond the limit of 4194304 bytes/);
      expect(Object.keys(reasons)).toHaveLength(Object.keys(bad).length);
      expect(report.units[0].published).toBe(false);
      expect(readFileSync(join(dir, 'APKINDEX.tar.gz')).equals(before)).toBe(true);

      writeFileSync(join(dir, pkgs.world.file), pkgs.world.bytes);
      const mixed = await index(new LocalStorage(root), limited);
      expect(mixed.units[0].added.map((a) => a.name)).toEqual(['world']);
      const { blocks } = verifyIndexWithTools(join(dir, 'APKINDEX.tar.gz'), key.publicPath, `.SIGN.RSA.${key.keyName}`, '-sha1');
      expect(blocks.map((b) => b.get('P'))).toEqual(['hello', 'world']);
    });

    it('a storage failure while streaming a package is not blamed on the package', async () => {
      // big enough that the failure hits while the data member streams, after the control member was read
      const big = buildApk({ pkginfo: pkginfoText(pkgFields('big', '1.0-r0', 'x86_64')), files: { blob: randomBytes(512 * 1024) } }).bytes;
      const root = tree('flaky', {});
      mkdirSync(join(root, MAIN), { recursive: true });
      writeFileSync(join(root, MAIN, 'big-1.0-r0.apk'), big);
      const inner = new LocalStorage(root);
      const flaky: Storage = {
        get: (k) => inner.get(k),
        head: (k) => inner.head(k),
        put: (k, b, o) => inner.put(k, b, o),
        delete: (k) => inner.delete(k),
        list: (p) => inner.list(p),
        stream: async (k) => {
          const s = await inner.stream(k);
          if (!s || !k.endsWith('.apk')) return s;
          let n = 0;
          s.on('data', () => {
            if (++n === 1) setImmediate(() => s.destroy(new Error('connection reset')));
          });
          return s as Readable;
        },
      };
      await expect(index(flaky)).rejects.toBeInstanceOf(StorageReadError);
    });
  });

  describe('layout', () => {
    it.each([
      ['v3.20/main/x86_64/a-1.0-r0.apk', 'apk:v3.20/main/x86_64'],
      ['edge/testing/riscv64/a-1.0-r0.apk', 'apk:edge/testing/riscv64'],
      ['v3.20/main/noarch/a-1.0-r0.apk', undefined],
      ['main/x86_64/a-1.0-r0.apk', undefined],
      ['x/v3.20/main/x86_64/a-1.0-r0.apk', undefined],
      ['v3.20/../x86_64/a-1.0-r0.apk', undefined],
      ['v3.20/main/x86_64/APKINDEX.tar.gz', undefined],
    ])('%s → %s', (packageKey, id) => {
      expect(apkFormat().unitOf(packageKey)?.id).toBe(id);
    });

    it('finds units from their published index and owns only that file', () => {
      const format = apkFormat();
      const unit = format.unitsOfMetadata!('v3.20/main/x86_64/APKINDEX.tar.gz')!;
      expect(unit).toEqual({ id: 'apk:v3.20/main/x86_64', root: 'v3.20/main/x86_64/', params: { branch: 'v3.20', repo: 'main', arch: 'x86_64' } });
      expect(format.isOwnedMetadata(unit, 'v3.20/main/x86_64/APKINDEX.tar.gz')).toBe(true);
      expect(format.isOwnedMetadata(unit, 'v3.20/main/x86_64/a-1.0-r0.apk')).toBe(false);
    });
  });
});
