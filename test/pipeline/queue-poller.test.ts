import { describe, expect, it } from 'vitest';
import { processBatch, type SqsEvent } from '../../src/handlers/indexer';
import { FifoQueue } from '../../src/pipeline/fifo-queue';
import { QueuePoller, type LambdaSqsRecord } from '../../src/pipeline/queue-poller';

const GROUP = 'yum:yum/';
const body = (key: string) => JSON.stringify({ 'detail-type': 'Object Created', 'bucket': 'b', key, 'sequencer': key });
const keyOf = (record: { body: string }) => JSON.parse(record.body).key as string;

/** Runs a poller until the queue is empty, recording every invocation's keys. */
async function drain(
  queue: FifoQueue,
  handler: (event: SqsEvent) => Promise<any>,
  batchSize = 10,
): Promise<{ poller: QueuePoller; batches: string[][] }> {
  const batches: string[][] = [];
  const poller = new QueuePoller({
    queue,
    batchSize,
    handler: async (event) => {
      batches.push(event.Records.map(keyOf));
      return handler(event);
    },
  });
  poller.start();
  const deadline = Date.now() + 20_000;
  while (!queue.isEmpty || poller.busy) {
    if (Date.now() > deadline) throw new Error(`not drained: ${JSON.stringify(queue.messages())}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await poller.stop();
  return { poller, batches };
}

describe('QueuePoller (Lambda\'s SQS event source mapping)', () => {
  it('hands Lambda-shaped FIFO records to the function', async () => {
    const queue = new FifoQueue({ name: 'repo.fifo' });
    queue.send({ body: body('yum/a.rpm'), messageGroupId: GROUP });
    let seen: LambdaSqsRecord | undefined;
    await drain(queue, async (event) => {
      seen = event.Records[0] as LambdaSqsRecord;
    });
    expect(seen).toMatchObject({
      body: body('yum/a.rpm'),
      eventSource: 'aws:sqs',
      eventSourceARN: expect.stringMatching(/:repo\.fifo$/),
      attributes: { MessageGroupId: GROUP, ApproximateReceiveCount: '1', SequenceNumber: expect.stringMatching(/^\d{20}$/) },
    });
  });

  it('with the real processBatch: a failed apply is reported the FIFO way and the group is retried in order', async () => {
    const queue = new FifoQueue({ visibilityTimeoutMs: 50 });
    for (const key of ['yum/a.rpm', 'yum/b.rpm', 'yum/c.rpm']) queue.send({ body: body(key), messageGroupId: GROUP });
    let calls = 0;
    const applied: string[][] = [];
    const { batches, poller } = await drain(queue, (event) => processBatch(event, {
      bucket: 'b',
      prefix: 'yum/',
      apply: async (changes) => {
        if (++calls === 1) throw new Error('S3 is having a bad day');
        applied.push(changes.upserted);
        return { units: [], rejected: [] };
      },
      log: () => undefined,
    }));
    expect(batches).toEqual([['yum/a.rpm', 'yum/b.rpm', 'yum/c.rpm'], ['yum/a.rpm', 'yum/b.rpm', 'yum/c.rpm']]);
    expect(applied).toEqual([['a.rpm', 'b.rpm', 'c.rpm']]);
    expect(poller.stats).toEqual({ invocations: 2, failedInvocations: 0, reportedFailures: 3 });
  });

  it('a reported failure in the middle keeps the failed messages and deletes the others', async () => {
    const queue = new FifoQueue({ visibilityTimeoutMs: 50 });
    for (const key of ['1', '2', '3', '4']) queue.send({ body: body(key), messageGroupId: GROUP });
    let first = true;
    const { batches } = await drain(queue, async (event) => {
      if (!first) return { batchItemFailures: [] };
      first = false;
      return { batchItemFailures: event.Records.slice(2).map((r) => ({ itemIdentifier: r.messageId })) };
    });
    expect(batches).toEqual([['1', '2', '3', '4'], ['3', '4']]);
  });

  it.each([
    ['throws', async () => {
      throw new Error('boom');
    }],
    ['names a message that is not in the batch', async () => ({ batchItemFailures: [{ itemIdentifier: 'nope' }] })],
    ['names an empty identifier', async () => ({ batchItemFailures: [{ itemIdentifier: '' }] })],
  ])('a function that %s fails the whole batch, which comes back after the visibility timeout', async (_, failure) => {
    const queue = new FifoQueue({ visibilityTimeoutMs: 50 });
    for (const key of ['1', '2']) queue.send({ body: body(key), messageGroupId: GROUP });
    let calls = 0;
    const started = Date.now();
    const { batches, poller } = await drain(queue, async () => (++calls === 1 ? failure() : undefined));
    expect(batches).toEqual([['1', '2'], ['1', '2']]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    expect(poller.stats).toMatchObject({ invocations: 2, failedInvocations: 1 });
  });

  it('takes batchSize messages at a time', async () => {
    const queue = new FifoQueue();
    for (let i = 0; i < 7; i++) queue.send({ body: body(String(i)), messageGroupId: GROUP });
    const { batches } = await drain(queue, async () => undefined, 3);
    expect(batches.map((b) => b.length)).toEqual([3, 3, 1]);
  });

  it('refuses a batch size above 10', () => {
    expect(() => new QueuePoller({ queue: new FifoQueue(), handler: async () => undefined, batchSize: 11 })).toThrow(/batchSize must be 1 to 10, got 11/);
  });
});
