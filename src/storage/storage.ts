import type { Readable } from 'node:stream';

/** What a storage listing or head request says about one object. */
export interface ObjectInfo {
  /** Key relative to the storage root, '/'-separated, no leading slash. */
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
  /** Opaque version tag (S3 ETag, quotes stripped); used for conditional writes. */
  readonly etag: string;
  /**
   * The user metadata written with the object (`PutOptions.metadata`), names in lower case;
   * set by `head` (not by `list`, nor by `put`), absent when the object has none.
   */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface PutOptions {
  readonly contentType?: string;
  readonly cacheControl?: string;
  /** Write only if the object does not exist yet (S3 If-None-Match: *). */
  readonly ifNoneMatch?: '*';
  /** Write only if the object's current etag equals this (S3 If-Match). */
  readonly ifMatch?: string;
  /**
   * User metadata stored with the object, atomically with its bytes (S3 `x-amz-meta-*`): names
   * of lower-case letters, digits and '-', ASCII values, 2 KB in all.
   */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Thrown by `put` when an `ifMatch` / `ifNoneMatch` precondition does not hold. */
export class PreconditionFailedError extends Error {
  constructor(public readonly key: string, detail: string) {
    super(`precondition failed for ${key}: ${detail}`);
    this.name = 'PreconditionFailedError';
  }
}

/**
 * The one storage abstraction the engine uses: a flat key space of immutable-until-replaced
 * objects. Implemented by a local directory and by S3. Writes are atomic per object: a reader
 * sees the old bytes or the new bytes, never a mix.
 */
export interface Storage {
  /** The whole object, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** The object as a stream, or undefined when there is none. */
  stream(key: string): Promise<Readable | undefined>;
  /**
   * Reads the object piece by piece, handing each piece to `visit`; false when there is no such
   * object. A piece is valid only while `visit` runs: the storage may reuse its memory for the
   * next one, so a reader that needs some bytes later copies them. For a reader that looks at
   * every byte once (a checksum) and keeps a few (a header), this costs no buffer per object.
   * An error `visit` throws ends the scan and is thrown as it is. Optional: `scanObject` falls
   * back to `stream` for a storage without it.
   */
  scan?(key: string, visit: (piece: Uint8Array) => void): Promise<boolean>;
  head(key: string): Promise<ObjectInfo | undefined>;
  put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<ObjectInfo>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix` ('' for all), in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
}

/**
 * Reads `key` piece by piece (see `Storage.scan`): with the storage's own `scan` where it has
 * one, else over its stream. False when there is no such object.
 */
export async function scanObject(storage: Storage, key: string, visit: (piece: Uint8Array) => void): Promise<boolean> {
  if (storage.scan) return storage.scan(key, visit);
  const stream = await storage.stream(key);
  if (stream === undefined) return false;
  for await (const piece of stream as AsyncIterable<Uint8Array>) visit(piece);
  return true;
}
