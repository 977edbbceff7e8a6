import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePgpKey, loadPgpSigner, type GeneratedPgpKey } from '../../src/signing/pgp';
import type { PgpSigner } from '../../src/signing/signer';
import { createGnupgHome, parseValidSig, runTool, runToolOk, type GnupgHome, type ValidSignature } from '../support/gnupg';

/**
 * Every signature form, for keys we generate and keys gpg generates, is checked by the real
 * verifiers: gpg, gpgv (apt, pacman's gpgme, rpm's logic) and sqv (apt's newer verifier).
 */

const PASSPHRASE = 'correct horse battery staple';

/** An apt Release-like text with the lines that need care: '-' starts, trailing blanks, UTF-8. */
const RELEASE_TEXT = [
  'Origin: Example',
  'Label: Example Packages',
  'Suite: stable',
  'Date: Sat, 01 Jun 2024 12:00:00 UTC',
  'Description: über-repo — signed',
  '-----BEGIN PGP SIGNATURE----- (a line that looks like armor)',
  '- a line starting with a dash',
  '--',
  'From the beginning of a line',
  'SHA256:',
  ' 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 1234 main/binary-amd64/Packages',
  '',
  'last line',
  '',
].join('\n');

type Form = 'detached armored' | 'detached binary' | 'clearsigned';
const FORMS: Form[] = ['detached armored', 'detached binary', 'clearsigned'];

interface KeyCase {
  readonly signer: PgpSigner;
  /** Fingerprint of the key expected to make signatures (a signing subkey, or the primary). */
  readonly signingFingerprint: string;
  /** The gpg home holding the secret key when gpg made it (for comparing with gpg's own output). */
  readonly gpgUserId?: string;
}

const KEY_CASES = [
  'ours: RSA 4096',
  'ours: ed25519',
  'ours: ed25519 with passphrase',
  'gpg: RSA 3072 + encryption subkey, no passphrase',
  'gpg: ed25519 + cv25519 subkey, with passphrase',
  'gpg: certify-only ed25519 + signing subkey + encryption subkey',
  'gpg: --export-secret-subkeys (gnu-dummy primary)',
] as const;
type KeyCaseName = typeof KEY_CASES[number];

let maker: GnupgHome;
let verifier: GnupgHome;
const generated = new Map<string, GeneratedPgpKey>();
const keyCases = new Map<KeyCaseName, KeyCase>();

/** Fingerprints from `gpg --with-colons` output: [primary, ...subkeys]. */
function fingerprints(colons: string): string[] {
  return colons.split('\n').filter((l) => l.startsWith('fpr:')).map((l) => l.split(':')[9]);
}

/** Makes a key with gpg --quick-gen-key (and --quick-add-key), returns [primary, ...subkey] fingerprints. */
function gpgMakeKey(userId: string, passphrase: string, algo?: string, usage?: string, subkeys: [string, string][] = []): string[] {
  const args = ['--passphrase', passphrase, '--quick-gen-key', userId];
  if (algo) args.push(algo, usage ?? 'default', 'never');
  maker.gpgOk(args);
  const primary = fingerprints(maker.gpgOk(['--with-colons', '--list-secret-keys', userId]).stdout.toString())[0];
  for (const [subAlgo, subUsage] of subkeys) maker.gpgOk(['--passphrase', passphrase, '--quick-add-key', primary, subAlgo, subUsage, 'never']);
  return fingerprints(maker.gpgOk(['--with-colons', '--list-secret-keys', primary]).stdout.toString());
}

function gpgExport(what: '--export-secret-keys' | '--export-secret-subkeys', fingerprint: string, passphrase: string): string {
  return maker.gpgOk(['--passphrase', passphrase, '--armor', what, fingerprint]).stdout.toString();
}

