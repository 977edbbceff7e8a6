import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFaultCampaign, summaryLine, type ClientListing } from './faults-scenario';
import { DnfSandbox } from '../../src/cli/clients/dnf';
import { syncAll } from '../../src/engine/engine';
import { yumFormat } from '../../src/engine/formats/yum';
import { buildRpm } from '../../src/formats/rpm';
import { generatePgpKey, loadPgpSigner } from '../../src/signing/pgp';
import type { SigningKeys } from '../../src/signing/signer';
import { LocalStorage } from '../../src/storage/local';
import type { Storage } from '../../src/storage/storage';

const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('crash consistency: yum, judged by the real dnf', () => {
  let work: string;
  let keyFile: string;
  let keys: SigningKeys;
  /** file name → bytes; the NEVRA is `<name>-1.<i>-1.noarch`, the file `<nevra>.rpm`. */
  const packages = new Map<string, Uint8Array>();

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'faults-yum-'));
    const key = await generatePgpKey({ name: 'yum fault test', type: 'rsa' });
    keyFile = path.join(work, 'RPM-GPG-KEY-faults');
    await writeFile(keyFile, key.publicKeyArmored);
    keys = { pgp: await loadPgpSigner(key.privateKeyArmored) };
    NAMES.forEach((name, i) => {
      packages.set(`${name}-1.${i}-1.noarch.rpm`, buildRpm({
        name,
        version: `1.${i}`,
        release: '1',
        summary: `${name} for the fault test`,
        buildTime: 1_700_000_000 + i,
        files: [{ path: `/usr/share/${name}/data.txt`, contents: `${name}\n` }],
      }));
    });
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  const file = (name: string) => [...packages.keys()].find((f) => f.startsWith(`${name}-`))!;
  const listing = (names: readonly string[]) => names.map((n) => file(n).replace(/\.rpm$/, '')).sort();

  /** dnf with repo_gpgcheck=1: makecache, repoquery, then download of every listed package. */
  async function client(url: string, deleted: string): Promise<ClientListing> {
    const dnf = await DnfSandbox.create({ baseUrl: `${url}/`, gpgKeyUrl: `file://${keyFile}` });
    try {
      await dnf.dnf(['makecache']);
      const { stdout } = await dnf.dnf(['-q', 'repoquery', '--qf', '%{name}-%{version}-%{release}.%{arch}']);
      const listed = stdout.split('\n').filter(Boolean).sort();
      // deleted by its owner before the change ran: no publish order can keep it
      const wanted = listed.filter((n) => `${n}.rpm` !== deleted);
      const dest = path.join(dnf.dir, 'dl');
      if (wanted.length) await dnf.dnf(['download', '--destdir', dest, ...wanted]);
      const downloaded = wanted.length ? await readdir(dest) : [];
      expect(downloaded.sort()).toEqual(wanted.map((n) => `${n}.rpm`).sort());
      for (const name of downloaded) expect(sha256(await readFile(path.join(dest, name))), name).toBe(sha256(packages.get(name)!));
      return listed;
    } finally {
      await dnf.dispose();
    }
  }

  it('a crash at every write and every read of a publish leaves a repository dnf accepts (old or new), and redelivery converges', async () => {
    const deleted = file('beta');
    const engine = (storage: Storage) => ({ storage, format: yumFormat(), keys, graceMs: 0, minGenerations: 1 });
    const summary = await runFaultCampaign({
      name: 'yum',
      engine,
      stateA: listing(['alpha', 'beta', 'gamma']),
      stateB: listing(['alpha', 'gamma', 'delta', 'epsilon']),
      prepare: async (root) => {
        const dir = path.join(root, 'Packages');
        await mkdir(dir, { recursive: true });
        const place = (name: string) => writeFile(path.join(dir, file(name)), packages.get(file(name))!);
        await place('alpha');
        await syncAll(engine(new LocalStorage(root)));
        await place('beta');
        await place('gamma');
        await syncAll(engine(new LocalStorage(root)));
        await place('delta');
        await place('epsilon');
        await unlink(path.join(dir, deleted));
        return { upserted: [`Packages/${file('delta')}`, `Packages/${file('epsilon')}`], deleted: [`Packages/${deleted}`] };
      },
      client: (url) => client(url, deleted),
    });
    console.log(summaryLine('yum', summary));
    expect(summary.writeFaults).toBeGreaterThan(0);
    expect(summary.readFaults).toBeGreaterThan(0);
  }, 600_000);
});
