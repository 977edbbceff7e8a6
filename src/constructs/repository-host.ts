import { Annotations, ArnFormat, AspectPriority, Aspects, Aws, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, wildcardResourceFinding } from './acknowledge';
import { DeferredAssetCode, edgeAssetDirectory } from './edge-code';
import type { HostedRepository } from './hosted-repository';
import type { EdgeConfig, EdgeRepository } from '../edge/router';

/**
 * Properties of a RepositoryHost.
 */
export interface RepositoryHostProps {
  /**
   * The bucket to keep packages and indexes in. It gets EventBridge notifications turned on;
   * the distribution reads it through Origin Access Control (for a bucket of another stack or
   * account, add the distribution's read grant to its policy yourself).
   *
   * @default - a private, versioned, SSL-only, S3-encrypted bucket with EventBridge
   *   notifications
   */
  readonly bucket?: s3.IBucket;

  /**
   * Alternative domain names of the distribution, e.g. `packages.example.com`. Needs
   * `certificate`.
   *
   * @default - the distribution's own `*.cloudfront.net` domain
   */
  readonly domainNames?: string[];

  /**
   * The certificate for `domainNames`, in us-east-1 (CloudFront's requirement).
   *
   * @default - no custom domain
   */
  readonly certificate?: acm.ICertificate;

  /**
   * A bucket for access logs: S3 server access logs of the created bucket (prefix `s3/`) and
   * CloudFront standard logs (prefix `cloudfront/`; the bucket must allow ACLs, as CloudFront
   * standard logging requires).
   *
   * @default - no access logs
   */
  readonly accessLogsBucket?: s3.IBucket;

  /**
   * How long CloudFront may cache the fixed-name manifests (InRelease, Packages,
   * APKINDEX.tar.gz, directory pages), which change on every publish. Packages and hash-named
   * files are cached long. At most this long after a publish, every client sees it. yum's
   * repomd.xml and pacman's databases, which clients check against a detached signature, are
   * revalidated on every request instead, with their signature, so that the two always match.
   *
   * @default Duration.seconds(60)
   */
  readonly manifestCacheTtl?: Duration;

  /**
   * How long replaced and deleted object versions of the created bucket are kept (undo for
   * an accidental overwrite or delete).
   *
   * @default Duration.days(30)
   */
  readonly noncurrentVersionExpiration?: Duration;

  /**
   * What happens to the created bucket when the host is removed from the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Empty the created bucket (every version) when it is deleted, so that
   * `RemovalPolicy.DESTROY` can delete it. Adds a custom resource.
   *
   * @default false
   */
  readonly autoDeleteObjects?: boolean;

  /**
   * The SSM Parameter Store path (in the host's region) under which the read tokens of its
   * private repositories live, one String parameter per token holding its salted hash
   * (`pkgrepo token add NAME --ssm-path PATH` writes one). The edge function reads the path;
   * tokens change without a deployment. Starts and ends with '/'.
   *
   * @default - `/cdk-package-repos/<unique id of the host>/tokens/`
   */
  readonly tokenParameterPath?: string;

  /**
   * How long an edge function instance keeps the tokens it read: a new token works, and a
   * removed one stops working, at most this long after the change.
   *
   * @default Duration.minutes(1)
   */
  readonly tokenCacheTtl?: Duration;
}

/**
 * A bucket and a CloudFront distribution (with an origin-request Lambda@Edge function) that
 * one or more package repositories are served from, each under its own prefix.
 *
 * The stack must have an explicit region: the edge function is deployed to us-east-1 by a
 * stack that aws-cdk-lib adds to the app (`cloudfront.experimental.EdgeFunction`).
 */
export class RepositoryHost extends Construct {
  /** The bucket holding every repository of the host. */
  public readonly bucket: s3.IBucket;

  /** The CloudFront distribution serving the bucket. */
  public readonly distribution: cloudfront.Distribution;

  /** The origin-request function that maps request paths to objects. */
  public readonly edgeFunction: cloudfront.experimental.EdgeFunction;

  /** The domain clients use: the first of `domainNames`, else the distribution's domain. */
  public readonly domainName: string;

  /** `https://<domainName>/`. */
  public readonly url: string;

  /** The SSM parameter path of the read tokens of private repositories (see `tokenParameterPath`). */
  public readonly tokenParameterPath: string;

