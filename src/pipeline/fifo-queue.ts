import { createHash, randomUUID } from 'node:crypto';

/** Settings of a FifoQueue. */
export interface FifoQueueOptions {
  /** For messages and errors. @default 'queue.fifo' */
  readonly name?: string;
  /** How long a received message stays invisible: longer than the consumer takes. @default 30 seconds */
  readonly visibilityTimeoutMs?: number;
  /** How long a deduplication id suppresses sends of the same id. @default 5 minutes (SQS's) */
  readonly deduplicationWindowMs?: number;
  /** Where messages go after `maxReceiveCount` receives. @default - none: they are received again forever */
  readonly deadLetter?: { readonly queue: FifoQueue; readonly maxReceiveCount: number };
  /** The clock, in milliseconds. @default Date.now */
  readonly now?: () => number;
  /**
   * Decides, at each delete, whether the delete is lost and the message delivered again: a
   * duplicate delivery of a message that was processed successfully.
   * @default - deletes are never lost
   */
  readonly redeliverAfterDelete?: (message: ReceivedMessage) => boolean;
}

export interface SendMessageInput {
  readonly body: string;
  readonly messageGroupId: string;
  /** @default - content-based: the SHA-256 of the body */
  readonly deduplicationId?: string;
}

export interface SendResult {
  readonly messageId: string;
  /** True when the message was a duplicate within the deduplication window (not queued again). */
  readonly deduplicated: boolean;
}

/** A message as one receive delivers it. */
export interface ReceivedMessage {
  readonly messageId: string;
  /** Valid for deleting this delivery only. */
  readonly receiptHandle: string;
  readonly body: string;
  readonly messageGroupId: string;
  readonly deduplicationId: string;
  /** 20 decimal digits, increasing in send order. */
  readonly sequenceNumber: string;
  /** How many times the message has been received, this time included. */
  readonly receiveCount: number;
  readonly sentTimestamp: number;
  readonly firstReceiveTimestamp: number;
}

/** A message waiting or in flight (or in a dead-letter queue). */
export interface QueuedMessage {
  readonly messageId: string;
  readonly body: string;
  readonly messageGroupId: string;
  readonly receiveCount: number;
  readonly inFlight: boolean;
}

/** What happened in a queue so far. */
export interface QueueStats {
  /** Messages queued (deduplicated sends not counted; moved-in dead letters are). */
  readonly queued: number;
  /** Sends dropped by deduplication. */
  readonly deduplicated: number;
  /** Deliveries (a message received three times counts three). */
  readonly received: number;
  /** Deliveries of a message received before. */
  readonly redelivered: number;
  /** Messages deleted. */
  readonly deleted: number;
  /** Deletes lost on purpose (`redeliverAfterDelete`). */
  readonly lostDeletes: number;
  /** Messages moved to the dead-letter queue. */
  readonly deadLettered: number;
}

/** SQS's limit on one receive. */
export const MAX_RECEIVE_BATCH = 10;

interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly messageGroupId: string;
  readonly deduplicationId: string;
  readonly sequenceNumber: string;
  readonly sentTimestamp: number;
  receiveCount: number;
  firstReceiveTimestamp?: number;
  /** 0 when visible. */
  invisibleUntil: number;
  receiptHandle?: string;
}

/**
 * An in-memory SQS FIFO queue, with the behaviour the indexer relies on:
 *
 * - message groups: messages of a group are received in the order they were sent, and while
 *   any message of a group is in flight (received, not yet deleted, visibility timeout not
 *   over) no other message of that group is received;
 * - a receive returns up to 10 messages, possibly of several groups;
 * - a received message that is not deleted becomes visible again when its visibility timeout
 *   ends, and is received again (its receive count grows);
 * - a message received `maxReceiveCount` times and still not deleted moves to the dead-letter
 *   queue at its next receive, which unblocks its group;
 * - deduplication: a message whose deduplication id (by default the SHA-256 of its body, as
 *   with content-based deduplication) was sent within the deduplication window is accepted
 *   but not queued.
 *
 * For tests, `redeliverAfterDelete` loses deletes: the message stays in flight and is
 * delivered again after its visibility timeout, as SQS may do (at-least-once delivery).
 */
