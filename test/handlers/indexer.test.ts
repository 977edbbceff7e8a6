import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../src/engine/engine';
import { reconcileMessageBody } from '../../src/handlers/contract';
import {
  changesOf, configFromEnv, fifoBatchFailures, loadKeysFromSsm, MessageError, parseChange, parseMessage, processBatch,
  type SqsEvent, type SqsRecord,
} from '../../src/handlers/indexer';
import { generatePgpKey } from '../../src/signing/pgp';
import { generateRsaKey } from '../../src/signing/rsa';

const BUCKET = 'repo-bucket';

/** The body the rule's input transformer writes. */
function body(detailType: string, key: string, bucket = BUCKET): string {
  return JSON.stringify({ 'detail-type': detailType, bucket, key, 'sequencer': '0064D3901D00059242' });
}

function record(messageId: string, messageBody: string, group = 'yum:yum/'): SqsRecord {
  return { messageId, body: messageBody, attributes: { MessageGroupId: group } };
}

const EMPTY_REPORT: Report = { units: [], rejected: [] };

describe('parseChange', () => {
  it.each([
    ['Object Created', 'yum/el9/x86_64/hello-1.0-1.x86_64.rpm', { kind: 'upserted', key: 'el9/x86_64/hello-1.0-1.x86_64.rpm' }],
    ['Object Deleted', 'yum/hello-1.0-1.x86_64.rpm', { kind: 'deleted', key: 'hello-1.0-1.x86_64.rpm' }],
    // keys come unencoded in EventBridge S3 events: '+', '~', ':' and spaces stay as they are
    ['Object Created', 'yum/g++ 1:2.0~rc1.rpm', { kind: 'upserted', key: 'g++ 1:2.0~rc1.rpm' }],
  ])('%s %s', (detailType, key, change) => {
    expect(parseChange(body(detailType, key), BUCKET, 'yum/')).toEqual(change);
  });

  it('reads a whole EventBridge S3 event too (what a local pipeline may send)', () => {
    const event = {
      'version': '0',
      'id': '17793124-05d4-b198-2fde-7ededc63b103',
      'detail-type': 'Object Created',
      'source': 'aws.s3',
      'detail': { bucket: { name: BUCKET }, object: { key: 'apt/pool/stable/main/h/hello_1.0_amd64.deb', size: 5, sequencer: '01' } },
    };
    expect(parseChange(JSON.stringify(event), BUCKET, 'apt/')).toEqual({ kind: 'upserted', key: 'pool/stable/main/h/hello_1.0_amd64.deb' });
  });

  it('ignores keys outside the prefix and the prefix itself', () => {
    expect(parseChange(body('Object Created', 'other/x.rpm'), BUCKET, 'yum/')).toBeUndefined();
    expect(parseChange(body('Object Created', 'yum/'), BUCKET, 'yum/')).toBeUndefined();
  });

  it.each([
    ['not JSON', 'hello', /not JSON/],
    ['another detail-type', body('Object Restore Completed', 'yum/x.rpm'), /unexpected detail-type "Object Restore Completed"/],
    ['no key', JSON.stringify({ 'detail-type': 'Object Created', 'bucket': BUCKET }), /has no object key/],
    ['another bucket', body('Object Created', 'yum/x.rpm', 'elsewhere'), /about bucket "elsewhere", not "repo-bucket"/],
  ])('rejects %s', (_name, text, error) => {
    expect(() => parseChange(text, BUCKET, 'yum/')).toThrow(MessageError);
    expect(() => parseChange(text, BUCKET, 'yum/')).toThrow(error);
  });
});

describe('parseMessage', () => {
  it('knows the reconcile schedule\'s message (whatever its time) from an upload event', () => {
    expect(parseMessage(reconcileMessageBody(new Date()), BUCKET, 'yum/')).toEqual({ kind: 'reconcile' });
    expect(parseMessage('{"reconcile":true}', BUCKET, 'yum/')).toEqual({ kind: 'reconcile' });
    // what the reconcile-on-deployment resource sends
    expect(parseMessage('{"reconcile":true,"time":"deployment","deployment":{"code":"ab12","format":"yum","key":"/repos/key"}}', BUCKET, 'yum/')).toEqual({ kind: 'reconcile' });
    expect(parseMessage(body('Object Created', 'yum/a.rpm'), BUCKET, 'yum/')).toEqual({ kind: 'upserted', key: 'a.rpm' });
    expect(() => parseMessage('{"reconcile":"yes"}', BUCKET, 'yum/')).toThrow(/unexpected detail-type/);
  });
});

