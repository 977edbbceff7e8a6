import type * as OpenPgp from 'openpgp' with { 'resolution-mode': 'import' };
import type { PgpSigner } from './signer';

type OpenPgpModule = typeof OpenPgp;

/** openpgp and the settings for everything we make with it. */
interface Pgp {
  readonly openpgp: OpenPgpModule;
  /**
   * v4 keys (gpg 2.2, EL7 rpm/gpgme and sqv read them), SHA-512 for self-signatures and data
   * signatures (apt and sqv reject SHA-1), no Version/Comment armor headers.
   */
  readonly config: OpenPgp.Config;
}

let pgpLoading: Promise<Pgp> | undefined;

/**
 * openpgp, loaded once: its CommonJS build, which its package gives `require` (minified, 400 KB
 * of source against 1.2 MB for the ES module build that `import()` gets: about 10 ms less to
 * load, and smaller bundles, which pick the same build).
 */
function loadPgp(): Promise<Pgp> {
  pgpLoading ??= Promise.resolve().then(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const openpgp = require('openpgp') as OpenPgpModule;
    return {
      openpgp,
      config: {
        ...openpgp.config,
        v6Keys: false,
        preferredHashAlgorithm: openpgp.enums.hash.sha512,
        showVersion: false,
        showComment: false,
      },
    };
  });
  return pgpLoading;
}

/** What the user is told when the key needs a passphrase it did not get. */
export const PASSPHRASE_HINT = 'set PKGREPO_KEY_PASSPHRASE';

export interface GeneratePgpKeyOptions {
  /** Name in the user ID, e.g. "Example Packages". */
  readonly name: string;
  /** E-mail address in the user ID. @default - none */
  readonly email?: string;
  /**
   * 'rsa' makes an RSA key; 'ed25519' an EdDSA key on the legacy Ed25519 curve (public key
   * algorithm 22), the form gpg 2.2 reads (it cannot read RFC 9580 Ed25519 keys). EL7
   * clients (gpg 2.0, rpm 4.11) know no EdDSA at all: use 'rsa' for repositories they read.
   */
  readonly type: 'rsa' | 'ed25519';
  /** RSA modulus size, at least 2048. @default 4096 */
  readonly rsaBits?: number;
  /** Passphrase to protect the private key with. @default - unprotected */
  readonly passphrase?: string;
}

export interface GeneratedPgpKey {
  /** The private key (transferable secret key), ASCII-armored; encrypted when a passphrase was given. */
  readonly privateKeyArmored: string;
  /** The public key (certificate), ASCII-armored. */
  readonly publicKeyArmored: string;
  /** Upper-case hex fingerprint of the primary key. */
  readonly fingerprint: string;
}

/**
 * Generates a v4 OpenPGP signing key that never expires: one primary key that certifies and
 * signs, no subkeys, self-signed with SHA-512.
 */
export async function generatePgpKey(options: GeneratePgpKeyOptions): Promise<GeneratedPgpKey> {
  if (!options.name?.trim()) throw new Error('a PGP key needs a name for its user ID');
  const rsaBits = options.rsaBits ?? 4096;
  if (options.type === 'rsa' && (!Number.isInteger(rsaBits) || rsaBits < 2048 || rsaBits > 8192)) {
    throw new Error(`RSA key size must be an integer from 2048 to 8192 bits, not ${rsaBits}`);
  }
  if (options.type !== 'rsa' && options.type !== 'ed25519') {
    throw new Error(`unknown PGP key type ${JSON.stringify(options.type)}: use 'rsa' or 'ed25519'`);
  }
  const algorithm = options.type === 'rsa'
    ? { type: 'rsa' as const, rsaBits }
    : { type: 'ecc' as const, curve: 'ed25519Legacy' as const };
  const { openpgp, config } = await loadPgp();
  const { privateKey, publicKey } = await openpgp.generateKey({
    ...algorithm,
    userIDs: [options.email ? { name: options.name, email: options.email } : { name: options.name }],
    passphrase: options.passphrase || undefined,
    keyExpirationTime: 0,
    subkeys: [],
    format: 'object',
    config,
  });
  return {
    privateKeyArmored: privateKey.armor(config),
    publicKeyArmored: publicKey.armor(config),
    fingerprint: privateKey.getFingerprint().toUpperCase(),
  };
}

/**
 * Loads an armored private key as a PgpSigner. Accepts what `gpg --export-secret-keys
 * --armor <fingerprint>` writes (RSA or EdDSA, with or without subkeys and passphrase) and
 * what generatePgpKey makes. Signatures are made by the key's signing-capable key: the
 * newest valid signing subkey, else the primary key.
 */
