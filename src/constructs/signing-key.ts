import { RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct, IDependable } from 'constructs';
import { GeneratedKey, type GeneratedKeyProps } from './generated-key';
import { parameterArn } from './ssm';

/** The kind of key a repository format signs its indexes with. */
export enum SigningKeyType {
  /** An OpenPGP key (yum/dnf, apt and pacman). */
  OPENPGP = 'OPENPGP',
  /** An RSA key, PKCS#1 v1.5 signatures the way abuild-sign makes them (apk). */
  RSA = 'RSA',
}

/** What a repository tells the signing key when it binds it. */
export interface SigningKeyBindOptions {
  /** The kind of key the repository's format needs. */
  readonly keyType: SigningKeyType;
  /** The bucket the repository lives in (generated keys publish their public half there). */
  readonly bucket: s3.IBucket;
  /** Key prefix in the bucket for published public keys: '' or ending in '/'. */
  readonly publicKeyPrefix: string;
  /** A human-readable name of the repository, for the identity of a generated key. */
  readonly repositoryName: string;
  /**
   * The file name apk clients know the public key by (`NAME.rsa.pub`).
   *
   * @default - not an apk repository
   */
  readonly rsaKeyName?: string;
}

/** Where the private key is, as the indexer needs to know it. */
export interface SigningKeyConfig {
  /** Name of the SecureString parameter holding the private key. */
  readonly privateKeyParameterName: string;
  /** ARN of that parameter. */
  readonly privateKeyParameterArn: string;
  /**
   * Name of the SecureString parameter holding the private key's passphrase.
   *
   * @default - the private key has no passphrase
   */
  readonly passphraseParameterName?: string;
  /**
   * ARN of the passphrase parameter.
   *
   * @default - the private key has no passphrase
   */
  readonly passphraseParameterArn?: string;
  /**
   * The KMS key the parameters are encrypted with.
   *
   * @default - the AWS-managed key of SSM (`alias/aws/ssm`), usable without extra grants
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What must exist before the indexer may run (the key generation).
   *
   * @default - nothing: the parameters exist already
   */
  readonly dependable?: IDependable;
}

/**
 * A signing key for a repository, bound to it at construction. Use the factories of
 * `SigningKey`.
 */
export interface ISigningKey {
  /** Makes the key available to one repository. */
  bind(scope: Construct, options: SigningKeyBindOptions): SigningKeyConfig;
}

/** Options for a key generated at deploy time. */
export interface GeneratedSigningKeyOptions {
  /**
   * The KMS key that encrypts the SecureString parameter.
   *
   * @default - the AWS-managed key of SSM (`alias/aws/ssm`)
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * What happens to the private key parameter when the repository is removed from the stack
   * or the stack is deleted. `RemovalPolicy.DESTROY` deletes it; anything else keeps it (a
   * lost signing key means every client must trust a new one).
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Path the parameter is created under: starts and ends with '/'.
   *
   * @default - `/cdk-package-repos/<stack name>/<repository id>/`
   */
  readonly parameterPath?: string;

  /**
   * OpenPGP user ID of the key, e.g. `Example Packages <packages@example.com>`.
   *
   * @default - `<repository name> (cdk-package-repos)`
   */
  readonly userId?: string;
}

/** Existing SecureString parameters holding a key you made. */
export interface SigningKeyParameterNames {
  /**
   * Name of the SecureString parameter holding the private key: an armored OpenPGP private
   * key (`gpg --export-secret-keys --armor`) for yum, apt and pacman; a PEM RSA private key
   * for apk.
   */
  readonly privateKeyParameterName: string;

  /**
   * Name of the SecureString parameter holding the passphrase of the private key.
   *
   * @default - the private key has no passphrase
   */
  readonly passphraseParameterName?: string;

  /**
   * The customer-managed KMS key the parameters are encrypted with; the indexer is allowed to
   * decrypt with it through SSM.
   *
   * @default - the AWS-managed key of SSM
   */
  readonly encryptionKey?: kms.IKey;
}

/**
 * Where a repository's signing key comes from.
 */
export abstract class SigningKey {
  /**
   * Generate a key at the first deployment (RSA 4096 OpenPGP key, or a 4096-bit RSA key for
   * apk), store the private key as a SecureString parameter and publish the public key under
   * `<prefix>keys/` in the bucket. A parameter that exists already is kept, so redeploying
   * never replaces a key clients trust.
   */
  public static generate(options: GeneratedSigningKeyOptions = {}): ISigningKey {
    return {
      bind(scope: Construct, bindOptions: SigningKeyBindOptions): SigningKeyConfig {
        const key = keyResource(scope, bindOptions, {
          userId: options.userId,
          encryptionKey: options.encryptionKey,
          destroy: options.removalPolicy === RemovalPolicy.DESTROY,
          parameterPath: options.parameterPath,
        });
        return {
          privateKeyParameterName: key.parameterName,
          privateKeyParameterArn: key.parameterArn,
          encryptionKey: options.encryptionKey,
          dependable: key,
        };
      },
    };
  }

  /**
   * Use a key you created and stored in SSM Parameter Store yourself. The parameters must
   * exist before the deployment: a custom resource reads the key at deploy time (failing the
   * deployment with a clear message when it is missing, locked by a wrong passphrase or
   * unable to sign) and publishes its public half under `<prefix>keys/`, exactly as for a
   * generated key. The parameters are never written or deleted by the stack.
   */
  public static fromParameterNames(names: SigningKeyParameterNames): ISigningKey {
    return {
      bind(scope: Construct, bindOptions: SigningKeyBindOptions): SigningKeyConfig {
        const key = keyResource(scope, bindOptions, {
          encryptionKey: names.encryptionKey,
          destroy: false,
          existing: { parameterName: names.privateKeyParameterName, passphraseParameterName: names.passphraseParameterName },
        });
        return {
          privateKeyParameterName: names.privateKeyParameterName,
          privateKeyParameterArn: key.parameterArn,
          passphraseParameterName: names.passphraseParameterName,
          passphraseParameterArn: names.passphraseParameterName === undefined
            ? undefined
            : parameterArn(scope, names.passphraseParameterName),
          encryptionKey: names.encryptionKey,
          dependable: key,
        };
      },
    };
  }
}

/** The key custom resource of one repository: what the repository says, plus the key's own options. */
function keyResource(
  scope: Construct,
  bindOptions: SigningKeyBindOptions,
  options: Pick<GeneratedKeyProps, 'encryptionKey' | 'destroy' | 'parameterPath' | 'existing'> & { readonly userId?: string },
): GeneratedKey {
  return new GeneratedKey(scope, 'SigningKey', {
    kind: bindOptions.keyType === SigningKeyType.RSA ? 'rsa' : 'openpgp',
    bucket: bindOptions.bucket,
    publicKeyPrefix: bindOptions.publicKeyPrefix,
    rsaKeyName: bindOptions.rsaKeyName,
    ...options,
    userId: options.userId ?? `${bindOptions.repositoryName} (cdk-package-repos)`,
  });
}
