import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FormatName, IndexedPackage, PackageObject, RepositoryFormat, RepositoryUnit } from './format';
import { createFormat, type FormatOptions } from './formats';
import { yumFormat } from './formats/yum';
import { Deb822Paragraph } from '../formats/deb/deb822';
import { PackageFormatError } from '../formats/errors';

/**
 * Where a format parses a package: `here` parses it on this thread; a parser may run it
 * elsewhere instead (parallelFormat: in a worker thread) and return an equal entry.
 */
export type PackageParser<E extends IndexedPackage = IndexedPackage> =
  (pkg: PackageObject, unit: RepositoryUnit, here: () => Promise<E>) => Promise<E>;

export interface ParallelOptions {
  /** Worker threads parsing packages (0: none, every package is parsed on this thread). */
  readonly workers: number;
  /**
   * Packages parsed on this thread before the workers start, so that an update of a few
   * packages, or an index of a few hundred, never pays for starting threads.
   * @default DEFAULT_START_AFTER
   */
  readonly startAfter?: number;
}

/** A format that parses packages in worker threads; `close` stops them. */
export type ParallelFormat = RepositoryFormat<any> & {
  /** How many packages were parsed in worker threads and how many on this thread. */
  readonly parsed: { readonly inWorkers: number; readonly here: number };
  close(): Promise<void>;
};

/**
 * Packages parsed on this thread before worker threads start (ParallelOptions.startAfter):
 * starting a thread costs about 0.1 s of CPU (loading the code, compiling it anew), and each
 * package sent to one costs a copy of its bytes and of its entry; the main thread parses 1,000
 * rpm packages in about half a second, so below that a run ends before threads pay back
 * (measured on 2 CPUs: 1,000 packages took 0.69–0.82 s without threads, 0.84–0.99 s with two).
 */
export const DEFAULT_START_AFTER = 1000;

/** Packages larger than this are parsed on this thread (the format streams them). */
const MAX_WORKER_PACKAGE_BYTES = 64 * 1024 ** 2;
/** The worker script's name, next to this module (lib/engine/) or to a bundle that includes it. */
export const WORKER_SCRIPT = 'parallel-worker.js';

/**
 * The default number of parser threads of a format: one per CPU this process may use, but for
 * yum two fewer. A yum package sent to a thread is still read and copied here, and this thread
 * still assembles and compresses the XML the thread sends back; that pays back only on the
 * CPUs left beside those two. Measured on 2 CPUs, 10,000 packages: yum 2.9 s without threads,
 * 3.1 s with two; apt 4.2 s without, 3.5 s with two (and apk, 4,000: 9.0 s, 7.3 s).
 */
export function defaultWorkers(format: FormatName): number {
  const cpus = availableParallelism();
  return format === 'yum' ? Math.max(0, cpus - 2) : cpus;
}

/**
 * The format `name` (as `createFormat` makes it) with `readPackage` parsing in a pool of worker
 * threads: each package is read here (the engine meters and retries storage reads), its bytes
 * are sent to a worker that runs the same format's `readPackage` over them (its `readRelated`
 * requests come back to this thread), and the entry comes back by structured clone, with the
 * classes it holds restored (see `encodeClasses`). Everything else (loading, rendering) runs
 * here as in the plain format, so entries and published files are the same.
 *
 * The worker script is `parallel-worker.js` beside this module: `lib/engine/` in the package,
 * or beside a bundle that has `src/engine/parallel-worker.ts` as a second entry point (the
 * benchmark's). The Lambda bundles do not use this: a batch of uploads is a few packages, and
 * a function below 1,769 MB has one vCPU. From TypeScript sources (tests), the worker is
 * bundled on the fly with esbuild, a development dependency.
 */
