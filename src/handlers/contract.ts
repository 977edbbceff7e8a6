/**
 * What the constructs and the Lambda handlers agree on: environment variable names, custom
 * resource properties and the names of published public keys. Plain constants, no imports, so
 * the handler bundles stay free of aws-cdk-lib and the constructs free of the AWS SDK.
 */

/** Environment of the indexer function. */
export const IndexerEnv = {
  /** yum | apt | apk | pacman */
  FORMAT: 'FORMAT',
  /** JSON of the format's options (engine `FormatOptions`). */
  FORMAT_OPTIONS: 'FORMAT_OPTIONS',
  BUCKET_NAME: 'BUCKET_NAME',
  /** Key prefix of the repository in the bucket: '' or ending in '/'. */
  PREFIX: 'PREFIX',
  /** SSM parameter (SecureString) holding the armored OpenPGP private key. */
  PGP_KEY_PARAMETER: 'PGP_KEY_PARAMETER',
  /** SSM parameter (SecureString) holding the PEM RSA private key (apk). */
  RSA_KEY_PARAMETER: 'RSA_KEY_PARAMETER',
  /** SSM parameter (SecureString) holding the private key's passphrase, if it has one. */
  PASSPHRASE_PARAMETER: 'PASSPHRASE_PARAMETER',
} as const;

/** Which key a repository signs with. */
export type KeyKind = 'openpgp' | 'rsa';

/** Properties of the key-generation custom resource (CloudFormation passes them as strings). */
export interface KeygenProperties {
  readonly KeyKind: KeyKind;
  /**
   * 'generate' (absent): create the key unless the parameter exists. 'existing': the user made
   * the key; read it (failing clearly when the parameter is missing), publish its public half,
   * never write or delete the parameter.
   */
  readonly Mode?: 'generate' | 'existing';
  /** 'existing' mode: the SecureString parameter holding the private key's passphrase, if any. */
  readonly PassphraseParameterName?: string;
  /** Name of the SecureString parameter the private key is written to. */
  readonly ParameterName: string;
  /** KMS key (id, ARN or alias) for the parameter; absent: the AWS-managed `alias/aws/ssm`. */
  readonly KmsKeyId?: string;
  /** OpenPGP user ID of a generated key. */
  readonly UserId: string;
  /** apk: the file name clients know the public key by (`NAME.rsa.pub`). */
  readonly RsaKeyName?: string;
  /** Bucket and key prefix ('' or ending in '/') the public keys are published under. */
  readonly BucketName: string;
  readonly PublicKeyPrefix: string;
  /** 'destroy': delete the parameter when the resource is deleted; otherwise it is kept. */
  readonly RemovalPolicy: 'retain' | 'destroy';
}

/** The object keys (under the public key prefix) a generated key's public half is published as. */
export function publicKeyObjects(kind: KeyKind, rsaKeyName?: string): string[] {
  if (kind === 'rsa') {
    if (!rsaKeyName) throw new Error('an RSA key needs its key name (NAME.rsa.pub)');
    return [rsaKeyName];
  }
  return [OPENPGP_ARMORED_KEY, OPENPGP_BINARY_KEY];
}

/** Armored OpenPGP public key (dnf `gpgkey=`, pacman-key --add). */
export const OPENPGP_ARMORED_KEY = 'repository.asc';
/** Binary OpenPGP public key (apt `signed-by=`). */
export const OPENPGP_BINARY_KEY = 'repository.gpg';
/** The folder, under the repository prefix, that holds the public keys. */
export const KEYS_FOLDER = 'keys/';
