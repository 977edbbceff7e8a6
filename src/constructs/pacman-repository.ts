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
import { KEYS_FOLDER, OPENPGP_ARMORED_KEY } from '../handlers/contract';

/**
 * Properties of a PacmanRepository. Layout: each directory holding packages is a pacman
 * repository, named by its first path segment under the prefix (`extra/os/x86_64/` → `extra`)
 * unless `repositoryName` says otherwise.
 */
export interface PacmanRepositoryProps extends RepositoryProps {
  /**
   * One name for every pacman repository under the prefix (the `[name]` of pacman.conf and the
   * `name.db` file), instead of the first path segment.
   *
   * @default - the first path segment under the prefix
   */
  readonly repositoryName?: string;
}

/**
 * A signed pacman repository: upload packages (`.pkg.tar.zst`, `.xz` or `.gz`, with optional
 * `.sig`) under the prefix and the indexer updates the signed `<repo>.db.tar.gz` and
 * `<repo>.files.tar.gz`; the CDN serves them under pacman's `<repo>.db` / `<repo>.files` names.
 *
 * @example
 * new PacmanRepository(this, 'Arch', { repositoryName: 'example' });
 */
export class PacmanRepository extends Construct implements IPackageRepository {
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

  constructor(scope: Construct, id: string, props: PacmanRepositoryProps = {}) {
    super(scope, id);
    const repositoryName = props.repositoryName;
    if (repositoryName !== undefined && !Token.isUnresolved(repositoryName) && !/^[A-Za-z0-9@_+][A-Za-z0-9@._+-]*$/.test(repositoryName)) {
      throw new Error(`repositoryName must be a pacman repository name (letters, digits, '@', '.', '_', '+', '-'): ${JSON.stringify(repositoryName)}`);
    }
    const descriptor: FormatDescriptor = {
      format: 'pacman',
      keyType: SigningKeyType.OPENPGP,
      packageSuffixes: ['.pkg.tar.zst', '.pkg.tar.xz', '.pkg.tar.gz'],
      // packages and their detached signatures
      publishPatterns: ['*.pkg.tar.*'],
      manifestPatterns: ['*.db*', '*.files*'],
      formatOptions: repositoryName === undefined ? {} : { repoName: repositoryName },
      pacmanRepositories: repositoryName === undefined ? undefined : [repositoryName],
      clientSetup: (url) => pacmanSetup(url, repositoryName),
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

  /** Lets `grantee` upload and delete package files (.pkg.tar.zst|xz|gz and their .sig) under the repository prefix. */
  public grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.core.grantPublish(grantee);
  }

  /** Lets `grantee` read every object under the repository prefix straight from S3. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.core.grantRead(grantee);
  }
}

/** The repository key locally signed, and a pacman.conf section requiring signed databases. */
function pacmanSetup(url: string, repositoryName?: string): string {
  const repo = repositoryName ?? '<repo>';
  const key = `${url}${KEYS_FOLDER}${OPENPGP_ARMORED_KEY}`;
  return `curl -fsSL ${key} -o /tmp/${OPENPGP_ARMORED_KEY} && sudo pacman-key --add /tmp/${OPENPGP_ARMORED_KEY}`
    + ` && sudo pacman-key --lsign-key "$(gpg --with-colons --show-keys /tmp/${OPENPGP_ARMORED_KEY} | awk -F: '/^fpr/ {print $10; exit}')"`
    + ` && printf '[${repo}]\\nSigLevel = PackageOptional DatabaseRequired\\nServer = ${url}${repo}/os/$arch\\n' | sudo tee -a /etc/pacman.conf`;
}