beforeAll(async () => {
  maker = await createGnupgHome();
  verifier = await createGnupgHome();

  const [rsa, ed, edLocked] = await Promise.all([
    generatePgpKey({ name: 'Example RSA', email: 'rsa@example.com', type: 'rsa' }),
    generatePgpKey({ name: 'Example Ed25519', email: 'ed@example.com', type: 'ed25519' }),
    generatePgpKey({ name: 'Example Locked', type: 'ed25519', passphrase: PASSPHRASE }),
  ]);
  generated.set('rsa', rsa).set('ed25519', ed).set('locked', edLocked);
  const ours = async (name: KeyCaseName, key: GeneratedPgpKey, passphrase?: string) => {
    keyCases.set(name, { signer: await loadPgpSigner(key.privateKeyArmored, passphrase), signingFingerprint: key.fingerprint });
  };
  await ours('ours: RSA 4096', rsa);
  await ours('ours: ed25519', ed);
  await ours('ours: ed25519 with passphrase', edLocked, PASSPHRASE);

  const [gpgRsa] = gpgMakeKey('GPG RSA <gpg-rsa@example.com>', '');
  keyCases.set('gpg: RSA 3072 + encryption subkey, no passphrase', {
    signer: await loadPgpSigner(gpgExport('--export-secret-keys', gpgRsa, '')),
    signingFingerprint: gpgRsa,
    gpgUserId: gpgRsa,
  });

  const [gpgEd] = gpgMakeKey('GPG Ed25519 <gpg-ed@example.com>', PASSPHRASE, 'future-default', 'default');
  keyCases.set('gpg: ed25519 + cv25519 subkey, with passphrase', {
    signer: await loadPgpSigner(gpgExport('--export-secret-keys', gpgEd, PASSPHRASE), PASSPHRASE),
    signingFingerprint: gpgEd,
    gpgUserId: gpgEd,
  });

  const [certOnly, signingSubkey] = gpgMakeKey('GPG Subkey <gpg-sub@example.com>', '', 'ed25519', 'cert', [['ed25519', 'sign'], ['cv25519', 'encr']]);
  keyCases.set('gpg: certify-only ed25519 + signing subkey + encryption subkey', {
    signer: await loadPgpSigner(gpgExport('--export-secret-keys', certOnly, '')),
    signingFingerprint: signingSubkey,
  });
  keyCases.set('gpg: --export-secret-subkeys (gnu-dummy primary)', {
    signer: await loadPgpSigner(gpgExport('--export-secret-subkeys', certOnly, '')),
    signingFingerprint: signingSubkey,
  });

  // the verifying side knows only the public keys as our signers publish them
  for (const { signer } of keyCases.values()) verifier.gpgOk(['--import'], signer.publicKeyArmored);
});

afterAll(async () => {
  await maker?.dispose();
  await verifier?.dispose();
});

/** Splits a clearsigned message as apt does before calling sqv: the unescaped text, and the signature armor. */
function splitClearsigned(message: string): { text: string; signature: string } {
  const lines = message.split('\n');
  const start = lines.indexOf('') + 1;
  const end = lines.indexOf('-----BEGIN PGP SIGNATURE-----');
  const text = lines.slice(start, end).map((l) => (l.startsWith('- ') ? l.slice(2) : l)).join('\n');
  return { text, signature: lines.slice(end).join('\n') };
}

interface Verified {
  readonly gpg: ValidSignature;
  readonly gpgv: ValidSignature;
  /** What sqv printed: the fingerprint of the signer's certificate (primary key). */
  readonly sqv: string;
}

/** Verifies a signature with gpg, gpgv and sqv; throws with the tool's stderr when one refuses it. */
async function verifyEverywhere(keyCase: KeyCase, form: Form, data: Uint8Array | string, signature: Uint8Array | string): Promise<Verified> {
  const tag = randomBytes(4).toString('hex');
  const keyring = await verifier.file(`${tag}.keyring.gpg`, keyCase.signer.publicKeyBinary);
  let sigFile: string;
  let dataArgs: string[];
  let sqvArgs: string[];
  if (form === 'clearsigned') {
    sigFile = await verifier.file(`${tag}.InRelease`, signature);
    dataArgs = [sigFile];
    const { text, signature: armor } = splitClearsigned(signature as string);
    sqvArgs = [await verifier.file(`${tag}.split.sig`, armor), await verifier.file(`${tag}.split.txt`, text)];
  } else {
    sigFile = await verifier.file(`${tag}.sig`, signature);
    const dataFile = await verifier.file(`${tag}.data`, data);
    dataArgs = [sigFile, dataFile];
    sqvArgs = [sigFile, dataFile];
  }
  const gpg = verifier.gpg(['--status-fd', '1', '--verify', ...dataArgs]);
  expect(gpg.status, `gpg --verify: ${gpg.stderr}`).toBe(0);
  const gpgv = runTool('gpgv', ['--status-fd', '1', '--keyring', keyring, ...dataArgs]);
  expect(gpgv.status, `gpgv: ${gpgv.stderr}`).toBe(0);
  const sqv = runTool('sqv', ['--keyring', keyring, ...sqvArgs]);
  expect(sqv.status, `sqv: ${sqv.stderr}`).toBe(0);
  return { gpg: parseValidSig(gpg.stdout.toString())!, gpgv: parseValidSig(gpgv.stdout.toString())!, sqv: sqv.stdout.toString().trim() };
}

