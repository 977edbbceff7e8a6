import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import { describe, expect, it } from 'vitest';
import { newStack, templates } from './support';
import { ApkRepository, AptRepository, PacmanRepository, RepositoryHost, SameVersionPolicy, YumRepository } from '../../src';

/** The statements of every IAM policy of a template, flattened. */
function statements(policies: Record<string, any>): any[] {
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** The indexer's environment variables. */
function indexerEnv(main: ReturnType<typeof templates>['main']): Record<string, unknown> {
  const fns = Object.values(main.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.Environment?.Variables?.FORMAT);
  expect(fns).toHaveLength(1);
  return fns[0].Properties.Environment.Variables;
}

describe('reconcile schedule', () => {
  it('is daily by default: a schedule rule sends {"reconcile":true,"time":...} into the queue, in the repository\'s message group', () => {
    // GIVEN
    const { app, stack } = newStack();
    // WHEN
    new YumRepository(stack, 'Yum');
    // THEN
    const { main } = templates(app, stack);
    const queues = main.findResources('AWS::SQS::Queue', { Properties: { ContentBasedDeduplication: true } });
    const [queueId] = Object.keys(queues);
    main.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 day)',
      State: 'ENABLED',
      Targets: [{
        Arn: { 'Fn::GetAtt': [queueId, 'Arn'] },
        SqsParameters: { MessageGroupId: 'yum:yum/' },
        InputTransformer: {
          InputPathsMap: { time: '$.time' },
          InputTemplate: '{"reconcile":true,"time":<time>}',
        },
      }],
    });
    // the upload rule targets the same queue and group
    main.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['aws.s3'] }),
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [queueId, 'Arn'] }, SqsParameters: { MessageGroupId: 'yum:yum/' } })],
    });
    // and both rules (only they) may send to the queue
    const queuePolicy = Object.values(main.findResources('AWS::SQS::QueuePolicy', { Properties: { Queues: [{ Ref: queueId }] } }))[0];
    const sends = queuePolicy.Properties.PolicyDocument.Statement.filter((s: any) => s.Principal?.Service === 'events.amazonaws.com');
    const rules = Object.keys(main.findResources('AWS::Events::Rule')).sort();
    expect(sends.map((s: any) => s.Condition.ArnEquals['aws:SourceArn']['Fn::GetAtt'][0]).sort()).toEqual(rules);
    expect(rules).toHaveLength(2);
  });

  it.each([
    ['a cron expression', events.Schedule.cron({ hour: '3', minute: '30' }), 'cron(30 3 * * ? *)'],
    ['a rate', events.Schedule.rate(Duration.hours(6)), 'rate(6 hours)'],
  ])('follows reconcileSchedule: %s', (_name, schedule, expression) => {
    const { app, stack } = newStack();
    new AptRepository(stack, 'Apt', { reconcileSchedule: schedule });
    const { main } = templates(app, stack);
    main.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: expression, Targets: [Match.objectLike({ SqsParameters: { MessageGroupId: 'apt:apt/' } })] });
  });

  it('is left out with reconcile: false', () => {
    const { app, stack } = newStack();
    const repo = new PacmanRepository(stack, 'Pacman', { reconcile: false });
    const { main } = templates(app, stack);
    expect(Object.values(main.findResources('AWS::Events::Rule')).filter((r) => r.Properties.ScheduleExpression)).toEqual([]);
    main.resourceCountIs('AWS::Events::Rule', 1);
    expect(repo.node.tryFindChild('Default')?.node.tryFindChild('ReconcileRule')).toBeUndefined();
  });

  describe('after a deployment', () => {
    /** The Create call of the reconcile-on-deployment resource, its tokens as CloudFormation has them. */
    const deploymentCall = (props: ConstructorParameters<typeof YumRepository>[2] = {}) => {
      const { app, stack } = newStack();
      new YumRepository(stack, 'Yum', props);
      const { main } = templates(app, stack);
      const resources = main.findResources('Custom::PackageRepositoryReconcile');
      return { main, resources, create: JSON.stringify(Object.values(resources)[0]?.Properties.Create) };
    };

    it('sends one reconcile message into the repository\'s group, after the indexer exists, and may send nothing else', () => {
      const { main, resources, create } = deploymentCall();
      expect(Object.keys(resources)).toHaveLength(1);
      const [resource] = Object.values(resources);
      // the same call on update: any change of what the indexer does sends the message again
      expect(resource.Properties.Update).toEqual(resource.Properties.Create);
      expect(create).toContain('\\"service\\":\\"SQS\\",\\"action\\":\\"sendMessage\\"');
      expect(create).toContain('\\"MessageGroupId\\":\\"yum:yum/\\"');
      expect(create).toContain('{\\\\\\"reconcile\\\\\\":true,\\\\\\"time\\\\\\":\\\\\\"deployment\\\\\\"');
      const indexer = Object.keys(main.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { FORMAT: 'yum' } } } }));
      expect(resource.DependsOn).toEqual(expect.arrayContaining(indexer));
      const [queueId] = Object.keys(main.findResources('AWS::SQS::Queue', { Properties: { ContentBasedDeduplication: true } }));
      const policies = Object.values(main.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes('sqs:SendMessage'));
      expect(policies.flatMap((p) => p.Properties.PolicyDocument.Statement)).toEqual([
        { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': [queueId, 'Arn'] } },
      ]);
    });

    it('changes its message with what the indexer does, and only then', () => {
      const base = deploymentCall().create;
      expect(deploymentCall().create).toBe(base);
      expect(deploymentCall({ retention: { keepVersions: 3 } }).create).not.toBe(base);
      expect(deploymentCall({ sameVersionPolicy: SameVersionPolicy.REPLACE }).create).not.toBe(base);
    });

    it('is left out with reconcile: false', () => {
      expect(Object.keys(deploymentCall({ reconcile: false }).resources)).toEqual([]);
    });
  });

  it('refuses a schedule with reconcile: false', () => {
    const { stack } = newStack();
    expect(() => new YumRepository(stack, 'Yum', { reconcile: false, reconcileSchedule: events.Schedule.rate(Duration.days(1)) }))
      .toThrow(/Repos\/Yum: reconcileSchedule is given but reconcile is false/);
  });
});

