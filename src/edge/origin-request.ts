import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { TokenStore } from './access';
import { objectHeaders } from './headers';
import { decodeSignatureMetadata, SIGNATURE_HEADER } from '../detached-signatures';
import { decodePath, EDGE_CONFIG_FILE, parseEdgeConfig, route, type EdgeConfig } from './router';
import { SsmTokenStore } from './ssm-token-store';
import { viewerRequest, type GeneratedResponse } from './viewer';

/**
 * The Lambda@Edge function of a RepositoryHost: one handler for the three events it is
 * associated with, each a thin adapter over the router module.
 * - viewer-request (setup paths, and every path of a private repository): access check and
 *   generated setup files (viewer.ts);
 * - origin-request (every path): path rewriting and S3 key encoding (router.ts `route`);
 * - origin-response (every path): content type and cache lifetime per object class
 *   (headers.ts), before CloudFront caches the object; for a detached signature, the body is
 *   the signature embedded in the manifest fetched in its place.
 */

/**
 * The request header by which origin-request tells origin-response that the object fetched is
 * the manifest standing in for its detached signature: the signature's key, as routed.
 */
export const SIGNATURE_OF_HEADER = 'x-pkgrepo-signature-of';

/** A CloudFront header list. */
export type CloudFrontHeaders = Record<string, Array<{ key?: string; value: string }>>;

/** A CloudFront request (the fields the router needs; the rest passes through untouched). */
export interface CloudFrontRequest {
  uri: string;
  readonly method?: string;
  headers?: CloudFrontHeaders;
  readonly [field: string]: unknown;
}

/** The response of an origin-response event (the fields the router needs). */
export interface CloudFrontOriginResponse {
  status: string;
  statusDescription?: string;
  headers: CloudFrontHeaders;
  /** Set to replace the origin's body (which the trigger never sees). */
  body?: string;
  bodyEncoding?: 'text' | 'base64';
  readonly [field: string]: unknown;
}

/** A response generated at the edge. */
export interface CloudFrontResponse {
  readonly status: string;
  readonly statusDescription: string;
  readonly headers: CloudFrontHeaders;
  readonly body: string;
}

/** The event types the handler serves. */
export type EdgeEventType = 'viewer-request' | 'origin-request' | 'origin-response';

/** The parts of a CloudFront event this handler reads. */
export interface OriginRequestEvent {
  readonly Records: ReadonlyArray<{
    readonly cf: {
      readonly config?: { readonly eventType?: string; readonly distributionDomainName?: string };
      readonly request: CloudFrontRequest;
      readonly response?: CloudFrontOriginResponse;
    };
  }>;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 503: 'Service Unavailable',
};

/** Headers whose spelling CloudFront shows in `key`. */
const HEADER_KEYS: Record<string, string> = {
  'content-type': 'Content-Type',
  'cache-control': 'Cache-Control',
  'www-authenticate': 'WWW-Authenticate',
  'retry-after': 'Retry-After',
};

function cloudFrontHeaders(headers: Readonly<Record<string, string>>): CloudFrontHeaders {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [{ key: HEADER_KEYS[name] ?? name, value }]]));
}

function generated(response: GeneratedResponse): CloudFrontResponse {
  return {
    status: String(response.status),
    statusDescription: STATUS_TEXT[response.status],
    headers: cloudFrontHeaders(response.headers),
    body: response.body,
  };
}

/** origin-request: the request to forward (uri rewritten and encoded for S3), or a response. */
export function handleRequest(request: CloudFrontRequest, config: EdgeConfig): CloudFrontRequest | CloudFrontResponse {
  const result = route(request.uri, config);
  if (result.kind === 'origin') {
    request.uri = `/${result.key}`;
    if (request.headers) delete request.headers[SIGNATURE_OF_HEADER];
    if (result.signatureOf !== undefined) {
      request.headers = { ...request.headers, [SIGNATURE_OF_HEADER]: [{ key: SIGNATURE_OF_HEADER, value: `/${result.signatureOf}` }] };
    }
    return request;
  }
  return generated({
    status: result.status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'public, max-age=60' },
    body: `${result.status} ${STATUS_TEXT[result.status]}: ${result.reason}\n`,
  });
}

