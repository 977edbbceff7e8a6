/**
 * The path rules of the CDN in front of the bucket, as pure functions: a request path in, the
 * object key to fetch (or a status to answer with) out. The Lambda@Edge handler
 * (origin-request.ts) and `pkgrepo serve` (src/cli/serve.ts) are thin adapters over this module
 * and its siblings (viewer.ts: access and generated setup files; headers.ts: response headers);
 * the edge's configuration is baked into the function's asset at synth.
 */

/** The formats the router knows (the names the constructs and the engine use). */
export type EdgeFormat = 'yum' | 'apt' | 'apk' | 'pacman';

/** What the generated client setup files point clients at. */
export interface EdgeClientSetup {
  /**
   * yum, pacman, apk: the path under the prefix that clients are configured with: the
   * repository root holding `repodata/` (yum), the `Server` directory (pacman), the
   * `<branch>/<repo>` directory of the repositories line (apk). Variables the client expands
   * are allowed: dnf's `$releasever` and `$basearch`, pacman's `$repo` and `$arch`.
   * '' or ending in '/'.
   * @default - yum and apk: '' (the prefix itself); pacman: '$repo/os/$arch/'
   */
  readonly path?: string;
  /** apt: the suite of the sources file. @default 'stable' */
  readonly distribution?: string;
  /** apt: the components of the sources file. @default ['main'] */
  readonly components?: readonly string[];
}

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
  /**
   * A file-name-safe name: setup file names (`<name>.repo`, `<name>.sources`), key aliases
   * (`keys/RPM-GPG-KEY-<name>`) and the dnf repository id.
   * @default - the last segment of the prefix, or the format name for the root prefix
   */
  readonly name?: string;
  /** Readers need a read token (HTTP basic auth). @default false */
  readonly private?: boolean;
  /** apk: the public key's file name under `keys/` (`NAME.rsa.pub`). */
  readonly apkKeyName?: string;
  /** What the setup files point clients at. @default - see EdgeClientSetup */
  readonly setup?: EdgeClientSetup;
}

/** Where the edge finds the read tokens of private repositories. */
export interface EdgeTokenSource {
  /** Region of the SSM parameters (the host's region). */
  readonly ssmRegion: string;
  /** Parameter path: one String parameter `<path><token name>` per token, holding its hashed record. */
  readonly ssmParameterPath: string;
  /** How long an edge instance trusts what it read. @default 60 */
  readonly cacheSeconds?: number;
}

/** What the constructs bake into the edge function's asset (config.json). */
export interface EdgeConfig {
  readonly repositories: readonly EdgeRepository[];
  /** Token source; needed when a repository is private. */
  readonly tokens?: EdgeTokenSource;
  /** max-age, in seconds, of fixed-name manifests (repomd.xml, InRelease, ...). @default 60 */
  readonly manifestMaxAge?: number;
}

