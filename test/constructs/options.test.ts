import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { newStack, templates } from './support';
import { ApkRepository, AptRepository, IndexerPackaging, PacmanRepository, SigningKey, YumRepository } from '../../src';

/** `ssm.<region>.<partition's URL suffix>`: the KMS calls SSM makes for the caller. */
const VIA_SSM = { 'Fn::Join': ['', ['ssm.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] };

/** The statements of every IAM policy of a template, flattened. */
function statements(policies: Record<string, any>): any[] {
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('indexer packaging', () => {
  it('is a zip function on the Node.js 22 runtime with IndexerPackaging.ZIP, same handler and event source', () => {
    // GIVEN
    const { app, stack } = newStack();
    // WHEN
    new YumRepository(stack, 'Yum', { indexerPackaging: IndexerPackaging.ZIP });
    // THEN
    const { main } = templates(app, stack);
    main.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      MemorySize: 2048,
      Environment: { Variables: Match.objectLike({ FORMAT: 'yum', NODE_OPTIONS: '--enable-source-maps' }) },
    });
    expect(Object.values(main.findResources('AWS::Lambda::Function')).some((f) => f.Properties.PackageType === 'Image')).toBe(false);
    main.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });

  it.each([
    [Duration.minutes(2), 720],
    [Duration.minutes(15), 5400],
  ])('sets the queue visibility to 6 x the indexer timeout (%s)', (timeout, visibility) => {
    const { app, stack } = newStack();
    new AptRepository(stack, 'Apt', { indexerTimeout: timeout, indexerMemorySize: 1024 });
    const { main } = templates(app, stack);
    main.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: visibility, ContentBasedDeduplication: true });
    main.hasResourceProperties('AWS::Lambda::Function', { PackageType: 'Image', Timeout: timeout.toSeconds(), MemorySize: 1024 });
  });
});

describe('signing keys', () => {
  it('uses your own parameters: publishes their public key, reads exactly them, never writes them, KMS decrypt only through SSM', () => {
    // GIVEN
    const { app, stack } = newStack();
    const key = new kms.Key(stack, 'Key');
    // WHEN
    new YumRepository(stack, 'Yum', {
      signingKey: SigningKey.fromParameterNames({
        privateKeyParameterName: '/repo/signing-key',
        passphraseParameterName: '/repo/signing-key-passphrase',
        encryptionKey: key,
      }),
    });
    // THEN the custom resource only publishes the public half of the key (no generation, kept on delete)
    const { main } = templates(app, stack);
    main.resourceCountIs('Custom::PackageRepositorySigningKey', 1);
    main.hasResourceProperties('Custom::PackageRepositorySigningKey', {
      Mode: 'existing',
      KeyKind: 'openpgp',
      ParameterName: '/repo/signing-key',
      PassphraseParameterName: '/repo/signing-key-passphrase',
      PublicKeyPrefix: 'yum/keys/',
      RemovalPolicy: 'retain',
    });
    main.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PGP_KEY_PARAMETER: '/repo/signing-key', PASSPHRASE_PARAMETER: '/repo/signing-key-passphrase' }) },
    });
    // AND every SSM permission (the indexer's and the custom resource's) is GetParameter on exactly the two parameters
    const all = statements(main.findResources('AWS::IAM::Policy'));
    const ssm = all.filter((s) => JSON.stringify(s.Action).includes('ssm:'));
    expect(ssm).toHaveLength(2);
    for (const statement of ssm) {
      expect(statement.Action).toBe('ssm:GetParameter');
      expect(JSON.stringify(statement.Resource)).toMatch(/parameter\/repo\/signing-key"/);
      expect(JSON.stringify(statement.Resource)).toMatch(/parameter\/repo\/signing-key-passphrase"/);
    }
    const decrypt = all.filter((s) => s.Action === 'kms:Decrypt');
    expect(decrypt).toHaveLength(2);
    for (const statement of decrypt) expect(statement.Condition).toEqual({ StringEquals: { 'kms:ViaService': VIA_SSM } });
    // AND the indexer starts only once the key is checked and published
    const [indexerId] = Object.entries(main.findResources('AWS::Lambda::Function')).find(([, f]) => f.Properties.Environment?.Variables?.PGP_KEY_PARAMETER)!;
    const [keyId] = Object.keys(main.findResources('Custom::PackageRepositorySigningKey'));
    expect(JSON.stringify(main.findResources('AWS::Lambda::Function')[indexerId].DependsOn ?? [])).toContain(keyId);
  });

  it('accepts a simple (non-path) parameter name', () => {
    const { app, stack } = newStack();
    new ApkRepository(stack, 'Apk', { signingKey: SigningKey.fromParameterNames({ privateKeyParameterName: 'apk-key' }) });
    const ssm = statements(templates(app, stack).main.findResources('AWS::IAM::Policy')).filter((s) => s.Action === 'ssm:GetParameter');
    expect(JSON.stringify(ssm[0].Resource)).toMatch(/:parameter\/apk-key"/);
  });

  it('generates with a customer KMS key and deletes the parameter with DESTROY', () => {
    // GIVEN
    const { app, stack } = newStack();
    const key = new kms.Key(stack, 'Key');
    // WHEN
    new PacmanRepository(stack, 'Arch', {
      signingKey: SigningKey.generate({ encryptionKey: key, removalPolicy: RemovalPolicy.DESTROY, parameterPath: '/keys/arch/', userId: 'Arch Packages <arch@example.com>' }),
    });
    // THEN
    const { main } = templates(app, stack);
    main.hasResourceProperties('Custom::PackageRepositorySigningKey', {
      KeyKind: 'openpgp',
      ParameterName: '/keys/arch/openpgp-private-key',
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] },
      UserId: 'Arch Packages <arch@example.com>',
      RemovalPolicy: 'destroy',
    });
    const all = statements(main.findResources('AWS::IAM::Policy'));
    expect(all.some((s) => JSON.stringify(s.Action) === JSON.stringify(['ssm:PutParameter', 'ssm:GetParameter', 'ssm:DeleteParameter']))).toBe(true);
    const keygenKms = all.find((s) => JSON.stringify(s.Action) === JSON.stringify(['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey']));
    expect(keygenKms.Condition.StringEquals['kms:ViaService']).toEqual(VIA_SSM);
  });

  it('generates an RSA key under the apk key name and tells the indexer the name', () => {
    const { app, stack } = newStack();
    const repo = new ApkRepository(stack, 'Alpine', { keyName: 'ops@example.com-5f1a.rsa.pub' });
    const { main } = templates(app, stack);
    main.hasResourceProperties('Custom::PackageRepositorySigningKey', { KeyKind: 'rsa', RsaKeyName: 'ops@example.com-5f1a.rsa.pub' });
    main.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ FORMAT: 'apk', FORMAT_OPTIONS: '{"keyName":"ops@example.com-5f1a.rsa.pub"}' }) },
    });
    expect(repo.keyName).toBe('ops@example.com-5f1a.rsa.pub');
  });

  it('gives apk a default key name unique to the construct path', () => {
    const a = new ApkRepository(newStack().stack, 'Alpine');
    const b = new ApkRepository(newStack('Other').stack, 'Alpine');
    expect(a.keyName).toMatch(/^alpine-[0-9a-f]{8}\.rsa\.pub$/);
    expect(a.keyName).not.toBe(b.keyName);
  });
});

