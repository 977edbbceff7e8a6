import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { checkKey, checkPrefix } from './keys';
import { PreconditionFailedError, type ObjectInfo, type PutOptions, type Storage } from './storage';

export interface S3StorageProps {
  /** The client to send requests with (region, credentials, endpoint are its business). */
  readonly client: S3Client;
  /** The bucket name. */
  readonly bucket: string;
  /**
   * Key prefix inside the bucket: '' or ending in '/'. It is prepended to every key and
   * removed from listed keys, so the storage sees only its own part of the bucket.
   * @default ''
   */
  readonly prefix?: string;
}

/** What the SDK's service exceptions carry that the error mapping looks at. */
interface ServiceError {
  readonly name?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

function asServiceError(e: unknown): ServiceError {
  return typeof e === 'object' && e !== null ? e as ServiceError : {};
}

/** A missing object: NoSuchKey (GET), NotFound (HEAD has no body), or a bare 404. */
function isNotFound(e: unknown): boolean {
  const { name, $metadata } = asServiceError(e);
  if (name === 'NoSuchKey' || name === 'NotFound') return true;
  return $metadata?.httpStatusCode === 404 && name !== 'NoSuchBucket';
}

/** A failed If-Match / If-None-Match: 412 PreconditionFailed, or 409 ConditionalRequestConflict (a concurrent conditional write). */
function isPreconditionFailure(e: unknown): boolean {
  const { name, $metadata } = asServiceError(e);
  return name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || $metadata?.httpStatusCode === 412;
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

/**
 * A Storage in an S3 bucket (or a part of one, under a prefix), with the AWS SDK v3.
 *
 * Conditional writes map to S3's `If-None-Match: *` and `If-Match: "<etag>"` on PutObject; a
 * 412 or a 409 ConditionalRequestConflict becomes a PreconditionFailedError. Listings page
 * through ListObjectsV2 and skip zero-byte "folder" markers (keys ending in '/'), which are
 * not valid storage keys.
 */
export class S3Storage implements Storage {
  public readonly bucket: string;
  public readonly prefix: string;
  private readonly client: S3Client;

  constructor(props: S3StorageProps) {
    const prefix = props.prefix ?? '';
    if (!props.bucket) throw new Error('S3Storage needs a bucket name');
    checkPrefix(prefix);
    if (prefix !== '' && !prefix.endsWith('/')) {
      throw new Error(`S3Storage prefix must be '' or end with '/': ${JSON.stringify(prefix)}`);
    }
    this.client = props.client;
    this.bucket = props.bucket;
    this.prefix = prefix;
  }

  public async get(key: string): Promise<Uint8Array | undefined> {
    const body = await this.getBody(key);
    return body?.transformToByteArray();
  }

  public async stream(key: string): Promise<Readable | undefined> {
    const body = await this.getBody(key);
    if (body === undefined) return undefined;
    if (body instanceof Readable) return body;
    // outside Node's HTTP handler the SDK hands out a web stream
    return Readable.fromWeb(body.transformToWebStream() as Parameters<typeof Readable.fromWeb>[0]);
  }

  public async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      return {
        key,
        size: out.ContentLength ?? 0,
        lastModified: out.LastModified ?? new Date(0),
        etag: stripQuotes(out.ETag ?? ''),
        ...(out.Metadata && Object.keys(out.Metadata).length > 0 ? { metadata: lowerCaseNames(out.Metadata) } : {}),
      };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /**
   * Uploads the object. The returned `lastModified` is this machine's clock when S3
   * answered (PutObject does not report it); `head` returns S3's own.
   */
  public async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<ObjectInfo> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    try {
      const out = await this.client.send(new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.fullKey(key),
        Body: bytes,
        ContentType: options.contentType,
        CacheControl: options.cacheControl,
        Metadata: options.metadata === undefined ? undefined : { ...options.metadata },
        IfNoneMatch: options.ifNoneMatch,
        IfMatch: options.ifMatch === undefined ? undefined : `"${stripQuotes(options.ifMatch)}"`,
      }));
      const etag = out.ETag ? stripQuotes(out.ETag) : createHash('md5').update(bytes).digest('hex');
      return { key, size: bytes.byteLength, lastModified: new Date(), etag };
    } catch (e) {
      if (isPreconditionFailure(e)) {
        const conditions = [
          ...(options.ifNoneMatch !== undefined ? ['If-None-Match: *'] : []),
          ...(options.ifMatch !== undefined ? [`If-Match: ${options.ifMatch}`] : []),
        ];
        const condition = conditions.join(', ') || 'no condition sent';
        throw new PreconditionFailedError(key, `S3 refused the write (${condition}): ${asServiceError(e).name ?? 'HTTP 412'}`);
      }
      throw e;
    }
  }

  public async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
  }

  public async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: this.prefix + prefix,
        ContinuationToken: continuationToken,
      }));
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || object.Key.endsWith('/') || !object.Key.startsWith(this.prefix)) continue;
        yield {
          key: object.Key.slice(this.prefix.length),
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
          etag: stripQuotes(object.ETag ?? ''),
        };
      }
      continuationToken = undefined;
      if (page.IsTruncated) {
        if (!page.NextContinuationToken) throw new Error(`S3 listing of ${this.prefix + prefix} is truncated without a continuation token`);
        continuationToken = page.NextContinuationToken;
      }
    } while (continuationToken !== undefined);
  }

  private fullKey(key: string): string {
    checkKey(key);
    return this.prefix + key;
  }

  private async getBody(key: string) {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      if (out.Body === undefined) throw new Error(`S3 returned no body for ${key}`);
      return out.Body;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }
}

/** S3 returns metadata names in lower case; a server that does not is read the same way. */
function lowerCaseNames(metadata: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([name, value]) => [name.toLowerCase(), value]));
}