/** Fetch this key from the origin. */
export interface OriginRoute {
  readonly kind: 'origin';
  /**
   * The object key, without a leading '/', percent-encoded the way S3's SigV4 canonical URI
   * expects (RFC 3986: everything but `A-Z a-z 0-9 - . _ ~` and '/' as `%XX`), so that the
   * request CloudFront signs with Origin Access Control is the request S3 verifies.
   */
  readonly key: string;
  /**
   * Set when the request is for the detached signature of the manifest `key` (yum's
   * `repomd.xml.asc`, pacman's `<repo>.db.sig`): the signature object's own key, encoded like
   * `key`. The answer is the signature embedded in the manifest's metadata
   * (detached-signatures.ts), which always matches the manifest it comes with.
   */
  readonly signatureOf?: string;
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

/** The folder, under a repository prefix, whose files the router generates (never objects). */
export const SETUP_FOLDER = 'setup/';

/** The folder, under a repository prefix, of the published public keys (handlers/contract.ts KEYS_FOLDER). */
const KEYS = 'keys/';
/** The objects the keygen custom resource publishes there (handlers/contract.ts). */
const ARMORED_KEY = 'repository.asc';
const BINARY_KEY = 'repository.gpg';

/** pacman's link names (`core.db`, `core.files.sig`) and the archives they stand for. */
const PACMAN_LINK = /^(.+)\.(db|files)(\.sig)?$/;

/** Detached signatures of manifests, per format: answered from the manifest they sign. */
const SIGNED_MANIFEST: Partial<Record<EdgeFormat, RegExp>> = {
  yum: /(^|\/)repodata\/repomd\.xml\.asc$/,
  pacman: /\.(db|files)\.tar\.gz\.sig$/,
};

/** A name as setup files and key aliases use it. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Route a request path (CloudFront's `request.uri`: starts with '/', percent-encoded as the
 * viewer sent it, no query).
 *
 * - a path ending in '/' is a directory: its `index.html` (written by the indexer);
 * - a path outside every repository prefix is 404 (except the root listing), so the
 *   distribution never exposes other objects of a shared bucket;
 * - `.` and `..` segments and broken percent-encoding are 400;
 * - a private repository's objects only for its prefix spelled literally (the spelling the
 *   CDN's token-checking behaviour matches);
 * - under a pacman prefix, `<repo>.db|.files[.sig]` is the published `<repo>.db.tar.gz` etc.
 *   (S3 has no links);
 * - `keys/RPM-GPG-KEY-<name>`, `keys/<name>.asc|.gpg`, `keys/<name>-archive-keyring.gpg`
 *   are the published `keys/repository.asc|.gpg`;
 * - yum's `repodata/repomd.xml.asc` and pacman's `<repo>.db|.files` signatures are the
 *   manifest they sign, answered with the signature embedded in it (`signatureOf`).
 */
export function route(uri: string, config: EdgeConfig): Route {
  if (!uri.startsWith('/')) return { kind: 'status', status: 400, reason: 'the path must start with "/"' };
  const decoded = decodePath(uri.slice(1));
  if (decoded === undefined) return { kind: 'status', status: 400, reason: 'the path is not valid percent-encoded UTF-8' };
  if (hasDotSegment(decoded)) return { kind: 'status', status: 400, reason: 'the path has a "." or ".." segment' };
  let key = decoded;
  if (key === '' || key.endsWith('/')) key += DIRECTORY_INDEX;
  if (key === DIRECTORY_INDEX) return { kind: 'origin', key };

  const repository = repositoryOf(key, config);
  if (!repository) return { kind: 'status', status: 404, reason: 'not under a repository prefix' };
  // a private prefix spelled other than literally (`/%70rivate/…`) may have matched a cache
  // behaviour without the token check: never fetch (and cache) anything for it
  if (repository.private && !uri.startsWith(`/${repository.prefix}`)) return { kind: 'status', status: 404, reason: 'not under a repository prefix' };
  key = keyAlias(key, repository) ?? key;
  if (repository.format === 'pacman') key = pacmanArchiveKey(key, repository);
  if (SIGNED_MANIFEST[repository.format]?.test(key)) {
    return { kind: 'origin', key: encodeKey(key.replace(/\.(asc|sig)$/, '')), signatureOf: encodeKey(key) };
  }
  return { kind: 'origin', key: encodeKey(key) };
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

/** The name a repository's setup files and key aliases use. */
export function repositoryName(repository: EdgeRepository): string {
  if (repository.name) return repository.name;
  const segments = repository.prefix.split('/').filter(Boolean);
  return segments.length ? segments[segments.length - 1] : repository.format;
}

/**
 * The user-facing key names of an OpenPGP-signed repository and the published objects they
 * stand for (relative to `<prefix>keys/`).
 */
export function keyAliases(repository: EdgeRepository): Record<string, string> {
  if (repository.format === 'apk') return {};
  const name = repositoryName(repository);
  return {
    [`RPM-GPG-KEY-${name}`]: ARMORED_KEY,
    [`${name}.asc`]: ARMORED_KEY,
    [`${name}.gpg`]: BINARY_KEY,
    [`${name}-archive-keyring.gpg`]: BINARY_KEY,
  };
}

/** The published key a `<prefix>keys/<alias>` key stands for, if it is an alias. */
function keyAlias(key: string, repository: EdgeRepository): string | undefined {
  const folder = `${repository.prefix}${KEYS}`;
  if (!key.startsWith(folder)) return undefined;
  const target = keyAliases(repository)[key.slice(folder.length)];
  return target === undefined ? undefined : `${folder}${target}`;
}

/**
 * Percent-decode a request path into an object key; undefined for broken escapes, bytes that
 * are not UTF-8 and NUL. '+' is a literal plus in a path (only forms use it for a space).
 */
export function decodePath(path: string): string | undefined {
  let key: string;
  try {
    key = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  return key.includes('\0') ? undefined : key;
}

/**
 * An object key as S3's SigV4 canonical URI spells it (and as the AWS SDKs send it): every
 * byte but the RFC 3986 unreserved characters and '/' percent-encoded, upper-case hex. A key
 * reaching S3 any other way (a literal '+', which S3 reads as a space; `%7e` for '~') is
 * signed by CloudFront over different bytes than S3 checks: 403 SignatureDoesNotMatch.
 */
export function encodeKey(key: string): string {
  return key.split('/').map((segment) => encodeURIComponent(segment)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');
}

/** Does a key have `.`, `..` or empty segments (a directory's trailing '/' aside)? Paths a CDN may normalise before matching behaviours or caching. */
export function isNormalizable(key: string): boolean {
  const segments = key.split('/');
  return segments.some((segment, i) => segment === '.' || segment === '..' || (segment === '' && i < segments.length - 1));
}

function hasDotSegment(key: string): boolean {
  return key.split('/').some((segment) => segment === '.' || segment === '..');
}

/** Checks a parsed config.json, so a broken asset fails loudly at cold start rather than misroutes. */
export function parseEdgeConfig(value: unknown): EdgeConfig {
  const fail = (why: string): never => {
    throw new Error(`invalid edge configuration: ${why}`);
  };
  if (typeof value !== 'object' || value === null) fail('not an object');
  const config = value as EdgeConfig;
  const repositories = (value as { repositories?: unknown }).repositories;
  if (!Array.isArray(repositories)) fail('"repositories" is not an array');
  const formats: readonly string[] = ['yum', 'apt', 'apk', 'pacman'];
  const isStrings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  for (const [i, r] of (repositories as unknown[]).entries()) {
    const repo = r as Partial<EdgeRepository> | null;
    const at = `repositories[${i}]`;
    if (typeof repo?.prefix !== 'string' || (repo.prefix !== '' && !repo.prefix.endsWith('/'))) fail(`${at}.prefix must be '' or end in '/'`);
    if (typeof repo?.format !== 'string' || !formats.includes(repo.format)) fail(`${at}.format must be one of ${formats.join(', ')}`);
    if (repo?.pacmanRepositories !== undefined && !isStrings(repo.pacmanRepositories)) fail(`${at}.pacmanRepositories must be an array of strings`);
    if (repo?.name !== undefined && (typeof repo.name !== 'string' || !NAME.test(repo.name))) {
      fail(`${at}.name must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    }
    if (repo?.private !== undefined && typeof repo.private !== 'boolean') fail(`${at}.private must be a boolean`);
    if (repo?.apkKeyName !== undefined && (typeof repo.apkKeyName !== 'string' || !/^[A-Za-z0-9@._+-]+\.rsa\.pub$/.test(repo.apkKeyName))) {
      fail(`${at}.apkKeyName must be a file name ending in '.rsa.pub'`);
    }
    const setup = repo?.setup;
    if (setup !== undefined) {
      if (typeof setup !== 'object' || setup === null) fail(`${at}.setup must be an object`);
      if (setup.path !== undefined && (typeof setup.path !== 'string' || !/^([A-Za-z0-9$._+-]+\/)*$/.test(setup.path) || hasDotSegment(setup.path))) {
        fail(`${at}.setup.path must be '' or path segments (letters, digits, '$', '.', '_', '+', '-') each ending in '/'`);
      }
      const word = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
      if (setup.distribution !== undefined && (typeof setup.distribution !== 'string' || !word.test(setup.distribution))) {
        fail(`${at}.setup.distribution must be letters, digits, '.', '_' or '-'`);
      }
      const components = setup.components;
      if (components !== undefined && (!isStrings(components) || components.length === 0 || !components.every((c) => word.test(c)))) {
        fail(`${at}.setup.components must be a non-empty array of letters, digits, '.', '_' or '-'`);
      }
    }
  }
  const tokens = config.tokens;
  if (tokens !== undefined) {
    if (typeof tokens !== 'object' || tokens === null) fail('"tokens" must be an object');
    if (typeof tokens.ssmRegion !== 'string' || !/^[a-z0-9-]+$/.test(tokens.ssmRegion)) fail('tokens.ssmRegion must be a region name');
    if (typeof tokens.ssmParameterPath !== 'string' || !/^\/([A-Za-z0-9_.-]+\/)+$/.test(tokens.ssmParameterPath)) {
      fail('tokens.ssmParameterPath must be an SSM parameter path starting and ending in \'/\'');
    }
    if (tokens.cacheSeconds !== undefined && !(Number.isInteger(tokens.cacheSeconds) && tokens.cacheSeconds >= 0 && tokens.cacheSeconds <= 3600)) {
      fail('tokens.cacheSeconds must be a whole number from 0 to 3600');
    }
  }
  if (config.repositories.some((r) => r.private) && !tokens) fail('a private repository needs "tokens" (where the edge finds read tokens)');
  if (config.manifestMaxAge !== undefined && !(Number.isInteger(config.manifestMaxAge) && config.manifestMaxAge >= 0)) {
    fail('manifestMaxAge must be a whole number of seconds');
  }
  return config;
}
