import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFaultCampaign, summaryLine, type ClientListing } from './faults-scenario';
import { syncAll } from '../../src/engine/engine';
import { apkFormat } from '../../src/engine/formats/apk';
import { loadRsaSigner } from '../../src/signing/rsa';
import type { SigningKeys } from '../../src/signing/signer';
import { LocalStorage } from '../../src/storage/local';
import { buildApk, makeRsaKey, pkginfoText, pythonCheck, requireTools, tempDir, verifyIndexWithTools, type ApkTestKey } from '../support/apk-fixtures';

const DIR = 'v3.20/main/x86_64';
const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('crash consistency: apk (no apk client in Debian: openssl, bsdtar and python judge the index)', () => {
  let work: string;
  let key: ApkTestKey;
  let keys: SigningKeys;
  const packages = new Map<string, Buffer>();

  beforeAll(() => {
    requireTools('tar', 'gzip', 'openssl', 'bsdtar', 'python3');
    work = tempDir('faults-apk-');
    key = makeRsaKey(work, 'faults@example.org-665a1b2c');
    keys = { rsa: loadRsaSigner(key.privatePem, key.keyName) };
    NAMES.forEach((name, i) => {
      const pkginfo = pkginfoText({
        pkgname: name,
        pkgver: `1.${i}-r0`,
        pkgdesc: `${name} for the fault test`,
        url: 'https://example.org',
        builddate: 1717000000,
        size: 1024,
        arch: 'x86_64',
        license: 'MIT',
        origin: name,
      });
      packages.set(`${name}-1.${i}-r0.apk`, buildApk({ pkginfo, files: { [`usr/share/${name}/file`]: `${name}\n` } }).bytes);
    });
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const file = (name: string) => [...packages.keys()].find((f) => f.startsWith(`${name}-`))!;
  const listing = (names: readonly string[]) => names.map((n) => file(n).replace(/\.apk$/, '')).sort();

  /** The index as apk would take it: signature over the exact bytes, tar layout, every package's C: and S:. */
  async function client(url: string, deleted: string): Promise<ClientListing> {
    const dir = tempDir('faults-apk-client-');
    try {
      const response = await fetch(`${url}/${DIR}/APKINDEX.tar.gz`);
      expect(response.status).toBe(200);
      const indexFile = join(dir, 'APKINDEX.tar.gz');
      writeFileSync(indexFile, Buffer.from(await response.arrayBuffer()));
      const { blocks } = verifyIndexWithTools(indexFile, key.publicPath, `.SIGN.RSA.${key.keyName}`, '-sha1');
      const listed = blocks.map((b) => `${b.get('P')}-${b.get('V')}`).sort();
      for (const block of blocks) {
        const name = `${block.get('P')}-${block.get('V')}.apk`;
        if (name === deleted) continue; // deleted by its owner before the change ran: no publish order can keep it
        const got = await fetch(`${url}/${DIR}/${name}`);
        expect(got.status, name).toBe(200);
        const bytes = Buffer.from(await got.arrayBuffer());
        const saved = join(dir, name);
        writeFileSync(saved, bytes);
        expect(block.get('C'), name).toBe(pythonCheck('identity', saved));
        expect(block.get('S'), name).toBe(String(bytes.length));
        expect(sha256(bytes), name).toBe(sha256(packages.get(name)!));
      }
      return listed;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('a crash at every write and every read of a publish leaves an index apk accepts (old or new), and redelivery converges', async () => {
    const deleted = file('beta');
    const engine = (storage: LocalStorage | import('../../src/storage/storage').Storage) => ({
      storage, format: apkFormat(), keys, graceMs: 0, minGenerations: 1,
    });
    const summary = await runFaultCampaign({
      name: 'apk',
      engine,
      stateA: listing(['alpha', 'beta', 'gamma']),
      stateB: listing(['alpha', 'gamma', 'delta', 'epsilon']),
      prepare: async (root) => {
        mkdirSync(join(root, DIR), { recursive: true });
        const place = (name: string) => writeFileSync(join(root, DIR, file(name)), packages.get(file(name))!);
        place('alpha');
        await syncAll(engine(new LocalStorage(root)));
        place('beta');
        place('gamma');
        await syncAll(engine(new LocalStorage(root)));
        place('delta');
        place('epsilon');
        unlinkSync(join(root, DIR, deleted));
        return { upserted: [`${DIR}/${file('delta')}`, `${DIR}/${file('epsilon')}`], deleted: [`${DIR}/${deleted}`] };
      },
      client: (url) => client(url, deleted),
    });
    console.log(summaryLine('apk', summary));
    expect(summary.writeFaults).toBeGreaterThan(0);
    expect(summary.readFaults).toBeGreaterThan(0);
  }, 600_000);
});