/** viewer-request: access check and setup files; the request goes on without its Authorization header. */
export async function handleViewerRequest(
  request: CloudFrontRequest, config: EdgeConfig, tokens?: TokenStore,
): Promise<CloudFrontRequest | CloudFrontResponse> {
  const header = (name: string) => request.headers?.[name]?.[0]?.value;
  const decision = await viewerRequest({
    method: request.method ?? 'GET',
    uri: request.uri,
    host: header('host'),
    scheme: 'https',
    authorization: header('authorization'),
  }, config, tokens);
  if (decision.kind === 'respond') return generated(decision.response);
  if (request.headers) delete request.headers.authorization;
  return request;
}

/** origin-response: the content type and Cache-Control of the object's class, for CloudFront's cache and the viewer. */
export function handleOriginResponse(request: CloudFrontRequest, response: CloudFrontOriginResponse, config: EdgeConfig): CloudFrontOriginResponse {
  const signatureOf = request.headers?.[SIGNATURE_OF_HEADER]?.[0]?.value;
  const signature = signatureOf === undefined ? undefined : response.headers[SIGNATURE_HEADER]?.[0]?.value;
  delete response.headers[SIGNATURE_HEADER];
  if (!['200', '206', '304'].includes(response.status)) return response;
  const key = decodePath((signatureOf ?? request.uri).replace(/^\//, ''));
  if (key === undefined) return response;
  if (signatureOf !== undefined && response.status !== '304') {
    // the manifest came in place of its signature: answer with the signature it carries
    if (decodeSignatureMetadata(signature) === undefined) return missingSignature(response, key);
    response.status = '200';
    response.statusDescription = 'OK';
    response.body = signature;
    response.bodyEncoding = 'base64';
    delete response.headers['content-range'];
  }
  const headers = objectHeaders(key, config);
  response.headers['content-type'] = [{ key: 'Content-Type', value: headers.contentType }];
  response.headers['cache-control'] = [{ key: 'Cache-Control', value: headers.cacheControl }];
  return response;
}

/**
 * A manifest without an embedded signature (published by an older version, or by another
 * tool): 404 until the next publish embeds it (an upload, or the scheduled reconcile).
 */
function missingSignature(response: CloudFrontOriginResponse, key: string): CloudFrontOriginResponse {
  response.status = '404';
  response.statusDescription = STATUS_TEXT[404];
  response.body = `404 Not Found: ${key} is not embedded in the manifest it signs yet; the next publish or reconcile embeds it\n`;
  response.bodyEncoding = 'text';
  for (const name of ['etag', 'last-modified', 'content-range']) delete response.headers[name];
  response.headers['content-type'] = [{ key: 'Content-Type', value: 'text/plain; charset=utf-8' }];
  response.headers['cache-control'] = [{ key: 'Cache-Control', value: 'no-store' }];
  return response;
}

let loaded: EdgeConfig | undefined;
let tokenStore: TokenStore | undefined;

/** The baked configuration, read once per execution environment. */
function bakedConfig(): EdgeConfig {
  loaded ??= parseEdgeConfig(JSON.parse(readFileSync(path.join(__dirname, EDGE_CONFIG_FILE), 'utf8')));
  return loaded;
}

/** The token store of the baked configuration (kept across requests: it caches). */
function bakedTokens(config: EdgeConfig): TokenStore | undefined {
  if (!tokenStore && config.tokens) {
    const { ssmRegion, ssmParameterPath, cacheSeconds } = config.tokens;
    tokenStore = new SsmTokenStore({ region: ssmRegion, parameterPath: ssmParameterPath, cacheSeconds });
  }
  return tokenStore;
}

/** Lambda@Edge entry point (an event without an event type is an origin request, as before). */
export async function handler(event: OriginRequestEvent): Promise<CloudFrontRequest | CloudFrontResponse | CloudFrontOriginResponse> {
  const { cf } = event.Records[0];
  const config = bakedConfig();
  switch (cf.config?.eventType ?? 'origin-request') {
    case 'viewer-request': return handleViewerRequest(cf.request, config, bakedTokens(config));
    case 'origin-response': return handleOriginResponse(cf.request, cf.response!, config);
    default: return handleRequest(cf.request, config);
  }
}
