import { compressionOfName, decompressAll } from '../../formats/compression';
import { readDeb } from '../../formats/deb/deb-package';
import { distributionPackageOf, renderDistribution, type DistributionPackage, type PackagesChunk } from '../../formats/deb/distribution';
import { readPackagesChunks, type LoadedStanza } from '../../formats/deb/packages-chunks';
import { packagesEntryOf, readPackages, type PackagesEntry } from '../../formats/deb/packages-index';
import { clearsignedText, readRelease, type Release } from '../../formats/deb/release';
import { compareDebVersions } from '../../formats/deb/version';
import type { Storage } from '../../storage/storage';
import type { IndexedPackage, OutputFile, PackageObject, RenderContext, RepositoryFormat, RepositoryUnit, UnitIndex } from '../format';

/**
 * One package of an apt distribution: its place and its Packages stanza, rendered once (when
 * the package was read) or as our published Packages.gz holds it, never parsed again.
 */
export interface AptEntry extends IndexedPackage, DistributionPackage {
  /** The component (the path segment after the distribution in the pool). */
  readonly component: string;
}

/** What the engine carries from the loaded index to the next render. */
interface AptState {
  /** The Release published before (ours or a reference tool's), if any. */
  readonly release?: Release;
  /** The chunks of our published Packages.gz files, by directory (`main/binary-amd64`), reused where unchanged. */
  readonly chunks: ReadonlyMap<string, readonly PackagesChunk[]>;
}

export interface AptFormatOptions {
  /**
   * Release Origin of a distribution's first publish. Never changed afterwards: apt stops and
   * asks every client when it changes, so the published value is carried over.
   * @default - no Origin field
   */
  readonly origin?: string;
  /** Release Label of a first publish; carried over like `origin`. @default - no Label field */
  readonly label?: string;
  /** Release Description. @default - none */
  readonly description?: string;
  /**
   * Architectures every distribution serves even without packages of their own (they get
   * the `Architecture: all` packages). The ones seen in packages are always served.
   * @default []
   */
  readonly architectures?: readonly string[];
  /**
   * Seconds a Release stays valid (Valid-Until = Date + validFor). Clients refuse an expired
   * Release, so only set it when something republishes more often than that.
   * @default - no Valid-Until
   */
  readonly validFor?: number;
  /**
   * gzip level of Packages.gz. An update compresses only the chunks it changed; the others
   * keep the bytes (and level) they were published with.
   * @default 9
   */
  readonly compressionLevel?: number;
}

/** The largest Packages file (uncompressed) read back: 1 GiB. */
const MAX_PACKAGES_BYTES = 1024 ** 3;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;
/** Packages up to this size are read whole (one storage call); larger ones are streamed. */
const WHOLE_READ_BYTES = 8 * 1024 ** 2;
/** Preference among the forms of one Packages file when reading it back (after our own chunked Packages.gz). */
const PACKAGES_FORMS = ['Packages', 'Packages.gz', 'Packages.xz', 'Packages.zst'];

/**
 * apt repositories. Layout: an archive root holds `pool/<distribution>/<component>/**\/*.deb`
 * and `dists/<distribution>/`; each distribution is a unit (`apt:<root><distribution>`).
 */
export function aptFormat(options: AptFormatOptions = {}): RepositoryFormat<AptEntry> {
  for (const arch of options.architectures ?? []) {
    if (!NAME.test(arch) || arch === 'all') throw new Error(`invalid architecture ${JSON.stringify(arch)}`);
  }
  return {
    name: 'apt',
    compareVersions: compareDebVersions,
    // in publish order, as render returns them
    manifestKeys: (u) => ['Release', 'Release.gpg', 'InRelease'].map((name) => distsPrefix(u) + name),
    isPackage: (key) => key.endsWith('.deb'),
    unitOf: (key) => layoutOf(key)?.unit,
    unitsOfMetadata: (key) => {
      const m = /^((?:[^/]+\/)*)dists\/([^/]+)\/(?:In)?Release$/.exec(key);
      return m && NAME.test(m[2]) ? unit(m[1], m[2]) : undefined;
    },
    metadataPrefixes: (u) => [distsPrefix(u)],
    isOwnedMetadata: (u, key) => {
      const prefix = distsPrefix(u);
      if (!key.startsWith(prefix)) return false;
      const rest = key.slice(prefix.length);
      return /^(?:InRelease|Release|Release\.gpg)$/.test(rest)
        || /^[^/]+\/binary-[^/]+\/Packages(?:\.(?:gz|xz|bz2|lzma|zst))?$/.test(rest)
        || /^[^/]+\/binary-[^/]+\/by-hash\/(?:MD5Sum|SHA1|SHA256|SHA512)\/[0-9a-f]{32,128}$/.test(rest);
    },
    loadIndex: (storage, u) => loadIndex(storage, u),
    readPackage: (pkg, u) => readPackage(pkg, u),
    render: (u, entries, previous, ctx) => render(u, entries, previous as UnitIndex<AptEntry> & { state?: AptState }, ctx, options),
  };
}

