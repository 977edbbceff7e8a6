/**
 * Shared pieces of the integ tests: a stack per construct, a small package built by the real
 * tool at synth, and the assertion "upload through the S3 API, then wait until the CDN serves
 * the index".
 *
 * The package is an asset with a custom hash (the recipe's), so the committed snapshot does not
 * depend on build timestamps; `integ-runner` verifies snapshots by synthesizing, which needs the
 * packaging tools installed (rpmbuild, dpkg-deb, bsdtar, tar, gzip), as every test here does.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, AssetHashType, Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as s3_assets from 'aws-cdk-lib/aws-s3-assets';
import { RepositoryHost, SigningKey, type IPackageRepository, type RepositoryProps } from '../src';

/** What a test case uploads and where it then looks. */
export interface IntegCase {
  /** Test name: `YumRepository`. */
  readonly name: string;
  /** The construct under test, on a host that cleans up after itself. */
  readonly create: (stack: Stack, props: RepositoryProps) => IPackageRepository;
  /** The package file built at synth. */
  readonly package: BuiltPackage;
  /** Key of the package under the repository prefix. */
  readonly key: string;
  /** Path under the repository URL of the index the CDN must serve after the upload. */
  readonly indexPath: string;
  /** What the served index must contain (text manifests), or undefined for binary indexes. */
  readonly indexMatches?: string;
}

/** A package built for the test, with a hash of its recipe. */
export interface BuiltPackage {
  readonly file: string;
  readonly recipeHash: string;
}

/**
 * The app: the repository stack (with its us-east-1 edge stack) and an assertion stack in the
 * same environment, because the assertions reference the bucket and the distribution.
 */
export function integApp(test: IntegCase): App {
  const app = new App();
  // Deploying, the toolkit sets CDK_DEFAULT_*; snapshots are synthesized without credentials, with
  // integ-runner's CDK_INTEG_* placeholders (region 'test-region'), so they do not depend on who runs them.
  // The region must be known at synth: the edge function's stack is in us-east-1 and needs to know.
  const region = process.env.CDK_DEFAULT_REGION ?? process.env.CDK_INTEG_REGION;
  if (!region) throw new Error('run this test with integ-runner (it sets CDK_INTEG_REGION), or set CDK_DEFAULT_REGION');
  const env = { account: process.env.CDK_DEFAULT_ACCOUNT ?? process.env.CDK_INTEG_ACCOUNT, region };
  const stack = new Stack(app, `${test.name}Integ`, { env });
  const host = new RepositoryHost(stack, 'Host', { removalPolicy: RemovalPolicy.DESTROY, autoDeleteObjects: true });
  const repository = test.create(stack, { host, signingKey: SigningKey.generate({ removalPolicy: RemovalPolicy.DESTROY }) });
  const asset = new s3_assets.Asset(stack, 'Package', {
    path: test.package.file,
    assetHashType: AssetHashType.CUSTOM,
    assetHash: test.package.recipeHash,
  });

  const integ = new IntegTest(app, `${test.name}Test`, {
    testCases: [stack],
    assertionStack: new Stack(app, `${test.name}Assertions`, { env }),
    // keep the (large) Lambda bundles out of the committed snapshot
    stackUpdateWorkflow: false,
    diffAssets: false,
  });

  // the upload: a server-side copy through the S3 API (CopyObject emits "Object Created" like
  // PutObject; PutObject cannot carry a binary package through the JSON of an AwsApiCall)
  const key = `${repository.prefix}${test.key}`;
  const upload = integ.assertions.awsApiCall('S3', 'copyObject', {
    Bucket: repository.bucket.bucketName,
    Key: key,
    CopySource: `${asset.s3BucketName}/${asset.s3ObjectKey}`,
  });
  upload.provider.addToRolePolicy({
    Effect: 'Allow',
    Action: ['s3:GetObject'],
    Resource: [`arn:${Aws.PARTITION}:s3:::${asset.s3BucketName}/${asset.s3ObjectKey}`],
  });
  upload.provider.addToRolePolicy({ Effect: 'Allow', Action: ['s3:PutObject'], Resource: [repository.bucket.arnForObjects(key)] });

  // then: the CDN serves the index (through the edge function) within the queue + indexer + TTL time
  const served = integ.assertions.httpApiCall(`${repository.repositoryUrl}${test.indexPath}`);
  served.expect(ExpectedResult.objectLike({
    status: 200,
    ...(test.indexMatches ? { body: Match.stringLikeRegexp(test.indexMatches) } : {}),
  }));
  upload.next(served.waitForAssertions({ totalTimeout: Duration.minutes(20), interval: Duration.seconds(30) }));
  return app;
}

/** Runs a tool, with its output on failure. */
function run(command: string, args: string[], cwd?: string): void {
  execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
}

function workDir(name: string): string {
  return mkdtempSync(path.join(tmpdir(), `integ-${name}-`));
}

function hashOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

/** A noarch rpm with one file, built by rpmbuild. */
export function buildRpm(): BuiltPackage {
  const spec = [
    'Name: integ-hello', 'Version: 1.0', 'Release: 1', 'Summary: cdk-package-repos integ test package',
    'License: MIT', 'BuildArch: noarch', '%description', 'Integ test package.',
    '%install', 'mkdir -p %{buildroot}/usr/share/integ-hello', 'echo hello > %{buildroot}/usr/share/integ-hello/hello.txt',
    '%files', '/usr/share/integ-hello/hello.txt', '',
  ].join('\n');
  const dir = workDir('rpm');
  writeFileSync(path.join(dir, 'integ-hello.spec'), spec);
  run('rpmbuild', ['-bb', '--define', `_topdir ${dir}/build`, path.join(dir, 'integ-hello.spec')]);
  return { file: path.join(dir, 'build', 'RPMS', 'noarch', 'integ-hello-1.0-1.noarch.rpm'), recipeHash: hashOf('rpm', spec) };
}

/** An amd64 .deb with one file, built by dpkg-deb. */
export function buildDeb(): BuiltPackage {
  const control = 'Package: integ-hello\nVersion: 1.0\nArchitecture: amd64\nMaintainer: Integ <integ@example.com>\nDescription: cdk-package-repos integ test package\n';
  const dir = workDir('deb');
  mkdirSync(path.join(dir, 'root', 'DEBIAN'), { recursive: true });
  mkdirSync(path.join(dir, 'root', 'usr', 'share', 'integ-hello'), { recursive: true });
  writeFileSync(path.join(dir, 'root', 'DEBIAN', 'control'), control);
  writeFileSync(path.join(dir, 'root', 'usr', 'share', 'integ-hello', 'hello.txt'), 'hello\n');
  const file = path.join(dir, 'integ-hello_1.0_amd64.deb');
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', path.join(dir, 'root'), file]);
  return { file, recipeHash: hashOf('deb', control) };
}

/** A pacman package (.PKGINFO first, gzip), laid out the way makepkg writes it, built by bsdtar. */
export function buildPacmanPackage(): BuiltPackage {
  const pkginfo = [
    'pkgname = integ-hello', 'pkgbase = integ-hello', 'pkgver = 1.0-1', 'pkgdesc = cdk-package-repos integ test package',
    'url = https://example.com', 'builddate = 1700000000', 'packager = Integ <integ@example.com>', 'size = 6',
    'arch = x86_64', 'license = MIT', '',
  ].join('\n');
  const dir = workDir('pacman');
  mkdirSync(path.join(dir, 'root', 'usr', 'share', 'integ-hello'), { recursive: true });
  writeFileSync(path.join(dir, 'root', '.PKGINFO'), pkginfo);
  writeFileSync(path.join(dir, 'root', 'usr', 'share', 'integ-hello', 'hello.txt'), 'hello\n');
  const file = path.join(dir, 'integ-hello-1.0-1-x86_64.pkg.tar.gz');
  run('bsdtar', ['-czf', file, '--uid', '0', '--gid', '0', '.PKGINFO', 'usr'], path.join(dir, 'root'));
  return { file, recipeHash: hashOf('pacman', pkginfo) };
}

/** An unsigned apk v2 package: a gzipped control tar (.PKGINFO) followed by a gzipped data tar. */
export function buildApk(): BuiltPackage {
  const pkginfo = [
    'pkgname = integ-hello', 'pkgver = 1.0-r0', 'pkgdesc = cdk-package-repos integ test package',
    'url = https://example.com', 'builddate = 1700000000', 'size = 6', 'arch = x86_64', 'license = MIT', '',
  ].join('\n');
  const dir = workDir('apk');
  mkdirSync(path.join(dir, 'control'), { recursive: true });
  mkdirSync(path.join(dir, 'data', 'usr', 'share', 'integ-hello'), { recursive: true });
  writeFileSync(path.join(dir, 'control', '.PKGINFO'), pkginfo);
  writeFileSync(path.join(dir, 'data', 'usr', 'share', 'integ-hello', 'hello.txt'), 'hello\n');
  // abuild cuts the end-of-archive blocks of the control tar; apk-tools reads either form
  run('tar', ['--format=ustar', '--owner=0', '--group=0', '-czf', path.join(dir, 'control.tar.gz'), '-C', path.join(dir, 'control'), '.PKGINFO']);
  run('tar', ['--format=ustar', '--owner=0', '--group=0', '-czf', path.join(dir, 'data.tar.gz'), '-C', path.join(dir, 'data'), 'usr']);
  const file = path.join(dir, 'integ-hello-1.0-r0.apk');
  execFileSync('sh', ['-c', `cat control.tar.gz data.tar.gz > "${file}"`], { cwd: dir });
  return { file, recipeHash: hashOf('apk', pkginfo) };
}