describe('engine policies', () => {
  it('are not set by default (the engine refuses a second upload of a version and keeps every version)', () => {
    const { app, stack } = newStack();
    new YumRepository(stack, 'Yum');
    const env = indexerEnv(templates(app, stack).main);
    expect(env.SAME_VERSION).toBeUndefined();
    expect(env.RETENTION).toBeUndefined();
    expect(env.REPOSITORY_NAME).toBe('Repos/Yum');
  });

  it.each([
    [SameVersionPolicy.REFUSE, 'refuse'],
    [SameVersionPolicy.REPLACE, 'replace'],
  ])('sameVersionPolicy %s → SAME_VERSION=%s', (policy, value) => {
    const { app, stack } = newStack();
    new ApkRepository(stack, 'Apk', { sameVersionPolicy: policy });
    expect(indexerEnv(templates(app, stack).main).SAME_VERSION).toBe(value);
  });

  it.each([
    [{ keepVersions: 3 }, '{"keepVersions":3,"deleteObjects":false}'],
    [{ keepVersions: 1, deleteObjects: true }, '{"keepVersions":1,"deleteObjects":true}'],
  ])('retention %j → RETENTION', (retention, json) => {
    const { app, stack } = newStack();
    new YumRepository(stack, 'Yum', { retention });
    expect(indexerEnv(templates(app, stack).main).RETENTION).toBe(json);
  });

  it.each([0, -1, 2.5])('refuses retention.keepVersions %s', (keepVersions) => {
    const { stack } = newStack();
    expect(() => new YumRepository(stack, 'Yum', { retention: { keepVersions } }))
      .toThrow(new RegExp(`Repos/Yum: retention.keepVersions must be a whole number of at least 1, got ${keepVersions}`));
  });
});

describe('events and metrics', () => {
  it('sends to the default bus by default: PutEvents on it, no EVENT_BUS_NAME', () => {
    const { app, stack } = newStack();
    new YumRepository(stack, 'Yum');
    const { main } = templates(app, stack);
    expect(indexerEnv(main).EVENT_BUS_NAME).toBeUndefined();
    const putEvents = statements(main.findResources('AWS::IAM::Policy')).filter((s) => JSON.stringify(s.Action).includes('events:'));
    expect(putEvents).toEqual([{
      Action: 'events:PutEvents',
      Effect: 'Allow',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:eu-west-1:123456789012:event-bus/default']] },
    }]);
  });

  it('sends to the eventBus given: its ARN in EVENT_BUS_NAME, PutEvents on it only', () => {
    const { app, stack } = newStack();
    const bus = new events.EventBus(stack, 'Bus');
    new AptRepository(stack, 'Apt', { eventBus: bus });
    const { main } = templates(app, stack);
    const [busId] = Object.keys(main.findResources('AWS::Events::EventBus'));
    expect(indexerEnv(main).EVENT_BUS_NAME).toEqual({ 'Fn::GetAtt': [busId, 'Arn'] });
    const putEvents = statements(main.findResources('AWS::IAM::Policy')).filter((s) => JSON.stringify(s.Action).includes('events:'));
    expect(putEvents).toEqual([{ Action: 'events:PutEvents', Effect: 'Allow', Resource: { 'Fn::GetAtt': [busId, 'Arn'] } }]);
  });

  it('alarms on RejectedPackages > 0 under the Repository dimension the indexer reports', () => {
    // GIVEN two repositories on one host
    const { app, stack } = newStack();
    const host = new RepositoryHost(stack, 'Host');
    const yum = new YumRepository(stack, 'Yum', { host });
    new AptRepository(stack, 'Apt', { host });
    // THEN each has its alarm, on its own dimension value, the one its indexer is given
    const { main } = templates(app, stack);
    for (const name of ['Repos/Yum', 'Repos/Apt']) {
      main.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'PackageRepositories',
        MetricName: 'RejectedPackages',
        Dimensions: [{ Name: 'Repository', Value: name }],
        Statistic: 'Sum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    }
    const names = Object.values(main.findResources('AWS::Lambda::Function')).map((f) => f.Properties.Environment?.Variables?.REPOSITORY_NAME).filter(Boolean).sort();
    expect(names).toEqual(['Repos/Apt', 'Repos/Yum']);
    expect(stack.resolve(yum.rejectedPackagesAlarm.alarmArn)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^YumRejectedPackagesAlarm/), 'Arn'] });
  });
});