function unit(root: string, distribution: string): RepositoryUnit {
  return { id: `apt:${root}${distribution}`, root, params: { distribution } };
}

function distsPrefix(u: RepositoryUnit): string {
  return `${u.root}dists/${u.params.distribution}/`;
}

/** Where a package key sits in the layout: `<root>pool/<distribution>/<component>/**\/<file>.deb`. */
export function layoutOf(key: string): { unit: RepositoryUnit; component: string; filename: string } | undefined {
  const segments = key.split('/');
  const pool = segments.indexOf('pool');
  if (pool < 0 || segments.length - pool < 4) return undefined;
  const [distribution, component] = [segments[pool + 1], segments[pool + 2]];
  if (!NAME.test(distribution) || !NAME.test(component)) return undefined;
  const root = segments.slice(0, pool).map((s) => `${s}/`).join('');
  return { unit: unit(root, distribution), component, filename: key.slice(root.length) };
}

function entryOf(u: RepositoryUnit, stanza: PackagesEntry): AptEntry | undefined {
  const place = layoutOf(u.root + stanza.filename);
  if (!place || place.unit.id !== u.id) return undefined;
  return { key: u.root + stanza.filename, size: stanza.size, digest: stanza.sha256 ?? '', ...distributionPackageOf(place.component, stanza) };
}

async function readPackage(pkg: PackageObject, u: RepositoryUnit): Promise<AptEntry> {
  const place = layoutOf(pkg.key);
  if (!place || place.unit.id !== u.id) throw new Error(`${pkg.key} is not in distribution ${u.id}`);
  const deb = await readDeb(pkg.size <= WHOLE_READ_BYTES ? await pkg.read() : await pkg.stream());
  return entryOf(u, packagesEntryOf(deb, place.filename))!;
}

/**
 * The published index of a distribution: every `<component>/binary-<arch>/Packages*` below
 * `dists/<distribution>/`, and the Release for carry-over. Our own chunked Packages.gz is
 * read chunk by chunk, its stanzas kept as they are; any other index (apt-ftparchive's,
 * dpkg-scanpackages', uncompressed preferred) is parsed and its stanzas rendered again.
 * Stanzas whose Filename is outside this distribution's pool, or that lack one of MD5sum,
 * SHA1 and SHA256, are left out: the engine then reads those packages again.
 *
 * Each Packages file is read from the by-hash copy the Release names, when there is one: the
 * fixed-name copies are not written conditionally (only the Release files are), so a writer
 * outside the queue that loses the race for the Release may still have replaced them with its
 * own view, which the next publish must not load.
 */
async function loadIndex(storage: Storage, u: RepositoryUnit): Promise<UnitIndex<AptEntry> & { state: AptState }> {
  const prefix = distsPrefix(u);
  const forms = new Map<string, string[]>();
  let releaseKey: string | undefined;
  let inReleaseKey: string | undefined;
  const listed = new Set<string>();
  for await (const info of storage.list(prefix)) {
    const rest = info.key.slice(prefix.length);
    listed.add(info.key);
    if (rest === 'Release') releaseKey = info.key;
    if (rest === 'InRelease') inReleaseKey = info.key;
    const m = /^([^/]+\/binary-[^/]+)\/(Packages(?:\.gz|\.xz|\.zst)?)$/.exec(rest);
    if (m) forms.set(m[1], [...(forms.get(m[1]) ?? []), m[2]]);
  }

  let release: Release | undefined;
  const releaseBytes = releaseKey ? await storage.get(releaseKey) : undefined;
  if (releaseBytes) {
    release = readRelease(releaseBytes, releaseKey);
  } else if (inReleaseKey) {
    const signed = await storage.get(inReleaseKey);
    if (signed) release = readRelease(clearsignedText(signed, inReleaseKey), inReleaseKey);
  }
  /** The key to read `<dir>/<name>` from: the by-hash copy the Release names, when it is there. */
  const sourceOf = (dir: string, name: string): string => {
    const listedIn = release?.acquireByHash ? release.files.find((f) => f.path === `${dir}/${name}`) : undefined;
    const byHash = listedIn && `${prefix}${dir}/by-hash/SHA256/${listedIn.sha256}`;
    return byHash && listed.has(byHash) ? byHash : `${prefix}${dir}/${name}`;
  };

  const entries = new Map<string, AptEntry>();
  const chunks = new Map<string, PackagesChunk[]>();
  const places = new Map<string, ReturnType<typeof layoutOf>>();
  // packages share directories: each directory's place in the layout is worked out once
  const placeOf = (filename: string) => {
    const dir = filename.slice(0, filename.lastIndexOf('/') + 1);
    if (!places.has(dir)) places.set(dir, layoutOf(`${u.root}${dir}x`));
    const place = places.get(dir);
    return place && place.unit.id === u.id ? place.component : undefined;
  };
  for (const [dir, names] of [...forms].sort(([a], [b]) => a.localeCompare(b))) {
    const ours = names.includes('Packages.gz') ? await loadOwnPackages(storage, sourceOf(dir, 'Packages.gz'), entries, (s) => loadedEntry(u, s, placeOf)) : undefined;
    if (ours) {
      chunks.set(dir, ours);
      continue;
    }
    const name = PACKAGES_FORMS.find((n) => names.includes(n))!;
    const key = sourceOf(dir, name);
    const bytes = await storage.get(key);
    if (!bytes) continue;
    const text = await decompressAll(bytes, compressionOfName(name), MAX_PACKAGES_BYTES);
    for (const stanza of readPackages(text, key)) {
      if (!stanza.md5 || !stanza.sha1 || !stanza.sha256) continue;
      const entry = entryOf(u, stanza);
      if (entry && !entries.has(entry.key)) entries.set(entry.key, entry);
    }
  }
  return { entries, state: { release, chunks } };
}

