import { CfnOutput, Duration, FileSystem, Stack, Token } from 'aws-cdk-lib';
import type * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecr_assets from 'aws-cdk-lib/aws-ecr-assets';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import { acknowledge, wildcardResourceFinding } from './acknowledge';
import { assetDirectory } from './assets';
import { FunctionRole } from './function-role';
import { IndexerPackaging } from './indexer-packaging';
import { RepositoryHost } from './repository-host';
import { RepositoryAccess, SameVersionPolicy, type RepositoryProps, type RetentionOptions } from './repository-props';
import { SigningKey, SigningKeyType } from './signing-key';
import { viaSsm } from './ssm';
import type { EdgeClientSetup, EdgeFormat } from '../edge/router';
import { IndexerEnv, METRICS_DIMENSION, METRICS_NAMESPACE, MetricName } from '../handlers/contract';

/** What a repository construct tells the shared wiring about its format. */
export interface FormatDescriptor {
  readonly format: EdgeFormat;
  readonly keyType: SigningKeyType;
  /** Name endings of package files: upload events for other keys are not queued. */
  readonly packageSuffixes: string[];
  /** IAM key patterns, relative to the prefix, that publishers may write and delete. */
  readonly publishPatterns: string[];
  /** CloudFront path patterns, relative to the prefix, of the fixed-name manifests (short TTL). */
  readonly manifestPatterns: string[];
  /** Options for the engine's format (src/engine/formats `FormatOptions`). */
  readonly formatOptions: Record<string, string>;
  /** apk: the public key's file name. */
  readonly rsaKeyName?: string;
  /** pacman: repository names whose `.db` links the edge maps. */
  readonly pacmanRepositories?: string[];
  /** What the generated setup files say besides the setup path (apt: distribution and components). */
  readonly setup?: EdgeClientSetup;
  /** The shell line that sets a client up, given the repository URL (ends in '/') and its name. */
  clientSetup(url: string, name: string): string;
}

/** Props of RepositoryCore. */
export interface RepositoryCoreProps extends RepositoryProps {
  readonly descriptor: FormatDescriptor;
}

const PREFIX = /^([A-Za-z0-9_-][A-Za-z0-9._-]*\/)*$/;
const MAX_PREFIX_LENGTH = 100;

/**
 * The wiring every repository shares, given its format: host, queue, indexer, keys, outputs.
 * Not exported from the package; the four repository constructs compose it.
 *
 * Upload → S3 event (EventBridge) → rule (prefix + package suffixes) → SQS FIFO queue, one
 * message group per repository → indexer (batches of 10, partial batch failures) → engine.
 * A schedule rule sends the reconcile message into the same group; the indexer reports each run
 * as EventBridge events and EMF metrics.
 */
export class RepositoryCore extends Construct {
  public readonly host: RepositoryHost;
  public readonly bucket: s3.IBucket;
  public readonly prefix: string;
  public readonly queue: sqs.Queue;
  public readonly deadLetterQueue: sqs.Queue;
  public readonly indexer: lambda.Function;
  public readonly distribution: cloudfront.IDistribution;
  public readonly repositoryUrl: string;
  public readonly signingKeyParameterName: string;
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  public readonly messageAgeAlarm: cloudwatch.Alarm;
  public readonly rejectedPackagesAlarm: cloudwatch.Alarm;
  /** The schedule rule of the reconcile, unless `reconcile` is false. */
  public readonly reconcileRule?: events.Rule;
  private readonly descriptor: FormatDescriptor;