  private readonly repositories: HostedRepository[] = [];
  private readonly origin: cloudfront.IOrigin;
  private readonly edgeCode = new DeferredAssetCode();
  private readonly manifestCachePolicy: cloudfront.ICachePolicy;
  private readonly manifestCacheTtl: Duration;
  private readonly tokenCacheTtl: Duration;
  private tokenReadGranted = false;

  constructor(scope: Construct, id: string, props: RepositoryHostProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    if (Token.isUnresolved(stack.region)) {
      throw new Error(
        `RepositoryHost ${this.node.path} needs a stack with an explicit region (env: { region }): `
        + 'its Lambda@Edge function is deployed to us-east-1 by a separate stack, which needs to know where the distribution is',
      );
    }
    if ((props.domainNames?.length ?? 0) > 0 !== (props.certificate !== undefined)) {
      throw new Error('domainNames and certificate go together: give both for a custom domain, or neither');
    }
    if (props.bucket) {
      const ownBucketOnly = (['noncurrentVersionExpiration', 'removalPolicy', 'autoDeleteObjects'] as const)
        .filter((name) => props[name] !== undefined);
      if (ownBucketOnly.length > 0) {
        throw new Error(`${ownBucketOnly.join(', ')} configure the bucket the host creates: remove them or the bucket prop`);
      }
    }
    const ttl = props.manifestCacheTtl ?? Duration.seconds(60);
    if (!ttl.isUnresolved() && (ttl.toSeconds() < 1 || ttl.toSeconds() > 3600)) {
      throw new Error(`manifestCacheTtl must be between 1 second and 1 hour, got ${ttl.toHumanString()}`);
    }
    this.manifestCacheTtl = ttl;
    this.tokenCacheTtl = props.tokenCacheTtl ?? Duration.minutes(1);
    if (!this.tokenCacheTtl.isUnresolved() && this.tokenCacheTtl.toSeconds() > 3600) {
      throw new Error(`tokenCacheTtl must be at most 1 hour, got ${this.tokenCacheTtl.toHumanString()}`);
    }
    this.tokenParameterPath = props.tokenParameterPath ?? `/cdk-package-repos/${Names.uniqueId(this)}/tokens/`;
    if (Token.isUnresolved(this.tokenParameterPath) || !/^\/([A-Za-z0-9_.-]+\/)+$/.test(this.tokenParameterPath) || this.tokenParameterPath.length > 900) {
      throw new Error(`tokenParameterPath must be a literal SSM parameter path starting and ending with '/', got ${JSON.stringify(this.tokenParameterPath)}`);
    }

    this.bucket = props.bucket ?? this.createBucket(props);
    if (props.bucket) props.bucket.enableEventBridgeNotification();

    this.origin = origins.S3BucketOrigin.withOriginAccessControl(this.bucket, {
      // ListBucket makes S3 answer 404 (not 403) for a missing key, which clients handle as
      // "not there"; the edge function only lets paths under repository prefixes through.
      originAccessLevels: [cloudfront.AccessLevel.READ, cloudfront.AccessLevel.LIST],
    });

    // EdgeFunction creates the function in a us-east-1 stack shared by the whole stack, under
    // this very id: make it unique per host so that several hosts in one stack can coexist
    this.edgeFunction = new cloudfront.experimental.EdgeFunction(this, `OriginRequest${Names.uniqueId(this)}`, {
      description: `cdk-package-repos: path rules of ${this.node.path}`.slice(0, 256),
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: this.edgeCode,
      memorySize: 128,
      timeout: Duration.seconds(5),
    });

    // Short TTL rather than an invalidation after each publish: no CloudFront permission for
    // the indexer, no invalidation cost per upload, and staleness is bounded by the TTL. The
    // origin's Cache-Control (max-age=30 on manifests) applies below the maximum.
    this.manifestCachePolicy = new cloudfront.CachePolicy(this, 'ManifestCachePolicy', {
      comment: 'cdk-package-repos: fixed-name repository manifests (repomd.xml, InRelease, APKINDEX, pacman db)',
      minTtl: Duration.seconds(0),
      defaultTtl: ttl,
      maxTtl: ttl,
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `cdk-package-repos ${this.node.path}`.slice(0, 128),
      // packages and hash-named metadata never change under their name: cache long
      defaultBehavior: { origin: this.origin, ...this.behavior(cloudfront.CachePolicy.CACHING_OPTIMIZED, this.edgeLambdas(['origin-request', 'origin-response'])) },
      // the edge function maps '/' there too; this keeps a bucket listing out of reach regardless
      defaultRootObject: 'index.html',
      domainNames: props.domainNames,
      certificate: props.certificate,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: props.accessLogsBucket !== undefined,
      logBucket: props.accessLogsBucket,
      logFilePrefix: props.accessLogsBucket ? 'cloudfront/' : undefined,
    });
    this.domainName = props.domainNames?.[0] ?? this.distribution.distributionDomainName;
    this.url = `https://${this.domainName}/`;

    // the edge configuration is complete only when every repository is constructed
    Aspects.of(this).add({
      visit: (node) => {
        if (node === this) this.edgeCode.materialize(edgeAssetDirectory(this.edgeConfig()));
      },
    }, { priority: AspectPriority.MUTATING });

    this.acknowledgeFindings(props);
  }

