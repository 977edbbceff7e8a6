import { createHash, createPublicKey } from 'node:crypto';
import { loadPgpSigner } from './pgp';
import { loadRsaSigner } from './rsa';
import type { RsaSigner, SigningKeys } from './signer';

export interface LoadSigningKeysOptions {
  /** ASCII-armored OpenPGP private key (yum/dnf, apt, pacman). @default - no PGP signing */
  readonly pgpKeyArmored?: string;
  /** PEM RSA private key (apk). @default - no apk signing */
  readonly rsaKeyPem?: string;
  /**
   * The apk public key's file name on clients (/etc/apk/keys/<name>).
   * @default - `pkgrepo-<first 8 hex digits of the SHA-256 of the public key>.rsa.pub`
   */
  readonly rsaKeyName?: string;
  /** Passphrase of whichever keys are protected. @default - keys are unprotected */
  readonly passphrase?: string;
}

/** Loads the keys a repository is signed with; either may be absent. */
export async function loadSigningKeys(options: LoadSigningKeysOptions): Promise<SigningKeys> {
  const pgp = options.pgpKeyArmored ? await loadPgpSigner(options.pgpKeyArmored, options.passphrase) : undefined;
  let rsa: RsaSigner | undefined;
  if (options.rsaKeyPem) {
    rsa = loadRsaSigner(options.rsaKeyPem, options.rsaKeyName ?? 'pending.rsa.pub', options.passphrase);
    if (options.rsaKeyName === undefined) rsa = { ...rsa, keyName: defaultRsaKeyName(rsa.publicKeyPem) };
  }
  return { pgp, rsa };
}

/** The default apk key name of a public key (SPKI PEM): stable for the key, distinct between keys. */
export function defaultRsaKeyName(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return `pkgrepo-${createHash('sha256').update(der).digest('hex').slice(0, 8)}.rsa.pub`;
}

/** A public key file a repository publishes for its clients. */
export interface PublicKeyFile {
  /** File name (a storage key relative to wherever the caller puts the keys). */
  readonly name: string;
  readonly body: Uint8Array | string;
  readonly contentType: string;
}

/**
 * The public key files to publish beside a repository:
 * - `<baseName>.asc`: the OpenPGP certificate, armored (rpm `gpgkey=`, pacman-key, apt `.asc`);
 * - `<baseName>.gpg`: the same, binary (apt `signed-by=/usr/share/keyrings/<name>.gpg`);
 * - `<rsa keyName>`: the apk public key PEM; its name must equal the signer's key name,
 *   because apk finds the key by the name recorded in the index signature.
 */
export function publicKeyFiles(keys: SigningKeys, baseName: string): PublicKeyFile[] {
  if (!baseName || baseName.includes('/') || baseName.includes('\0')) {
    throw new Error(`invalid key file base name ${JSON.stringify(baseName)}: use a plain file name such as "repo-key"`);
  }
  const files: PublicKeyFile[] = [];
  if (keys.pgp) {
    files.push({ name: `${baseName}.asc`, body: keys.pgp.publicKeyArmored, contentType: 'application/pgp-keys' });
    files.push({ name: `${baseName}.gpg`, body: keys.pgp.publicKeyBinary, contentType: 'application/pgp-keys' });
  }
  if (keys.rsa) {
    files.push({ name: keys.rsa.keyName, body: keys.rsa.publicKeyPem, contentType: 'application/x-pem-file' });
  }
  return files;
}
