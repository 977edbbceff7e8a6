import { createHash } from 'node:crypto';
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFaultCampaign, summaryLine, type ClientListing } from './faults-scenario';
import { syncAll } from '../../src/engine/engine';
import { pacmanFormat } from '../../src/engine/formats/pacman';
import { generatePgpKey, loadPgpSigner, type GeneratedPgpKey } from '../../src/signing/pgp';
import type { PgpSigner } from '../../src/signing/signer';
import { LocalStorage } from '../../src/storage/local';
import type { Storage } from '../../src/storage/storage';
import { PacmanSandbox } from '../support/pacman-client';
import { bsdtarPackage, FIXTURE_EPOCH, pkginfoText, removeTempDirs, requireTools, tempDir } from '../support/pacman-fixtures';

const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
const REPO_DIR = 'extra/os/x86_64';
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('crash consistency: pacman, judged by the real pacman', () => {
  let key: GeneratedPgpKey;
  let signer: PgpSigner;
  /** file name (`<name>-1.<i>-1-x86_64.pkg.tar.zst`) → built path. */
  const packages = new Map<string, string>();

  beforeAll(async () => {
    requireTools('bsdtar', 'zstd', 'pacman', 'pacman-key', 'fakeroot', 'gpg', 'gpgconf');
    key = await generatePgpKey({ name: 'pacman fault test', email: 'pacman-faults@example.org', type: 'ed25519' });
    signer = await loadPgpSigner(key.privateKeyArmored);
    const out = tempDir('faults-pacman-pkgs');
    NAMES.forEach((name, i) => {
      const file = `${name}-1.${i}-1-x86_64.pkg.tar.zst`;
      bsdtarPackage(path.join(out, file), {
        '.PKGINFO': pkginfoText([
          ['pkgname', name], ['pkgbase', name], ['pkgver', `1.${i}-1`], ['pkgdesc', `${name} for the fault test`],
          ['builddate', String(FIXTURE_EPOCH)], ['packager', 'Test'], ['size', '6'], ['arch', 'x86_64'],
        ]),
        [`usr/share/${name}/data`]: `${name}\n`,
      });
      packages.set(file, path.join(out, file));
    });
  });
  afterAll(removeTempDirs);

  const file = (name: string) => [...packages.keys()].find((f) => f.startsWith(`${name}-`))!;
  const listing = (names: readonly string[]) => names.map((n) => `extra ${n} ${file(n).split('-').slice(1, 3).join('-')}`).sort();

  /** pacman -Sy with SigLevel Required, -Sl, then -Sw of every listed package (signatures and checksums checked). */
  async function client(url: string, deleted: string): Promise<ClientListing> {
    const pacman = await PacmanSandbox.create({
      repo: 'extra', serverUrl: `${url}/extra/os/$arch`, publicKeyArmored: key.publicKeyArmored, fingerprint: key.fingerprint,
    });
    try {
      await pacman.pacman(['-Sy']);
      const listed = (await pacman.pacman(['-Sl', 'extra'])).stdout.split('\n').filter(Boolean).sort();
      // deleted by its owner before the change ran: no publish order can keep it
      const wanted = listed.map((l) => l.split(' ')[1]).filter((n) => !deleted.startsWith(`${n}-`));
      if (wanted.length) await pacman.pacman(['-Sw', '-dd', ...wanted]);
      for (const name of wanted) {
        const cached = await readFile(path.join(pacman.cacheDir, file(name)));
        expect(sha256(cached), name).toBe(sha256(await readFile(packages.get(file(name))!)));
      }
      return listed;
    } finally {
      await pacman.dispose();
    }
  }

  it('a crash at every write and every read of a publish leaves a repository pacman accepts (old or new), and redelivery converges', async () => {
    const deleted = file('beta');
    const engine = (storage: Storage) => ({ storage, format: pacmanFormat(), keys: { pgp: signer }, graceMs: 0, minGenerations: 1 });
    const summary = await runFaultCampaign({
      name: 'pacman',
      engine,
      stateA: listing(['alpha', 'beta', 'gamma']),
      stateB: listing(['alpha', 'gamma', 'delta', 'epsilon']),
      prepare: async (root) => {
        const dir = path.join(root, REPO_DIR);
        await mkdir(dir, { recursive: true });
        const place = async (name: string) => {
          const bytes = await readFile(packages.get(file(name))!);
          await writeFile(path.join(dir, file(name)), bytes);
          await writeFile(path.join(dir, `${file(name)}.sig`), await signer.signDetachedBinary(bytes));
        };
        await place('alpha');
        await syncAll(engine(new LocalStorage(root)));
        await place('beta');
        await place('gamma');
        await syncAll(engine(new LocalStorage(root)));
        await place('delta');
        await place('epsilon');
        await unlink(path.join(dir, deleted));
        await unlink(path.join(dir, `${deleted}.sig`));
        return { upserted: [`${REPO_DIR}/${file('delta')}`, `${REPO_DIR}/${file('epsilon')}`], deleted: [`${REPO_DIR}/${deleted}`] };
      },
      client: (url) => client(url, deleted),
    });
    console.log(summaryLine('pacman', summary));
    expect(summary.writeFaults).toBeGreaterThan(0);
    expect(summary.readFaults).toBeGreaterThan(0);
  }, 600_000);
});