  /**
   * Serve a repository from this host (called by the repository constructs).
   * @internal
   */
  public _addRepository(repository: HostedRepository): void {
    for (const other of this.repositories) {
      if (repository.prefix.startsWith(other.prefix) || other.prefix.startsWith(repository.prefix)) {
        throw new Error(
          `the prefix '${repository.prefix}' of ${repository.scope.node.path} overlaps the prefix '${other.prefix}' of `
          + `${other.scope.node.path} on ${this.node.path}: repositories sharing a host need distinct, non-nested prefixes`,
        );
      }
    }
    this.repositories.push(repository);
    const { prefix } = repository;
    // the viewer request checks tokens (before the cache: a cached object is never served
    // without one) and generates the setup files, which depend on the Host the viewer asked for
    const objects: EdgeEvent[] = repository.private ? ['viewer-request', 'origin-request', 'origin-response'] : ['origin-request', 'origin-response'];
    this.distribution.addBehavior(`${prefix}setup/*`, this.origin, this.behavior(cloudfront.CachePolicy.CACHING_DISABLED, this.edgeLambdas(['viewer-request'])));
    for (const pattern of repository.manifestPatterns) {
      this.distribution.addBehavior(`${prefix}${pattern}`, this.origin, this.behavior(this.manifestCachePolicy, this.edgeLambdas(objects)));
    }
    if (repository.private) {
      if (prefix === '') this.checkTokensOnDefaultBehavior(objects);
      else this.distribution.addBehavior(`${prefix}*`, this.origin, this.behavior(cloudfront.CachePolicy.CACHING_OPTIMIZED, this.edgeLambdas(objects)));
      this.grantEdgeTokenRead();
    }
  }

