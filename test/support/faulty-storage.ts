import { Readable } from 'node:stream';
import type { ObjectInfo, PutOptions, Storage } from '../../src/storage/storage';

/**
 * Operations a FaultyStorage counts. `stream-data` is the consumption of a stream that
 * `stream` returned: a fault there fails the stream mid-way (after half of its first chunk).
 */
export type OperationKind = 'get' | 'stream' | 'stream-data' | 'head' | 'put' | 'delete' | 'list';

/** The groups a fault can be aimed at: one kind, every write (put, delete) or every read (the rest). */
export type FaultTarget = OperationKind | 'write' | 'read';

const WRITES: ReadonlySet<OperationKind> = new Set(['put', 'delete']);

/** One operation as the wrapper saw it, in call order. */
export interface Operation {
  readonly kind: OperationKind;
  readonly key: string;
  /** Its number among the operations of its group ('write' or 'read'), from 0. */
  readonly groupIndex: number;
  /** Its number among the operations of its kind, from 0. */
  readonly kindIndex: number;
  /** What it passed to `put` (preconditions included). */
  readonly putOptions?: PutOptions;
  /** How it ended: the inner storage answered, the injected fault, or refused after the crash. */
  outcome: 'ok' | 'fault' | 'refused' | 'pending' | 'error';
}

/** Where to crash: the `at`-th operation (from 0) of `target`. */
export interface FaultPlan {
  readonly target: FaultTarget;
  readonly at: number;
}

/** The injected error: the process dies here. */
export class InjectedFault extends Error {
  constructor(public readonly operation: Operation) {
    super(`injected fault at ${operation.kind} #${operation.kindIndex} (${groupOf(operation.kind)} #${operation.groupIndex}) of ${operation.key}`);
    this.name = 'InjectedFault';
  }
}

/** What every operation after the fault gets: a dead process does nothing more. */
export class CrashedStorageError extends Error {
  constructor(kind: OperationKind, key: string) {
    super(`storage refused ${kind} of ${key}: the process crashed earlier`);
    this.name = 'CrashedStorageError';
  }
}

function groupOf(kind: OperationKind): 'write' | 'read' {
  return WRITES.has(kind) ? 'write' : 'read';
}

/**
 * A Storage wrapper for crash tests: counts and records every operation (get, stream, the
 * data of each stream, head, put, delete, list), throws an InjectedFault at the operation the
 * plan names, and from then on refuses every operation, including streams and listings
 * already under way, as a dead process would. Without a plan it only records. Options of
 * `put` (Content-Type, Cache-Control, If-Match, If-None-Match) pass through unchanged.
 */
export class FaultyStorage implements Storage {
  /** Every operation, in call order. */
  public readonly operations: Operation[] = [];
  /** The operation that failed, once the fault has happened. */
  public fault?: Operation;
  private readonly counts = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(public readonly inner: Storage, public readonly plan?: FaultPlan) {}

  /** Whether the fault has happened. */
  public get crashed(): boolean {
    return this.fault !== undefined;
  }

  /**
   * Resolves once every operation handed to the inner storage has ended: after a crash, writes
   * already under way land (or fail) on their own, as they would after a real process died.
   */
  public async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** The recorded operations of a group or kind. */
  public of(target: FaultTarget): Operation[] {
    return this.operations.filter((o) => o.kind === target || groupOf(o.kind) === target);
  }

  public async get(key: string): Promise<Uint8Array | undefined> {
    return this.run('get', key, () => this.inner.get(key));
  }

  public async stream(key: string): Promise<Readable | undefined> {
    const source = await this.run('stream', key, () => this.inner.stream(key));
    if (source === undefined) return undefined;
    return Readable.from(this.guarded(key, source), { objectMode: false });
  }

  public async head(key: string): Promise<ObjectInfo | undefined> {
    return this.run('head', key, () => this.inner.head(key));
  }

  public async put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<ObjectInfo> {
    return this.run('put', key, () => this.inner.put(key, body, options), options);
  }

  public async delete(key: string): Promise<void> {
    return this.run('delete', key, () => this.inner.delete(key));
  }

  public async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const operation = this.begin('list', prefix);
    try {
      for await (const info of this.inner.list(prefix)) {
        this.refuseIfCrashed('list', prefix);
        yield info;
      }
      this.refuseIfCrashed('list', prefix);
      operation.outcome = 'ok';
    } catch (e) {
      if (operation.outcome === 'pending') operation.outcome = 'error';
      throw e;
    }
  }

  /** Counts an operation; throws the injected fault when it is the planned one, or refuses after a crash. */
  private begin(kind: OperationKind, key: string, putOptions?: PutOptions): Operation {
    const group = groupOf(kind);
    const operation: Operation = {
      kind,
      key,
      groupIndex: this.next(group),
      kindIndex: this.next(kind),
      ...(putOptions ? { putOptions } : {}),
      outcome: 'pending',
    };
    this.operations.push(operation);
    if (this.fault) {
      operation.outcome = 'refused';
      throw new CrashedStorageError(kind, key);
    }
    const plan = this.plan;
    if (plan && (plan.target === kind || plan.target === group)
      && (plan.target === kind ? operation.kindIndex : operation.groupIndex) === plan.at) {
      operation.outcome = 'fault';
      this.fault = operation;
      throw new InjectedFault(operation);
    }
    return operation;
  }

  private next(counter: string): number {
    const n = this.counts.get(counter) ?? 0;
    this.counts.set(counter, n + 1);
    return n;
  }

  private refuseIfCrashed(kind: OperationKind, key: string): void {
    if (this.fault) throw new CrashedStorageError(kind, key);
  }

  private async run<T>(kind: OperationKind, key: string, action: () => Promise<T>, putOptions?: PutOptions): Promise<T> {
    const operation = this.begin(kind, key, putOptions);
    const pending = action();
    this.inFlight.add(pending);
    try {
      const result = await pending;
      operation.outcome = 'ok';
      return result;
    } catch (e) {
      operation.outcome = 'error';
      throw e;
    } finally {
      this.inFlight.delete(pending);
    }
  }

  /** The bytes of a stream, counted as one `stream-data` operation that may fail mid-way. */
  private async *guarded(key: string, source: Readable): AsyncGenerator<Buffer> {
    let operation: Operation | undefined;
    try {
      for await (const chunk of source) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        if (!operation) {
          try {
            operation = this.begin('stream-data', key);
          } catch (e) {
            // the fault strikes mid-transfer: part of the first chunk arrives, then the error
            if (e instanceof InjectedFault && bytes.length > 1) yield bytes.subarray(0, bytes.length >> 1);
            throw e;
          }
        }
        this.refuseIfCrashed('stream-data', key);
        yield bytes;
      }
      if (!operation) operation = this.begin('stream-data', key); // an empty object: its end is the transfer
      this.refuseIfCrashed('stream-data', key);
      operation.outcome = 'ok';
    } catch (e) {
      if (operation?.outcome === 'pending') operation.outcome = 'error';
      throw e;
    } finally {
      source.destroy();
    }
  }
}
