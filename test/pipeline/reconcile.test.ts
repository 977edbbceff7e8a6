import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchBytes, only, testKeys, VISIBILITY_TIMEOUT_MS, yumIndexNames } from './support';
import { buildRpm } from '../../src/formats/rpm';
import type { RepositoryEvent } from '../../src/handlers/events';
import { startLocalPipeline, type LocalPipeline } from '../../src/pipeline/local-pipeline';

const UNIT = 'el/x86_64/';
const rpm = (name: string) => buildRpm({ name, version: '1.0', release: '1', arch: 'x86_64', summary: `${name} for the reconcile pipeline test` });
const key = (name: string) => `yum/${UNIT}${name}-1.0-1.x86_64.rpm`;

/**
 * The local pipeline's reporting and reconcile: `onEvent` receives what EventBridge would, and the
 * reconcile message sent into the repository's queue repairs what lost events left out.
 */
describe('local pipeline: events and reconcile (yum)', () => {
  let pipeline: LocalPipeline;
  const events: RepositoryEvent[] = [];
  const lines: string[] = [];
  /** Keys whose events EventBridge "loses". */
  const lost = new Set<string>();

  beforeAll(async () => {
    pipeline = await startLocalPipeline({
      formats: ['yum'],
      keys: await testKeys(),
      visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS,
      faults: { dropEvent: (event) => lost.has(event.key) },
      onEvent: (event) => events.push(event),
      log: (line) => lines.push(line),
    });
  });
  afterAll(async () => pipeline?.stop());

  const unitUrl = () => `${only(pipeline).url}${UNIT}`;
  const revision = async () => createHash('sha256').update(await fetchBytes(`${unitUrl()}repodata/repomd.xml`)).digest('hex');

  it('an upload gives Repository Published, a broken one Package Rejected', async () => {
    await pipeline.upload(key('hello'), rpm('hello'));
    await pipeline.upload(key('broken'), 'not an rpm');
    await pipeline.waitForIdle();
    expect(events.filter((e) => e.detailType === 'Package Rejected').map((e) => e.detail)).toEqual([
      { repository: 'yum/', bucket: pipeline.bucket, format: 'yum', unit: `yum:${UNIT}`, key: `${UNIT}broken-1.0-1.x86_64.rpm`, code: 'invalid-package', reason: expect.stringMatching(/\S/) },
    ]);
    const published = events.filter((e) => e.detailType === 'Repository Published');
    expect(published.flatMap((e) => e.detail.added.map((p) => p.name))).toEqual(['hello']);
    expect(published[published.length - 1].detail).toMatchObject({ revision: await revision(), packageCount: 1 });
    // the EMF metric lines are in the indexer's log, as in CloudWatch Logs
    const metrics = lines.map((l) => JSON.parse(l)).filter((l) => l._aws);
    expect(metrics.reduce((n, m) => n + m.RejectedPackages, 0)).toBe(1);
    expect(metrics.reduce((n, m) => n + m.IndexedPackages, 0)).toBe(1);
    expect(metrics.every((m) => m.Repository === 'yum/')).toBe(true);
    await pipeline.delete(key('broken'));
    await pipeline.waitForIdle();
  });

  it('the reconcile message indexes an upload whose event was lost and drops a deletion whose event was lost', async () => {
    // GIVEN an upload and a deletion whose events are lost
    lost.add(key('missed')).add(key('hello'));
    await pipeline.upload(key('missed'), rpm('missed'));
    await pipeline.delete(key('hello'));
    await pipeline.waitForIdle();
    expect(await yumIndexNames(unitUrl())).toEqual(['hello']);
    events.length = 0;
    // WHEN the schedule's message arrives
    only(pipeline).reconcile();
    await pipeline.waitForIdle();
    // THEN the index agrees with the bucket, and Repository Reconciled says what changed
    expect(await yumIndexNames(unitUrl())).toEqual(['missed']);
    expect(events.map((e) => e.detailType)).toEqual(['Repository Published', 'Repository Reconciled']);
    expect(events[1].detail).toEqual({
      repository: 'yum/',
      bucket: pipeline.bucket,
      format: 'yum',
      added: [{ key: `${UNIT}missed-1.0-1.x86_64.rpm`, name: 'missed', version: '1.0-1', arch: 'x86_64' }],
      removed: [`${UNIT}hello-1.0-1.x86_64.rpm`],
      replaced: [],
      pruned: [],
      rejected: [],
      units: [{ unit: `yum:${UNIT}`, published: true, revision: await revision(), packageCount: 1 }],
    });
    // a second reconcile (sent within the deduplication window) still runs, and finds nothing to do
    events.length = 0;
    only(pipeline).reconcile();
    await pipeline.waitForIdle();
    expect(events).toEqual([expect.objectContaining({ detailType: 'Repository Reconciled', detail: expect.objectContaining({ added: [], removed: [] }) })]);
  });
});

describe('local pipeline: the engine policies of a repository', () => {
  it('retention and same-version policy reach the indexer: a second version prunes the first, new bytes of a version replace it', async () => {
    const events: RepositoryEvent[] = [];
    const pipeline = await startLocalPipeline({
      formats: [{ format: 'yum', sameVersion: 'replace', retention: { keepVersions: 1 } }],
      keys: await testKeys(),
      onEvent: (event) => events.push(event),
    });
    try {
      const build = (version: string, summary = 'first build') => buildRpm({ name: 'tool', version, release: '1', arch: 'x86_64', summary });
      await pipeline.upload(`yum/${UNIT}tool-1.0-1.x86_64.rpm`, build('1.0'));
      await pipeline.waitForIdle();
      await pipeline.upload(`yum/${UNIT}tool-2.0-1.x86_64.rpm`, build('2.0'));
      await pipeline.waitForIdle();
      await pipeline.upload(`yum/${UNIT}tool-2.0-1.x86_64.rpm`, build('2.0', 'second build'));
      await pipeline.waitForIdle();
      const published = events.filter((e) => e.detailType === 'Repository Published').map((e) => e.detail);
      expect(published.map((d) => [d.added.map((p) => p.version), d.pruned, d.replaced, d.packageCount])).toEqual([
        [['1.0-1'], [], [], 1],
        [['2.0-1'], [`${UNIT}tool-1.0-1.x86_64.rpm`], [], 1],
        [['2.0-1'], [], [`${UNIT}tool-2.0-1.x86_64.rpm`], 1],
      ]);
      expect(events.filter((e) => e.detailType === 'Package Rejected')).toEqual([]);
    } finally {
      await pipeline.stop();
    }
  });
});