  /**
   * Lets `grantee` add, remove and list the read tokens of the host's private repositories
   * (what `pkgrepo token --ssm-path` does).
   */
  public grantManageTokens(grantee: iam.IGrantable): iam.Grant {
    const arns = this.tokenParameterArns();
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:PutParameter', 'ssm:DeleteParameter', 'ssm:GetParameter', 'ssm:GetParametersByPath'],
      resourceArns: arns,
    });
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      acknowledge(principal, { [wildcardResourceFinding(this, arns[1])]: 'grantManageTokens: the token parameters of the host (one per token, under its path), nothing else.' });
    }
    return grant;
  }

  /** The token path itself (GetParametersByPath) and every parameter under it. */
  private tokenParameterArns(): string[] {
    const stack = Stack.of(this);
    const arn = (name: string) => stack.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: name,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      // the edge function's stack (us-east-1, same account) reads this: no cross-stack reference
      account: Token.isUnresolved(stack.account) ? Aws.ACCOUNT_ID : stack.account,
    });
    const path = this.tokenParameterPath.slice(1);
    return [arn(path.slice(0, -1)), arn(`${path}*`)];
  }

  private grantEdgeTokenRead(): void {
    if (this.tokenReadGranted) return;
    this.tokenReadGranted = true;
    const arns = this.tokenParameterArns();
    this.edgeFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:GetParametersByPath'], resources: arns }));
    acknowledge(this.edgeFunction.lambda, {
      [wildcardResourceFinding(this, arns[1])]: 'The edge function reads the read-token parameters of the host (one per token, under its path) to check requests for private repositories.',
    });
  }

  /** A private repository at the root: every path, the default behaviour's too (rendered at construction: overridden). */
  private checkTokensOnDefaultBehavior(events: readonly EdgeEvent[]): void {
    const cfn = this.distribution.node.defaultChild as cloudfront.CfnDistribution;
    cfn.addPropertyOverride('DistributionConfig.DefaultCacheBehavior.LambdaFunctionAssociations', this.edgeLambdas(events).map((association) => ({
      EventType: association.eventType,
      LambdaFunctionARN: association.functionVersion.edgeArn,
    })));
  }

  private edgeConfig(): EdgeConfig {
    const ttl = this.manifestCacheTtl;
    const tokenTtl = this.tokenCacheTtl;
    return {
      repositories: this.repositories.map(edgeRepository),
      ...(this.repositories.some((r) => r.private) ? {
        tokens: {
          ssmRegion: Stack.of(this).region,
          ssmParameterPath: this.tokenParameterPath,
          ...(tokenTtl.isUnresolved() ? {} : { cacheSeconds: tokenTtl.toSeconds() }),
        },
      } : {}),
      ...(ttl.isUnresolved() ? {} : { manifestMaxAge: ttl.toSeconds() }),
    };
  }

  private edgeLambdas(events: readonly EdgeEvent[]): cloudfront.EdgeLambda[] {
    const types: Record<EdgeEvent, cloudfront.LambdaEdgeEventType> = {
      'viewer-request': cloudfront.LambdaEdgeEventType.VIEWER_REQUEST,
      'origin-request': cloudfront.LambdaEdgeEventType.ORIGIN_REQUEST,
      'origin-response': cloudfront.LambdaEdgeEventType.ORIGIN_RESPONSE,
    };
    return events.map((event) => ({ functionVersion: this.edgeFunction.currentVersion, eventType: types[event] }));
  }

  private behavior(cachePolicy: cloudfront.ICachePolicy, edgeLambdas: cloudfront.EdgeLambda[]): cloudfront.AddBehaviorOptions {
    return {
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachePolicy,
      compress: true,
      edgeLambdas,
    };
  }

  private createBucket(props: RepositoryHostProps): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      versioned: true,
      lifecycleRules: [{
        id: 'ExpireNoncurrentVersions',
        noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
        expiredObjectDeleteMarker: true,
        abortIncompleteMultipartUploadAfter: Duration.days(7),
      }],
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: props.accessLogsBucket ? 's3/' : undefined,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      autoDeleteObjects: props.autoDeleteObjects,
    });
    // EventBridge on through the bucket's own CloudFormation property: `eventBridgeEnabled`
    // would add aws-cdk-lib's bucket-notifications custom resource (a Lambda) for the same effect.
    (bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    return bucket;
  }

  private acknowledgeFindings(props: RepositoryHostProps): void {
    if (!props.accessLogsBucket) {
      acknowledge(this, {
        'AwsSolutions-S1': 'Server access logging is opt-in (accessLogsBucket): it needs a separate bucket the user owns.',
        'AwsSolutions-CFR3': 'CloudFront access logging is opt-in (accessLogsBucket): it needs a bucket with ACLs the user owns.',
      });
    }
    Annotations.of(this.distribution).acknowledgeWarning(
      '@aws-cdk/aws-cloudfront-origins:listBucketSecurityRisk',
      'The edge function answers only paths under repository prefixes and maps directories to index.html, query strings never '
      + 'reach S3, and defaultRootObject is set: no request becomes a bucket listing. ListBucket makes S3 answer 404 for a missing key.',
    );
    acknowledge(this.distribution, {
      'AwsSolutions-CFR1': 'Package repositories serve clients world-wide; geo restriction is the user\'s choice on the distribution.',
      'AwsSolutions-CFR2': 'Read-only static content behind OAC; a WAF web ACL is the user\'s choice (distribution.attachWebAclId).',
      ...(props.domainNames ? {} : {
        'AwsSolutions-CFR4': 'Without a custom domain CloudFront uses its default certificate, which cannot enforce a minimum TLS version.',
      }),
    });
    acknowledge(this.edgeFunction.lambda, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
        'Lambda@Edge writes logs to log groups in every edge region, created on demand; the managed policy grants only that.',
      'AwsSolutions-L1': 'Node.js 22 is a runtime Lambda@Edge supports and the one the edge bundle targets.',
    });
  }
}

/** The Lambda@Edge events the host's function handles. */
type EdgeEvent = 'viewer-request' | 'origin-request' | 'origin-response';

function edgeRepository(repository: HostedRepository): EdgeRepository {
  const setup = Object.keys(repository.setup).length > 0 ? { setup: repository.setup } : {};
  return {
    prefix: repository.prefix,
    format: repository.format,
    ...(repository.pacmanRepositories ? { pacmanRepositories: repository.pacmanRepositories } : {}),
    name: repository.name,
    ...(repository.private ? { private: true } : {}),
    ...(repository.apkKeyName ? { apkKeyName: repository.apkKeyName } : {}),
    ...setup,
  };
}
