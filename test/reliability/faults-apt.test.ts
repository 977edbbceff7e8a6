import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFaultCampaign, summaryLine, type ClientListing } from './faults-scenario';
import { syncAll } from '../../src/engine/engine';
import { aptFormat } from '../../src/engine/formats/apt';
import { generatePgpKey, loadPgpSigner } from '../../src/signing/pgp';
import type { PgpSigner } from '../../src/signing/signer';
import { LocalStorage } from '../../src/storage/local';
import type { Storage } from '../../src/storage/storage';
import { AptSandbox, aptProblems } from '../support/apt-sandbox';
import { buildDeb, loadRecipes, removeTempDirs, requireTools, tempDir } from '../support/deb-fixtures';

const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
const POOL = 'pool/stable/main';
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('crash consistency: apt, judged by the real apt-get', () => {
  let signer: PgpSigner;
  /** file name (`<name>_1.<i>-1_amd64.deb`) → built path. */
  const packages = new Map<string, string>();

  beforeAll(async () => {
    requireTools('dpkg-deb', 'apt-get', 'apt-cache', 'gpgv');
    signer = await loadPgpSigner((await generatePgpKey({ name: 'apt fault test', type: 'rsa', rsaBits: 3072 })).privateKeyArmored);
    const recipe = loadRecipes().find((r) => r.id === 'plain-none')!;
    const out = tempDir('faults-apt-debs');
    NAMES.forEach((name, i) => {
      const built = buildDeb(recipe, out, { Package: name, Version: `1.${i}-1`, Architecture: 'amd64', Essential: 'no' });
      packages.set(path.basename(built), built);
    });
  });
  afterAll(removeTempDirs);

  const file = (name: string) => [...packages.keys()].find((f) => f.startsWith(`${name}_`))!;
  const listing = (names: readonly string[]) => names.map((n) => file(n).replace(/^([^_]+)_([^_]+)_.*$/, '$1 $2')).sort();

  const sandbox = (url: string) => AptSandbox.create({ url, distribution: 'stable', components: ['main'], publicKey: signer.publicKeyBinary });

  /** apt-get update must be clean (signature checked); apt-cache madison lists what apt took. */
  async function update(apt: AptSandbox): Promise<ClientListing> {
    const run = await apt.update();
    if (run.status !== 0 || aptProblems(run).length > 0) throw new Error(`apt-get update: status ${run.status}\n${aptProblems(run).join('\n')}`);
    const madison = await apt.run('apt-cache', ['madison', ...NAMES]);
    return madison.stdout.split('\n').filter(Boolean).map((line) => {
      const [name, version] = line.split('|').map((s) => s.trim());
      return `${name} ${version}`;
    }).sort();
  }

  async function client(url: string, deleted: string): Promise<ClientListing> {
    const apt = await sandbox(url);
    try {
      const listed = await update(apt);
      // deleted by its owner before the change ran: no publish order can keep it
      const wanted = listed.filter((l) => !deleted.startsWith(`${l.replace(' ', '_')}_`));
      const dest = path.join(apt.dir, 'download');
      if (wanted.length) {
        const run = await apt.run('apt-get', ['download', ...wanted.map((l) => l.replace(' ', '='))], dest);
        expect(aptProblems(run), run.stdout + run.stderr).toEqual([]);
        expect(run.status).toBe(0);
      }
      const downloaded = readdirSync(dest).sort();
      expect(downloaded).toEqual(wanted.map((l) => `${l.replace(' ', '_')}_amd64.deb`).sort());
      for (const name of downloaded) expect(sha256(readFileSync(path.join(dest, name))), name).toBe(sha256(readFileSync(packages.get(name)!)));
      return listed;
    } finally {
      await apt.dispose();
    }
  }

  it('a crash at every write and every read of a publish leaves a repository apt accepts (old or new), also with the old index cached, and redelivery converges', async () => {
    const deleted = file('beta');
    const engine = (storage: Storage) => ({
      storage, format: aptFormat({ origin: 'faults', label: 'faults' }), keys: { pgp: signer }, graceMs: 0, minGenerations: 1,
    });
    const summary = await runFaultCampaign({
      name: 'apt',
      engine,
      stateA: listing(['alpha', 'beta', 'gamma']),
      stateB: listing(['alpha', 'gamma', 'delta', 'epsilon']),
      prepare: async (root) => {
        const dir = path.join(root, POOL);
        mkdirSync(dir, { recursive: true });
        const place = (name: string) => copyFileSync(packages.get(file(name))!, path.join(dir, file(name)));
        place('alpha');
        await syncAll(engine(new LocalStorage(root)));
        place('beta');
        place('gamma');
        await syncAll(engine(new LocalStorage(root)));
        place('delta');
        place('epsilon');
        unlinkSync(path.join(dir, deleted));
        return { upserted: [`${POOL}/${file('delta')}`, `${POOL}/${file('epsilon')}`], deleted: [`${POOL}/${deleted}`] };
      },
      client: (url) => client(url, deleted),
      cachedClient: async (url) => {
        const apt = await sandbox(url);
        expect(await update(apt)).toEqual(listing(['alpha', 'beta', 'gamma']));
        return { after: () => update(apt), dispose: () => apt.dispose() };
      },
    });
    console.log(summaryLine('apt', summary));
    expect(summary.writeFaults).toBeGreaterThan(0);
    expect(summary.readFaults).toBeGreaterThan(0);
  }, 600_000);
});
