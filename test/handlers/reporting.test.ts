import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEventBridgeStandIn, type EventBridgeStandIn } from './eventbridge-standin';
import { buildRpm } from '../../src/formats/rpm';
import { reconcileMessageBody } from '../../src/handlers/contract';
import { batchDependencies, engineOptionsFor, processBatch, type IndexerConfig, type SqsRecord } from '../../src/handlers/indexer';
import { generatePgpKey } from '../../src/signing/pgp';
import { startS3rver, type S3rverHandle } from '../support/s3rver';

const BUCKET = 'reporting-bucket';
const UNIT = 'el9/x86_64/';
const rpm = (name: string, version = '1.0') => buildRpm({ name, version, release: '1', arch: 'x86_64', summary: `${name} for the reporting test` });
const rpmKey = (name: string, version = '1.0') => `${UNIT}${name}-${version}-1.x86_64.rpm`;

/**
 * The indexer's reports of real runs: processBatch over the engine on s3rver, EventBridge a local
 * stand-in speaking PutEvents, the EMF metric lines taken from the log. The events are checked
 * against the bucket (the revision is the SHA-256 of the repomd.xml actually published).
 */
describe('indexer events and metrics (s3rver + EventBridge stand-in)', () => {
  let s3: S3rverHandle;
  let eventBridge: EventBridgeStandIn;
  let ssm: SSMClient;
  let lines: string[];
  const config: IndexerConfig = {
    format: 'yum', formatOptions: {}, bucket: BUCKET, prefix: 'yum/', pgpKeyParameter: '/k', eventBusName: 'repository-events', repositoryName: 'Stack/Yum',
  };

  beforeAll(async () => {
    s3 = await startS3rver({ bucket: BUCKET });
    eventBridge = await startEventBridgeStandIn();
    const key = await generatePgpKey({ name: 'Reporting Test', type: 'ed25519' });
    ssm = { send: async () => ({ Parameter: { Value: key.privateKeyArmored } }) } as unknown as SSMClient;
  });
  afterAll(async () => {
    await s3?.stop();
    await eventBridge?.close();
  });
  beforeEach(() => {
    lines = [];
    eventBridge.requests.length = 0;
    eventBridge.behaviour = { kind: 'accept' };
  });

  const put = (key: string, body: Uint8Array | string) => s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `yum/${key}`, Body: body }));
  const remove = (key: string) => s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `yum/${key}` }));
  let nextId = 0;
  const created = (key: string): SqsRecord => ({
    messageId: `m${++nextId}`,
    body: JSON.stringify({ 'detail-type': 'Object Created', 'bucket': BUCKET, 'key': `yum/${key}`, 'sequencer': String(nextId) }),
    attributes: { MessageGroupId: 'yum:yum/' },
  });
  const reconcile = (): SqsRecord => ({ messageId: `m${++nextId}`, body: reconcileMessageBody(new Date()), attributes: { MessageGroupId: 'yum:yum/' } });
  const run = async (records: SqsRecord[]) => {
    const options = await engineOptionsFor(config, { s3: s3.client, ssm }, () => undefined);
    return processBatch({ Records: records }, batchDependencies(config, options, eventBridge.client(), (line) => lines.push(line)));
  };
  const received = () => eventBridge.requests.flat()
    .map((e) => ({ source: e.Source, detailType: e.DetailType, bus: e.EventBusName, detail: JSON.parse(e.Detail) }));
  const metricLines = () => lines.map((l) => JSON.parse(l)).filter((l) => l._aws !== undefined);
  const repomdRevision = async () => {
    const out = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: `yum/${UNIT}repodata/repomd.xml` }));
    return createHash('sha256').update(await out.Body!.transformToByteArray()).digest('hex');
  };

  it('a rejected package and a publish: Package Rejected with code and reason, Repository Published with the revision and the added packages, one EMF line', async () => {
    // GIVEN a good package and a file that is not an rpm, uploaded
    await put(rpmKey('good'), rpm('good'));
    await put(rpmKey('broken'), 'this is not an rpm');
    // WHEN their events are processed
    const response = await run([created(rpmKey('good')), created(rpmKey('broken'))]);
    // THEN the batch succeeds and EventBridge received exactly the two events, on the configured bus
    expect(response).toEqual({ batchItemFailures: [] });
    const events = received();
    expect(events).toEqual([
      {
        source: 'cdk-package-repos',
        detailType: 'Package Rejected',
        bus: 'repository-events',
        detail: { repository: 'yum/', bucket: BUCKET, format: 'yum', unit: `yum:${UNIT}`, key: rpmKey('broken'), code: 'invalid-package', reason: expect.stringMatching(/\S/) },
      },
      {
        source: 'cdk-package-repos',
        detailType: 'Repository Published',
        bus: 'repository-events',
        detail: {
          repository: 'yum/',
          bucket: BUCKET,
          format: 'yum',
          unit: `yum:${UNIT}`,
          revision: await repomdRevision(),
          added: [{ key: rpmKey('good'), name: 'good', version: '1.0-1', arch: 'x86_64' }],
          removed: [],
          replaced: [],
          pruned: [],
          packageCount: 1,
        },
      },
    ]);
    // the reason is the one the indexer logged for the rejection
    const warn = lines.map((l) => JSON.parse(l)).find((l) => l.level === 'warn');
    expect(events[0].detail.reason).toBe(warn.rejected[0].reason);
    // one metric line, in Embedded Metric Format
    expect(metricLines()).toEqual([{
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [{
          Namespace: 'PackageRepositories',
          Dimensions: [['Repository']],
          Metrics: [{ Name: 'RejectedPackages', Unit: 'Count' }, { Name: 'IndexedPackages', Unit: 'Count' }, { Name: 'PublishedIndexes', Unit: 'Count' }],
        }],
      },
      Repository: 'Stack/Yum',
      RejectedPackages: 1,
      IndexedPackages: 1,
      PublishedIndexes: 1,
      format: 'yum',
      run: 'changes',
    }]);
    expect(Math.abs(metricLines()[0]._aws.Timestamp - Date.now())).toBeLessThan(60_000);
    await remove(rpmKey('broken'));
  });

  it('a reconcile message between uploads runs in the group\'s order and reports the missed upload and the missed delete', async () => {
    // GIVEN an indexed package whose file is then deleted without an event, a package uploaded without an event,
    // and a new upload whose event comes before the reconcile message
    await put(rpmKey('gone'), rpm('gone'));
    await run([created(rpmKey('gone'))]);
    await remove(rpmKey('gone'));
    await put(rpmKey('missed'), rpm('missed'));
    await put(rpmKey('first'), rpm('first'));
    lines = [];
    eventBridge.requests.length = 0;
    // WHEN the batch holds: the upload event, the reconcile message, an event of a key that does not exist
    const response = await run([created(rpmKey('first')), reconcile(), created(rpmKey('never-uploaded'))]);
    // THEN the upload was applied first (the reconcile found it indexed), the reconcile indexed the
    // missed upload and dropped the missed delete
    expect(response).toEqual({ batchItemFailures: [] });
    const events = received();
    expect(events.map((e) => e.detailType)).toEqual(['Repository Published', 'Repository Published', 'Repository Reconciled']);
    // good (the first test), gone and first
    expect(events[0].detail).toMatchObject({ added: [{ key: rpmKey('first') }], removed: [], packageCount: 3 });
    expect(events[1].detail).toMatchObject({ added: [{ key: rpmKey('missed'), name: 'missed' }], removed: [rpmKey('gone')], packageCount: 3 });
    expect(events[2].detail).toEqual({
      repository: 'yum/',
      bucket: BUCKET,
      format: 'yum',
      added: [{ key: rpmKey('missed'), name: 'missed', version: '1.0-1', arch: 'x86_64' }],
      removed: [rpmKey('gone')],
      replaced: [],
      pruned: [],
      rejected: [],
      units: [{ unit: `yum:${UNIT}`, published: true, revision: await repomdRevision(), packageCount: 3 }],
    });
    expect(metricLines().map((m) => [m.run, m.RejectedPackages, m.IndexedPackages, m.PublishedIndexes])).toEqual([
      ['changes', 0, 1, 1],
      ['reconcile', 0, 1, 1],
      ['changes', 0, 0, 0],
    ]);
  });

  it('sends at most 10 entries per PutEvents request, in order', async () => {
    // GIVEN 23 broken uploads
    const names = Array.from({ length: 23 }, (_, i) => `junk${String(i).padStart(2, '0')}`);
    for (const name of names) await put(rpmKey(name), `not an rpm: ${name}`);
    // WHEN their events are processed in one batch... of 10 (SQS's limit), then the rest through a reconcile
    const response = await run([...names.slice(0, 10).map((n) => created(rpmKey(n))), reconcile()]);
    // THEN
    expect(response).toEqual({ batchItemFailures: [] });
    expect(eventBridge.requests.map((r) => r.length)).toEqual([10, 10, 10, 4]);
    const rejected = received().filter((e) => e.detailType === 'Package Rejected').map((e) => e.detail.key);
    expect(rejected).toEqual([...names.slice(0, 10), ...names].map((n) => rpmKey(n)));
    const reconciled = received().find((e) => e.detailType === 'Repository Reconciled')!;
    expect(reconciled.detail.rejected.map((r: { key: string }) => r.key)).toEqual(names.map((n) => rpmKey(n)));
    expect(metricLines().map((m) => m.RejectedPackages)).toEqual([10, 23]);
    for (const name of names) await remove(rpmKey(name));
  });

  it.each([
    ['EventBridge refuses the request', { kind: 'deny' } as const, /"events":"PutEvents failed".*AccessDenied|not authorized/],
    ['EventBridge fails an entry', { kind: 'fail-entries', detailType: 'Package Rejected' } as const, /"failedEntryCount":1/],
  ])('%s: an error line, and the batch does not fail (the index is published)', async (_name, behaviour, error) => {
    // GIVEN
    eventBridge.behaviour = behaviour;
    await put(rpmKey('another'), rpm('another'));
    await put(rpmKey('bad'), 'not an rpm either');
    // WHEN
    const response = await run([created(rpmKey('another')), created(rpmKey('bad'))]);
    // THEN
    expect(response).toEqual({ batchItemFailures: [] });
    const errors = lines.filter((l) => JSON.parse(l).level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(error);
    expect(eventBridge.requests).toHaveLength(1);
    await remove(rpmKey('another'));
    await remove(rpmKey('bad'));
  });
});
