import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { decodeSignatureMetadata, SIGNATURE_METADATA } from '../detached-signatures';
import type { TokenStore } from '../edge/access';
import { objectHeaders } from '../edge/headers';
import { route, type EdgeConfig } from '../edge/router';
import { viewerRequest } from '../edge/viewer';

export interface EdgeServerOptions {
  /** The origin: a client for the bucket's S3 API. */
  readonly client: S3Client;
  readonly bucket: string;
  /** The same configuration the constructs bake into the edge function. */
  readonly config: EdgeConfig;
  /** TCP port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /** Read tokens of private repositories (the edge's SSM store, locally). @default none */
  readonly tokens?: TokenStore;
  /** Called for every request, after it is answered (for logs and tests). */
  readonly onRequest?: (method: string, urlPath: string, status: number) => void;
}

export interface EdgeServer {
  /** Base URL, without a trailing slash: `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Response headers of S3 that CloudFront passes on to viewers. */
const PASSED_HEADERS = [
  ['ContentType', 'content-type'],
  ['ContentLength', 'content-length'],
  ['ETag', 'etag'],
  ['LastModified', 'last-modified'],
  ['CacheControl', 'cache-control'],
] as const;

/**
 * The distribution, locally: a read-only HTTP server on 127.0.0.1 in front of the bucket that
 * applies the edge function's rules (src/edge/router.ts) to every request, then fetches the
 * object through the S3 API, as CloudFront does with Origin Access Control. Only GET and HEAD;
 * a missing object is 404 (the origin may list the bucket).
 */
export async function startEdgeServer(options: EdgeServerOptions): Promise<EdgeServer> {
  const server = http.createServer((req, res) => {
    void answer(options, req, res).then((status) => options.onRequest?.(req.method ?? '', req.url ?? '', status));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function answer(options: EdgeServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
  const send = (status: number, body: string, extra: Readonly<Record<string, string>> = {}) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...extra, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return status;
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
  // CloudFront hands the edge functions the path without the query string, still percent-encoded
  const raw = (req.url ?? '/').replace(/[?#].*$/s, '');
  const uri = raw.startsWith('/') ? raw : `/${raw}`;
  // viewer request (access, setup files), origin request (route), origin response (headers): as in AWS
  const decision = await viewerRequest({
    method: req.method,
    uri,
    host: req.headers.host,
    scheme: 'http',
    authorization: req.headers.authorization,
  }, options.config, options.tokens);
  if (decision.kind === 'respond') return send(decision.response.status, decision.response.body, { ...decision.response.headers });
  const routed = route(uri, options.config);
  if (routed.kind === 'status') return send(routed.status, `${routed.status}: ${routed.reason}\n`);
  let key: string;
  try {
    key = decodeURIComponent(routed.key);
  } catch {
    return send(400, 'bad request path\n');
  }
  try {
    const input = { Bucket: options.bucket, Key: key };
    const out = req.method === 'HEAD'
      ? await options.client.send(new HeadObjectCommand(input))
      : await options.client.send(new GetObjectCommand(input));
    const headers: Record<string, string> = {};
    for (const [field, header] of PASSED_HEADERS) {
      const value = out[field];
      if (value !== undefined) headers[header] = value instanceof Date ? value.toUTCString() : String(value);
    }
    const classed = objectHeaders(routed.signatureOf === undefined ? key : decodeURIComponent(routed.signatureOf), options.config);
    headers['content-type'] = classed.contentType;
    headers['cache-control'] = classed.cacheControl;
    if (routed.signatureOf !== undefined) {
      // as the edge's origin response does: the signature embedded in the manifest, or 404
      if ('Body' in out) (out.Body as Readable | undefined)?.destroy?.();
      const signature = decodeSignatureMetadata(out.Metadata?.[SIGNATURE_METADATA]);
      if (!signature) return send(404, `404 Not Found: the signature is not embedded in ${key} yet\n`);
      headers['content-length'] = String(signature.byteLength);
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : signature);
      return 200;
    }
    res.writeHead(200, headers);
    const body = 'Body' in out ? out.Body : undefined;
    if (!body) {
      res.end();
      return 200;
    }
    await pipeBody(body as Readable, res);
    return 200;
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (res.headersSent) {
      res.destroy();
      return 500;
    }
    if (status === 404) return send(404, 'not found\n');
    return send(502, `the origin failed: ${(e as Error).message}\n`);
  }
}

/** Streams the object to the viewer; a broken stream cuts the connection (the length was promised). */
function pipeBody(body: Readable, res: http.ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const stream = body instanceof Readable ? body : Readable.from(body as AsyncIterable<Uint8Array>);
    stream.on('error', () => {
      res.destroy();
      resolve();
    });
    res.on('close', () => resolve());
    stream.pipe(res);
  });
}
