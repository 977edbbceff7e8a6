import { Duration } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import {
  ApkRepository, AptRepository, PacmanRepository, RepositoryAccess, RepositoryHost, YumRepository,
} from '../../src';
import { parseEdgeConfig } from '../../src/edge/router';
import { bakedEdgeConfig, edgeStack, newStack, templates, unacknowledgedFindings } from '../constructs/support';

type Behavior = { PathPattern?: string; CachePolicyId: unknown; LambdaFunctionAssociations: Array<{ EventType: string }> };

function behaviors(main: ReturnType<typeof templates>['main']): { defaults: Behavior; byPattern: Map<string, Behavior>; order: string[] } {
  const distribution = Object.values(main.findResources('AWS::CloudFront::Distribution'))[0];
  const config = distribution.Properties.DistributionConfig;
  const list = config.CacheBehaviors as Behavior[];
  return { defaults: config.DefaultCacheBehavior, byPattern: new Map(list.map((b) => [b.PathPattern!, b])), order: list.map((b) => b.PathPattern!) };
}
const events = (b: Behavior | undefined) => b?.LambdaFunctionAssociations.map((a) => a.EventType);

describe('the edge of a host with a public and a private repository', () => {
  // GIVEN one host WHEN a public yum and a private apt repository share it
  const { app, stack } = newStack();
  const host = new RepositoryHost(stack, 'Host', { manifestCacheTtl: Duration.seconds(30), tokenCacheTtl: Duration.seconds(20) });
  new YumRepository(stack, 'Rpm', { host, setupPath: 'el/$releasever/$basearch/' });
  new AptRepository(stack, 'Deb', { host, access: RepositoryAccess.PRIVATE, distribution: 'bookworm' });
  const { main, edge } = templates(app, stack);
  const { defaults, byPattern, order } = behaviors(main);

  it('bakes names, setup paths, the private flag and the token source into the function', () => {
    const config = parseEdgeConfig(bakedEdgeConfig(app));
    expect(config).toEqual({
      repositories: [
        { prefix: 'yum/', format: 'yum', name: 'rpm', setup: { path: 'el/$releasever/$basearch/' } },
        { prefix: 'apt/', format: 'apt', name: 'deb', private: true, setup: { distribution: 'bookworm', components: ['main'] } },
      ],
      tokens: { ssmRegion: 'eu-west-1', ssmParameterPath: host.tokenParameterPath, cacheSeconds: 20 },
      manifestMaxAge: 30,
    });
    expect(host.tokenParameterPath).toMatch(/^\/cdk-package-repos\/[A-Za-z0-9]+\/tokens\/$/);
  });

  it('runs the function on origin requests and responses everywhere, on viewer requests only where needed', () => {
    expect(events(defaults)).toEqual(['origin-request', 'origin-response']);
    // setup files: generated at the viewer request, never cached
    for (const prefix of ['yum/', 'apt/']) {
      expect(events(byPattern.get(`${prefix}setup/*`))).toEqual(['viewer-request']);
      expect(byPattern.get(`${prefix}setup/*`)!.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad'); // CachingDisabled
    }
    // the public repository's manifests: no viewer request (no cost per request)
    expect(events(byPattern.get('yum/*repomd.xml*'))).toEqual(['origin-request', 'origin-response']);
    // every path of the private repository, cached or not, goes through the token check
    expect(events(byPattern.get('apt/dists/*'))).toEqual(['viewer-request', 'origin-request', 'origin-response']);
    expect(events(byPattern.get('apt/*'))).toEqual(['viewer-request', 'origin-request', 'origin-response']);
    expect(order.indexOf('apt/*')).toBeGreaterThan(order.indexOf('apt/dists/*'));
    expect(order.indexOf('apt/*')).toBeGreaterThan(order.indexOf('apt/setup/*'));
  });

  it('lets the edge function read the token parameters, and only them', () => {
    const policies = Object.values(edge.findResources('AWS::IAM::Policy'));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown }>);
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('ssm:GetParametersByPath');
    const resources = JSON.stringify(statements[0].Resource);
    expect(resources).toContain(`:ssm:eu-west-1:123456789012:parameter${host.tokenParameterPath}*`);
    expect(resources).toContain(`:ssm:eu-west-1:123456789012:parameter${host.tokenParameterPath.replace(/\/$/, '')}"`);
  });

  it('outputs the one-line setup command of each repository', () => {
    const outputs = Object.entries(main.findOutputs('*')).filter(([k]) => /SetupCommand/.test(k)).map(([, o]) => JSON.stringify(o.Value));
    expect(outputs).toHaveLength(2);
    expect(outputs.find((o) => o.includes('-u NAME:TOKEN'))).toContain('/apt/setup/setup.sh | sudo sh');
    expect(outputs.find((o) => !o.includes('-u NAME:TOKEN'))).toContain('/yum/setup/setup.sh | sudo sh');
  });

  it('leaves no cdk-nag finding unacknowledged and no warning', () => {
    expect(unacknowledgedFindings(app)).toEqual([]);
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(edgeStack(app)).findWarning('*', Match.anyValue())).toEqual([]);
  });
});