describe('changesOf', () => {
  it('keeps the last event of each key', () => {
    expect(changesOf([
      { kind: 'upserted', key: 'a.rpm' },
      { kind: 'upserted', key: 'b.rpm' },
      { kind: 'deleted', key: 'a.rpm' },
      { kind: 'upserted', key: 'b.rpm' },
      { kind: 'deleted', key: 'c.rpm' },
      { kind: 'upserted', key: 'c.rpm' },
    ])).toEqual({ upserted: ['b.rpm', 'c.rpm'], deleted: ['a.rpm'] });
  });
});

describe('fifoBatchFailures', () => {
  const records = [
    record('1', '', 'A'), record('2', '', 'B'), record('3', '', 'A'), record('4', '', 'A'), record('5', '', 'B'),
  ];

  it.each<[string, string[], string[]]>([
    ['nothing failed', [], []],
    ['the first of a group: all of that group', ['1'], ['1', '3', '4']],
    ['one in the middle: it and the later ones of its group', ['3'], ['3', '4']],
    ['in two groups', ['4', '2'], ['2', '4', '5']],
    ['the last one', ['5'], ['5']],
  ])('%s', (_name, failed, expected) => {
    expect(fifoBatchFailures(records, new Set(failed))).toEqual(expected);
  });
});

