import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { bakedEdgeConfig, newStack, templates } from './support';
import { ApkRepository, AptRepository, PacmanRepository, RepositoryHost, YumRepository } from '../../src';

describe('four repositories on one RepositoryHost', () => {
  // GIVEN one host
  const { app, stack } = newStack();
  const host = new RepositoryHost(stack, 'Host');
  // WHEN all four formats share it under their default prefixes (pacman with a fixed repo name)
  const yum = new YumRepository(stack, 'Yum', { host });
  new AptRepository(stack, 'Apt', { host });
  new ApkRepository(stack, 'Apk', { host });
  new PacmanRepository(stack, 'Pacman', { host, repositoryName: 'extra' });
  const { main, edge } = templates(app, stack);

  it('has exactly one bucket, one distribution and one edge function', () => {
    main.resourceCountIs('AWS::S3::Bucket', 1);
    main.resourceCountIs('AWS::CloudFront::Distribution', 1);
    main.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    edge.resourceCountIs('AWS::Lambda::Function', 1);
    expect(yum.bucket).toBe(host.bucket);
    expect(yum.distribution).toBe(host.distribution);
  });

  it('has one queue pair, one indexer and one signing key per repository', () => {
    main.resourceCountIs('AWS::SQS::Queue', 8);
    main.resourceCountIs('AWS::Lambda::EventSourceMapping', 4);
    main.resourceCountIs('Custom::PackageRepositorySigningKey', 4);
    // one key-generation provider for the whole stack
    expect(Object.keys(main.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('CdkPackageReposKeygenFunction'))).toHaveLength(1);
  });

  it('bakes every repository into the edge function', () => {
    expect(bakedEdgeConfig(app)).toMatchObject({
      repositories: [
        { prefix: 'yum/', format: 'yum' },
        { prefix: 'apt/', format: 'apt' },
        { prefix: 'apk/', format: 'apk' },
        { prefix: 'pacman/', format: 'pacman', pacmanRepositories: ['extra'] },
      ],
    });
  });

  it('adds the manifest behaviours of every repository to the one distribution', () => {
    const distribution = Object.values(main.findResources('AWS::CloudFront::Distribution'))[0];
    const patterns = (distribution.Properties.DistributionConfig.CacheBehaviors as Array<{ PathPattern: string }>).map((b) => b.PathPattern);
    expect(patterns.filter((p) => !p.endsWith('setup/*'))).toEqual(['yum/*repomd.xml*', 'apt/dists/*', 'apk/*APKINDEX.tar.gz', 'pacman/*.db*', 'pacman/*.files*']);
  });

  it('gives every repository its own URL under the shared domain', () => {
    const resolve = (value: string) => JSON.stringify(stack.resolve(value));
    expect(resolve(yum.repositoryUrl)).toMatch(/DomainName.*\/yum\//);
  });
});

describe('repositories without a shared host', () => {
  it('each creates its own host: two buckets, two distributions, two edge functions in one stack', () => {
    // GIVEN one stack WHEN two zero-props repositories are added
    const { app, stack } = newStack();
    new YumRepository(stack, 'Yum');
    new AptRepository(stack, 'Apt');
    const { main, edge } = templates(app, stack);
    // THEN nothing collides in the shared us-east-1 edge stack
    main.resourceCountIs('AWS::S3::Bucket', 2);
    main.resourceCountIs('AWS::CloudFront::Distribution', 2);
    edge.resourceCountIs('AWS::Lambda::Function', 2);
  });
});

describe('RepositoryHost options', () => {
  it('serves a custom domain with its certificate and TLS 1.2 at least', () => {
    // GIVEN
    const { app, stack } = newStack();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:us-east-1:123456789012:certificate/abc');
    // WHEN
    const host = new RepositoryHost(stack, 'Host', { domainNames: ['packages.example.com'], certificate });
    const repo = new YumRepository(stack, 'Yum', { host });
    // THEN
    templates(app, stack).main.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['packages.example.com'],
        ViewerCertificate: Match.objectLike({ AcmCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc', MinimumProtocolVersion: 'TLSv1.2_2021' }),
      }),
    });
    expect(repo.repositoryUrl).toBe('https://packages.example.com/yum/');
  });

  it('uses the user\'s bucket and turns its EventBridge notifications on', () => {
    // GIVEN
    const { app, stack } = newStack();
    const bucket = s3.Bucket.fromBucketName(stack, 'Existing', 'my-packages');
    // WHEN
    const repo = new YumRepository(stack, 'Yum', { host: new RepositoryHost(stack, 'Host', { bucket }) });
    // THEN
    const { main } = templates(app, stack);
    main.resourceCountIs('AWS::S3::Bucket', 0);
    main.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'my-packages',
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
    main.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: Match.objectLike({ bucket: { name: ['my-packages'] } }) }),
    });
    expect(repo.bucket).toBe(bucket);
  });

  it('writes access logs when given a log bucket', () => {
    // GIVEN
    const { app, stack } = newStack();
    const logs = new s3.Bucket(stack, 'Logs', { objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
    // WHEN
    new YumRepository(stack, 'Yum', { host: new RepositoryHost(stack, 'Host', { accessLogsBucket: logs }) });
    // THEN
    const { main } = templates(app, stack);
    main.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: { Ref: Match.stringLikeRegexp('^Logs') }, LogFilePrefix: 's3/' },
    });
    main.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({ Logging: Match.objectLike({ Prefix: 'cloudfront/' }) }),
    });
  });

  it.each([
    [Duration.seconds(30), 30],
    [undefined, 60],
  ])('caps the manifest TTL (%s -> %i s)', (manifestCacheTtl, seconds) => {
    const { app, stack } = newStack();
    const host = new RepositoryHost(stack, 'Host', { manifestCacheTtl });
    new AptRepository(stack, 'Apt', { host });
    templates(app, stack).main.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({ DefaultTTL: seconds, MaxTTL: seconds }),
    });
  });

  it('places the edge function stack in us-east-1 even when the host is in us-east-1 itself', () => {
    // GIVEN a stack in us-east-1: the edge function is created in place
    const app = new App();
    const stack = new Stack(app, 'East', { env: { account: '123456789012', region: 'us-east-1' } });
    // WHEN
    new YumRepository(stack, 'Yum');
    // THEN
    const main = Template.fromStack(stack);
    main.resourceCountIs('Custom::CrossRegionStringParameterReader', 0);
    expect(Object.values(main.findResources('AWS::Lambda::Function')).some((f) => f.Properties.Runtime === 'nodejs22.x' && f.Properties.MemorySize === 128)).toBe(true);
  });
});
