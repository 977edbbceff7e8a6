/**
 * The index files of one distribution (`dists/<distribution>/`), from its packages:
 *
 * - `<component>/binary-<arch>/Packages` and `Packages.gz` for every component and
 *   architecture; `Architecture: all` packages go into every architecture's Packages (as
 *   Debian does, so no `binary-all` is published unless the distribution has no other
 *   architecture). No `.xz`: Node has no xz encoder, every apt reads gzip, and the
 *   uncompressed file is listed (and published) anyway.
 * - `Packages.gz` is a series of gzip members, one per chunk of stanzas (packages-chunks.ts):
 *   a chunk of the previous publish whose packages did not change is reused as it was, so an
 *   update compresses only the chunks it changed.
 * - a by-hash copy of each, `<component>/binary-<arch>/by-hash/SHA256/<hex>` (the only hash
 *   the Release lists, so apt fetches these names): a client holding an older InRelease still
 *   finds the Packages it names while the fixed names already hold newer bytes.
 * - the Release text, listing the uncompressed and the gzip path of every index.
 *
 * Components and architectures once published stay published (with empty Packages when
 * nothing is left): a client whose sources name them keeps updating without warnings.
 * Origin, Label and Codename are carried over from the previous Release unchanged: apt stops
 * and asks the user when they change. Suite is always the distribution's directory name, so
 * it matches what clients name in their sources (apt warns "Conflicting distribution"
 * when neither Suite nor Codename does; a Suite change itself is allowed).
 */
import { createHash } from 'node:crypto';
import { check } from '../errors';
import { cutChunks, compareStanzas, PACKAGES_WRITER_VERSION, renderStanza, type RenderedStanza } from './packages-chunks';
import type { PackagesEntry } from './packages-index';
import { nextReleaseDate, writeRelease, type Release, type ReleaseFileEntry } from './release';
import { gzipMember } from '../rpm/gzip-members';

/** One package of the distribution: the component it is in, and its rendered stanza. */
export interface DistributionPackage extends RenderedStanza {
  readonly component: string;
}

/** A chunk of a published Packages.gz: the packages it holds (in order), its text and gzip member. */
export interface PackagesChunk {
  readonly packages: readonly DistributionPackage[];
  readonly text: Uint8Array;
  readonly member: Uint8Array;
}

/** Everything that decides the index files of a distribution. */
export interface DistributionInput {
  /** The distribution name (its directory under dists/): Suite, and Codename of a first publish. */
  readonly distribution: string;
  readonly packages: Iterable<DistributionPackage>;
  /**
   * The chunks of the published Packages.gz files, by directory (`main/binary-amd64`). A new
   * chunk made of the very same package objects, in the same order, reuses the chunk's text
   * and member instead of compressing them again. @default - none: everything is compressed
   */
  readonly chunks?: ReadonlyMap<string, readonly PackagesChunk[]>;
  /** gzip level of Packages.gz. @default 9 */
  readonly compressionLevel?: number;
  /** Architectures served even without packages of their own. @default [] */
  readonly architectures?: readonly string[];
  /** The Release published before, for carry-over (Date, Origin, Label, Codename, components). */
  readonly previous?: Release;
  /** The clock of this publish. */
  readonly now: Date;
  /** Origin and Label of a first publish (ignored once a Release exists). */
  readonly origin?: string;
  readonly label?: string;
  /** Release Description. @default - none */
  readonly description?: string;
  /** Adds Valid-Until = Date + this many seconds. @default - no Valid-Until */
  readonly validForSeconds?: number;
}

/** One file below `dists/<distribution>/`. */
export interface DistributionFile {
  /** Path relative to `dists/<distribution>/`. */
  readonly path: string;
  readonly body: Uint8Array;
  readonly contentType: string;
  /** 'immutable' for by-hash copies, 'manifest' for fixed names (Packages, Packages.gz). */
  readonly kind: 'immutable' | 'manifest';
}