export function parallelFormat(name: FormatName, options: FormatOptions, parallel: ParallelOptions): ParallelFormat {
  const pool = new ParserPool(name, options, parallel);
  const parse: PackageParser = (pkg, unit, here) => pool.parse(pkg, unit, here);
  // yum keeps bookkeeping around each read (chunks compressed while packages are read): it takes the parser
  const format: RepositoryFormat<any> = name === 'yum' ? yumFormat({ parse }) : withParser(createFormat(name, options), parse);
  return Object.assign(format, { parsed: pool.parsed, close: () => pool.close() });
}

function withParser<E extends IndexedPackage>(format: RepositoryFormat<E>, parse: PackageParser): RepositoryFormat<E> {
  return { ...format, readPackage: (pkg, unit) => parse(pkg, unit, () => format.readPackage(pkg, unit)) as Promise<E> };
}

/** Classes whose instances entries may hold, restored after the structured clone. */
const CLASSES: ReadonlyMap<string, object> = new Map<string, object>([
  ['Buffer', Buffer.prototype],
  ['Deb822Paragraph', Deb822Paragraph.prototype],
]);
const CLASS_NAMES = new Map([...CLASSES].map(([n, proto]) => [proto, n]));

/** A step into an object (a property) or into a Map (a key). */
type Step = string | number | { readonly mapKey: string | number };
/** Where a class instance sits in a value, and its class. */
export type ClassMark = readonly [readonly Step[], string];

const MAX_DEPTH = 64;

/**
 * The class instances in `value` (an entry), to be restored on the other side of a structured
 * clone, which keeps plain objects, arrays, Maps, Dates and typed arrays but no prototypes.
 * Throws for an instance of a class not in CLASSES: register it there.
 */
export function encodeClasses(value: unknown): ClassMark[] {
  const marks: ClassMark[] = [];
  const visit = (v: unknown, at: Step[]): void => {
    if (v === null || typeof v !== 'object') return;
    if (at.length > MAX_DEPTH) throw new Error(`an entry nested deeper than ${MAX_DEPTH} levels cannot be sent between threads`);
    if (ArrayBuffer.isView(v)) {
      if (Buffer.isBuffer(v)) marks.push([at, 'Buffer']);
      return;
    }
    if (v instanceof Date) return;
    if (v instanceof Map) {
      for (const [key, x] of v) {
        if (typeof key !== 'string' && typeof key !== 'number') throw new Error('a Map with keys other than strings and numbers cannot be sent between threads');
        visit(x, [...at, { mapKey: key }]);
      }
      return;
    }
    const proto = Object.getPrototypeOf(v) as object | null;
    if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) {
      const name = CLASS_NAMES.get(proto);
      if (!name) throw new Error(`a ${(v as object).constructor?.name ?? 'class'} instance cannot be sent between threads: add its class to CLASSES in parallel.ts`);
      marks.push([at, name]);
    }
    for (const [key, x] of Object.entries(v)) visit(x, [...at, Array.isArray(v) ? Number(key) : key]);
  };
  visit(value, []);
  return marks;
}

/**
 * Moves the bytes of every Buffer `marks` names in `value` (an entry, see encodeClasses) into
 * one new ArrayBuffer, each Buffer replaced by a view of it, and returns that ArrayBuffer: a
 * message that transfers it carries the entry's bytes without copying them, instead of
 * cloning each Buffer's whole backing store (a small Buffer's is Node's 8 KiB pool). Views of
 * it become Buffers again on the other side (decodeClasses). Undefined when there is no Buffer.
 */
export function packBuffers(value: unknown, marks: readonly ClassMark[]): ArrayBuffer | undefined {
  const buffers = marks.filter(([, name]) => name === 'Buffer');
  if (buffers.length === 0 || buffers.some(([at]) => at.length === 0)) return undefined;
  const located = buffers.map(([at]) => {
    let parent: any = value;
    for (const step of at.slice(0, -1)) parent = typeof step === 'object' ? (parent as Map<unknown, unknown>).get(step.mapKey) : parent[step];
    const last = at[at.length - 1];
    const get = () => (typeof last === 'object' ? (parent as Map<unknown, unknown>).get(last.mapKey) : parent[last]) as Buffer;
    const set = (view: Uint8Array) => (typeof last === 'object' ? (parent as Map<unknown, unknown>).set(last.mapKey, view) : (parent[last] = view));
    return { bytes: get(), set };
  });
  const packed = new ArrayBuffer(located.reduce((n, l) => n + l.bytes.length, 0));
  let offset = 0;
  for (const { bytes, set } of located) {
    const view = new Uint8Array(packed, offset, bytes.length);
    view.set(bytes);
    set(view);
    offset += bytes.length;
  }
  return packed;
}