  /**
   * @param owner the public repository construct (its id names the repository)
   */
  constructor(owner: Construct, id: string, props: RepositoryCoreProps) {
    super(owner, id);
    const { descriptor } = props;
    this.descriptor = descriptor;
    this.prefix = props.prefix ?? `${descriptor.format}/`;
    const timeout = props.indexerTimeout ?? Duration.minutes(5);
    const memorySize = props.indexerMemorySize ?? 2048;
    validate(owner, this.prefix, timeout, memorySize, props.messageAgeAlarmThreshold);
    validateSetupPath(owner, props.setupPath);
    validateReconcile(owner, props);
    validateRetention(owner, props.retention);
    const name = repositoryName(owner);
    // one group per repository: its index updates (and reconciles) run one batch at a time, in order
    const messageGroupId = `${descriptor.format}:${this.prefix}`;
    // the metrics' Repository dimension: the construct path, unique within the app
    const metricsName = owner.node.path;

    this.host = props.host ?? new RepositoryHost(owner, 'Host');
    this.host._addRepository({
      scope: owner,
      prefix: this.prefix,
      format: descriptor.format,
      manifestPatterns: descriptor.manifestPatterns,
      pacmanRepositories: descriptor.pacmanRepositories,
      name,
      private: props.access === RepositoryAccess.PRIVATE,
      apkKeyName: descriptor.rsaKeyName,
      setup: { ...descriptor.setup, ...(props.setupPath !== undefined ? { path: props.setupPath } : {}) },
    });
    this.bucket = this.host.bucket;
    this.distribution = this.host.distribution;
    this.repositoryUrl = `${this.host.url}${this.prefix}`;

    const key = (props.signingKey ?? SigningKey.generate()).bind(this, {
      keyType: descriptor.keyType,
      bucket: this.bucket,
      publicKeyPrefix: this.prefix,
      repositoryName: name,
      rsaKeyName: descriptor.rsaKeyName,
    });
    this.signingKeyParameterName = key.privateKeyParameterName;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      fifo: true,
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: true,
      // An EventBridge rule cannot set a MessageDeduplicationId: rule targets that are FIFO
      // queues need content-based deduplication. The body (see the rule target) is the
      // identity of one S3 change (bucket, key, sequencer), so a change delivered twice within
      // 5 minutes is queued once; later duplicates are harmless because the indexer treats
      // events as hints and re-reads the bucket (applyChanges HEADs every key).
      contentBasedDeduplication: true,
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    const rule = new events.Rule(this, 'UploadRule', {
      description: `cdk-package-repos: ${descriptor.format} package uploads and deletions under '${this.prefix}'`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created', 'Object Deleted'],
        detail: {
          bucket: { name: [this.bucket.bucketName] },
          // a wildcard is how one pattern says "starts with the prefix AND ends with a suffix"
          object: { key: descriptor.packageSuffixes.flatMap((suffix) => events.Match.wildcard(`${this.prefix}*${suffix}`)) },
        },
      },
    });
    rule.addTarget(new targets.SqsQueue(this.queue, {
      messageGroupId,
      message: events.RuleTargetInput.fromObject({
        'detail-type': events.EventField.detailType,
        'bucket': events.EventField.fromPath('$.detail.bucket.name'),
        'key': events.EventField.fromPath('$.detail.object.key'),
        'sequencer': events.EventField.fromPath('$.detail.object.sequencer'),
      }),
    }));