export class FifoQueue {
  public readonly name: string;
  private readonly visibilityTimeoutMs: number;
  private readonly deduplicationWindowMs: number;
  private readonly now: () => number;
  /** Groups in the order their oldest message was sent. */
  private readonly groups = new Map<string, StoredMessage[]>();
  /** Deduplication id → end of its window, in insertion (= expiry) order. */
  private readonly deduplication = new Map<string, { expires: number; messageId: string }>();
  private readonly listeners = new Set<() => void>();
  private sequence = 0;
  private counters = { queued: 0, deduplicated: 0, received: 0, redelivered: 0, deleted: 0, lostDeletes: 0, deadLettered: 0 };

  constructor(private readonly options: FifoQueueOptions = {}) {
    this.name = options.name ?? 'queue.fifo';
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? 30_000;
    this.deduplicationWindowMs = options.deduplicationWindowMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    if (!(this.visibilityTimeoutMs > 0)) throw new Error(`${this.name}: visibilityTimeoutMs must be > 0, got ${this.visibilityTimeoutMs}`);
    if (!(this.deduplicationWindowMs >= 0)) throw new Error(`${this.name}: deduplicationWindowMs must be >= 0, got ${this.deduplicationWindowMs}`);
    const maxReceiveCount = options.deadLetter?.maxReceiveCount;
    if (maxReceiveCount !== undefined && (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1)) {
      throw new Error(`${this.name}: maxReceiveCount must be a whole number >= 1, got ${maxReceiveCount}`);
    }
  }

  /** Sends a message; a duplicate within the deduplication window is accepted and dropped. */
  public send(input: SendMessageInput): SendResult {
    if (!input.messageGroupId) throw new Error(`${this.name}: a FIFO message needs a message group id`);
    const now = this.now();
    this.expireDeduplication(now);
    const deduplicationId = input.deduplicationId ?? createHash('sha256').update(input.body, 'utf8').digest('hex');
    const seen = this.deduplication.get(deduplicationId);
    if (seen) {
      this.counters.deduplicated++;
      return { messageId: seen.messageId, deduplicated: true };
    }
    const messageId = randomUUID();
    this.deduplication.set(deduplicationId, { expires: now + this.deduplicationWindowMs, messageId });
    this.enqueue({ messageId, body: input.body, messageGroupId: input.messageGroupId, deduplicationId, sentTimestamp: now });
    return { messageId, deduplicated: false };
  }

  /**
   * Receives up to `max` messages (at most 10): from each group with nothing in flight, its
   * oldest messages in order. Messages received `maxReceiveCount` times move to the dead-letter
   * queue instead.
   */
  public receive(max = MAX_RECEIVE_BATCH): ReceivedMessage[] {
    if (!Number.isInteger(max) || max < 1 || max > MAX_RECEIVE_BATCH) {
      throw new Error(`${this.name}: a receive takes 1 to ${MAX_RECEIVE_BATCH} messages, not ${max}`);
    }
    const now = this.now();
    const received: ReceivedMessage[] = [];
    for (const [groupId, messages] of [...this.groups]) {
      if (received.length >= max) break;
      if (messages.some((m) => m.invisibleUntil > now)) continue; // the group is locked by a message in flight
      let i = 0;
      while (i < messages.length && received.length < max) {
        const message = messages[i];
        if (this.exhausted(message)) {
          messages.splice(i, 1);
          this.moveToDeadLetter(message);
          continue;
        }
        received.push(this.deliver(message, now));
        i++;
      }
      if (messages.length === 0) this.groups.delete(groupId);
    }
    return received;
  }