async function sign(signer: PgpSigner, form: Form, data: Uint8Array | string): Promise<Uint8Array | string> {
  switch (form) {
    case 'detached armored': return signer.signDetachedArmored(data);
    case 'detached binary': return signer.signDetachedBinary(data);
    case 'clearsigned': return signer.clearsign(data as string);
  }
}

describe('PgpSigner signatures, checked by gpg, gpgv and sqv', () => {
  const binaryData = Buffer.concat([Buffer.from(RELEASE_TEXT), randomBytes(70_000), Buffer.from('\r\n\n  \n')]);

  it.each(KEY_CASES.flatMap((name) => FORMS.map((form) => [name, form] as const)))('%s: %s', async (name, form) => {
    const keyCase = keyCases.get(name)!;
    const data = form === 'clearsigned' ? RELEASE_TEXT : binaryData;
    const signature = await sign(keyCase.signer, form, data);
    const verified = await verifyEverywhere(keyCase, form, data, signature);
    for (const valid of [verified.gpg, verified.gpgv]) {
      expect(valid.primaryFingerprint).toBe(keyCase.signer.fingerprint);
      expect(valid.signingFingerprint).toBe(keyCase.signingFingerprint);
      expect(valid.hashAlgorithm).toBeGreaterThanOrEqual(8); // SHA-256 or stronger
      expect(valid.signatureClass).toBe(form === 'clearsigned' ? 0x01 : 0x00);
    }
    expect(verified.sqv).toBe(keyCase.signer.fingerprint); // sqv names the certificate

    if (form === 'detached armored') {
      expect(signature).toMatch(/^-----BEGIN PGP SIGNATURE-----\n/);
      expect(signature).toMatch(/\n-----END PGP SIGNATURE-----\n$/);
    }
    if (form === 'detached binary') {
      expect(signature).toBeInstanceOf(Uint8Array);
      expect((signature as Uint8Array)[0]).toBeGreaterThanOrEqual(0x80); // an OpenPGP packet tag byte, not armor
    }
  });

  it.each(KEY_CASES)('%s: a changed byte fails verification', async (name) => {
    const { signer } = keyCases.get(name)!;
    const data = Buffer.from(RELEASE_TEXT);
    const signature = await signer.signDetachedBinary(data);
    data[10] = data[10] === 0x41 ? 0x42 : 0x41;
    const keyring = await verifier.file(`tampered-${randomBytes(4).toString('hex')}.gpg`, signer.publicKeyBinary);
    const sigFile = await verifier.file(`tampered-${randomBytes(4).toString('hex')}.sig`, signature);
    const dataFile = await verifier.file(`tampered-${randomBytes(4).toString('hex')}.data`, data);
    expect(runTool('gpgv', ['--keyring', keyring, sigFile, dataFile]).status).not.toBe(0);
    expect(runTool('sqv', ['--keyring', keyring, sigFile, dataFile]).status).not.toBe(0);
  });
});