describe('format options reach the indexer', () => {
  it.each([
    ['apt', (scope: Construct) => new AptRepository(scope, 'Deb', { origin: 'Example', label: 'Example Packages' }), { origin: 'Example', label: 'Example Packages' }],
    ['apt (defaults)', (scope: Construct) => new AptRepository(scope, 'Deb'), { origin: 'Deb', label: 'Deb' }],
    ['pacman', (scope: Construct) => new PacmanRepository(scope, 'Arch', { repositoryName: 'extra' }), { repoName: 'extra' }],
    ['yum', (scope: Construct) => new YumRepository(scope, 'Rpm'), {}],
  ])('%s', (_name, create, options) => {
    // GIVEN / WHEN
    const { app, stack } = newStack();
    create(stack);
    // THEN
    templates(app, stack).main.hasResourceProperties('AWS::Lambda::Function', {
      PackageType: 'Image',
      Environment: { Variables: Match.objectLike({ FORMAT_OPTIONS: JSON.stringify(options) }) },
    });
  });
});

describe('grants', () => {
  it.each([
    ['yum', (s: Construct) => new YumRepository(s, 'R'), ['yum/*.rpm']],
    ['apt', (s: Construct) => new AptRepository(s, 'R'), ['apt/*.deb']],
    ['apk', (s: Construct) => new ApkRepository(s, 'R'), ['apk/*.apk']],
    ['pacman', (s: Construct) => new PacmanRepository(s, 'R'), ['pacman/*.pkg.tar.*']],
  ])('grantPublish(%s) allows writing and deleting package files only, under the prefix', (_name, create, patterns) => {
    // GIVEN
    const { app, stack } = newStack();
    const repo = create(stack);
    const role = new iam.Role(stack, 'Publisher', { assumedBy: new iam.AccountRootPrincipal() });
    // WHEN
    const grant = repo.grantPublish(role);
    // THEN
    expect(grant.success).toBe(true);
    const { main } = templates(app, stack);
    const publisher = Object.entries(main.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('PublisherDefaultPolicy'))![1];
    const [statement] = publisher.Properties.PolicyDocument.Statement;
    expect(statement.Action).toEqual(['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload']);
    const resources = (Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource]).map((r: any) => r['Fn::Join'][1][1]);
    expect(resources).toEqual(patterns.map((p) => `/${p}`));
  });

  it('grantRead allows getting objects under the prefix', () => {
    const { app, stack } = newStack();
    const repo = new YumRepository(stack, 'R');
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    repo.grantRead(role);
    const { main } = templates(app, stack);
    main.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Reader') }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: 's3:GetObject', Resource: { 'Fn::Join': ['', [Match.anyValue(), '/yum/*']] } })] },
    });
  });

  it('lets the indexer read and write only under its prefix, and list the bucket (so a missing key is a 404)', () => {
    const { app, stack } = newStack();
    new YumRepository(stack, 'R', { prefix: 'el9/' });
    const all = statements(templates(app, stack).main.findResources('AWS::IAM::Policy'));
    const objects = all.find((s) => JSON.stringify(s.Action) === JSON.stringify(['s3:GetObject', 's3:PutObject', 's3:DeleteObject']));
    expect(objects.Resource['Fn::Join'][1][1]).toBe('/el9/*');
    const list = all.find((s) => s.Action === 's3:ListBucket');
    expect(list.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^RHostBucket/), 'Arn'] });
    expect(list.Condition).toBeUndefined();
  });
});
