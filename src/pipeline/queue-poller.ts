import { MAX_RECEIVE_BATCH, type FifoQueue, type ReceivedMessage } from './fifo-queue';
import type { BatchResponse, SqsEvent, SqsRecord } from '../handlers/indexer';

/** An SQS record as Lambda's event source mapping delivers it (the fields Lambda fills for FIFO queues). */
export interface LambdaSqsRecord extends SqsRecord {
  readonly receiptHandle: string;
  readonly attributes: {
    readonly MessageGroupId: string;
    readonly MessageDeduplicationId: string;
    readonly SequenceNumber: string;
    readonly ApproximateReceiveCount: string;
    readonly SentTimestamp: string;
    readonly ApproximateFirstReceiveTimestamp: string;
  };
  readonly eventSource: 'aws:sqs';
  readonly eventSourceARN: string;
}

export interface QueuePollerOptions {
  readonly queue: FifoQueue;
  /** The function: a batch in, its partial batch failures out (ReportBatchItemFailures). */
  readonly handler: (event: SqsEvent) => Promise<BatchResponse | void>;
  /** Messages per invocation, 1 to 10. @default 10 */
  readonly batchSize?: number;
  /** Told about every invocation that threw or answered with an invalid response. */
  readonly onInvocationError?: (error: Error, event: SqsEvent) => void;
}

/** What a poller did so far. */
export interface PollerStats {
  readonly invocations: number;
  /** Invocations that threw, or answered with an invalid response: their whole batch is retried. */
  readonly failedInvocations: number;
  /** Records reported in `batchItemFailures`. */
  readonly reportedFailures: number;
}

/**
 * Lambda's SQS event source mapping for one FIFO queue, with ReportBatchItemFailures:
 * receive a batch, invoke the function, delete the messages that succeeded. Messages reported
 * in `batchItemFailures`, and every message of a batch whose invocation threw (or answered with
 * an item identifier that is not in the batch), stay in the queue and come back when their
 * visibility timeout ends. One batch at a time, like one message group in Lambda. Waits on the
 * real clock (for the queue's next visibility change).
 */
export class QueuePoller {
  private readonly batchSize: number;
  private stopped = false;
  private running?: Promise<void>;
  private invoking = false;
  private wake?: () => void;
  private counters = { invocations: 0, failedInvocations: 0, reportedFailures: 0 };

  constructor(private readonly options: QueuePollerOptions) {
    this.batchSize = options.batchSize ?? MAX_RECEIVE_BATCH;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > MAX_RECEIVE_BATCH) {
      throw new Error(`batchSize must be 1 to ${MAX_RECEIVE_BATCH}, got ${this.batchSize}`);
    }
  }

  /** Starts polling. */
  public start(): void {
    this.running ??= this.loop();
  }

  /** Stops polling after the invocation in progress, if any. */
  public async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }

  /** Whether a batch is being processed right now. */
  public get busy(): boolean {
    return this.invoking;
  }

  public get stats(): PollerStats {
    return { ...this.counters };
  }

  private async loop(): Promise<void> {
    const { queue } = this.options;
    const unsubscribe = queue.onChange(() => this.wake?.());
    try {
      while (!this.stopped) {
        const messages = queue.receive(this.batchSize);
        if (messages.length === 0) {
          await this.idle();
          continue;
        }
        this.invoking = true;
        try {
          await this.invoke(messages);
        } finally {
          this.invoking = false;
        }
      }
    } finally {
      unsubscribe();
    }
  }

  /** Waits for a message to be queued, for an in-flight one to become visible again, or for stop. */
  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const next = this.options.queue.nextVisibilityChange();
      const timer = next === undefined ? undefined : setTimeout(done, Math.max(0, next - Date.now()) + 1);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async invoke(messages: readonly ReceivedMessage[]): Promise<void> {
    const { queue, handler } = this.options;
    const event: { Records: LambdaSqsRecord[] } = { Records: messages.map((m) => record(m, queue.name)) };
    this.counters.invocations++;
    let failed: Set<string>;
    try {
      failed = failedMessageIds(await handler(event), messages);
    } catch (e) {
      this.counters.failedInvocations++;
      this.options.onInvocationError?.(e instanceof Error ? e : new Error(String(e)), event);
      return; // the whole batch comes back after its visibility timeout
    }
    this.counters.reportedFailures += failed.size;
    for (const message of messages) if (!failed.has(message.messageId)) queue.delete(message.receiptHandle);
  }
}

/**
 * The message ids a response reports failed. No response, or an empty or missing list: none. An
 * item identifier that is empty or not in the batch makes Lambda treat the whole batch as failed:
 * that is an error here.
 */
export function failedMessageIds(response: BatchResponse | void, messages: readonly ReceivedMessage[]): Set<string> {
  const failures = response?.batchItemFailures ?? [];
  if (!Array.isArray(failures)) throw new Error('batchItemFailures is not an array');
  const ids = new Set(messages.map((m) => m.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = failure?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) throw new Error(`batchItemFailures names ${JSON.stringify(id)}, which is not a message of the batch`);
    failed.add(id);
  }
  return failed;
}

function record(message: ReceivedMessage, queueName: string): LambdaSqsRecord {
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: {
      MessageGroupId: message.messageGroupId,
      MessageDeduplicationId: message.deduplicationId,
      SequenceNumber: message.sequenceNumber,
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentTimestamp),
      ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp),
    },
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${queueName}`,
  };
}