describe('processBatch', () => {
  function run(event: SqsEvent, apply: (changes: { upserted: string[]; deleted: string[] }) => Promise<Report>) {
    const calls: Array<{ upserted: string[]; deleted: string[] }> = [];
    const lines: string[] = [];
    const response = processBatch(event, {
      bucket: BUCKET,
      prefix: 'yum/',
      apply: (changes) => {
        calls.push(changes);
        return apply(changes);
      },
      log: (line) => lines.push(line),
    });
    return { response, calls, lines };
  }

  it('applies the whole batch in one engine call and reports no failure', async () => {
    const { response, calls } = run({
      Records: [record('1', body('Object Created', 'yum/a.rpm')), record('2', body('Object Created', 'yum/b.rpm')), record('3', body('Object Deleted', 'yum/a.rpm'))],
    }, async () => EMPTY_REPORT);
    expect(await response).toEqual({ batchItemFailures: [] });
    expect(calls).toEqual([{ upserted: ['b.rpm'], deleted: ['a.rpm'] }]);
  });

  it('fails the whole group when the engine fails (it is retried in order)', async () => {
    const { response, lines } = run({
      Records: [record('1', body('Object Created', 'yum/a.rpm')), record('2', body('Object Created', 'yum/b.rpm'))],
    }, async () => {
      throw new Error('S3 is throttling');
    });
    expect(await response).toEqual({ batchItemFailures: [{ itemIdentifier: '1' }, { itemIdentifier: '2' }] });
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'error', error: 'S3 is throttling' });
  });

  it('applies the records before an unreadable one and fails it and the rest of its group', async () => {
    const { response, calls } = run({
      Records: [
        record('1', body('Object Created', 'yum/a.rpm')),
        record('2', 'garbage'),
        record('3', body('Object Created', 'yum/c.rpm')),
      ],
    }, async () => EMPTY_REPORT);
    expect(await response).toEqual({ batchItemFailures: [{ itemIdentifier: '2' }, { itemIdentifier: '3' }] });
    expect(calls).toEqual([{ upserted: ['a.rpm'], deleted: [] }]);
  });

  it('does not fail for rejected packages: they are logged', async () => {
    const rejected = [{ key: 'bad.rpm', code: 'invalid-package' as const, reason: 'truncated lead: need 96 bytes, have 10' }];
    const { response, lines } = run({ Records: [record('1', body('Object Created', 'yum/bad.rpm'))] }, async () => ({ units: [], rejected }));
    expect(await response).toEqual({ batchItemFailures: [] });
    expect(JSON.parse(lines[0])).toEqual({ level: 'warn', units: [], rejected });
  });

  describe('with reconcile messages', () => {
    const RECONCILE = reconcileMessageBody('2026-01-01T00:00:00Z');

    function runWith(event: SqsEvent, fail: { apply?: boolean; reconcile?: boolean } = {}) {
      const calls: string[] = [];
      const kinds: string[] = [];
      const response = processBatch(event, {
        bucket: BUCKET,
        prefix: 'yum/',
        apply: async (changes) => {
          calls.push(`apply ${changes.upserted.join(',')}`);
          if (fail.apply) throw new Error('apply failed');
          return EMPTY_REPORT;
        },
        reconcile: async () => {
          calls.push('reconcile');
          if (fail.reconcile) throw new Error('listing failed');
          return EMPTY_REPORT;
        },
        log: () => undefined,
        report: async (_report, kind) => {
          kinds.push(kind);
        },
      });
      return { response, calls, kinds };
    }

    it('runs uploads and reconciles in the group\'s order, each group on its own', async () => {
      const { response, calls, kinds } = runWith({
        Records: [
          record('1', body('Object Created', 'yum/a.rpm')),
          record('2', body('Object Created', 'yum/b.rpm')),
          record('3', RECONCILE),
          record('4', body('Object Created', 'apt/c.rpm'), 'other'),
          record('5', body('Object Created', 'yum/d.rpm')),
          record('6', RECONCILE),
          record('7', RECONCILE),
        ],
      });
      expect(await response).toEqual({ batchItemFailures: [] });
      expect(calls).toEqual(['apply a.rpm,b.rpm', 'reconcile', 'apply d.rpm', 'reconcile', 'reconcile']);
      expect(kinds).toEqual(['changes', 'reconcile', 'changes', 'reconcile', 'reconcile']);
    });

    it('a failed reconcile fails its message and the rest of the group, not the uploads applied before it', async () => {
      const { response, calls } = runWith({
        Records: [record('1', body('Object Created', 'yum/a.rpm')), record('2', RECONCILE), record('3', body('Object Created', 'yum/b.rpm'))],
      }, { reconcile: true });
      expect(await response).toEqual({ batchItemFailures: [{ itemIdentifier: '2' }, { itemIdentifier: '3' }] });
      expect(calls).toEqual(['apply a.rpm', 'reconcile']);
    });

    it('failed uploads before a reconcile fail it too (it waits for the retry)', async () => {
      const { response, calls } = runWith({ Records: [record('1', body('Object Created', 'yum/a.rpm')), record('2', RECONCILE)] }, { apply: true });
      expect(await response).toEqual({ batchItemFailures: [{ itemIdentifier: '1' }, { itemIdentifier: '2' }] });
      expect(calls).toEqual(['apply a.rpm']);
    });

    it('an indexer without reconcile fails the message', async () => {
      const { response } = run({ Records: [record('1', RECONCILE)] }, async () => EMPTY_REPORT);
      expect(await response).toEqual({ batchItemFailures: [{ itemIdentifier: '1' }] });
    });
  });

  it('a report that fails is logged and does not fail the batch (the index is published)', async () => {
    const lines: string[] = [];
    const response = await processBatch({ Records: [record('1', body('Object Created', 'yum/a.rpm'))] }, {
      bucket: BUCKET,
      prefix: 'yum/',
      apply: async () => EMPTY_REPORT,
      log: (line) => lines.push(line),
      report: async () => {
        throw new Error('no reporting today');
      },
    });
    expect(response).toEqual({ batchItemFailures: [] });
    expect(lines.map((l) => JSON.parse(l))).toContainEqual({ level: 'error', report: 'failed', error: 'no reporting today' });
  });

  it('does not call the engine for a batch with nothing under the prefix', async () => {
    const { response, calls } = run({ Records: [record('1', body('Object Created', 'elsewhere/a.rpm'))] }, async () => EMPTY_REPORT);
    expect(await response).toEqual({ batchItemFailures: [] });
    expect(calls).toEqual([]);
  });
});

