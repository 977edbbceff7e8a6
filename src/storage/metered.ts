import { pipeline, Transform, type Readable } from 'node:stream';
import { scanObject, type ObjectInfo, type PutOptions, type Storage } from './storage';

/**
 * A Storage that counts what passes through it, for tests and reports ("an incremental add
 * reads only the new package and the current metadata"). Reads are what `get`, `stream` and
 * `scan` deliver; `head` and `list` are not reads.
 */
export class MeteredStorage implements Storage {
  /** Bytes delivered by `get` and `scan`, plus bytes consumed from streams returned by `stream`. */
  public bytesRead = 0;
  /** `get`, `stream` and `scan` calls that found an object. */
  public reads = 0;
  /** Keys of those calls, in call order (a key read twice appears twice). */
  public readonly keysRead: string[] = [];
  /** Bytes passed to successful `put` calls. */
  public bytesWritten = 0;
  /** Successful `put` calls. */
  public writes = 0;
  /** Keys of successful `put` calls, in completion order. */
  public readonly keysWritten: string[] = [];

  constructor(public readonly inner: Storage) {}

  /** Sets every counter back to zero (e.g. after a test's setup phase). */
  public reset(): void {
    this.bytesRead = 0;
    this.reads = 0;
    this.keysRead.length = 0;
    this.bytesWritten = 0;
    this.writes = 0;
    this.keysWritten.length = 0;
  }

  public async get(key: string): Promise<Uint8Array | undefined> {
    const bytes = await this.inner.get(key);
    if (bytes !== undefined) {
      this.countRead(key);
      this.bytesRead += bytes.byteLength;
    }
    return bytes;
  }

  public async stream(key: string): Promise<Readable | undefined> {
    const source = await this.inner.stream(key);
    if (source === undefined) return undefined;
    this.countRead(key);
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        this.bytesRead += chunk.byteLength;
        done(null, chunk);
      },
    });
    // errors and destroy() travel both ways between the source and the returned stream
    return pipeline(source, counter, () => undefined);
  }

  public async scan(key: string, visit: (piece: Uint8Array) => void): Promise<boolean> {
    let bytes = 0;
    let found = false;
    try {
      found = await scanObject(this.inner, key, (piece) => {
        bytes += piece.byteLength;
        visit(piece);
      });
      return found;
    } finally {
      // like a stream's, the bytes delivered count even when the reader stopped early
      if (found || bytes > 0) this.countRead(key);
      this.bytesRead += bytes;
    }
  }

  public head(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.head(key);
  }

  public async put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<ObjectInfo> {
    const info = await this.inner.put(key, body, options);
    this.writes += 1;
    this.bytesWritten += typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
    this.keysWritten.push(key);
    return info;
  }

  public delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  public list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }

  private countRead(key: string): void {
    this.reads += 1;
    this.keysRead.push(key);
  }
}
