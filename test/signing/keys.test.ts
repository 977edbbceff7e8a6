import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRsaKeyName, loadSigningKeys, publicKeyFiles } from '../../src/signing/keys';
import { generatePgpKey, type GeneratedPgpKey } from '../../src/signing/pgp';
import { generateRsaKey, type GeneratedRsaKey } from '../../src/signing/rsa';
import { createGnupgHome, runToolOk, type GnupgHome } from '../support/gnupg';

const PASSPHRASE = 'shared secret';

let home: GnupgHome;
let pgpKey: GeneratedPgpKey;
let rsaKey: GeneratedRsaKey;
let lockedRsaPem: string;

beforeAll(async () => {
  home = await createGnupgHome();
  pgpKey = await generatePgpKey({ name: 'Keys Test', type: 'ed25519', passphrase: PASSPHRASE });
  rsaKey = generateRsaKey(2048);
  lockedRsaPem = runToolOk('openssl', ['pkey', '-aes256', '-passout', `pass:${PASSPHRASE}`], { input: rsaKey.privateKeyPem }).stdout.toString();
});
afterAll(async () => {
  await home?.dispose();
});

describe('loadSigningKeys', () => {
  it('loads both keys with one passphrase', async () => {
    const keys = await loadSigningKeys({ pgpKeyArmored: pgpKey.privateKeyArmored, rsaKeyPem: lockedRsaPem, rsaKeyName: 'me.rsa.pub', passphrase: PASSPHRASE });
    expect(keys.pgp?.fingerprint).toBe(pgpKey.fingerprint);
    expect(keys.rsa?.keyName).toBe('me.rsa.pub');
    expect(keys.rsa?.publicKeyPem).toBe(rsaKey.publicKeyPem);
  });

  it('names the apk key after its public key when no name is given', async () => {
    const keys = await loadSigningKeys({ rsaKeyPem: rsaKey.privateKeyPem });
    expect(keys.pgp).toBeUndefined();
    expect(keys.rsa?.keyName).toMatch(/^pkgrepo-[0-9a-f]{8}\.rsa\.pub$/);
    expect(keys.rsa?.keyName).toBe(defaultRsaKeyName(rsaKey.publicKeyPem));
    expect(defaultRsaKeyName(generateRsaKey(2048).publicKeyPem)).not.toBe(keys.rsa?.keyName);
    // the renamed signer still signs
    expect(keys.rsa?.sign(new Uint8Array([1, 2, 3]), 'sha256').length).toBe(256);
  });

  it('loads nothing from nothing, and passes key errors on', async () => {
    expect(await loadSigningKeys({})).toEqual({ pgp: undefined, rsa: undefined });
    await expect(loadSigningKeys({ pgpKeyArmored: pgpKey.privateKeyArmored })).rejects.toThrow(/PKGREPO_KEY_PASSPHRASE/);
    await expect(loadSigningKeys({ rsaKeyPem: lockedRsaPem })).rejects.toThrow(/PKGREPO_KEY_PASSPHRASE/);
  });
});

describe('publicKeyFiles', () => {
  it('lists the armored and binary OpenPGP keys and the apk key, which gpg and openssl read', async () => {
    const keys = await loadSigningKeys({ pgpKeyArmored: pgpKey.privateKeyArmored, rsaKeyPem: rsaKey.privateKeyPem, rsaKeyName: 'me.rsa.pub', passphrase: PASSPHRASE });
    const files = publicKeyFiles(keys, 'example-archive-keyring');
    expect(files.map((f) => [f.name, f.contentType])).toEqual([
      ['example-archive-keyring.asc', 'application/pgp-keys'],
      ['example-archive-keyring.gpg', 'application/pgp-keys'],
      ['me.rsa.pub', 'application/x-pem-file'],
    ]);
    for (const f of files.slice(0, 2)) {
      const shown = home.gpgOk(['--with-colons', '--show-keys', await home.file(f.name, f.body)]).stdout.toString();
      expect(shown).toContain(`fpr:::::::::${pgpKey.fingerprint}:`);
    }
    expect(files[0].body).toBe(pgpKey.publicKeyArmored);
    expect(files[1].body).toBeInstanceOf(Uint8Array);
    const pem = runToolOk('openssl', ['pkey', '-pubin', '-pubout'], { input: files[2].body }).stdout.toString();
    expect(pem).toBe(rsaKey.publicKeyPem);
  });

  it('lists only what the keys have, and wants a plain base name', async () => {
    expect(publicKeyFiles({}, 'k')).toEqual([]);
    const rsaOnly = await loadSigningKeys({ rsaKeyPem: rsaKey.privateKeyPem, rsaKeyName: 'a.rsa.pub' });
    expect(publicKeyFiles(rsaOnly, 'k').map((f) => f.name)).toEqual(['a.rsa.pub']);
    expect(() => publicKeyFiles(rsaOnly, 'keys/k')).toThrow(/plain file name/);
    expect(() => publicKeyFiles(rsaOnly, '')).toThrow(/plain file name/);
  });
});
