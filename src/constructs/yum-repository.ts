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
import { KEYS_FOLDER, OPENPGP_ARMORED_KEY } from '../handlers/contract';

/**
 * Properties of a YumRepository. The rpm-md layout needs no settings: every directory that
 * holds .rpm files is a repository root (a `Packages/` directory belongs to the root above it).
 */
export interface YumRepositoryProps extends RepositoryProps {}

/**
 * A signed yum/dnf (rpm-md) repository: upload .rpm files under the prefix and the indexer
 * updates `repodata/` (primary, filelists, other, `repomd.xml` and its armored signature
 * `repomd.xml.asc`) next to them.
 *
 * @example
 * new YumRepository(this, 'Rpm');
 */
export class YumRepository extends Construct implements IPackageRepository {
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

  private readonly core: RepositoryCore;

  constructor(scope: Construct, id: string, props: YumRepositoryProps = {}) {
    super(scope, id);
    const descriptor: FormatDescriptor = {
      format: 'yum',
      keyType: SigningKeyType.OPENPGP,
      packageSuffixes: ['.rpm'],
      publishPatterns: ['*.rpm'],
      manifestPatterns: ['*repomd.xml*'],
      formatOptions: {},
      clientSetup: yumSetup,
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

  /** Lets `grantee` upload and delete .rpm files under the repository prefix. */
  public grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.core.grantPublish(grantee);
  }

  /** Lets `grantee` read every object under the repository prefix straight from S3. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.core.grantRead(grantee);
  }
}

/**
 * A .repo file with the repository metadata signature required (repo_gpgcheck): the signed
 * repomd.xml pins the SHA-256 of every package, whether or not the packages are signed.
 */
function yumSetup(url: string, name: string): string {
  const repo = [`[${name}]`, `name=${name}`, `baseurl=${url}`, 'enabled=1', 'repo_gpgcheck=1', 'gpgcheck=0', `gpgkey=${url}${KEYS_FOLDER}${OPENPGP_ARMORED_KEY}`];
  return `printf '${repo.join('\\n')}\\n' | sudo tee /etc/yum.repos.d/${name}.repo`;
}