    this.indexer = this.createIndexer(props.indexerPackaging ?? IndexerPackaging.IMAGE, timeout, memorySize, owner);
    this.indexer.addEnvironment(IndexerEnv.FORMAT, descriptor.format);
    this.indexer.addEnvironment(IndexerEnv.FORMAT_OPTIONS, JSON.stringify(descriptor.formatOptions));
    this.indexer.addEnvironment(IndexerEnv.BUCKET_NAME, this.bucket.bucketName);
    this.indexer.addEnvironment(IndexerEnv.PREFIX, this.prefix);
    this.indexer.addEnvironment(
      descriptor.keyType === SigningKeyType.RSA ? IndexerEnv.RSA_KEY_PARAMETER : IndexerEnv.PGP_KEY_PARAMETER,
      key.privateKeyParameterName,
    );
    if (key.passphraseParameterName) this.indexer.addEnvironment(IndexerEnv.PASSPHRASE_PARAMETER, key.passphraseParameterName);
    this.indexer.addEnvironment(IndexerEnv.REPOSITORY_NAME, metricsName);
    if (props.sameVersionPolicy !== undefined) {
      this.indexer.addEnvironment(IndexerEnv.SAME_VERSION, props.sameVersionPolicy === SameVersionPolicy.REPLACE ? 'replace' : 'refuse');
    }
    if (props.retention) this.indexer.addEnvironment(IndexerEnv.RETENTION, retentionJson(this, props.retention));
    // events go to the account's default bus unless a bus is given (by ARN: it may be in another account)
    if (props.eventBus) this.indexer.addEnvironment(IndexerEnv.EVENT_BUS_NAME, props.eventBus.eventBusArn);
    (props.eventBus ?? events.EventBus.fromEventBusName(this, 'DefaultEventBus', 'default')).grantPutEventsTo(this.indexer);
    this.indexer.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }));
    if (key.dependable) this.indexer.node.addDependency(key.dependable);
    this.grantIndexer(key.privateKeyParameterArn, key.passphraseParameterArn, key.encryptionKey);

    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: `Upload events of ${owner.node.path} failed 5 times and reached the dead-letter queue: those packages are not indexed.`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const ageThreshold = props.messageAgeAlarmThreshold ?? Duration.hours(1);
    this.messageAgeAlarm = new cloudwatch.Alarm(this, 'MessageAgeAlarm', {
      alarmDescription: `The oldest upload event of ${owner.node.path} waits for more than ${ageThreshold.toHumanString()}: the indexer is failing or behind.`,
      metric: this.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: ageThreshold.toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    if (props.reconcile ?? true) {
      this.reconcileRule = new events.Rule(this, 'ReconcileRule', {
        description: `cdk-package-repos: reconcile of the ${descriptor.format} repository under '${this.prefix}' (indexes brought in line with the bucket)`,
        schedule: props.reconcileSchedule ?? events.Schedule.rate(Duration.days(1)),
      });
      this.reconcileRule.addTarget(new targets.SqsQueue(this.queue, {
        messageGroupId,
        // src/handlers/contract.ts ReconcileMessage; the time keeps content-based deduplication from dropping it
        message: events.RuleTargetInput.fromObject({ reconcile: true, time: events.EventField.time }),
      }));
      this.reconcileOnDeployment(messageGroupId, {
        code: indexerCodeFingerprint(),
        format: descriptor.format,
        formatOptions: descriptor.formatOptions,
        key: key.privateKeyParameterName,
        passphrase: key.passphraseParameterName,
        sameVersionPolicy: props.sameVersionPolicy,
        retention: props.retention && retentionJson(this, props.retention),
      });
    }

    this.rejectedPackagesAlarm = new cloudwatch.Alarm(this, 'RejectedPackagesAlarm', {
      alarmDescription: `The indexer of ${owner.node.path} rejected a package (unreadable, a duplicate version, changed bytes or outside the layout): `
        + 'it is not in the index. The indexer\'s Package Rejected events and log say which and why.',
      metric: new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: MetricName.REJECTED_PACKAGES,
        dimensionsMap: { [METRICS_DIMENSION]: metricsName },
        period: Duration.minutes(5),
        statistic: 'Sum',
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    new CfnOutput(this, 'RepositoryUrl', {
      description: `URL of the ${descriptor.format} repository ${owner.node.path}`,
      value: this.repositoryUrl,
    });
    new CfnOutput(this, 'ClientSetup', {
      description: `How a client uses the ${descriptor.format} repository ${owner.node.path}`,
      value: descriptor.clientSetup(this.repositoryUrl, name),
    });
    new CfnOutput(this, 'SetupCommand', {
      description: `Sets a machine up for the ${descriptor.format} repository ${owner.node.path} (key and source, idempotent)`,
      value: `curl -fsSL ${props.access === RepositoryAccess.PRIVATE ? '-u NAME:TOKEN ' : ''}${this.repositoryUrl}setup/setup.sh | sudo sh`,
    });
  }

  /** Lets `grantee` put and delete package files under the prefix. */
  public grantPublish(grantee: iam.IGrantable): iam.Grant {
    const objects = this.descriptor.publishPatterns.map((pattern) => this.bucket.arnForObjects(`${this.prefix}${pattern}`));
    const grant = iam.Grant.addToPrincipalOrResource({
      grantee,
      actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      resourceArns: objects,
      resource: this.bucket,
    });
    this.acknowledgeGrant(grantee, objects, 'grantPublish: package files (by name pattern) under the repository prefix, nothing else.');
    const keyGrant = this.bucket.encryptionKey?.grantEncrypt(grantee);
    return keyGrant ? grant.combine(keyGrant) : grant;
  }

  /** Lets `grantee` get every object under the prefix. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    const objects = this.bucket.arnForObjects(`${this.prefix}*`);
    const grant = iam.Grant.addToPrincipalOrResource({
      grantee,
      actions: ['s3:GetObject'],
      resourceArns: [objects],
      resource: this.bucket,
    });
    this.acknowledgeGrant(grantee, [objects], 'grantRead: every object of the repository (packages, indexes, keys) under its prefix, read only.');
    const keyGrant = this.bucket.encryptionKey?.grantDecrypt(grantee);
    return keyGrant ? grant.combine(keyGrant) : grant;
  }

  /** The wildcards of a grant are the grant's meaning: acknowledge them on the grantee. */
  private acknowledgeGrant(grantee: iam.IGrantable, arns: string[], reason: string): void {
    const principal = grantee.grantPrincipal;
    if (!Construct.isConstruct(principal)) return;
    acknowledge(principal, Object.fromEntries(arns.map((arn) => [wildcardResourceFinding(this, arn), reason])));
  }

  /**
   * A reconcile right after every deployment that changes what the indexer does (its code, its
   * format options, its key, its policies): the repository is brought in line at once, and is
   * published again when its manifests were signed with another key or by an earlier version,
   * instead of at the next upload or scheduled run. The message goes into the repository's
   * FIFO group, after the indexer and its event source exist.
   */
  private reconcileOnDeployment(messageGroupId: string, deployment: Record<string, unknown>): void {
    const send: cr.AwsSdkCall = {
      service: 'SQS',
      action: 'sendMessage',
      parameters: {
        QueueUrl: this.queue.queueUrl,
        MessageGroupId: messageGroupId,
        // src/handlers/contract.ts ReconcileMessage; a new deployment is a new body (content-based deduplication)
        MessageBody: Stack.of(this).toJsonString({ reconcile: true, time: 'deployment', deployment }),
      },
      physicalResourceId: cr.PhysicalResourceId.of('reconcile-on-deployment'),
    };
    const resource = new cr.AwsCustomResource(this, 'ReconcileOnDeployment', {
      resourceType: 'Custom::PackageRepositoryReconcile',
      onCreate: send,
      onUpdate: send,
      policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] })]),
      installLatestAwsSdk: false,
    });
    resource.node.addDependency(this.indexer);
    // the one function aws-cdk-lib shares between every AwsCustomResource of the stack: the scope of its role
    const singleton = (resource.grantPrincipal as iam.Role).node.scope;
    if (singleton) {
      acknowledge(singleton, {
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
          'The AwsCustomResource function of aws-cdk-lib writes only its own logs; its SQS permission is the policy of each resource, on its queue alone.',
        'AwsSolutions-L1': 'The AwsCustomResource function of aws-cdk-lib chooses its own runtime.',
      });
    }
  }

  private createIndexer(packaging: IndexerPackaging, timeout: Duration, memorySize: number, owner: IConstruct): lambda.Function {
    const { role, logGroup } = new FunctionRole(this, 'IndexerExecution');
    const dir = assetDirectory('indexer');
    const common = {
      description: `cdk-package-repos: ${this.descriptor.format} indexer of ${owner.node.path}`.slice(0, 256),
      role,
      logGroup,
      memorySize,
      timeout,
      architecture: lambda.Architecture.X86_64,
    };
    if (packaging.name === IndexerPackaging.ZIP.name) {
      const fn = new lambda.Function(this, 'Indexer', {
        ...common,
        runtime: lambda.Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: lambda.Code.fromAsset(dir, { exclude: ['Dockerfile'] }),
        environment: { NODE_OPTIONS: '--enable-source-maps' },
      });
      acknowledge(fn, {
        'AwsSolutions-L1': 'Node.js 22 is the runtime the bundle targets and the one the container variant of the same bundle runs on.',
      });
      return fn;
    }
    return new lambda.DockerImageFunction(this, 'Indexer', {
      ...common,
      code: lambda.DockerImageCode.fromImageAsset(dir, { platform: ecr_assets.Platform.LINUX_AMD64 }),
    });
  }

  private grantIndexer(keyArn: string, passphraseArn: string | undefined, encryptionKey: kms.IKey | undefined): void {
    const role = this.indexer.role!;
    const objects = this.bucket.arnForObjects(`${this.prefix}*`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      resources: [objects],
    }));
    // ListBucket on the whole bucket, not limited by an s3:prefix condition: S3 answers a HEAD of
    // a missing key with 404 only to callers that may list the bucket (403 otherwise), and the
    // engine HEADs every changed key to tell uploads from deletions.
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
    }));
    this.bucket.encryptionKey?.grantEncryptDecrypt(role);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ssm:GetParameter'],
      resources: [keyArn, ...(passphraseArn ? [passphraseArn] : [])],
    }));
    if (encryptionKey) role.addToPrincipalPolicy(viaSsm(Stack.of(this), encryptionKey, ['kms:Decrypt']));
    acknowledge(role, {
      [wildcardResourceFinding(this, objects)]: 'The indexer reads packages and writes and garbage-collects index files anywhere under its own repository prefix.',
    });
  }
}

