import { Token } from 'aws-cdk-lib';
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
import { KEYS_FOLDER, OPENPGP_BINARY_KEY } from '../handlers/contract';

/**
 * Properties of an AptRepository. Layout: `pool/<distribution>/<component>/**\/*.deb` under the
 * prefix; the indexer writes `dists/<distribution>/...`.
 */
export interface AptRepositoryProps extends RepositoryProps {
  /**
   * The `Origin` field of every Release file. Clients remember it: never change it once the
   * repository is in use.
   *
   * @default - the construct id
   */
  readonly origin?: string;

  /**
   * The `Label` field of every Release file. Clients remember it too.
   *
   * @default - the origin
   */
  readonly label?: string;

  /**
   * The distribution the client setup line (CfnOutput) and the generated setup files name;
   * the repository serves every distribution found under `pool/`.
   *
   * @default 'stable'
   */
  readonly distribution?: string;

  /**
   * The component the client setup line (CfnOutput) and the generated setup files name.
   *
   * @default 'main'
   */
  readonly component?: string;
}

/**
 * A signed apt repository: upload .deb files under `<prefix>pool/<distribution>/<component>/`
 * and the indexer updates `dists/<distribution>/` (Packages, by-hash copies, Release,
 * InRelease, Release.gpg).
 *
 * @example
 * new AptRepository(this, 'Deb', { origin: 'Example', distribution: 'bookworm' });
 */
export class AptRepository extends Construct implements IPackageRepository {
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

  constructor(scope: Construct, id: string, props: AptRepositoryProps = {}) {
    super(scope, id);
    const origin = props.origin ?? id;
    const distribution = props.distribution ?? 'stable';
    const component = props.component ?? 'main';
    checkField('origin', origin);
    checkField('label', props.label ?? origin);
    checkName('distribution', distribution);
    checkName('component', component);
    const descriptor: FormatDescriptor = {
      format: 'apt',
      keyType: SigningKeyType.OPENPGP,
      packageSuffixes: ['.deb'],
      publishPatterns: ['*.deb'],
      manifestPatterns: ['dists/*'],
      formatOptions: { origin, label: props.label ?? origin },
      setup: { distribution, components: [component] },
      clientSetup: (url, name) => aptSetup(url, name, distribution, component),
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

  /** Lets `grantee` upload and delete .deb files under the repository prefix. */
  public grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.core.grantPublish(grantee);
  }

  /** Lets `grantee` read every object under the repository prefix straight from S3. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.core.grantRead(grantee);
  }
}

/** A Release field value: one line, no control characters. */
function checkField(name: string, value: string): void {
  if (Token.isUnresolved(value)) return;
  if (value.trim() === '' || /[\x00-\x1f\x7f]/.test(value)) {
    throw new Error(`apt ${name} must be a non-empty single line without control characters: ${JSON.stringify(value)}`);
  }
}

/** A distribution or component name as it appears in paths and sources lines. */
function checkName(name: string, value: string): void {
  if (Token.isUnresolved(value)) return;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value)) {
    throw new Error(`apt ${name} must be letters, digits, '.', '_' or '-': ${JSON.stringify(value)}`);
  }
}

/** The repository key as a keyring of its own, and a sources line that trusts only it. */
function aptSetup(url: string, name: string, distribution: string, component: string): string {
  const keyring = `/etc/apt/keyrings/${name}.gpg`;
  return `sudo install -d -m 0755 /etc/apt/keyrings && curl -fsSL ${url}${KEYS_FOLDER}${OPENPGP_BINARY_KEY} | sudo tee ${keyring} >/dev/null`
    + ` && echo 'deb [signed-by=${keyring}] ${url} ${distribution} ${component}' | sudo tee /etc/apt/sources.list.d/${name}.list`;
}
