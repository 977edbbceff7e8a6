import { createHash } from 'node:crypto';
import type { IndexedPackage, RepositoryFormat, RepositoryUnit } from '../../src/engine/format';
import { PackageFormatError } from '../../src/formats/errors';

/**
 * A deliberately tiny format for testing the format-neutral engine: a package is a `.pkg` text
 * file "name version"; a directory holding packages is a unit; its index is a hash-named
 * `meta/<sha>-index.json` (immutable) named by the manifest `meta/index.json`.
 */
export function toyFormat(): RepositoryFormat {
  const unitOfDir = (root: string): RepositoryUnit => ({ id: `toy:${root}`, root, params: {} });
  return {
    name: 'yum',
    compareVersions: (a, b) => a.localeCompare(b, 'en', { numeric: true }),
    manifestKeys: (unit) => [`${unit.root}meta/index.json`],
    isPackage: (key) => key.endsWith('.pkg'),
    unitOf: (key) => unitOfDir(key.includes('/') ? key.slice(0, key.lastIndexOf('/') + 1) : ''),
    unitsOfMetadata: (key) => (key.endsWith('meta/index.json') ? unitOfDir(key.slice(0, -'meta/index.json'.length)) : undefined),
    metadataPrefixes: (unit) => [`${unit.root}meta/`],
    isOwnedMetadata: (unit, key) => key.startsWith(`${unit.root}meta/`) && key.endsWith('-index.json'),
    async loadIndex(storage, unit) {
      const manifest = await storage.get(`${unit.root}meta/index.json`);
      if (!manifest) return { entries: new Map() };
      const { data } = JSON.parse(Buffer.from(manifest).toString()) as { data: string };
      const body = await storage.get(unit.root + data);
      if (!body) throw new Error(`missing ${data}`);
      const list = JSON.parse(Buffer.from(body).toString()) as IndexedPackage[];
      return { entries: new Map(list.map((e) => [e.key, e])) };
    },
    async readPackage(pkg) {
      const bytes = await pkg.read();
      const text = Buffer.from(bytes).toString('utf8');
      const m = /^([a-z][a-z0-9-]*) ([0-9][0-9.]*)\n?$/.exec(text);
      if (!m) throw new PackageFormatError('not "name version"');
      return { key: pkg.key, size: pkg.size, name: m[1], version: m[2], arch: 'any', digest: createHash('sha256').update(bytes).digest('hex') };
    },
    async render(unit, entries) {
      const list = [...entries.values()].sort((a, b) => a.key.localeCompare(b.key));
      const body = JSON.stringify(list);
      const sha = createHash('sha256').update(body).digest('hex');
      const data = `meta/${sha}-index.json`;
      return [
        { key: unit.root + data, body, contentType: 'application/json', kind: 'immutable' },
        { key: `${unit.root}meta/index.json`, body: JSON.stringify({ data }), contentType: 'application/json', kind: 'manifest' },
      ];
    },
  };
}
