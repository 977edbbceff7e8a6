import type { Duration } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import type { IndexerPackaging } from './indexer-packaging';
import type { RepositoryHost } from './repository-host';
import type { ISigningKey } from './signing-key';

/**
 * Who may read a repository.
 */
export enum RepositoryAccess {
  /** Anyone who knows the URL. */
  PUBLIC = 'PUBLIC',
  /**
   * Clients with a read token only: HTTP basic auth (user: the token's name, password: the
   * token), checked by the edge function on every request, cached objects included; anything
   * else gets a bare 401. Tokens live hashed in SSM Parameter Store under the host's
   * `tokenParameterPath` and are added and revoked without a deployment
   * (`pkgrepo token add NAME --ssm-path PATH`).
   */
  PRIVATE = 'PRIVATE',
}

/**
 * What the indexer does with an upload whose package name, version and architecture are already
 * in the index (under another file name), or with an indexed file overwritten with other bytes.
 */
export enum SameVersionPolicy {
  /**
   * Keep the indexed package and reject the upload (a `Package Rejected` event with code
   * `duplicate-version` or `changed-bytes`, and the `RejectedPackages` metric): clients that
   * cached the old bytes would otherwise fail their checksum.
   */
  REFUSE = 'REFUSE',
  /** Index the new bytes in place of the old ones (reported as `replaced` in `Repository Published`). */
  REPLACE = 'REPLACE',
}

/**
 * How many versions of each package the index keeps.
 */
export interface RetentionOptions {
  /**
   * The number of newest versions of each package name and architecture the index keeps (in the
   * format's version order: rpmvercmp, dpkg, vercmp, apk); older ones leave the index at the next
   * publish (reported as `pruned`). A whole number of at least 1.
   */
  readonly keepVersions: number;

  /**
   * Whether the package files of versions that leave the index are deleted from the bucket too,
   * after the new index is published, with what belongs to them (pacman: the package's `.sig`).
   * Otherwise they stay, unlisted (and reconcile leaves them out of the index).
   *
   * @default false
   */
  readonly deleteObjects?: boolean;
}

/**
 * Properties every repository construct accepts.
 */
export interface RepositoryProps {
  /**
   * The bucket and distribution to serve the repository from. Several repositories can share
   * one host under different prefixes (one bucket, one domain).
   *
   * @default - the repository creates its own RepositoryHost
   */
  readonly host?: RepositoryHost;

  /**
   * Key prefix of the repository in the bucket, which is also its path on the distribution:
   * '' (the root) or path segments ending in '/', e.g. `rpm/` or `linux/apt/`. Letters,
   * digits, `.`, `_` and `-` only. Repositories on one host must not overlap.
   *
   * @default - the format name and a slash: `yum/`, `apt/`, `apk/` or `pacman/`
   */
  readonly prefix?: string;

  /**
   * The key the indexes are signed with. Its private half is read from SSM Parameter Store
   * by the indexer only.
   *
   * @default SigningKey.generate()
   */
  readonly signingKey?: ISigningKey;

  /**
   * How the indexer function is packaged.
   *
   * @default IndexerPackaging.IMAGE
   */
  readonly indexerPackaging?: IndexerPackaging;

  /**
   * Memory of the indexer function, in MiB. Index generation is CPU-bound (hashing,
   * compression, signing), and Lambda allots CPU in proportion to memory.
   *
   * @default 2048
   */
  readonly indexerMemorySize?: number;

  /**
   * Timeout of the indexer function, at most 15 minutes. The queue's visibility timeout is
   * six times this value, as AWS recommends for SQS event sources; a failed batch is retried
   * (and holds up the repository's later events) after that visibility timeout.
   *
   * @default Duration.minutes(5)
   */
  readonly indexerTimeout?: Duration;

  /**
   * The age of the oldest queued upload event at which the `messageAgeAlarm` goes off: the
   * indexer is failing or falling behind.
   *
   * @default Duration.hours(1)
   */
  readonly messageAgeAlarmThreshold?: Duration;

