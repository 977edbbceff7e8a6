import { describe, expect, it } from 'vitest';
import { entriesOf, entrySize, fitDetail, MAX_REQUEST_BYTES, requestsOf } from '../../src/handlers/events';
import { emfLine, repositoryDimension } from '../../src/handlers/metrics';

/** A published unit's detail with `count` added packages of long keys. */
function bigDetail(count: number) {
  return {
    repository: 'yum/',
    format: 'yum' as const,
    unit: 'yum:el9/x86_64/',
    added: Array.from({ length: count }, (_, i) => ({ key: `el9/x86_64/${'x'.repeat(100)}-${i}.rpm`, name: `p${i}`, version: '1.0-1', arch: 'x86_64' })),
    removed: Array.from({ length: 10 }, (_, i) => `el9/x86_64/old-${i}.rpm`),
    replaced: [],
    pruned: [],
    packageCount: count,
  };
}

describe('fitDetail', () => {
  it('leaves a detail that fits as it is', () => {
    const detail = bigDetail(3);
    expect(fitDetail('Repository Published', detail)).toEqual(detail);
  });

  it('cuts the longest list of a detail over 256 KB to a prefix, and says how long it was', () => {
    // GIVEN 5000 added packages (about 700 KB of JSON)
    const detail = bigDetail(5000);
    expect(Buffer.byteLength(JSON.stringify(detail))).toBeGreaterThan(MAX_REQUEST_BYTES);
    // WHEN
    const fitted = fitDetail('Repository Published', detail);
    // THEN the entry fits one PutEvents request, the short lists are whole, the cut one is a prefix
    const [entry] = entriesOf([{ source: 'cdk-package-repos', detailType: 'Repository Published', detail: fitted }]);
    expect(entrySize(entry)).toBeLessThan(MAX_REQUEST_BYTES);
    expect(fitted.truncated).toEqual({ added: 5000 });
    expect(fitted.added.length).toBeGreaterThan(1000);
    expect(fitted.added).toEqual(detail.added.slice(0, fitted.added.length));
    expect(fitted.removed).toEqual(detail.removed);
    expect(fitted.packageCount).toBe(5000);
  });
});

describe('requestsOf', () => {
  const entry = (bytes: number) => ({ Source: 'cdk-package-repos', DetailType: 'Package Rejected', Detail: JSON.stringify({ pad: 'x'.repeat(bytes) }) });

  it('puts at most 10 entries in a request', () => {
    expect(requestsOf(Array.from({ length: 21 }, () => entry(10))).map((r) => r.length)).toEqual([10, 10, 1]);
  });

  it('keeps each request under 256 KB, in order', () => {
    // GIVEN entries of about 100 KB: two fit a request, three do not
    const entries = Array.from({ length: 5 }, (_, i) => ({ ...entry(100_000), DetailType: `Type ${i}` }));
    const requests = requestsOf(entries);
    expect(requests.map((r) => r.length)).toEqual([2, 2, 1]);
    expect(requests.flat()).toEqual(entries);
    for (const r of requests) expect(r.reduce((n, e) => n + entrySize(e), 0)).toBeLessThan(MAX_REQUEST_BYTES);
  });

  it('counts UTF-8 bytes, as EventBridge does', () => {
    expect(entrySize({ Source: 'é', DetailType: 'ü', Detail: '"€"' })).toBe(2 + 2 + 5);
  });
});

describe('metrics', () => {
  it.each([
    ['yum/', undefined, 'yum/'],
    ['', undefined, '/'],
    ['apt/', 'Stack/Apt', 'Stack/Apt'],
  ])('the Repository dimension of prefix %j and name %j is %j', (prefix, name, dimension) => {
    expect(repositoryDimension(prefix, name)).toBe(dimension);
  });

  it('an EMF line declares every metric it carries', () => {
    const line = JSON.parse(emfLine({ RejectedPackages: 2, IndexedPackages: 5, PublishedIndexes: 1 }, { repository: 'yum/', format: 'yum', run: 'reconcile', now: new Date(1_700_000_000_000) }));
    expect(line._aws.Timestamp).toBe(1_700_000_000_000);
    const declared = line._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);
    for (const name of declared) expect(typeof line[name]).toBe('number');
    for (const dimension of line._aws.CloudWatchMetrics[0].Dimensions.flat()) expect(typeof line[dimension]).toBe('string');
  });
});
