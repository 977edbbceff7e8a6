import { Match } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { bakedEdgeConfig, newStack, templates } from './support';
import { ApkRepository, AptRepository, PacmanRepository, YumRepository, type IPackageRepository } from '../../src';

interface Case {
  readonly name: string;
  readonly create: (scope: Construct, id: string) => IPackageRepository;
  readonly prefix: string;
  readonly keyKind: 'openpgp' | 'rsa';
  readonly wildcards: string[];
  readonly manifestPatterns: string[];
}

const cases: Case[] = [
  {
    name: 'YumRepository',
    create: (scope, id) => new YumRepository(scope, id),
    prefix: 'yum/',
    keyKind: 'openpgp',
    wildcards: ['yum/*.rpm'],
    manifestPatterns: ['yum/*repomd.xml*'],
  },
  {
    name: 'AptRepository',
    create: (scope, id) => new AptRepository(scope, id),
    prefix: 'apt/',
    keyKind: 'openpgp',
    wildcards: ['apt/*.deb'],
    manifestPatterns: ['apt/dists/*'],
  },
  {
    name: 'ApkRepository',
    create: (scope, id) => new ApkRepository(scope, id),
    prefix: 'apk/',
    keyKind: 'rsa',
    wildcards: ['apk/*.apk'],
    manifestPatterns: ['apk/*APKINDEX.tar.gz'],
  },
  {
    name: 'PacmanRepository',
    create: (scope, id) => new PacmanRepository(scope, id),
    prefix: 'pacman/',
    keyKind: 'openpgp',
    wildcards: ['pacman/*.pkg.tar.zst', 'pacman/*.pkg.tar.xz', 'pacman/*.pkg.tar.gz'],
    manifestPatterns: ['pacman/*.db*', 'pacman/*.files*'],
  },
];

/** GIVEN a stack in eu-west-1 WHEN the repository is created with zero props: the synthesized stacks. */
function synthZeroProps(c: Case) {
  const { app, stack } = newStack();
  const repository = c.create(stack, 'Repo');
  return { app, stack, repository, ...templates(app, stack) };
}

describe.each(cases)('$name with zero props', (c) => {
  const { app, main, edge, repository } = synthZeroProps(c);

  it('keeps packages in a private, versioned, SSL-only, encrypted bucket with EventBridge notifications', () => {
    main.resourceCountIs('AWS::S3::Bucket', 1);
    main.hasResourceProperties('AWS::S3::Bucket', {
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
      },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' })]),
      },
    });
    main.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        })]),
      },
    });
    // no bucket-notifications custom resource: EventBridge is a property of the bucket
    main.resourceCountIs('Custom::S3BucketNotifications', 0);
  });

  it('routes package uploads and deletions under its prefix to a FIFO queue, one message group', () => {
    main.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'source': ['aws.s3'],
        'detail-type': ['Object Created', 'Object Deleted'],
        'detail': {
          bucket: { name: [{ Ref: Match.anyValue() }] },
          object: { key: c.wildcards.map((wildcard) => ({ wildcard })) },
        },
      },
      Targets: [Match.objectLike({
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RepoQueue'), 'Arn'] },
        SqsParameters: { MessageGroupId: `${c.name.replace('Repository', '').toLowerCase()}:${c.prefix}` },
        InputTransformer: {
          InputPathsMap: Match.objectLike({ 'detail-object-key': '$.detail.object.key', 'detail-object-sequencer': '$.detail.object.sequencer' }),
          InputTemplate: Match.stringLikeRegexp('"key":<detail-object-key>'),
        },
      })],
    });
  });

  it('has a FIFO queue with a FIFO dead-letter queue after 5 receives, visibility 6 x the function timeout', () => {
    main.resourceCountIs('AWS::SQS::Queue', 2);
    main.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: true,
      VisibilityTimeout: 6 * 300,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RepoDeadLetterQueue'), 'Arn'] }, maxReceiveCount: 5 },
    });
    main.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, RedrivePolicy: Match.absent() });
  });

  it('alarms on dead letters, on the age of the oldest message and on rejected packages', () => {
    main.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    main.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RepoDeadLetterQueue'), 'QueueName'] } }],
    });
    main.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 3600,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    main.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'RejectedPackages',
      Namespace: 'PackageRepositories',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(repository.deadLetterAlarm).toBeDefined();
    expect(repository.messageAgeAlarm).toBeDefined();
    expect(repository.rejectedPackagesAlarm).toBeDefined();
  });

  it('indexes with a container-image function fed by the queue, reporting partial batch failures', () => {
    main.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      Code: { ImageUri: Match.anyValue() },
      MemorySize: 2048,
      Timeout: 300,
      Environment: {
        Variables: Match.objectLike({
          FORMAT: c.name.replace('Repository', '').toLowerCase(),
          PREFIX: c.prefix,
          [c.keyKind === 'rsa' ? 'RSA_KEY_PARAMETER' : 'PGP_KEY_PARAMETER']: Match.stringLikeRegexp(`^/cdk-package-repos/Repos/.*/${c.keyKind}-private-key$`),
        }),
      },
    });
    main.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RepoQueue'), 'Arn'] },
    });
  });

  it('generates the signing key into a SecureString parameter with a custom resource, readable by the indexer only', () => {
    main.hasResourceProperties('Custom::PackageRepositorySigningKey', {
      KeyKind: c.keyKind,
      ParameterName: Match.stringLikeRegexp(`${c.keyKind}-private-key$`),
      PublicKeyPrefix: `${c.prefix}keys/`,
      RemovalPolicy: 'retain',
    });
    // the keygen function may put (not overwrite: the handler says Overwrite=false) and read the parameter
    main.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: ['ssm:PutParameter', 'ssm:GetParameter'] })]),
      },
    });
    const readers = Object.values(main.findResources('AWS::IAM::Policy')).filter((policy) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes('"ssm:GetParameter"'));
    // the keygen policy (reads back an existing key) and the indexer's role policy
    expect(readers).toHaveLength(2);
  });

  it('serves through CloudFront with Origin Access Control, HTTPS only, and the origin-request edge function', () => {
    main.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    main.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Origins: [Match.objectLike({ OriginAccessControlId: { 'Fn::GetAtt': [Match.anyValue(), 'Id'] } })],
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: 'redirect-to-https',
          CachePolicyId: '658327ea-f89d-4fab-a63d-7e88639e58f6', // CachingOptimized: packages and hash-named files
          LambdaFunctionAssociations: [
            { EventType: 'origin-request', LambdaFunctionARN: Match.anyValue() },
            { EventType: 'origin-response', LambdaFunctionARN: Match.anyValue() },
          ],
        }),
      }),
    });
    edge.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs22.x', Handler: 'index.handler' });
    expect(bakedEdgeConfig(app)).toMatchObject({ repositories: [{ prefix: c.prefix, format: c.name.replace('Repository', '').toLowerCase(), name: 'repo' }] });
  });

  it('caches the fixed-name manifests for a short time in their own behaviours', () => {
    main.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({ DefaultTTL: 60, MaxTTL: 60, MinTTL: 0 }),
    });
    const distribution = Object.values(main.findResources('AWS::CloudFront::Distribution'))[0];
    const all = distribution.Properties.DistributionConfig.CacheBehaviors as Array<Record<string, any>>;
    // the generated setup files have a behaviour of their own, first (see test/edge/constructs.test.ts)
    expect(all[0].PathPattern).toBe(`${c.prefix}setup/*`);
    const behaviors = all.slice(1);
    expect(behaviors.map((b) => b.PathPattern)).toEqual(c.manifestPatterns);
    for (const behavior of behaviors) {
      expect(behavior.CachePolicyId).toEqual({ Ref: expect.stringMatching(/ManifestCachePolicy/) });
      expect(behavior.ViewerProtocolPolicy).toBe('redirect-to-https');
      expect(behavior.LambdaFunctionAssociations[0].EventType).toBe('origin-request');
    }
  });

  it('outputs the repository URL and the client setup line', () => {
    const outputs = main.findOutputs('*');
    const keys = Object.keys(outputs);
    expect(keys.some((k) => /RepositoryUrl/.test(k))).toBe(true);
    expect(keys.some((k) => /ClientSetup/.test(k))).toBe(true);
    const url = Object.entries(outputs).find(([k]) => /RepositoryUrl/.test(k))![1].Value;
    expect(JSON.stringify(url)).toContain(`/${c.prefix}`);
  });
});