describe('configFromEnv', () => {
  const env = { FORMAT: 'apk', FORMAT_OPTIONS: '{"keyName":"ops.rsa.pub"}', BUCKET_NAME: BUCKET, PREFIX: 'apk/', RSA_KEY_PARAMETER: '/k/rsa' };

  it('reads what the constructs set', () => {
    expect(configFromEnv(env)).toEqual({
      format: 'apk',
      formatOptions: { keyName: 'ops.rsa.pub' },
      bucket: BUCKET,
      prefix: 'apk/',
      pgpKeyParameter: undefined,
      rsaKeyParameter: '/k/rsa',
      passphraseParameter: undefined,
    });
  });

  it('reads the policies, the event bus and the repository name', () => {
    expect(configFromEnv({
      ...env, SAME_VERSION: 'replace', RETENTION: '{"keepVersions":3,"deleteObjects":true}', EVENT_BUS_NAME: 'arn:aws:events:eu-west-1:123456789012:event-bus/repos', REPOSITORY_NAME: 'Stack/Apk',
    })).toMatchObject({
      sameVersion: 'replace',
      retention: { keepVersions: 3, deleteObjects: true },
      eventBusName: 'arn:aws:events:eu-west-1:123456789012:event-bus/repos',
      repositoryName: 'Stack/Apk',
    });
    expect(configFromEnv({ ...env, SAME_VERSION: '', RETENTION: '', EVENT_BUS_NAME: '' })).toMatchObject({
      sameVersion: undefined, retention: undefined, eventBusName: undefined,
    });
  });

  it.each([
    [{ ...env, SAME_VERSION: 'overwrite' }, /SAME_VERSION must be refuse or replace, got "overwrite"/],
    [{ ...env, RETENTION: '3' }, /RETENTION.keepVersions must be a whole number of at least 1, got undefined/],
    [{ ...env, RETENTION: '{"keepVersions":0}' }, /RETENTION.keepVersions must be a whole number of at least 1, got 0/],
    [{ ...env, RETENTION: '{"keepVersions":2,"deleteObjects":"yes"}' }, /RETENTION.deleteObjects must be true or false/],
    [{ ...env, RETENTION: '{keepVersions:2}' }, /RETENTION is not JSON/],
    [{ ...env, FORMAT: 'rpm' }, /FORMAT must be yum, apt, apk or pacman, got "rpm"/],
    [{ ...env, BUCKET_NAME: '' }, /BUCKET_NAME is not set/],
    [{ ...env, FORMAT_OPTIONS: '{' }, /FORMAT_OPTIONS is not JSON/],
    [{ ...env, RSA_KEY_PARAMETER: undefined }, /neither PGP_KEY_PARAMETER nor RSA_KEY_PARAMETER is set/],
  ])('rejects %j', (bad, error) => {
    expect(() => configFromEnv(bad)).toThrow(error);
  });
});

describe('loadKeysFromSsm', () => {
  /** An SSM client answering GetParameter from a map (WithDecryption required, as for SecureString). */
  function fakeSsm(values: Record<string, string>): SSMClient {
    return {
      send: async (command: unknown) => {
        if (!(command instanceof GetParameterCommand)) throw new Error('unexpected command');
        if (command.input.WithDecryption !== true) throw new Error('SecureString read without decryption');
        const value = values[command.input.Name!];
        if (value === undefined) throw Object.assign(new Error('not found'), { name: 'ParameterNotFound' });
        return { Parameter: { Name: command.input.Name, Value: value } };
      },
    } as unknown as SSMClient;
  }

  it('loads an OpenPGP key with its passphrase', async () => {
    const key = await generatePgpKey({ name: 'Test', type: 'ed25519', passphrase: 'secret words' });
    const keys = await loadKeysFromSsm(fakeSsm({ '/k/pgp': key.privateKeyArmored, '/k/pass': 'secret words' }), {
      format: 'yum', formatOptions: {}, bucket: BUCKET, prefix: '', pgpKeyParameter: '/k/pgp', passphraseParameter: '/k/pass',
    });
    expect(keys.pgp?.fingerprint).toBe(key.fingerprint);
    expect(keys.rsa).toBeUndefined();
  });

  it('loads an RSA key under the configured apk key name', async () => {
    const key = generateRsaKey(2048);
    const keys = await loadKeysFromSsm(fakeSsm({ '/k/rsa': key.privateKeyPem }), {
      format: 'apk', formatOptions: { keyName: 'ops.rsa.pub' }, bucket: BUCKET, prefix: '', rsaKeyParameter: '/k/rsa',
    });
    expect(keys.rsa?.keyName).toBe('ops.rsa.pub');
    expect(keys.rsa?.publicKeyPem).toBe(key.publicKeyPem);
  });
});
