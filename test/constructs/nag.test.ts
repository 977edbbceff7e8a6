import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { acknowledgments, edgeStack, newStack, templates, unacknowledgedFindings } from './support';
import {
  ApkRepository, AptRepository, IndexerPackaging, PacmanRepository, RepositoryHost, SameVersionPolicy, SigningKey, YumRepository,
} from '../../src';

const setups: Array<[string, (scope: Construct) => void]> = [
  ['YumRepository', (scope) => new YumRepository(scope, 'Yum')],
  ['AptRepository', (scope) => new AptRepository(scope, 'Apt')],
  ['ApkRepository', (scope) => new ApkRepository(scope, 'Apk')],
  ['PacmanRepository', (scope) => new PacmanRepository(scope, 'Pacman')],
  ['four repositories on one host', (scope) => {
    const host = new RepositoryHost(scope, 'Host');
    new YumRepository(scope, 'Yum', { host });
    new AptRepository(scope, 'Apt', { host });
    new ApkRepository(scope, 'Apk', { host });
    new PacmanRepository(scope, 'Pacman', { host });
  }],
  ['zip packaging, your own keys, a publisher', (scope) => {
    const repo = new YumRepository(scope, 'Yum', {
      indexerPackaging: IndexerPackaging.ZIP,
      signingKey: SigningKey.fromParameterNames({ privateKeyParameterName: '/keys/yum', encryptionKey: new kms.Key(scope, 'Key', { enableKeyRotation: true }) }),
    });
    repo.grantPublish(new iam.Role(scope, 'Publisher', { assumedBy: new iam.AccountRootPrincipal() }));
  }],
  ['every reporting and policy option', (scope) => {
    new AptRepository(scope, 'Apt', {
      eventBus: new events.EventBus(scope, 'Bus'),
      reconcileSchedule: events.Schedule.cron({ hour: '4', minute: '0' }),
      sameVersionPolicy: SameVersionPolicy.REPLACE,
      retention: { keepVersions: 2, deleteObjects: true },
    });
    new YumRepository(scope, 'Yum', { reconcile: false });
  }],
];

describe('cdk-nag AwsSolutionsChecks', () => {
  it.each(setups)('%s: every finding is acknowledged by the constructs', (_name, setup) => {
    // GIVEN
    const { app, stack } = newStack();
    // WHEN
    setup(stack);
    templates(app, stack);
    // THEN
    expect(unacknowledgedFindings(app)).toEqual([]);
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(edgeStack(app)).findWarning('*', Match.anyValue())).toEqual([]);
  });

  it('every acknowledgment has a written reason', () => {
    const { app, stack } = newStack();
    setups[4][1](stack);
    templates(app, stack);
    const all = acknowledgments(app);
    expect(all.length).toBeGreaterThan(5);
    for (const { id, reason } of all) {
      expect(id).toMatch(/^(annotation::)?AwsSolutions-/);
      expect(reason.length, `reason of ${id}`).toBeGreaterThan(40);
    }
  });
});
