import { constants, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { PASSPHRASE_HINT } from './pgp';
import type { RsaSigner } from './signer';

export interface GeneratedRsaKey {
  /** The private key, PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), as `abuild-keygen` / `openssl genrsa` write it. */
  readonly privateKeyPem: string;
  /** The public key, SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY"): the file clients put in /etc/apk/keys. */
  readonly publicKeyPem: string;
}

/** Generates an RSA key pair for signing apk indexes (public exponent 65537). */
export function generateRsaKey(bits = 4096): GeneratedRsaKey {
  if (!Number.isInteger(bits) || bits < 2048 || bits > 16384) {
    throw new Error(`RSA key size must be an integer from 2048 to 16384 bits, not ${bits}`);
  }
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/**
 * Loads a PEM RSA private key (PKCS#1 "BEGIN RSA PRIVATE KEY" as abuild-keygen and
 * `openssl genrsa` write, PKCS#8 "BEGIN PRIVATE KEY", or encrypted forms of either with
 * `passphrase`) as an RsaSigner. `keyName` is the public key's file name on the clients,
 * e.g. `packager@example.com-61a0b1c2.rsa.pub`; apk looks the signature up by it.
 */
export function loadRsaSigner(privateKeyPem: string, keyName: string, passphrase?: string): RsaSigner {
  checkKeyName(keyName);
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED/m.test(privateKeyPem);
  if (encrypted && !passphrase) throw new Error(`the RSA key is protected by a passphrase: ${PASSPHRASE_HINT}`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: privateKeyPem, format: 'pem', passphrase });
  } catch (e) {
    const hint = encrypted ? ` (or the passphrase is wrong: ${PASSPHRASE_HINT} to the right one)` : '';
    throw new Error(`not a PEM RSA private key${hint}: ${(e as Error).message}`, { cause: e });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new Error(`the apk signing key must be an RSA key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  const publicKeyPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
  return {
    keyName,
    publicKeyPem,
    sign: (data: Uint8Array, digest: 'sha1' | 'sha256') => {
      if (digest !== 'sha1' && digest !== 'sha256') throw new Error(`unsupported digest ${String(digest)}: use sha1 or sha256`);
      return new Uint8Array(sign(digest, data, { key, padding: constants.RSA_PKCS1_PADDING }));
    },
  };
}

/** The key name becomes a file name and a tar entry name (`.SIGN.RSA.<keyName>`). */
function checkKeyName(keyName: string): void {
  if (!keyName || keyName.includes('/') || keyName.includes('\0') || keyName === '.' || keyName === '..') {
    throw new Error(`invalid apk key name ${JSON.stringify(keyName)}: it must be a plain file name such as builder.rsa.pub`);
  }
}
