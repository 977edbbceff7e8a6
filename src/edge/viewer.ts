import { authorize, type TokenStore } from './access';
import { GENERATED_CACHE_CONTROL } from './headers';
import { decodePath, type EdgeConfig, isNormalizable, repositoryOf, SETUP_FOLDER } from './router';
import { requestOrigin, setupFile } from './setup';

/**
 * What happens to a request before any cache or object is consulted: the access check of
 * private repositories and the generated setup files. Lambda@Edge runs it on viewer requests
 * (so a cached object is never served without a valid token, and setup files see the Host
 * the viewer asked for); `pkgrepo serve` runs it first on every request.
 */

/** A request as the viewer side sees it. */
export interface ViewerRequest {
  readonly method: string;
  /** The path, percent-encoded as sent, starting with '/', without the query. */
  readonly uri: string;
  /** The Host header. */
  readonly host?: string;
  /** How the viewer reached us: https at CloudFront (it redirects http), http locally. */
  readonly scheme: 'http' | 'https';
  /** The Authorization header. */
  readonly authorization?: string;
}

/** A response made without the origin. */
export interface GeneratedResponse {
  readonly status: 200 | 400 | 401 | 404 | 503;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Go on to the origin, or answer now. */
export type ViewerDecision = { readonly kind: 'forward' } | { readonly kind: 'respond'; readonly response: GeneratedResponse };

/** The realm of the basic-auth challenge: the same for every repository, so a 401 names nothing. */
export const AUTH_REALM = 'package repository';

const FORWARD: ViewerDecision = { kind: 'forward' };

/**
 * Decide a request:
 * - a path with `.`, `..` or empty segments, or broken percent-encoding: 400;
 * - under a private repository without valid credentials: 401 with a bare challenge (no body
 *   naming anything); 503 when the token store cannot be read;
 * - under `<prefix>setup/`: the generated setup file (404 for an unknown one, 400 for a Host
 *   header that is not a host name);
 * - anything else goes on to routing (router.ts `route`).
 */
export async function viewerRequest(request: ViewerRequest, config: EdgeConfig, tokens?: TokenStore): Promise<ViewerDecision> {
  const key = request.uri.startsWith('/') ? decodePath(request.uri.slice(1)) : undefined;
  // CloudFront may match behaviours and cache keys on a normalised path (`/yum/../private/x` as
  // `/private/x`): a path it could normalise is refused here, before any cache lookup
  if (key === undefined || isNormalizable(key)) return respond(400, 'bad request path\n');
  const repository = repositoryOf(key, config);
  if (!repository) return FORWARD;

  let credentials: { user: string; password: string } | undefined;
  if (repository.private) {
    if (!tokens) return respond(503, 'no token store is configured for this private repository\n');
    const verdict = await authorize(request.authorization, repository.prefix, tokens);
    if (verdict.kind === 'unavailable') return respond(503, 'Service Unavailable\n', { 'retry-after': '5' });
    if (verdict.kind === 'denied') return respond(401, '', { 'www-authenticate': `Basic realm="${AUTH_REALM}", charset="UTF-8"` });
    credentials = { user: verdict.user, password: verdict.password };
  }

  const setupFolder = `${repository.prefix}${SETUP_FOLDER}`;
  if (!key.startsWith(setupFolder) && key !== setupFolder.slice(0, -1)) return FORWARD;
  const origin = requestOrigin(request.scheme, request.host);
  if (!origin) return respond(400, 'the Host header is not a host name\n');
  const file = setupFile(key.slice(setupFolder.length), { origin, repository, credentials });
  if (!file) return respond(404, 'no such setup file\n');
  return { kind: 'respond', response: { status: 200, headers: { 'content-type': file.contentType, 'cache-control': GENERATED_CACHE_CONTROL }, body: file.body } };
}

function respond(status: GeneratedResponse['status'], body: string, headers: Record<string, string> = {}): ViewerDecision {
  return {
    kind: 'respond',
    response: { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': GENERATED_CACHE_CONTROL, ...headers }, body },
  };
}