describe('clearsign output', () => {
  it('has the exact InRelease shape: header first, dash-escaped text, nothing after the signature', async () => {
    const { signer } = keyCases.get('ours: ed25519')!;
    const message = await signer.clearsign(RELEASE_TEXT);
    expect(message.startsWith('-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Example\n')).toBe(true);
    expect(message).toContain('\n- -----BEGIN PGP SIGNATURE----- (a line that looks like armor)\n');
    expect(message).toContain('\n- - a line starting with a dash\n- --\n- From the beginning');
    expect(message).toContain('\nlast line\n-----BEGIN PGP SIGNATURE-----\n');
    expect(message).toMatch(/\n-----END PGP SIGNATURE-----\n$/);
    expect(message.match(/^-----BEGIN PGP SIGNATURE-----$/gm)).toHaveLength(1);
    expect(message).not.toContain('\r');
  });

  it('gpgv hands out exactly the signed text', async () => {
    const { signer } = keyCases.get('ours: RSA 4096')!;
    const file = await verifier.file('extract.InRelease', await signer.clearsign(RELEASE_TEXT));
    const keyring = await verifier.file('extract.gpg', signer.publicKeyBinary);
    const out = runTool('gpgv', ['--keyring', keyring, '--output', '-', file]);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout.toString('utf8')).toBe(RELEASE_TEXT);
  });

  it.each([
    'gpg: RSA 3072 + encryption subkey, no passphrase',
    'gpg: ed25519 + cv25519 subkey, with passphrase',
  ] as const)('%s: the text part is byte-identical to gpg --clearsign of the same text', async (name) => {
    const keyCase = keyCases.get(name)!;
    const ours = await keyCase.signer.clearsign(RELEASE_TEXT);
    const theirs = maker.gpgOk(['--passphrase', name.includes('with passphrase') ? PASSPHRASE : '', '-u', keyCase.gpgUserId!, '--clearsign'], RELEASE_TEXT).stdout.toString();
    const body = (m: string) => m.slice(m.indexOf('\n\n') + 2, m.indexOf('-----BEGIN PGP SIGNATURE-----\n'));
    expect(body(ours)).toBe(body(theirs));
  });

  it('signs text with trailing blanks and CRLF line ends the way verifiers canonicalize it', async () => {
    const keyCase = keyCases.get('ours: ed25519')!;
    const text = 'Origin: x  \r\nLabel: y\t\r\n\r\n-dash \r\n';
    const message = await keyCase.signer.clearsign(text);
    expect(message).toContain('\n\nOrigin: x\nLabel: y\n\n- -dash\n-----BEGIN PGP SIGNATURE-----\n');
    await verifyEverywhere(keyCase, 'clearsigned', text, message);
  });
});

