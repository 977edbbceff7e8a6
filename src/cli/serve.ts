import { createReadStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { decodeSignatureMetadata, SIGNATURE_METADATA } from '../detached-signatures';
import type { TokenStore } from '../edge/access';
import { objectHeaders } from '../edge/headers';
import { type EdgeConfig, type EdgeRepository, parseEdgeConfig, route } from '../edge/router';
import { viewerRequest } from '../edge/viewer';
import type { FormatName, RepositoryUnit } from '../engine/format';
import { createFormat, FORMAT_NAMES } from '../engine/formats';
import { LocalStorage } from '../storage/local';

export interface ServeOptions {
  /** Directory to serve. */
  readonly root: string;
  /** TCP port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Called for every request, after it is answered (for logs and tests). */
  readonly onRequest?: (method: string, urlPath: string, status: number) => void;
  /**
   * Serve like the CDN: the edge function's router (src/edge/) with this configuration (what
   * the constructs bake into it; `detectEdgeConfig` makes one from a tree) decides every
   * request: access to private repositories, setup files, pacman's `.db` links, key aliases,
   * directory listings, content types and Cache-Control. Keys are percent-decoded file paths
   * under `root`.
   * @default - a plain static file server
   */
  readonly router?: EdgeConfig;
  /** Read tokens of the router's private repositories. @default - none (their requests get 503) */
  readonly tokens?: TokenStore;
}

export interface RunningServer {
  /** Base URL, without a trailing slash: `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  '.xml': 'application/xml',
  '.gz': 'application/gzip',
  '.xz': 'application/x-xz',
  '.zst': 'application/zstd',
  '.asc': 'text/plain; charset=utf-8',
  '.gpg': 'application/pgp-keys',
  '.sig': 'application/pgp-signature',
  '.rpm': 'application/x-rpm',
  '.deb': 'application/vnd.debian.binary-package',
  '.apk': 'application/octet-stream',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.repo': 'text/plain; charset=utf-8',
  '.sources': 'text/plain; charset=utf-8',
  '.sh': 'text/x-shellscript; charset=utf-8',
  '.pub': 'text/plain; charset=utf-8',
};

/** The content type a file name implies (the plain static server's table). */
export function contentTypeOf(name: string): string {
  return CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Serve a directory read-only on 127.0.0.1, the way a CDN in front of the bucket would: GET
 * and HEAD, percent-decoded paths ('+' is a literal plus in a path), no escape from the root.
 * With `router`, every request goes through the same rules as the Lambda@Edge function.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const root = path.resolve(options.root);
  const config = options.router ? parseEdgeConfig(options.router) : undefined;
  const server = http.createServer((req, res) => {
    const answered = config ? answerRouted(root, config, options.tokens, req, res) : answer(root, req, res);
    void answered.then((status) => options.onRequest?.(req.method ?? '', req.url ?? '', status));
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

function sender(req: http.IncomingMessage, res: http.ServerResponse) {
  return (status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return status;
  };
}

/** The router's answer: viewer side (access, setup files), then the route to a file, then its headers. */
async function answerRouted(
  root: string, config: EdgeConfig, tokens: TokenStore | undefined, req: http.IncomingMessage, res: http.ServerResponse,
): Promise<number> {
  const send = sender(req, res);
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
  // what CloudFront hands the edge function: the path as sent, without the query string
  const uri = (req.url ?? '/').replace(/[?#].*$/s, '');
  const decision = await viewerRequest({
    method: req.method,
    uri,
    host: req.headers.host,
    scheme: 'http',
    authorization: req.headers.authorization,
  }, config, tokens);
  if (decision.kind === 'respond') return send(decision.response.status, decision.response.body, { ...decision.response.headers });
  const routed = route(uri, config);
  if (routed.kind === 'status') return send(routed.status, `${routed.status}: ${routed.reason}\n`);
  const key = decodeURIComponent(routed.key);
  const file = path.join(root, ...key.split('/'));
  if (!file.startsWith(root + path.sep)) return send(404, 'not found\n');
  if (routed.signatureOf !== undefined) {
    const signatureKey = decodeURIComponent(routed.signatureOf);
    const headers = objectHeaders(signatureKey, config);
    const manifest = await new LocalStorage(root).head(key);
    const signature = decodeSignatureMetadata(manifest?.metadata?.[SIGNATURE_METADATA]);
    if (signature) {
      res.writeHead(200, {
        'content-type': headers.contentType,
        'cache-control': headers.cacheControl,
        'content-length': signature.byteLength,
        'last-modified': manifest!.lastModified.toUTCString(),
      });
      res.end(req.method === 'HEAD' ? undefined : signature);
      return 200;
    }
    // a tree published by an older pkgrepo or another tool: the signature file itself
    return sendFile(req, res, path.join(root, ...signatureKey.split('/')), { 'content-type': headers.contentType, 'cache-control': headers.cacheControl });
  }
  const headers = objectHeaders(key, config);
  return sendFile(req, res, file, { 'content-type': headers.contentType, 'cache-control': headers.cacheControl });
}

async function answer(root: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
  const send = sender(req, res);
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
  let urlPath: string;
  try {
    urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    return send(400, 'bad request path\n');
  }
  if (urlPath.includes('\0')) return send(400, 'bad request path\n');
  let file = path.join(root, path.normalize(urlPath));
  if (file !== root && !file.startsWith(root + path.sep)) return send(403, 'forbidden\n');
  try {
    const stat = await fs.stat(file);
    if (stat.isDirectory()) file = path.join(file, 'index.html');
  } catch {
    return send(404, 'not found\n');
  }
  return sendFile(req, res, file, { 'content-type': contentTypeOf(file) });
}

/** Stream a regular file (404 for anything else), with its length and date. */
async function sendFile(req: http.IncomingMessage, res: http.ServerResponse, file: string, headers: Record<string, string>): Promise<number> {
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    return sender(req, res)(404, 'not found\n');
  }
  if (!stat.isFile()) return sender(req, res)(404, 'not found\n');
  res.writeHead(200, { ...headers, 'content-length': stat.size, 'last-modified': stat.mtime.toUTCString() });
  if (req.method === 'HEAD') {
    res.end();
    return 200;
  }
  // pipeline: a client that hangs up mid-file ends the read too (no leaked descriptor or pending answer)
  await pipeline(createReadStream(file), res).catch(() => res.destroy());
  return 200;
}

/** Architecture directory names, replaced by pacman's `$arch` in a detected Server path. */
const PACMAN_ARCHES = new Set(['x86_64', 'x86_64_v3', 'i686', 'aarch64', 'armv7h', 'riscv64', 'any']);

/**
 * An edge configuration for a tree of repositories, from the indexes published in it: each
 * top-level directory whose indexes read as one format's, relative to that directory, is a
 * repository under that prefix (the bucket layout: `yum/…`, `apt/…`); a tree that `pkgrepo
 * index DIR` made is one repository at the prefix ''. Setup paths point at the first index
 * found; apk's key name is the `keys/*.rsa.pub` of the prefix.
 */
export async function detectEdgeConfig(root: string, options: { private?: boolean } = {}): Promise<EdgeConfig> {
  const storage = new LocalStorage(path.resolve(root));
  const keys: string[] = [];
  for await (const info of storage.list('')) keys.push(info.key);
  const formats = FORMAT_NAMES.map((name) => ({ name, format: createFormat(name) }));
  // read as one repository at the root (what `pkgrepo index DIR` makes) ...
  const atRoot = new Found(root);
  // ... and as one repository per top-level directory (the layout of a RepositoryHost's bucket)
  const nested = new Found(root);
  for (const key of keys) {
    const slash = key.indexOf('/');
    for (const { name, format } of formats) {
      const top = format.unitsOfMetadata?.(key);
      if (top) atRoot.note('', name, top);
      const below = slash > 0 ? format.unitsOfMetadata?.(key.slice(slash + 1)) : undefined;
      if (below) nested.note(key.slice(0, slash + 1), name, below);
    }
  }
  // the bucket layout when the tree cannot be one repository, or when every prefix has its own keys/
  const bucketLayout = nested.repositories.size > 0
    && (atRoot.conflict !== undefined || atRoot.repositories.size === 0 || [...nested.repositories.keys()].every((p) => keys.some((k) => k.startsWith(`${p}keys/`))));
  const found = bucketLayout ? nested : atRoot;
  if (found.conflict) throw new Error(`${found.conflict}: describe the repositories in a --config file`);
  if (found.repositories.size === 0) throw new Error(`no published repository index under ${root} (run pkgrepo index first, or serve plain files with --plain)`);

  const repositories: EdgeRepository[] = [];
  for (const [prefix, { format, units }] of [...found.repositories].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const name = prefix.replace(/\/$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || format;
    const first = units[0];
    const repository: EdgeRepository = { prefix, format, name, ...(options.private ? { private: true } : {}) };
    repositories.push({ ...repository, ...(await detectSetup(storage, keys, prefix, format, first, units)) });
  }
  return { repositories };
}

/** The repositories one reading of a tree finds: format and units per prefix, or the first conflict. */
class Found {
  public readonly repositories = new Map<string, { format: FormatName; units: RepositoryUnit[] }>();
  public conflict?: string;

  constructor(private readonly root: string) {}

  public note(prefix: string, format: FormatName, unit: RepositoryUnit): void {
    const entry = this.repositories.get(prefix);
    if (!entry) {
      this.repositories.set(prefix, { format, units: [unit] });
    } else if (entry.format !== format) {
      this.conflict ??= `${path.join(this.root, prefix)} holds both ${entry.format} and ${format} indexes`;
    } else if (!entry.units.some((u) => u.id === unit.id)) {
      entry.units.push(unit);
    }
  }
}

async function detectSetup(
  storage: LocalStorage, keys: readonly string[], prefix: string, format: FormatName, first: RepositoryUnit, units: readonly RepositoryUnit[],
): Promise<Partial<EdgeRepository>> {
  switch (format) {
    case 'yum':
      return { setup: { path: first.root } };
    case 'apt': {
      const distribution = first.params.distribution;
      const release = new TextDecoder().decode(await storage.get(`${prefix}${first.root}dists/${distribution}/Release`) ?? new Uint8Array());
      const components = /^Components:[ \t]*(.+)$/m.exec(release)?.[1].trim().split(/\s+/) ?? ['main'];
      return { setup: { distribution, components } };
    }
    case 'pacman': {
      const segments = first.root.split('/').filter(Boolean);
      if (segments.length && PACMAN_ARCHES.has(segments[segments.length - 1])) segments[segments.length - 1] = '$arch';
      return { pacmanRepositories: [...new Set(units.map((u) => u.params.repo))], setup: { path: segments.map((s) => `${s}/`).join('') } };
    }
    case 'apk': {
      const keyName = keys.find((k) => k.startsWith(`${prefix}keys/`) && k.endsWith('.rsa.pub'))?.slice(`${prefix}keys/`.length);
      return { setup: { path: `${first.params.branch}/${first.params.repo}/` }, ...(keyName && !keyName.includes('/') ? { apkKeyName: keyName } : {}) };
    }
  }
}