/** `value` (structured-cloned) with the classes `marks` name restored. */
export function decodeClasses<T>(value: T, marks: readonly ClassMark[]): T {
  let root: unknown = value;
  for (const [at, name] of marks) {
    const proto = CLASSES.get(name);
    if (!proto) throw new Error(`unknown class ${name}`);
    let parent: any;
    let current: any = root;
    for (const step of at) {
      parent = current;
      current = typeof step === 'object' ? (current as Map<unknown, unknown>).get(step.mapKey) : current[step];
    }
    if (name === 'Buffer') {
      const view = current as Uint8Array;
      const buffer = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
      const last = at[at.length - 1];
      if (last === undefined) {
        root = buffer;
      } else if (typeof last === 'object') {
        (parent as Map<unknown, unknown>).set(last.mapKey, buffer);
      } else {
        parent[last] = buffer;
      }
    } else {
      Object.setPrototypeOf(current, proto);
    }
  }
  return root as T;
}

/** Messages to a worker. */
export type ToWorker =
  | { readonly type: 'parse'; readonly id: number; readonly key: string; readonly size: number; readonly lastModified: number; readonly unit: RepositoryUnit; readonly bytes: Uint8Array }
  | { readonly type: 'related'; readonly request: number; readonly bytes?: Uint8Array; readonly failed?: string };

/** Messages from a worker. */
export type FromWorker =
  | { readonly type: 'parsed'; readonly id: number; readonly entry: IndexedPackage; readonly marks: readonly ClassMark[] }
  | { readonly type: 'failed'; readonly id: number; readonly message: string; readonly formatError: boolean }
  | { readonly type: 'related'; readonly id: number; readonly request: number; readonly key: string };

/** What a worker is started with. */
export interface WorkerSetup {
  readonly format: FormatName;
  readonly options: FormatOptions;
}

interface Job {
  readonly pkg: PackageObject;
  readonly here: () => Promise<IndexedPackage>;
  readonly resolve: (entry: IndexedPackage) => void;
  readonly reject: (error: unknown) => void;
  /** An error of a related read on this thread: thrown as is when the parse fails. */
  relatedError?: unknown;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly jobs: Map<number, Job>;
  dead: boolean;
}

/** The worker threads of one parallelFormat, started at the first package past `startAfter`. */
class ParserPool {
  private readonly workers: number;
  private readonly startAfter: number;
  private seen = 0;
  private nextId = 0;
  private pool?: Promise<PoolWorker[]>;
  private closed = false;
  public readonly parsed = { inWorkers: 0, here: 0 };

  constructor(private readonly format: FormatName, private readonly options: FormatOptions, parallel: ParallelOptions) {
    if (!Number.isInteger(parallel.workers) || parallel.workers < 0) throw new Error(`workers must be a whole number, not ${parallel.workers}`);
    this.workers = parallel.workers;
    this.startAfter = parallel.startAfter ?? DEFAULT_START_AFTER;
  }

