/**
 * The path rules of the CDN in front of the bucket, as a pure function: a request path in, the
 * object key to fetch (or a status to answer with) out. The Lambda@Edge origin-request handler
 * is a thin adapter over it; its configuration is baked into the function's asset at synth.
 */

/** The formats the router knows (the names the constructs and the engine use). */
export type EdgeFormat = 'yum' | 'apt' | 'apk' | 'pacman';

/** One repository served by the distribution. */
export interface EdgeRepository {
  /** Key prefix of the repository in the bucket: '' or ending in '/'. */
  readonly prefix: string;
  readonly format: EdgeFormat;
  /**
   * pacman only: the repository names whose `<name>.db` / `<name>.files` links are mapped to
   * the published archives. Empty or absent: any name.
   */
  readonly pacmanRepositories?: readonly string[];
}

/** What the constructs bake into the edge function's asset (config.json). */
export interface EdgeConfig {
  readonly repositories: readonly EdgeRepository[];
}

/** Fetch this key from the origin. */
export interface OriginRoute {
  readonly kind: 'origin';
  /** The object key, without a leading '/', still percent-encoded as the request had it. */
  readonly key: string;
}

/** Answer at the edge without asking the origin. */
export interface StatusRoute {
  readonly kind: 'status';
  readonly status: 400 | 404;
  readonly reason: string;
}

export type Route = OriginRoute | StatusRoute;

/** The file, next to the edge bundle, that the constructs write at synth (Lambda@Edge has no environment variables). */
export const EDGE_CONFIG_FILE = 'config.json';

/** The file a directory request is answered with. */
export const DIRECTORY_INDEX = 'index.html';

/** pacman's link names (`core.db`, `core.files.sig`) and the archives they stand for. */
const PACMAN_LINK = /^(.+)\.(db|files)(\.sig)?$/;

/**
 * Route a request path (CloudFront's `request.uri`: starts with '/', percent-encoded, no query).
 *
 * - a path ending in '/' is a directory: its `index.html`;
 * - a path outside every repository prefix is 404 (except the root listing), so the
 *   distribution never exposes other objects of a shared bucket;
 * - under a pacman prefix, `<repo>.db|.files[.sig]` is the published `<repo>.db.tar.gz` etc.
 *   (S3 has no links).
 */
export function route(uri: string, config: EdgeConfig): Route {
  if (!uri.startsWith('/')) return { kind: 'status', status: 400, reason: 'the path must start with "/"' };
  let key = uri.slice(1);
  if (key === '' || key.endsWith('/')) key += DIRECTORY_INDEX;
  if (key === DIRECTORY_INDEX) return { kind: 'origin', key };

  const repository = repositoryOf(key, config);
  if (!repository) return { kind: 'status', status: 404, reason: 'not under a repository prefix' };
  if (repository.format === 'pacman') key = pacmanArchiveKey(key, repository);
  return { kind: 'origin', key };
}

/** The repository whose prefix is the longest one that starts `key`. */
export function repositoryOf(key: string, config: EdgeConfig): EdgeRepository | undefined {
  let best: EdgeRepository | undefined;
  for (const repository of config.repositories) {
    if (key.startsWith(repository.prefix) && (!best || repository.prefix.length > best.prefix.length)) best = repository;
  }
  return best;
}

/** `…/core.db` → `…/core.db.tar.gz`, `…/core.files.sig` → `…/core.files.tar.gz.sig`; other keys unchanged. */
export function pacmanArchiveKey(key: string, repository: EdgeRepository): string {
  const slash = key.lastIndexOf('/');
  const dir = key.slice(0, slash + 1);
  const match = PACMAN_LINK.exec(key.slice(slash + 1));
  if (!match) return key;
  const [, name, kind, sig] = match;
  const names = repository.pacmanRepositories ?? [];
  if (names.length > 0 && !names.includes(name)) return key;
  return `${dir}${name}.${kind}.tar.gz${sig ?? ''}`;
}

/** Checks a parsed config.json, so a broken asset fails loudly at cold start rather than misroutes. */
export function parseEdgeConfig(value: unknown): EdgeConfig {
  const fail = (why: string): never => {
    throw new Error(`invalid edge configuration: ${why}`);
  };
  if (typeof value !== 'object' || value === null) fail('not an object');
  const repositories = (value as { repositories?: unknown }).repositories;
  if (!Array.isArray(repositories)) fail('"repositories" is not an array');
  const formats: readonly string[] = ['yum', 'apt', 'apk', 'pacman'];
  for (const [i, r] of (repositories as unknown[]).entries()) {
    const repo = r as Partial<EdgeRepository> | null;
    if (typeof repo?.prefix !== 'string' || (repo.prefix !== '' && !repo.prefix.endsWith('/'))) fail(`repositories[${i}].prefix must be '' or end in '/'`);
    if (typeof repo?.format !== 'string' || !formats.includes(repo.format)) fail(`repositories[${i}].format must be one of ${formats.join(', ')}`);
    const names = repo?.pacmanRepositories;
    if (names !== undefined && (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))) {
      fail(`repositories[${i}].pacmanRepositories must be an array of strings`);
    }
  }
  return value as EdgeConfig;
}
