import { App, Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { newStack } from './support';
import {
  ApkRepository, AptRepository, PacmanRepository, RepositoryHost, SigningKey, YumRepository,
  type RepositoryProps,
} from '../../src';

describe('repository props are validated', () => {
  it.each<[string, RepositoryProps, RegExp]>([
    ['a leading slash', { prefix: '/yum/' }, /invalid prefix "\/yum\/"/],
    ['no trailing slash', { prefix: 'yum' }, /invalid prefix "yum"/],
    ['a doubled slash', { prefix: 'a//b/' }, /invalid prefix/],
    ['a dot-dot segment', { prefix: 'a/../' }, /invalid prefix "a\/..\/"/],
    ['a wildcard', { prefix: 'a*/' }, /invalid prefix/],
    ['a space', { prefix: 'my repo/' }, /invalid prefix/],
    ['a very long prefix', { prefix: `${'a'.repeat(120)}/` }, /longer than 100 characters/],
    ['a token prefix', { prefix: Lazy.string({ produce: () => 'x/' }) }, /prefix must be a literal string/],
    ['a timeout beyond 15 minutes', { indexerTimeout: Duration.minutes(16) }, /indexerTimeout must be between 1 second and 15 minutes/],
    ['too little memory', { indexerMemorySize: 64 }, /indexerMemorySize must be a whole number of MiB between 128 and 10240, got 64/],
    ['fractional memory', { indexerMemorySize: 1024.5 }, /indexerMemorySize must be a whole number/],
    ['an alarm threshold under a minute', { messageAgeAlarmThreshold: Duration.seconds(30) }, /messageAgeAlarmThreshold must be at least 1 minute/],
  ])('rejects %s', (_name, props, error) => {
    const { stack } = newStack();
    expect(() => new YumRepository(stack, 'Yum', props)).toThrow(error);
  });

  it.each<[string, RepositoryProps]>([
    ['the root', { prefix: '' }],
    ['nested segments', { prefix: 'linux/el-9.x/' }],
    ['15 minutes', { indexerTimeout: Duration.minutes(15) }],
  ])('accepts %s', (_name, props) => {
    const { stack } = newStack();
    expect(() => new YumRepository(stack, 'Yum', props)).not.toThrow();
  });

  it.each([
    ['an apk key name without .rsa.pub', () => new ApkRepository(newStack().stack, 'A', { keyName: 'key.pub' }), /keyName must be a file name ending in '.rsa.pub'/],
    ['an apk key name with a slash', () => new ApkRepository(newStack().stack, 'A', { keyName: 'a/b.rsa.pub' }), /keyName must be a file name/],
    ['a multi-line apt origin', () => new AptRepository(newStack().stack, 'D', { origin: 'Evil\nSuite: x' }), /apt origin must be a non-empty single line/],
    ['an empty apt label', () => new AptRepository(newStack().stack, 'D', { label: ' ' }), /apt label must be a non-empty single line/],
    ['an apt distribution with a slash', () => new AptRepository(newStack().stack, 'D', { distribution: 'a/b' }), /apt distribution must be letters/],
    ['a pacman repository name with a slash', () => new PacmanRepository(newStack().stack, 'P', { repositoryName: 'core/x' }), /repositoryName must be a pacman repository name/],
    ['a hierarchical parameter name without a leading slash', () => new YumRepository(newStack().stack, 'Y', {
      signingKey: SigningKey.fromParameterNames({ privateKeyParameterName: 'a/b' }),
    }), /hierarchical parameter name must start with '\/'/],
    ['a parameter path without a trailing slash', () => new YumRepository(newStack().stack, 'Y', {
      signingKey: SigningKey.generate({ parameterPath: '/keys' }),
    }), /parameterPath must start and end with '\/'/],
  ])('rejects %s', (_name, create, error) => {
    expect(create).toThrow(error);
  });
});

describe('hosts are validated', () => {
  it.each([
    ['the same prefix twice', 'pkgs/', 'pkgs/'],
    ['a prefix inside another', 'pkgs/', 'pkgs/yum/'],
    ['the root next to anything', '', 'apt/'],
  ])('rejects %s on one host', (_name, first, second) => {
    // GIVEN
    const { stack } = newStack();
    const host = new RepositoryHost(stack, 'Host');
    new YumRepository(stack, 'First', { host, prefix: first });
    // WHEN / THEN
    expect(() => new AptRepository(stack, 'Second', { host, prefix: second }))
      .toThrow(/overlaps the prefix .* of Repos\/First on Repos\/Host: repositories sharing a host need distinct, non-nested prefixes/);
  });

  it('needs a stack with an explicit region', () => {
    const stack = new Stack(new App(), 'Agnostic');
    expect(() => new YumRepository(stack, 'Yum')).toThrow(/needs a stack with an explicit region/);
  });

  it.each([
    ['domain names without a certificate', { domainNames: ['pkgs.example.com'] }],
    ['a certificate without domain names', { certificate: {} as acm.ICertificate }],
  ])('rejects %s', (_name, props) => {
    expect(() => new RepositoryHost(newStack().stack, 'Host', props)).toThrow(/domainNames and certificate go together/);
  });

  it('rejects options of the created bucket next to your own bucket', () => {
    const { stack } = newStack();
    const bucket = s3.Bucket.fromBucketName(stack, 'B', 'mine');
    expect(() => new RepositoryHost(stack, 'Host', { bucket, removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true }))
      .toThrow(/removalPolicy, autoDeleteObjects configure the bucket the host creates/);
  });

  it.each([Duration.seconds(0), Duration.hours(2)])('rejects a manifest TTL of %s', (manifestCacheTtl) => {
    expect(() => new RepositoryHost(newStack().stack, 'Host', { manifestCacheTtl })).toThrow(/manifestCacheTtl must be between 1 second and 1 hour/);
  });
});