describe('access options', () => {
  it('puts the token check on the default behaviour for a private repository at the root', () => {
    const { app, stack } = newStack();
    new PacmanRepository(stack, 'Arch', { prefix: '', access: RepositoryAccess.PRIVATE, repositoryName: 'extra' });
    const { defaults, byPattern } = behaviors(templates(app, stack).main);
    expect(events(defaults)).toEqual(['viewer-request', 'origin-request', 'origin-response']);
    expect(events(byPattern.get('setup/*'))).toEqual(['viewer-request']);
    expect(bakedEdgeConfig(app).repositories[0]).toMatchObject({ prefix: '', private: true, pacmanRepositories: ['extra'] });
  });

  it('bakes the apk key name, for the key served under its exact name and the setup script', () => {
    const { app, stack } = newStack();
    new ApkRepository(stack, 'Alpine', { keyName: 'ops@example.com-1.rsa.pub', setupPath: 'v3.20/main/' });
    expect(bakedEdgeConfig(app).repositories[0]).toMatchObject({ apkKeyName: 'ops@example.com-1.rsa.pub', setup: { path: 'v3.20/main/' } });
  });

  it('takes a token parameter path of the user\'s and grants managing the tokens', () => {
    const { app, stack } = newStack();
    const host = new RepositoryHost(stack, 'Host', { tokenParameterPath: '/acme/package-tokens/' });
    new YumRepository(stack, 'Rpm', { host, access: RepositoryAccess.PRIVATE });
    const admin = new iam.Role(stack, 'Admin', { assumedBy: new iam.AccountRootPrincipal() });
    host.grantManageTokens(admin);
    const { main } = templates(app, stack);
    main.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [Match.objectLike({
          Action: ['ssm:PutParameter', 'ssm:DeleteParameter', 'ssm:GetParameter', 'ssm:GetParametersByPath'],
          Resource: Match.arrayWith([Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([':ssm:eu-west-1:123456789012:parameter/acme/package-tokens/*'])]) })]),
        })],
      },
    });
    expect(bakedEdgeConfig(app).tokens).toEqual({ ssmRegion: 'eu-west-1', ssmParameterPath: '/acme/package-tokens/', cacheSeconds: 60 });
    expect(unacknowledgedFindings(app)).toEqual([]);
  });

  it.each([
    [{ tokenParameterPath: 'tokens' }, /tokenParameterPath must be a literal SSM parameter path/],
    [{ tokenParameterPath: '/a b/' }, /tokenParameterPath/],
    [{ tokenCacheTtl: Duration.hours(2) }, /tokenCacheTtl must be at most 1 hour/],
  ])('refuses host props %j', (props, error) => {
    const { stack } = newStack();
    expect(() => new RepositoryHost(stack, 'Host', props)).toThrow(error);
  });

  it.each([['el/x86_64'], ['../x/'], ['a b/'], ['$(id)/']])('refuses setupPath %j', (setupPath) => {
    const { stack } = newStack();
    expect(() => new YumRepository(stack, 'Rpm', { setupPath })).toThrow(/invalid setupPath/);
  });
});