function validate(scope: IConstruct, prefix: string, timeout: Duration, memorySize: number, ageThreshold?: Duration): void {
  const where = scope.node.path;
  if (Token.isUnresolved(prefix)) {
    throw new Error(`${where}: prefix must be a literal string (it is baked into the edge function at synth)`);
  }
  if (!PREFIX.test(prefix) || prefix.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new Error(
      `${where}: invalid prefix ${JSON.stringify(prefix)}: use '' or path segments of letters, digits, '.', '_', '-', `
      + 'each ending in \'/\' (e.g. \'yum/\' or \'linux/apt/\'), without a leading \'/\'',
    );
  }
  if (prefix.length > MAX_PREFIX_LENGTH) throw new Error(`${where}: prefix is longer than ${MAX_PREFIX_LENGTH} characters`);
  if (!timeout.isUnresolved() && (timeout.toSeconds() < 1 || timeout.toSeconds() > 900)) {
    throw new Error(`${where}: indexerTimeout must be between 1 second and 15 minutes, got ${timeout.toHumanString()}`);
  }
  if (!Token.isUnresolved(memorySize) && (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240)) {
    throw new Error(`${where}: indexerMemorySize must be a whole number of MiB between 128 and 10240, got ${memorySize}`);
  }
  if (ageThreshold && !ageThreshold.isUnresolved() && ageThreshold.toSeconds() < 60) {
    throw new Error(`${where}: messageAgeAlarmThreshold must be at least 1 minute, got ${ageThreshold.toHumanString()}`);
  }
}