  public async parse(pkg: PackageObject, unit: RepositoryUnit, here: () => Promise<IndexedPackage>): Promise<IndexedPackage> {
    this.seen++;
    const local = () => {
      this.parsed.here++;
      return here();
    };
    if (this.closed || this.workers === 0 || this.seen <= this.startAfter || pkg.size > MAX_WORKER_PACKAGE_BYTES) return local();
    const workers = (await this.start()).filter((w) => !w.dead);
    if (workers.length === 0) return local();
    const bytes = await pkg.read();
    // a copy of exactly its bytes, whose buffer moves to the worker (the caller keeps its own)
    const copy = new Uint8Array(bytes);
    const target = workers.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
    const id = this.nextId++;
    return new Promise<IndexedPackage>((resolve, reject) => {
      if (target.jobs.size === 0) target.worker.ref();
      target.jobs.set(id, { pkg, here: local, resolve, reject });
      const message: ToWorker = { type: 'parse', id, key: pkg.key, size: pkg.size, lastModified: pkg.lastModified.getTime(), unit, bytes: copy };
      target.worker.postMessage(message, [copy.buffer]);
    });
  }

  public async close(): Promise<void> {
    this.closed = true;
    const workers = this.pool ? await this.pool.catch(() => []) : [];
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  private start(): Promise<PoolWorker[]> {
    this.pool ??= workerScript().then((script) => Array.from({ length: this.workers }, () => this.spawn(script)));
    return this.pool;
  }

  private spawn(script: WorkerScript): PoolWorker {
    const setup: WorkerSetup = { format: this.format, options: this.options };
    const worker = new Worker(script.source, { eval: script.eval, workerData: setup });
    worker.unref(); // referenced only while it has jobs: a forgotten close() does not keep the process alive
    const self: PoolWorker = { worker, jobs: new Map(), dead: false };
    worker.on('message', (message: FromWorker) => this.receive(self, message));
    const fail = (error: unknown) => {
      if (self.dead) return;
      self.dead = true;
      // what it was parsing is parsed here instead
      for (const job of self.jobs.values()) job.here().then(job.resolve, job.reject);
      self.jobs.clear();
      if (!this.closed) process.emitWarning(`a package parser thread stopped (${(error as Error)?.message ?? String(error)}); parsing on the main thread`);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    return self;
  }

  private receive(self: PoolWorker, message: FromWorker): void {
    const job = self.jobs.get(message.id);
    if (!job) return;
    if (message.type === 'related') {
      job.pkg.readRelated(message.key).then((bytes) => {
        const reply: ToWorker = { type: 'related', request: message.request, ...(bytes ? { bytes } : {}) };
        self.worker.postMessage(reply);
      }, (error: unknown) => {
        job.relatedError = error;
        const reply: ToWorker = { type: 'related', request: message.request, failed: (error as Error)?.message ?? String(error) };
        self.worker.postMessage(reply);
      });
      return;
    }
    self.jobs.delete(message.id);
    if (self.jobs.size === 0) self.worker.unref();
    this.parsed.inWorkers++;
    if (message.type === 'parsed') job.resolve(decodeClasses(message.entry, message.marks));
    else if (job.relatedError !== undefined) job.reject(job.relatedError);
    else job.reject(message.formatError ? new PackageFormatError(message.message) : new Error(message.message));
  }
}

interface WorkerScript {
  readonly source: string;
  readonly eval: boolean;
}

/** The worker script beside this module, or (running from TypeScript sources) bundled now. */
async function workerScript(): Promise<WorkerScript> {
  const js = path.join(__dirname, WORKER_SCRIPT);
  if (existsSync(js)) return { source: js, eval: false };
  const ts = path.join(__dirname, 'parallel-worker.ts');
  if (!existsSync(ts)) {
    throw new Error(`${WORKER_SCRIPT} is missing beside ${__filename}: a bundle that uses parallelFormat needs src/engine/parallel-worker.ts as a second entry point named ${WORKER_SCRIPT}`);
  }
  // a development dependency, present wherever the TypeScript sources are; named through a
  // variable so that bundlers leave it out
  const bundler = 'esbuild';
  const esbuild = (await import(bundler)) as typeof import('esbuild');
  const built = await esbuild.build({
    entryPoints: [ts],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    write: false,
    logLevel: 'silent',
  });
  return { source: built.outputFiles[0].text, eval: true };
}
