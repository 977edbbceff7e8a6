/**
 * OpenPGP signing, as the formats need it: armored detached (repomd.xml.asc, Release.gpg is
 * armored too), clearsigned text (InRelease) and binary detached (pacman .sig).
 */
export interface PgpSigner {
  /** Upper-case hex fingerprint of the primary key. */
  readonly fingerprint: string;
  /** Upper-case hex key id (last 16 hex digits of the fingerprint). */
  readonly keyId: string;
  /** The public key (certificate), ASCII-armored. */
  readonly publicKeyArmored: string;
  /** The public key (certificate), binary OpenPGP packets (for apt `signed-by` .gpg files). */
  readonly publicKeyBinary: Uint8Array;
  /** Detached signature over `data`, ASCII-armored. */
  signDetachedArmored(data: Uint8Array | string): Promise<string>;
  /** Detached signature over `data`, binary packets. */
  signDetachedBinary(data: Uint8Array | string): Promise<Uint8Array>;
  /** A cleartext-signed message of `text` (starts with `-----BEGIN PGP SIGNED MESSAGE-----`). */
  clearsign(text: string): Promise<string>;
}

/** RSA signing the way abuild-sign does it for apk indexes: PKCS#1 v1.5. */
export interface RsaSigner {
  /** The name clients know the public key by, e.g. `builder.rsa.pub` (the file in /etc/apk/keys). */
  readonly keyName: string;
  /** The public key, PEM (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY"). */
  readonly publicKeyPem: string;
  /** PKCS#1 v1.5 signature over `data` with the given digest. */
  sign(data: Uint8Array, digest: 'sha1' | 'sha256'): Uint8Array;
}

/** The keys a repository is signed with; which one a format uses is the format's business. */
export interface SigningKeys {
  readonly pgp?: PgpSigner;
  readonly rsa?: RsaSigner;
}