describe('the edge function stack', () => {
  it('is in us-east-1 and its version ARN reaches the distribution through a cross-region reader', () => {
    // GIVEN / WHEN
    const { app, stack } = newStack();
    new YumRepository(stack, 'Repo');
    const { main, edge } = templates(app, stack);
    // THEN
    edge.resourceCountIs('AWS::Lambda::Version', 1);
    const [role] = Object.values(edge.findResources('AWS::IAM::Role'));
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).toContain('edgelambda.amazonaws.com');
    main.resourceCountIs('Custom::CrossRegionStringParameterReader', 1);
  });

  it('gets a new version when the configuration it bakes in changes', () => {
    const versionOf = (prefix: string) => {
      const { app, stack } = newStack();
      new YumRepository(stack, 'Repo', { prefix });
      return Object.keys(templates(app, stack).edge.findResources('AWS::Lambda::Version'))[0];
    };
    expect(versionOf('a/')).not.toEqual(versionOf('b/'));
    expect(versionOf('a/')).toEqual(versionOf('a/'));
  });
});

describe('client setup lines', () => {
  it.each<[string, (scope: Construct) => IPackageRepository, string[]]>([
    ['yum', (scope) => new YumRepository(scope, 'Rpm'), ['/etc/yum.repos.d/rpm.repo', 'repo_gpgcheck=1', '/yum/keys/repository.asc']],
    ['apt', (scope) => new AptRepository(scope, 'Deb', { distribution: 'bookworm' }), [
      'signed-by=/etc/apt/keyrings/deb.gpg', '/apt/keys/repository.gpg', '/apt/ bookworm main', '/etc/apt/sources.list.d/deb.list',
    ]],
    ['apk', (scope) => new ApkRepository(scope, 'Alpine', { keyName: 'ops.rsa.pub' }), ['/etc/apk/keys/ops.rsa.pub', '/apk/keys/ops.rsa.pub', '/etc/apk/repositories']],
    ['pacman', (scope) => new PacmanRepository(scope, 'Arch', { repositoryName: 'extra' }), [
      'pacman-key --lsign-key', '[extra]', 'SigLevel = PackageOptional DatabaseRequired', '/pacman/extra/os/$arch',
    ]],
  ])('%s', (_name, create, fragments) => {
    // GIVEN / WHEN
    const { app, stack } = newStack();
    create(stack);
    // THEN the ClientSetup output holds the fragments, around the distribution's domain
    const outputs = templates(app, stack).main.findOutputs('*');
    const setup = JSON.stringify(Object.entries(outputs).find(([k]) => /ClientSetup/.test(k))![1].Value);
    expect(setup).toContain('DomainName');
    for (const fragment of fragments) expect(setup).toContain(fragment);
  });
});