  /**
   * Deletes a delivered message. Returns false when the receipt handle is not the message's
   * latest delivery (it was received again, or is gone). A lost delete (see
   * `redeliverAfterDelete`) returns true, as SQS would.
   */
  public delete(receiptHandle: string): boolean {
    for (const [groupId, messages] of this.groups) {
      const index = messages.findIndex((m) => m.receiptHandle === receiptHandle);
      if (index < 0) continue;
      const message = messages[index];
      if (this.options.redeliverAfterDelete?.(this.received(message))) {
        this.counters.lostDeletes++;
        return true;
      }
      messages.splice(index, 1);
      if (messages.length === 0) this.groups.delete(groupId);
      this.counters.deleted++;
      this.changed();
      return true;
    }
    return false;
  }

  /** Every message in the queue, waiting or in flight, oldest first within each group. */
  public messages(): QueuedMessage[] {
    const now = this.now();
    return [...this.groups.values()].flat().map((m) => ({
      messageId: m.messageId,
      body: m.body,
      messageGroupId: m.messageGroupId,
      receiveCount: m.receiveCount,
      inFlight: m.invisibleUntil > now,
    }));
  }

  /** Whether the queue holds no message at all (none waiting, none in flight). */
  public get isEmpty(): boolean {
    return this.groups.size === 0;
  }

  /** When the next in-flight message becomes visible again, or undefined if none is in flight. */
  public nextVisibilityChange(): number | undefined {
    const now = this.now();
    let next: number | undefined;
    for (const messages of this.groups.values()) {
      for (const m of messages) if (m.invisibleUntil > now && (next === undefined || m.invisibleUntil < next)) next = m.invisibleUntil;
    }
    return next;
  }

  /** Calls `listener` whenever a message is queued or deleted. Returns a function that stops it. */
  public onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  public get stats(): QueueStats {
    return { ...this.counters };
  }

  private enqueue(message: Omit<StoredMessage, 'sequenceNumber' | 'receiveCount' | 'invisibleUntil'>): void {
    const stored: StoredMessage = { ...message, sequenceNumber: String(++this.sequence).padStart(20, '0'), receiveCount: 0, invisibleUntil: 0 };
    const group = this.groups.get(message.messageGroupId);
    if (group) group.push(stored);
    else this.groups.set(message.messageGroupId, [stored]);
    this.counters.queued++;
    this.changed();
  }

  private exhausted(message: StoredMessage): boolean {
    const deadLetter = this.options.deadLetter;
    return deadLetter !== undefined && message.receiveCount >= deadLetter.maxReceiveCount;
  }

  private moveToDeadLetter(message: StoredMessage): void {
    this.counters.deadLettered++;
    this.options.deadLetter!.queue.enqueue({
      messageId: message.messageId,
      body: message.body,
      messageGroupId: message.messageGroupId,
      deduplicationId: message.deduplicationId,
      sentTimestamp: message.sentTimestamp,
    });
    this.changed();
  }

  private deliver(message: StoredMessage, now: number): ReceivedMessage {
    if (message.receiveCount > 0) this.counters.redelivered++;
    this.counters.received++;
    message.receiveCount++;
    message.firstReceiveTimestamp ??= now;
    message.invisibleUntil = now + this.visibilityTimeoutMs;
    message.receiptHandle = randomUUID();
    return this.received(message);
  }

  private received(message: StoredMessage): ReceivedMessage {
    return {
      messageId: message.messageId,
      receiptHandle: message.receiptHandle!,
      body: message.body,
      messageGroupId: message.messageGroupId,
      deduplicationId: message.deduplicationId,
      sequenceNumber: message.sequenceNumber,
      receiveCount: message.receiveCount,
      sentTimestamp: message.sentTimestamp,
      firstReceiveTimestamp: message.firstReceiveTimestamp!,
    };
  }

  private expireDeduplication(now: number): void {
    for (const [id, { expires }] of this.deduplication) {
      if (expires > now) break;
      this.deduplication.delete(id);
    }
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