describe('generatePgpKey', () => {
  /** gpg --list-packets of a public key, as text. */
  const packetsOf = (key: Uint8Array) => verifier.gpgOk(['--list-packets'], key).stdout.toString();

  it.each([['rsa', 1], ['ed25519', 22]] as const)('makes a v4 %s key, self-signed with SHA-256 or stronger, that signs and never expires', async (type, algo) => {
    const signer = await loadPgpSigner(generated.get(type)!.privateKeyArmored);
    const packets = packetsOf(signer.publicKeyBinary);
    expect(packets).toMatch(new RegExp(`:public key packet:\\n\\s+version 4, algo ${algo},`));
    expect(packets).not.toContain('subkey packet');
    if (type === 'rsa') expect(packets).toMatch(/pkey\[0\]: \[4096 bits\]/);
    if (type === 'ed25519') expect(packets).toMatch(/ed25519 \(1\.3\.6\.1\.4\.1\.11591\.15\.1\)/);
    const digests = [...packets.matchAll(/digest algo (\d+)/g)].map((m) => Number(m[1]));
    expect(digests.length).toBeGreaterThan(0);
    for (const digest of digests) expect([8, 9, 10]).toContain(digest);
    expect(packets).toMatch(/sigclass 0x13[^:]*\n\s+digest algo (8|9|10),/);

    const colons = verifier.gpgOk(['--with-colons', '--list-keys', signer.fingerprint]).stdout.toString();
    const pub = colons.split('\n').find((l) => l.startsWith('pub:'))!.split(':');
    expect(pub[3]).toBe(String(algo));
    expect(pub[6]).toBe(''); // no expiry
    expect(pub[11]).toContain('s'); // can sign
    expect(fingerprints(colons)[0]).toBe(generated.get(type)!.fingerprint);
    expect(signer.keyId).toBe(signer.fingerprint.slice(-16));
  });

  it.each(['rsa', 'ed25519'])('makes %s public keys rpm imports (rpmkeys --import, as dnf does for gpgkey=)', async (type) => {
    const dbpath = await verifier.file(`rpmdb-${type}`, '');
    await rm(dbpath);
    const keyFile = await verifier.file(`rpm-${type}.asc`, generated.get(type)!.publicKeyArmored);
    runToolOk('rpmkeys', ['--dbpath', dbpath, '--import', keyFile]);
    const installed = runToolOk('rpm', ['--dbpath', dbpath, '-q', 'gpg-pubkey', '--qf', '%{VERSION}\\n']).stdout.toString().trim();
    expect(installed).toBe(generated.get(type)!.fingerprint.slice(-8).toLowerCase());
  });

  it('writes private keys gpg imports, with and without passphrase', async () => {
    const home = await createGnupgHome();
    try {
      home.gpgOk(['--import'], generated.get('rsa')!.privateKeyArmored);
      home.gpgOk(['--passphrase', PASSPHRASE, '--import'], generated.get('locked')!.privateKeyArmored);
      const secret = home.gpgOk(['--with-colons', '--list-secret-keys']).stdout.toString();
      expect(fingerprints(secret)).toEqual(expect.arrayContaining([generated.get('rsa')!.fingerprint, generated.get('locked')!.fingerprint]));
      // gpg can sign with the imported key, so it read the secret parts too
      home.gpgOk(['--passphrase', PASSPHRASE, '-u', generated.get('locked')!.fingerprint, '--detach-sign', '--output', '-'], 'data');
    } finally {
      await home.dispose();
    }
  });

  it('publishes an armored public key equal to the signer\'s', async () => {
    const key = generated.get('ed25519')!;
    const signer = keyCases.get('ours: ed25519')!.signer;
    expect(key.publicKeyArmored).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----\n/);
    expect(key.publicKeyArmored).toBe(signer.publicKeyArmored);
    expect(key.privateKeyArmored).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----\n/);
  });

  it('refuses bad options', async () => {
    await expect(generatePgpKey({ name: '', type: 'rsa' })).rejects.toThrow(/needs a name/);
    await expect(generatePgpKey({ name: 'x', type: 'rsa', rsaBits: 1024 })).rejects.toThrow(/from 2048 to 8192/);
    await expect(generatePgpKey({ name: 'x', type: 'dsa' as 'rsa' })).rejects.toThrow(/unknown PGP key type/);
  });
});

describe('loadPgpSigner errors', () => {
  it('asks for the passphrase of a protected key', async () => {
    await expect(loadPgpSigner(generated.get('locked')!.privateKeyArmored)).rejects.toThrow(
      'the key is protected by a passphrase: set PKGREPO_KEY_PASSPHRASE',
    );
    const gpgLocked = gpgExport('--export-secret-keys', keyCases.get('gpg: ed25519 + cv25519 subkey, with passphrase')!.signer.fingerprint, PASSPHRASE);
    await expect(loadPgpSigner(gpgLocked)).rejects.toThrow('the key is protected by a passphrase: set PKGREPO_KEY_PASSPHRASE');
    await expect(loadPgpSigner(gpgLocked, 'wrong')).rejects.toThrow(/passphrase does not unlock the key .*PKGREPO_KEY_PASSPHRASE/);
    await expect(loadPgpSigner(generated.get('locked')!.privateKeyArmored, 'wrong')).rejects.toThrow(/passphrase does not unlock/);
  });

  it('explains inputs that are not one private key', async () => {
    const rsa = generated.get('rsa')!;
    await expect(loadPgpSigner(rsa.publicKeyArmored)).rejects.toThrow(/not an armored OpenPGP private key/);
    await expect(loadPgpSigner('hello')).rejects.toThrow(/not an armored OpenPGP private key/);
    const both = maker.gpgOk(['--passphrase', PASSPHRASE, '--armor', '--export-secret-keys']).stdout.toString();
    await expect(loadPgpSigner(both, PASSPHRASE)).rejects.toThrow(/holds 3 private keys; export exactly one/);
  });
});