let indexerCode: string | undefined;

/** A fingerprint of the indexer's code (its bundle and Dockerfile), computed once per process. */
function indexerCodeFingerprint(): string {
  indexerCode ??= FileSystem.fingerprint(assetDirectory('indexer'));
  return indexerCode;
}

function validateReconcile(scope: IConstruct, props: RepositoryProps): void {
  if (props.reconcile === false && props.reconcileSchedule !== undefined) {
    throw new Error(`${scope.node.path}: reconcileSchedule is given but reconcile is false: drop one of them`);
  }
}

function validateRetention(scope: IConstruct, retention: RetentionOptions | undefined): void {
  if (!retention || Token.isUnresolved(retention.keepVersions)) return;
  if (!Number.isInteger(retention.keepVersions) || retention.keepVersions < 1) {
    throw new Error(`${scope.node.path}: retention.keepVersions must be a whole number of at least 1, got ${retention.keepVersions}`);
  }
}

/** The indexer's RETENTION variable (src/handlers/policies.ts reads it); tokens resolve at deploy. */
function retentionJson(scope: IConstruct, retention: RetentionOptions): string {
  return Stack.of(scope).toJsonString({ keepVersions: retention.keepVersions, deleteObjects: retention.deleteObjects ?? false });
}

function validateSetupPath(scope: IConstruct, setupPath: string | undefined): void {
  if (setupPath === undefined) return;
  if (Token.isUnresolved(setupPath)) throw new Error(`${scope.node.path}: setupPath must be a literal string (it is baked into the edge function at synth)`);
  if (!/^([A-Za-z0-9$._+-]+\/)*$/.test(setupPath) || setupPath.split('/').some((s) => s === '.' || s === '..')) {
    throw new Error(
      `${scope.node.path}: invalid setupPath ${JSON.stringify(setupPath)}: use '' or path segments of letters, digits, '$', '.', '_', '+', '-', `
      + 'each ending in \'/\' (e.g. \'el/$releasever/$basearch/\')',
    );
  }
}

/** A file-name-safe name for the repository, from its construct id: `My Repo` → `my-repo`. */
function repositoryName(scope: IConstruct): string {
  return scope.node.id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'repository';
}