/**
 * A Packages.gz our writer made, chunk by chunk, its entries added to `entries`; undefined
 * when it is another tool's. A package listed in several directories (`Architecture: all`) is
 * one entry; a chunk holding a package it cannot share (outside the pool, or a stanza that
 * differs from the one already loaded) is never reused.
 */
async function loadOwnPackages(
  storage: Storage,
  key: string,
  entries: Map<string, AptEntry>,
  entryOfStanza: (s: LoadedStanza) => AptEntry | undefined,
): Promise<PackagesChunk[] | undefined> {
  const gz = await storage.get(key);
  const loaded = gz ? await readPackagesChunks(gz, key, MAX_PACKAGES_BYTES) : undefined;
  if (!loaded) return undefined;
  return loaded.map((chunk) => ({
    text: chunk.text,
    member: chunk.member,
    packages: chunk.stanzas.map((s) => {
      const entry = entryOfStanza(s);
      if (!entry) return { component: '', ...s };
      const existing = entries.get(entry.key);
      if (!existing) {
        entries.set(entry.key, entry);
        return entry;
      }
      return Buffer.compare(existing.stanza, entry.stanza) === 0 ? existing : entry;
    }),
  }));
}

/** The entry of a loaded stanza, unless its file is outside the distribution (`componentOf` says undefined). */
function loadedEntry(u: RepositoryUnit, s: LoadedStanza, componentOf: (filename: string) => string | undefined): AptEntry | undefined {
  const component = componentOf(s.filename);
  if (component === undefined) return undefined;
  const { name, version, arch, filename, stanza } = s;
  return { key: u.root + filename, size: s.size, digest: s.sha256, name, version, arch, filename, stanza, component };
}

async function render(
  u: RepositoryUnit,
  entries: ReadonlyMap<string, AptEntry>,
  previous: UnitIndex<AptEntry> & { state?: AptState },
  ctx: RenderContext,
  options: AptFormatOptions,
): Promise<OutputFile[]> {
  const signer = ctx.keys.pgp;
  if (!signer) throw new Error('apt repositories are signed with an OpenPGP key, and none was given');
  const rendered = await renderDistribution({
    distribution: u.params.distribution,
    packages: entries.values(),
    chunks: previous.state?.chunks,
    architectures: options.architectures,
    previous: previous.state?.release,
    now: ctx.now,
    origin: options.origin,
    label: options.label,
    description: options.description,
    validForSeconds: options.validFor,
    compressionLevel: options.compressionLevel,
  });
  const prefix = distsPrefix(u);
  const text = 'text/plain; charset=utf-8';
  return [
    ...rendered.files.map((f) => ({ key: prefix + f.path, body: f.body, contentType: f.contentType, kind: f.kind })),
    // manifests, in publish order: Release and its detached signature, then InRelease last
    { key: `${prefix}Release`, body: rendered.releaseText, contentType: text, kind: 'manifest' },
    { key: `${prefix}Release.gpg`, body: await signer.signDetachedArmored(rendered.releaseText), contentType: 'application/pgp-signature', kind: 'manifest' },
    { key: `${prefix}InRelease`, body: await signer.clearsign(rendered.releaseText), contentType: text, kind: 'manifest' },
  ];
}