export async function loadPgpSigner(armoredPrivateKey: string, passphrase?: string): Promise<PgpSigner> {
  const pgp = await loadPgp();
  const { openpgp, config } = pgp;
  let keys: OpenPgp.PrivateKey[];
  try {
    keys = await openpgp.readPrivateKeys({ armoredKeys: armoredPrivateKey, config });
  } catch (e) {
    throw new Error(`not an armored OpenPGP private key (export it with gpg --export-secret-keys --armor): ${messageOf(e)}`, { cause: e });
  }
  if (keys.length !== 1) {
    throw new Error(`the armored text holds ${keys.length} private keys; export exactly one (gpg --export-secret-keys --armor <fingerprint>)`);
  }
  let key = keys[0];
  const fingerprint = key.getFingerprint().toUpperCase();
  if (key.keyPacket.version !== 4) {
    throw new Error(`key ${fingerprint} is a version ${key.keyPacket.version} key; gpg 2.2 and rpm read only version 4 keys`);
  }
  const locked = key.getKeys().some(isLocked);
  if (locked) {
    if (!passphrase) throw new Error(`the key is protected by a passphrase: ${PASSPHRASE_HINT}`);
    try {
      key = await openpgp.decryptKey({ privateKey: key, passphrase, config });
    } catch (e) {
      throw new Error(`the passphrase does not unlock the key ${fingerprint} (${PASSPHRASE_HINT} to the right one): ${messageOf(e)}`, { cause: e });
    }
  }
  let signingKey: OpenPgp.PrivateKey | OpenPgp.Subkey;
  try {
    signingKey = await key.getSigningKey(undefined, new Date(), undefined, config);
  } catch (e) {
    throw new Error(`key ${fingerprint} has no usable signing key (expired, revoked, or made for encryption only): ${messageOf(e)}`, { cause: e });
  }
  if (isDummy(signingKey)) {
    throw new Error(`the secret part of signing key ${signingKey.getKeyID().toHex().toUpperCase()} is not in this export`);
  }
  return new OpenPgpSigner(pgp, key, fingerprint);
}

class OpenPgpSigner implements PgpSigner {
  public readonly keyId: string;
  public readonly publicKeyArmored: string;
  public readonly publicKeyBinary: Uint8Array;

  constructor(private readonly pgp: Pgp, private readonly key: OpenPgp.PrivateKey, public readonly fingerprint: string) {
    this.keyId = key.getKeyID().toHex().toUpperCase();
    const publicKey = key.toPublic();
    this.publicKeyArmored = publicKey.armor(pgp.config);
    this.publicKeyBinary = publicKey.write();
  }

  public async signDetachedArmored(data: Uint8Array | string): Promise<string> {
    const { openpgp, config } = this.pgp;
    return openpgp.sign({ message: await this.binaryMessage(data), signingKeys: this.key, detached: true, format: 'armored', config });
  }

  public async signDetachedBinary(data: Uint8Array | string): Promise<Uint8Array> {
    const { openpgp, config } = this.pgp;
    return openpgp.sign({ message: await this.binaryMessage(data), signingKeys: this.key, detached: true, format: 'binary', config });
  }

  /**
   * Cleartext-signs `text` the way `gpg --clearsign` does: trailing whitespace of each line
   * is not part of the signed text (RFC 4880 §7.1) and is dropped; a final line break is the
   * one before the signature armor; lines starting with '-' (and, as gpg does, 'From ') are
   * dash-escaped; LF line ends.
   */
  public async clearsign(text: string): Promise<string> {
    const { openpgp, config } = this.pgp;
    const lines = text.replace(/\r?\n$/, '').split('\n').map((line) => line.replace(/[ \t\r]+$/, ''));
    const canonical = lines.join('\n');
    // a cleartext signature is a text-mode (0x01) signature over the lines joined with CRLF
    const armoredSignature = await openpgp.sign({
      message: await openpgp.createMessage({ text: canonical }),
      signingKeys: this.key,
      detached: true,
      format: 'armored',
      config,
    });
    const signature = await openpgp.readSignature({ armoredSignature });
    const hashes = new Set(signature.packets.map((p) => openpgp.enums.read(openpgp.enums.hash, p.hashAlgorithm!).toUpperCase()));
    const escaped = lines.map((line) => (line.startsWith('-') || line.startsWith('From ') ? `- ${line}` : line)).join('\n');
    return `-----BEGIN PGP SIGNED MESSAGE-----\nHash: ${[...hashes].join(',')}\n\n${escaped}\n${armoredSignature}`;
  }

  private binaryMessage(data: Uint8Array | string): Promise<OpenPgp.Message<Uint8Array>> {
    return this.pgp.openpgp.createMessage({ binary: typeof data === 'string' ? Buffer.from(data, 'utf8') : data });
  }
}

/** A gnu-dummy key: the export left its secret part out (`gpg --export-secret-subkeys`). */
function isDummy(key: OpenPgp.PrivateKey | OpenPgp.Subkey): boolean {
  return 'isDummy' in key.keyPacket && key.keyPacket.isDummy();
}

/** A key whose secret part is present and encrypted. */
function isLocked(key: OpenPgp.PrivateKey | OpenPgp.Subkey): boolean {
  const packet = key.keyPacket;
  return 'isDummy' in packet && !packet.isDummy() && !packet.isDecrypted();
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
