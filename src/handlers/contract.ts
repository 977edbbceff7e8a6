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
  /** Name or ARN of the event bus the indexer sends its events to; empty or absent: the account's default bus. */
  EVENT_BUS_NAME: 'EVENT_BUS_NAME',
  /** The `Repository` dimension of the indexer's metrics; empty or absent: the prefix (`/` for the root). */
  REPOSITORY_NAME: 'REPOSITORY_NAME',
  /** `refuse` | `replace`: what an upload of an already indexed name+version+arch does (engine `sameVersion`). @default refuse */
  SAME_VERSION: 'SAME_VERSION',
  /** JSON `{"keepVersions": N, "deleteObjects": true|false}` (engine `retention`); empty or absent: keep every version. */
  RETENTION: 'RETENTION',
} as const;

/**
 * The body of the message the reconcile schedule sends into a repository's FIFO queue, in the
 * message group of its upload events (so it runs in order with them): `{"reconcile":true,"time":"<the
 * schedule event's time>"}`. The time makes every scheduled message distinct for the queue's
 * content-based deduplication. The indexer answers it with the engine's `syncAll`: it indexes
 * packages whose upload events were lost and drops packages whose deletion events were lost.
 */
export interface ReconcileMessage {
  readonly reconcile: true;
  /** When the schedule fired (ISO 8601), or 'deployment'; informative only. */
  readonly time?: string;
  /**
   * Sent by a deployment that changed the indexer (its code, its configuration, its key): what
   * changed, as deployed. Informative only; it makes the message distinct for the queue.
   */
  readonly deployment?: unknown;
}

/** The body of a reconcile message sent at `time`. */
export function reconcileMessageBody(time: Date | string): string {
  const message: ReconcileMessage = { reconcile: true, time: typeof time === 'string' ? time : time.toISOString() };
  return JSON.stringify(message);
}

/** The `source` of every event the indexer sends to EventBridge. */
export const EVENT_SOURCE = 'cdk-package-repos';

/** The `detail-type`s of the indexer's events. */
export const EventDetailType = {
  /** A package was not indexed: detail `{ repository, format, unit?, key, code, reason }`. */
  PACKAGE_REJECTED: 'Package Rejected',
  /** A new index of one unit was published: detail `{ repository, format, unit, revision, added, removed, replaced, pruned, packageCount }`. */
  REPOSITORY_PUBLISHED: 'Repository Published',
  /** A reconcile run (the schedule) finished: detail `{ repository, format, added, removed, replaced, pruned, rejected, published }`. */
  REPOSITORY_RECONCILED: 'Repository Reconciled',
} as const;

/** CloudWatch namespace of the indexer's metrics (Embedded Metric Format log lines). */
export const METRICS_NAMESPACE = 'PackageRepositories';
/** The one dimension of the indexer's metrics. */
export const METRICS_DIMENSION = 'Repository';

/** The indexer's metrics, one data point of each per engine run. */
export const MetricName = {
  /** Packages rejected by the run (unreadable, duplicate version, changed bytes, misplaced). */
  REJECTED_PACKAGES: 'RejectedPackages',
  /** Packages read and added to an index by the run. */
  INDEXED_PACKAGES: 'IndexedPackages',
  /** Indexes (units) the run published. */
  PUBLISHED_INDEXES: 'PublishedIndexes',
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
