import { describe, expect, it } from 'vitest';
import { FifoQueue, type FifoQueueOptions, type ReceivedMessage } from '../../src/pipeline/fifo-queue';

/** A queue on a hand-driven clock. */
function queueAt(options: Omit<FifoQueueOptions, 'now'> = {}) {
  const clock = { now: 1_000_000 };
  const queue = new FifoQueue({ visibilityTimeoutMs: 1000, ...options, now: () => clock.now });
  return { queue, clock };
}

const bodies = (messages: readonly ReceivedMessage[]) => messages.map((m) => m.body);

function sendAll(queue: FifoQueue, group: string, ...bodies_: string[]): void {
  for (const body of bodies_) queue.send({ body, messageGroupId: group });
}

describe('FifoQueue', () => {
  it('delivers a group in send order, at most 10 per receive, and locks the group while messages are in flight', () => {
    const { queue } = queueAt();
    sendAll(queue, 'g', ...Array.from({ length: 12 }, (_, i) => `m${i}`));
    const first = queue.receive();
    expect(bodies(first)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9']);
    expect(first.map((m) => m.sequenceNumber)).toEqual([...first.map((m) => m.sequenceNumber)].sort());
    // the rest of the group waits until the batch is deleted
    expect(queue.receive()).toEqual([]);
    for (const m of first) expect(queue.delete(m.receiptHandle)).toBe(true);
    expect(bodies(queue.receive())).toEqual(['m10', 'm11']);
  });

  it('receives several groups in one batch and keeps each one ordered', () => {
    const { queue } = queueAt();
    sendAll(queue, 'a', 'a1', 'a2');
    sendAll(queue, 'b', 'b1');
    sendAll(queue, 'a', 'a3');
    const batch = queue.receive(10);
    expect(bodies(batch)).toEqual(['a1', 'a2', 'a3', 'b1']);
    expect(batch.map((m) => m.messageGroupId)).toEqual(['a', 'a', 'a', 'b']);
  });

  it('a group locked by an in-flight message does not block the other groups', () => {
    const { queue } = queueAt();
    sendAll(queue, 'a', 'a1');
    expect(bodies(queue.receive(1))).toEqual(['a1']);
    sendAll(queue, 'a', 'a2');
    sendAll(queue, 'b', 'b1');
    expect(bodies(queue.receive())).toEqual(['b1']);
  });

  it('redelivers a message that was not deleted when its visibility timeout ends, counting receives', () => {
    const { queue, clock } = queueAt({ visibilityTimeoutMs: 500 });
    sendAll(queue, 'g', 'one', 'two');
    const [one, two] = queue.receive();
    expect(one.receiveCount).toBe(1);
    queue.delete(two.receiptHandle); // reported failed: `one`; `two` succeeded (not what a FIFO handler should do, but allowed)
    clock.now += 499;
    expect(queue.receive()).toEqual([]);
    expect(queue.nextVisibilityChange()).toBe(clock.now + 1);
    clock.now += 1;
    const again = queue.receive();
    expect(bodies(again)).toEqual(['one']);
    expect(again[0]).toMatchObject({ messageId: one.messageId, receiveCount: 2, firstReceiveTimestamp: one.firstReceiveTimestamp });
    // the old receipt handle no longer deletes
    expect(queue.delete(one.receiptHandle)).toBe(false);
    expect(queue.delete(again[0].receiptHandle)).toBe(true);
    expect(queue.isEmpty).toBe(true);
    expect(queue.stats).toMatchObject({ queued: 2, received: 3, redelivered: 1, deleted: 2 });
  });

  it('content-based deduplication: the same body within 5 minutes is accepted once; after the window it is queued again', () => {
    const { queue, clock } = queueAt();
    const first = queue.send({ body: 'event', messageGroupId: 'g' });
    clock.now += 5 * 60_000 - 1;
    const duplicate = queue.send({ body: 'event', messageGroupId: 'g' });
    expect(duplicate).toEqual({ messageId: first.messageId, deduplicated: true });
    expect(queue.messages()).toHaveLength(1);
    // processing does not end the window
    queue.delete(queue.receive()[0].receiptHandle);
    expect(queue.send({ body: 'event', messageGroupId: 'g' }).deduplicated).toBe(true);
    clock.now += 1;
    expect(queue.send({ body: 'event', messageGroupId: 'g' }).deduplicated).toBe(false);
    // an explicit deduplication id wins over the body
    expect(queue.send({ body: 'other', messageGroupId: 'g', deduplicationId: 'x' }).deduplicated).toBe(false);
    expect(queue.send({ body: 'another', messageGroupId: 'g', deduplicationId: 'x' }).deduplicated).toBe(true);
    expect(queue.stats).toMatchObject({ queued: 3, deduplicated: 3 });
  });

  it('after maxReceiveCount receives a message moves to the dead-letter queue, which unblocks its group', () => {
    const deadLetters = new FifoQueue();
    const { queue, clock } = queueAt({ deadLetter: { queue: deadLetters, maxReceiveCount: 3 } });
    sendAll(queue, 'g', 'poison', 'good');
    for (let i = 1; i <= 3; i++) {
      const batch = queue.receive(1);
      expect(batch).toMatchObject([{ body: 'poison', receiveCount: i }]);
      clock.now += 1000; // never deleted: the handler failed
    }
    const next = queue.receive(1);
    expect(bodies(next)).toEqual(['good']);
    expect(deadLetters.messages()).toMatchObject([{ body: 'poison', messageGroupId: 'g' }]);
    expect(queue.stats.deadLettered).toBe(1);
  });

  it('lost deletes deliver a processed message again, once per lost delete', () => {
    const { queue, clock } = queueAt({ redeliverAfterDelete: (m) => m.receiveCount === 1 });
    sendAll(queue, 'g', 'a', 'b');
    const first = queue.receive();
    for (const m of first) expect(queue.delete(m.receiptHandle)).toBe(true);
    expect(queue.receive()).toEqual([]); // still in flight
    clock.now += 1000;
    const duplicates = queue.receive();
    expect(duplicates.map((m) => [m.body, m.messageId, m.receiveCount])).toEqual(first.map((m) => [m.body, m.messageId, 2]));
    for (const m of duplicates) queue.delete(m.receiptHandle);
    expect(queue.isEmpty).toBe(true);
    expect(queue.stats).toMatchObject({ lostDeletes: 2, deleted: 2, redelivered: 2 });
  });

  it('tells listeners about sends and deletes', () => {
    const { queue } = queueAt();
    let changes = 0;
    const stop = queue.onChange(() => changes++);
    sendAll(queue, 'g', 'a');
    queue.send({ body: 'a', messageGroupId: 'g' }); // deduplicated: no change
    queue.delete(queue.receive()[0].receiptHandle);
    stop();
    sendAll(queue, 'g', 'b');
    expect(changes).toBe(2);
  });

  it.each([
    ['a receive of 11', (q: FifoQueue) => q.receive(11), /1 to 10 messages, not 11/],
    ['a receive of 0', (q: FifoQueue) => q.receive(0), /1 to 10 messages, not 0/],
    ['a message without a group', (q: FifoQueue) => q.send({ body: 'x', messageGroupId: '' }), /needs a message group id/],
  ])('refuses %s', (_, act, error) => {
    expect(() => act(queueAt().queue)).toThrow(error);
  });

  it.each([
    [{ visibilityTimeoutMs: 0 }, /visibilityTimeoutMs must be > 0/],
    [{ deadLetter: { queue: new FifoQueue(), maxReceiveCount: 0 } }, /maxReceiveCount must be a whole number >= 1/],
  ])('refuses the options %j', (options, error) => {
    expect(() => new FifoQueue(options)).toThrow(error);
  });
});