/** The rendered distribution: index files (by-hash copies first) and the Release to sign. */
export interface RenderedDistribution {
  readonly files: readonly DistributionFile[];
  readonly release: Release;
  /** The Release file text (what Release holds and InRelease signs). */
  readonly releaseText: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;
const TEXT = 'text/plain; charset=utf-8';

/** The package of an entry (a .deb read, or a stanza of another tool's index) in `component`. */
export function distributionPackageOf(component: string, entry: PackagesEntry): DistributionPackage {
  return { component, ...renderStanza(entry) };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The architectures to publish: concrete ones seen, configured or published before; `all` alone when there are none. */
export function servedArchitectures(packages: readonly DistributionPackage[], configured: readonly string[], previous: readonly string[]): string[] {
  const concrete = new Set<string>();
  for (const p of packages) concrete.add(p.arch);
  for (const a of [...configured, ...previous]) concrete.add(a);
  concrete.delete('all');
  return concrete.size ? [...concrete].sort() : ['all'];
}

/** The published chunk made of exactly `packages` (the same objects, in order), if any. */
function reusable(packages: readonly DistributionPackage[], byFirst: ReadonlyMap<DistributionPackage, PackagesChunk>): PackagesChunk | undefined {
  const found = byFirst.get(packages[0]);
  return found && found.packages.length === packages.length && found.packages.every((p, i) => p === packages[i]) ? found : undefined;
}

/** Packages and Packages.gz of one directory, from its packages in Packages order. */
async function packagesFile(
  sorted: readonly DistributionPackage[],
  published: readonly PackagesChunk[],
  level: number,
): Promise<{ plain: Buffer; gzip: Buffer }> {
  const byFirst = new Map(published.filter((c) => c.packages.length > 0).map((c) => [c.packages[0], c]));
  const compressed = async (packages: readonly DistributionPackage[]): Promise<PackagesChunk> => {
    const text = Buffer.concat(packages.map((p) => p.stanza));
    return { packages, text, member: await gzipMember(text, { writer: PACKAGES_WRITER_VERSION, packages: packages.length }, level) };
  };
  const chunks = await Promise.all(cutChunks(sorted).map((packages) => reusable(packages, byFirst) ?? compressed(packages)));
  // an empty Packages.gz is still a gzip file: one member of no stanzas
  if (chunks.length === 0) chunks.push(await compressed([]));
  return { plain: Buffer.concat(chunks.map((c) => c.text)), gzip: Buffer.concat(chunks.map((c) => c.member)) };
}

/** Renders the index files and Release of one distribution. Pure: same input, same bytes. */
export async function renderDistribution(input: DistributionInput): Promise<RenderedDistribution> {
  check(NAME.test(input.distribution), `invalid distribution name ${JSON.stringify(input.distribution)}`);
  const packages = [...input.packages];
  const previous = input.previous;
  const architectures = servedArchitectures(packages, input.architectures ?? [], previous?.architectures ?? []);
  const components = [...new Set([...packages.map((p) => p.component), ...(previous?.components ?? [])])].sort();
  for (const name of [...architectures, ...components]) check(NAME.test(name), `invalid architecture or component name ${JSON.stringify(name)}`);

  const level = input.compressionLevel ?? 9;
  const dirs = components.flatMap((component) => architectures.map((arch) => ({ component, arch, dir: `${component}/binary-${arch}` })));
  const sorted = [...packages].sort(compareStanzas);
  const rendered = await Promise.all(dirs.map(async ({ component, arch, dir }) => {
    const selected = sorted.filter((p) => p.component === component && (p.arch === arch || p.arch === 'all' || arch === 'all'));
    const { plain, gzip } = await packagesFile(selected, input.chunks?.get(dir) ?? [], level);
    const bodies = [['Packages', plain, TEXT], ['Packages.gz', gzip, 'application/gzip']] as const;
    return bodies.map(([name, body, contentType]) => ({ dir, name, body, contentType, digest: sha256(body) }));
  }));
  const indexFiles: DistributionFile[] = [];
  const byHash: DistributionFile[] = [];
  const listed: ReleaseFileEntry[] = [];
  for (const { dir, name, body, contentType, digest } of rendered.flat()) {
    indexFiles.push({ path: `${dir}/${name}`, body, contentType, kind: 'manifest' });
    byHash.push({ path: `${dir}/by-hash/SHA256/${digest}`, body, contentType, kind: 'immutable' });
    listed.push({ path: `${dir}/${name}`, size: body.length, sha256: digest });
  }

  const date = nextReleaseDate(input.now, previous?.date);
  const validFor = input.validForSeconds;
  check(validFor === undefined || (Number.isInteger(validFor) && validFor > 0), `validFor must be a positive whole number of seconds, not ${validFor}`);
  const release: Release = {
    origin: previous ? previous.origin : input.origin,
    label: previous ? previous.label : input.label,
    suite: input.distribution,
    codename: previous ? previous.codename : input.distribution,
    date,
    validUntil: validFor === undefined ? undefined : new Date(date.getTime() + validFor * 1000),
    architectures,
    components,
    acquireByHash: true,
    description: input.description,
    files: listed,
  };
  return { files: [...byHash, ...indexFiles], release, releaseText: writeRelease(release) };
}