  /**
   * Who may read the repository: everyone, or clients with a read token.
   *
   * @default RepositoryAccess.PUBLIC
   */
  readonly access?: RepositoryAccess;

  /**
   * The path under the prefix that the generated client setup files (`<prefix>setup/`) point
   * clients at: the repository root holding `repodata/` (yum), pacman's `Server` directory,
   * the `<branch>/<repo>` directory of apk's repositories line; '' or segments ending in '/'.
   * Variables the client expands are allowed: dnf's `$releasever` and `$basearch` (e.g.
   * `el/$releasever/$basearch/`), pacman's `$repo` and `$arch`. apt uses `distribution` and
   * `component` instead.
   *
   * @default - yum and apk: '' (the prefix itself); pacman: `$repo/os/$arch/`
   */
  readonly setupPath?: string;

  /**
   * Whether the indexer reconciles the repository on a schedule: it lists the bucket under the
   * prefix and brings every index in line with the package files actually there, indexing
   * packages whose upload events were lost and dropping packages whose deletion events were lost
   * (a `Repository Reconciled` event says what changed). The schedule's message goes through the
   * repository's FIFO queue, in order with the upload events. Packages already indexed are not
   * read again, so a run that finds nothing to do only lists the bucket and reads the indexes.
   * A reconcile also runs right after each deployment that changes the indexer (its code, key,
   * format options or policies): a repository signed with a replaced key, or published by an
   * earlier version, is signed and published again then.
   *
   * @default true
   */
  readonly reconcile?: boolean;

  /**
   * When the reconcile runs. Requires `reconcile` to be true.
   *
   * @default Schedule.rate(Duration.days(1))
   */
  readonly reconcileSchedule?: events.Schedule;

  /**
   * What an upload of an already indexed package name, version and architecture does.
   *
   * @default SameVersionPolicy.REFUSE
   */
  readonly sameVersionPolicy?: SameVersionPolicy;

  /**
   * Keep only the newest versions of each package in the index.
   *
   * @default - every version is kept
   */
  readonly retention?: RetentionOptions;

  /**
   * The event bus the indexer sends its events to (source `cdk-package-repos`): `Package Rejected`
   * (repository, bucket, format, unit, key, code, reason), `Repository Published` (repository, bucket, format,
   * unit, revision, added, removed, replaced, pruned, packageCount) and `Repository Reconciled`.
   *
   * @default - the account's default event bus
   */
  readonly eventBus?: events.IEventBus;
}

/**
 * A signed package repository served by a RepositoryHost: what all four repository
 * constructs have in common.
 */
export interface IPackageRepository extends IConstruct {
  /** The host the repository is served from. */
  readonly host: RepositoryHost;
  /** The bucket holding packages and indexes. */
  readonly bucket: s3.IBucket;
  /** Key prefix of the repository in the bucket ('' or ending in '/'). */
  readonly prefix: string;
  /** The FIFO queue of upload events (one message group for this repository). */
  readonly queue: sqs.IQueue;
  /** Where events go after the indexer failed on them 5 times. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The function that updates and signs the indexes. */
  readonly indexer: lambda.IFunction;
  /** The CloudFront distribution serving the repository. */
  readonly distribution: cloudfront.IDistribution;
  /** The HTTPS URL of the repository, ending in '/'. */
  readonly repositoryUrl: string;
  /** The name of the SSM parameter holding the private signing key. */
  readonly signingKeyParameterName: string;
  /** Goes off when an event reaches the dead-letter queue (add an action to be told). */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Goes off when the oldest queued event is older than the threshold. */
  readonly messageAgeAlarm: cloudwatch.Alarm;
  /** Goes off when the indexer rejects a package (metric `RejectedPackages` of namespace `PackageRepositories`). */
  readonly rejectedPackagesAlarm: cloudwatch.Alarm;

  /**
   * Lets `grantee` upload and delete package files (and only package files) under the
   * repository prefix; the indexer picks them up.
   */
  grantPublish(grantee: iam.IGrantable): iam.Grant;

  /** Lets `grantee` read every object under the repository prefix straight from S3. */
  grantRead(grantee: iam.IGrantable): iam.Grant;
}
