import { readFile, writeFile, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { generatePgpKey, loadPgpSigner } from '../signing/pgp';
import { generateRsaKey, loadRsaSigner } from '../signing/rsa';
import type { SigningKeys } from '../signing/signer';

/** The environment variable holding the passphrase of a protected private key. */
export const PASSPHRASE_ENV = 'PKGREPO_KEY_PASSPHRASE';

/**
 * Load the signing keys named on the command line. A PGP key is an armored private key
 * (`gpg --export-secret-keys --armor`, or `pkgrepo keygen --type pgp`); an RSA key is a PEM
 * private key (`pkgrepo keygen --type rsa`, openssl genrsa, abuild-keygen).
 */
export async function loadKeyFiles(files: { pgp?: string; rsa?: string; rsaKeyName?: string }): Promise<SigningKeys> {
  const passphrase = process.env[PASSPHRASE_ENV] || undefined;
  const keys: { pgp?: SigningKeys['pgp']; rsa?: SigningKeys['rsa'] } = {};
  if (files.pgp) keys.pgp = await loadPgpSigner(await readFile(files.pgp, 'utf8'), passphrase);
  if (files.rsa) {
    const keyName = files.rsaKeyName ?? `${path.basename(files.rsa)}.pub`;
    keys.rsa = loadRsaSigner(await readFile(files.rsa, 'utf8'), keyName, passphrase);
  }
  return keys;
}

/** Does this file hold an armored OpenPGP private key (rather than a PEM RSA key)? */
export async function isPgpKeyFile(file: string): Promise<boolean> {
  const text = await readFile(file, 'utf8');
  return text.includes('-----BEGIN PGP PRIVATE KEY BLOCK-----');
}

export interface KeygenOptions {
  readonly type: 'pgp' | 'rsa';
  readonly name: string;
  readonly outDir: string;
  /** pgp only: 'rsa' (RSA 4096) or 'ed25519'. @default 'rsa' */
  readonly algorithm?: 'rsa' | 'ed25519';
  readonly email?: string;
  readonly passphrase?: string;
}

/**
 * Write a new key pair. pgp: `NAME.private.asc` and `NAME.public.asc` (armored); rsa:
 * `NAME.rsa` and `NAME.rsa.pub` (PEM, the names apk expects). Returns the paths written.
 */
export async function keygen(options: KeygenOptions): Promise<{ privateKey: string; publicKey: string }> {
  await mkdir(options.outDir, { recursive: true });
  const write = async (name: string, body: string, mode: number) => {
    const file = path.join(options.outDir, name);
    await writeFile(file, body, { mode, flag: 'wx' });
    return file;
  };
  if (options.type === 'rsa') {
    const key = generateRsaKey();
    return {
      privateKey: await write(`${options.name}.rsa`, key.privateKeyPem, 0o600),
      publicKey: await write(`${options.name}.rsa.pub`, key.publicKeyPem, 0o644),
    };
  }
  const key = await generatePgpKey({
    name: options.name,
    email: options.email,
    type: options.algorithm ?? 'rsa',
    passphrase: options.passphrase,
  });
  return {
    privateKey: await write(`${options.name}.private.asc`, key.privateKeyArmored, 0o600),
    publicKey: await write(`${options.name}.public.asc`, key.publicKeyArmored, 0o644),
  };
}
