import { Names, Token } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type FormatDescriptor, RepositoryCore } from './repository-core';
import type { RepositoryHost } from './repository-host';
import type { IPackageRepository, RepositoryProps } from './repository-props';
import { SigningKeyType } from './signing-key';
import { KEYS_FOLDER } from '../handlers/contract';

/**
 * Properties of an ApkRepository. Layout: `<branch>/<repo>/<arch>/*.apk` under the prefix; the
 * indexer writes `APKINDEX.tar.gz` in the same directory.
 */
export interface ApkRepositoryProps extends RepositoryProps {
  /**
   * The file name clients keep the public key under in /etc/apk/keys, which is also the name
   * in every index signature (`.SIGN.RSA.<keyName>`). Ends in `.rsa.pub`.
   *
   * @default - `<construct id>-<8 hex digits unique to the construct path>.rsa.pub`
   */
  readonly keyName?: string;
}

/**
 * A signed Alpine apk repository: upload .apk files under `<prefix><branch>/<repo>/<arch>/`
 * and the indexer updates the RSA-signed `APKINDEX.tar.gz` next to them.
 *
 * @example
 * new ApkRepository(this, 'Alpine', { keyName: 'packages@example.com-1.rsa.pub' });
 */
export class ApkRepository extends Construct implements IPackageRepository {
  /** The host the repository is served from. */
  public readonly host: RepositoryHost;
  /** The bucket holding packages and indexes. */
  public readonly bucket: s3.IBucket;
  /** Key prefix of the repository in the bucket ('' or ending in '/'). */
  public readonly prefix: string;
  /** The FIFO queue of upload events. */
  public readonly queue: sqs.IQueue;
  /** Where upload events go after the indexer failed on them 5 times. */
  public readonly deadLetterQueue: sqs.IQueue;
  /** The function that updates and signs the indexes. */
  public readonly indexer: lambda.IFunction;
  /** The CloudFront distribution serving the repository. */
  public readonly distribution: cloudfront.IDistribution;
  /** The HTTPS URL of the repository, ending in '/'. */
  public readonly repositoryUrl: string;
  /** The name of the SSM parameter holding the private signing key. */
  public readonly signingKeyParameterName: string;
  /** Goes off when an upload event reaches the dead-letter queue. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Goes off when the oldest queued upload event is older than the threshold. */
  public readonly messageAgeAlarm: cloudwatch.Alarm;
  /** Goes off when the indexer rejects a package. */
  public readonly rejectedPackagesAlarm: cloudwatch.Alarm;
  /** The file name of the public key in /etc/apk/keys (and in index signatures). */
  public readonly keyName: string;

  private readonly core: RepositoryCore;

  constructor(scope: Construct, id: string, props: ApkRepositoryProps = {}) {
    super(scope, id);
    this.keyName = props.keyName ?? defaultKeyName(this);
    if (!Token.isUnresolved(this.keyName) && !/^[A-Za-z0-9@._+-]+\.rsa\.pub$/.test(this.keyName)) {
      throw new Error(`keyName must be a file name ending in '.rsa.pub' (letters, digits, '@', '.', '_', '+', '-'): ${JSON.stringify(this.keyName)}`);
    }
    const keyName = this.keyName;
    const descriptor: FormatDescriptor = {
      format: 'apk',
      keyType: SigningKeyType.RSA,
      packageSuffixes: ['.apk'],
      publishPatterns: ['*.apk'],
      manifestPatterns: ['*APKINDEX.tar.gz'],
      formatOptions: { keyName },
      rsaKeyName: keyName,
      clientSetup: (url) => apkSetup(url, keyName),
    };
    this.core = new RepositoryCore(this, 'Default', { ...props, descriptor });
    this.host = this.core.host;
    this.bucket = this.core.bucket;
    this.prefix = this.core.prefix;
    this.queue = this.core.queue;
    this.deadLetterQueue = this.core.deadLetterQueue;
    this.indexer = this.core.indexer;
    this.distribution = this.core.distribution;
    this.repositoryUrl = this.core.repositoryUrl;
    this.signingKeyParameterName = this.core.signingKeyParameterName;
    this.deadLetterAlarm = this.core.deadLetterAlarm;
    this.messageAgeAlarm = this.core.messageAgeAlarm;
    this.rejectedPackagesAlarm = this.core.rejectedPackagesAlarm;
  }

  /** Lets `grantee` upload and delete .apk files under the repository prefix. */
  public grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.core.grantPublish(grantee);
  }

  /** Lets `grantee` read every object under the repository prefix straight from S3. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.core.grantRead(grantee);
  }
}

/** `<id>-<hash>.rsa.pub`: readable, and unique across the repositories a client may trust. */
function defaultKeyName(scope: Construct): string {
  const id = scope.node.id.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'repository';
  return `${id}-${Names.uniqueId(scope).slice(-8).toLowerCase()}.rsa.pub`;
}

/** The key under its exact name, and a repositories line (fill in the branch and repo directories). */
function apkSetup(url: string, keyName: string): string {
  return `wget -qO /etc/apk/keys/${keyName} ${url}${KEYS_FOLDER}${keyName} && echo '${url}<branch>/<repo>' >> /etc/apk/repositories`;
}
