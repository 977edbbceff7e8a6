import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EDGE_CONFIG_FILE, parseEdgeConfig, route, type EdgeConfig } from './router';

/** The parts of a CloudFront origin-request event this handler reads. */
export interface OriginRequestEvent {
  readonly Records: ReadonlyArray<{ readonly cf: { readonly request: CloudFrontRequest } }>;
}

/** A CloudFront request (the fields the router needs; the rest passes through untouched). */
export interface CloudFrontRequest {
  uri: string;
  readonly method?: string;
  readonly [field: string]: unknown;
}

/** A response generated at the edge. */
export interface CloudFrontResponse {
  readonly status: string;
  readonly statusDescription: string;
  readonly headers: Record<string, Array<{ key: string; value: string }>>;
  readonly body: string;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found' };

/** Apply the router to one request: the request to forward (uri rewritten) or a response. */
export function handleRequest(request: CloudFrontRequest, config: EdgeConfig): CloudFrontRequest | CloudFrontResponse {
  const result = route(request.uri, config);
  if (result.kind === 'origin') {
    request.uri = `/${result.key}`;
    return request;
  }
  return {
    status: String(result.status),
    statusDescription: STATUS_TEXT[result.status],
    headers: {
      'content-type': [{ key: 'Content-Type', value: 'text/plain; charset=utf-8' }],
      'cache-control': [{ key: 'Cache-Control', value: 'public, max-age=60' }],
    },
    body: `${result.status} ${STATUS_TEXT[result.status]}: ${result.reason}\n`,
  };
}

let loaded: EdgeConfig | undefined;

/** The baked configuration, read once per execution environment. */
function bakedConfig(): EdgeConfig {
  loaded ??= parseEdgeConfig(JSON.parse(readFileSync(path.join(__dirname, EDGE_CONFIG_FILE), 'utf8')));
  return loaded;
}

/** Lambda@Edge origin-request entry point. */
export async function handler(event: OriginRequestEvent): Promise<CloudFrontRequest | CloudFrontResponse> {
  return handleRequest(event.Records[0].cf.request, bakedConfig());
}
