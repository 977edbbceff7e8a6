import { createReadStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface ServeOptions {
  /** Directory to serve. */
  readonly root: string;
  /** TCP port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Called for every request, after it is answered (for logs and tests). */
  readonly onRequest?: (method: string, urlPath: string, status: number) => void;
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

/** The content type a file name implies. */
export function contentTypeOf(name: string): string {
  return CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Serve a directory read-only on 127.0.0.1, the way a CDN in front of the bucket would: GET
 * and HEAD, percent-decoded paths ('+' is a literal plus in a path), no escape from the root.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const root = path.resolve(options.root);
  const server = http.createServer((req, res) => {
    void answer(root, req, res).then((status) => options.onRequest?.(req.method ?? '', req.url ?? '', status));
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

async function answer(root: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
  const send = (status: number, body: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return status;
  };
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
    let stat = await fs.stat(file);
    if (stat.isDirectory()) {
      file = path.join(file, 'index.html');
      stat = await fs.stat(file);
    }
    if (!stat.isFile()) return send(404, 'not found\n');
    res.writeHead(200, {
      'content-type': contentTypeOf(file),
      'content-length': stat.size,
      'last-modified': stat.mtime.toUTCString(),
    });
    if (req.method === 'HEAD') {
      res.end();
      return 200;
    }
    await new Promise<void>((resolve) => {
      const stream = createReadStream(file);
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      stream.on('end', () => resolve());
      stream.pipe(res);
    });
    return 200;
  } catch {
    return send(404, 'not found\n');
  }
}
