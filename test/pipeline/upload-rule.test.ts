import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ApkRepository, AptRepository, PacmanRepository, RepositoryHost, YumRepository } from '../../src';
import type { FormatName } from '../../src/engine/format';
import { reconcileMessageBody } from '../../src/handlers/contract';
import type { ObjectEvent } from '../../src/pipeline/s3rver';
import { keyWildcards, matches, messageBody, uploadRule } from '../../src/pipeline/upload-rule';
import { newStack } from '../constructs/support';

/** The rules the constructs synthesize for four zero-prop repositories on one host, by message group. */
function synthesizedRules(): Map<string, { keyPatterns: string[]; detailTypes: string[]; pathsMap: Record<string, string>; template: string }> {
  const { stack } = newStack();
  const host = new RepositoryHost(stack, 'Host');
  new YumRepository(stack, 'Rpm', { host });
  new AptRepository(stack, 'Deb', { host });
  new PacmanRepository(stack, 'Arch', { host });
  new ApkRepository(stack, 'Alpine', { host });
  const rules = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule')).filter((rule) => rule.Properties.EventPattern);
  return new Map(rules.map((rule) => {
    const { EventPattern: pattern, Targets: [target] } = rule.Properties;
    return [target.SqsParameters.MessageGroupId as string, {
      keyPatterns: pattern.detail.object.key.map((k: { wildcard: string }) => k.wildcard),
      detailTypes: pattern['detail-type'],
      pathsMap: target.InputTransformer.InputPathsMap,
      template: target.InputTransformer.InputTemplate,
    }];
  }));
}

/** EventBridge's input transformer: each `<name>` in the template becomes the JSON of the value at its path. */
function transform(template: string, pathsMap: Record<string, string>, event: object): string {
  return template.replace(/<([^<>]+)>/g, (_, name: string) => {
    const value = pathsMap[name].replace(/^\$\./, '').split('.').reduce<any>((v, field) => v?.[field], event);
    return JSON.stringify(value);
  });
}

/** EventBridge's wildcard matching: `*` matches any run of characters. */
function wildcardMatches(pattern: string, key: string): boolean {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's').test(key);
}

/** The schedule rules' targets (reconcile messages), by message group. */
function synthesizedReconcileTargets(): Map<string, { pathsMap: Record<string, string>; template: string }> {
  const { stack } = newStack();
  const host = new RepositoryHost(stack, 'Host');
  new YumRepository(stack, 'Rpm', { host });
  new AptRepository(stack, 'Deb', { host, prefix: 'debian/' });
  const rules = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule')).filter((rule) => rule.Properties.ScheduleExpression);
  return new Map(rules.map((rule) => {
    const [target] = rule.Properties.Targets;
    const { InputPathsMap: pathsMap, InputTemplate: template } = target.InputTransformer;
    return [target.SqsParameters.MessageGroupId as string, { pathsMap, template }];
  }));
}

const FORMATS: FormatName[] = ['yum', 'apt', 'pacman', 'apk'];
const BUCKET = 'repo-bucket';

describe('the local reconcile message is the constructs\' schedule message', () => {
  it('the schedule rule\'s input transformer makes of a scheduled event what LocalRepository.reconcile sends, in the upload rule\'s group', () => {
    const targets = synthesizedReconcileTargets();
    expect([...targets.keys()].sort()).toEqual([uploadRule('apt', BUCKET, 'debian/').messageGroupId, uploadRule('yum', BUCKET, 'yum/').messageGroupId].sort());
    const scheduled = { 'version': '0', 'id': 'x', 'detail-type': 'Scheduled Event', 'source': 'aws.events', 'time': '2026-11-22T03:00:00Z', 'detail': {} };
    for (const { template, pathsMap } of targets.values()) {
      expect(JSON.parse(transform(template, pathsMap, scheduled))).toEqual(JSON.parse(reconcileMessageBody('2026-11-22T03:00:00Z')));
    }
  });
});

describe('the local upload rule is the constructs\' rule', () => {
  const synthesized = synthesizedRules();

  it.each(FORMATS)('%s: same message group, key patterns and detail types', (format) => {
    const rule = uploadRule(format, BUCKET, `${format}/`);
    const cdk = synthesized.get(rule.messageGroupId);
    expect(cdk, `no synthesized rule has the message group ${rule.messageGroupId}`).toBeDefined();
    expect(cdk!.keyPatterns).toEqual(keyWildcards(rule));
    expect(cdk!.detailTypes).toEqual(['Object Created', 'Object Deleted']);
  });

  it.each(FORMATS)('%s: the message body is what the synthesized input transformer makes of the S3 event', (format) => {
    const rule = uploadRule(format, BUCKET, `${format}/`);
    const cdk = synthesized.get(rule.messageGroupId)!;
    for (const detailType of ['Object Created', 'Object Deleted'] as const) {
      const event: ObjectEvent = { detailType, bucket: BUCKET, key: `${format}/a dir/c++ "quoted"\\${rule.suffixes[0]}`, sequencer: '0062E99A88DC407460' };
      // the EventBridge event S3 sends (the fields the rule and the transformer read)
      const s3Event = {
        'version': '0',
        'detail-type': detailType,
        'source': 'aws.s3',
        'detail': { version: '0', bucket: { name: BUCKET }, object: { key: event.key, size: 1024, etag: 'abc', sequencer: event.sequencer }, reason: 'PutObject' },
      };
      expect(messageBody(event)).toBe(transform(cdk.template, cdk.pathsMap, s3Event));
    }
  });

  it.each(FORMATS)('%s: matches the same keys as the synthesized wildcards', (format) => {
    const rule = uploadRule(format, BUCKET, `${format}/`);
    const cdk = synthesized.get(rule.messageGroupId)!;
    const suffix = rule.suffixes[rule.suffixes.length - 1];
    const keys = [
      `${format}/a${suffix}`, `${format}/deep/er/a${suffix}`, `${format}/${suffix}`, `${format}/a${suffix}.sig`,
      `${format}/keys/repository.asc`, `other/a${suffix}`, `${format}a${suffix}`, `a${suffix}`, `${format}/a${suffix.toUpperCase()}`,
    ];
    for (const key of keys) {
      const expected = cdk.keyPatterns.some((p) => wildcardMatches(p, key));
      expect(matches(rule, { detailType: 'Object Created', bucket: BUCKET, key, sequencer: '1' }), key).toBe(expected);
    }
    expect(matches(rule, { detailType: 'Object Created', bucket: 'another-bucket', key: `${format}/a${suffix}`, sequencer: '1' })).toBe(false);
  });
});
