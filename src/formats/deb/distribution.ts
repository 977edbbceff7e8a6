/**
 * The index files of one distribution (`dists/<distribution>/`), from its packages:
 *
 * - `<component>/binary-<arch>/Packages` and `Packages.gz` for every component and
 *   architecture; `Architecture: all` packages go into every architecture's Packages (as
 *   Debian does, so no `binary-all` is published unless the distribution has no other
 *   architecture). No `.xz`: Node has no xz encoder, every apt reads gzip, and the
 *   uncompressed file is listed (and published) anyway.
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
import * as zlib from 'node:zlib';
import { check } from '../errors';
import { writePackages, type PackagesEntry } from './packages-index';
import { nextReleaseDate, writeRelease, type Release, type ReleaseFileEntry } from './release';

/** One package of the distribution and the component it is in. */
export interface DistributionPackage {
  readonly component: string;
  readonly entry: PackagesEntry;
}

/** Everything that decides the index files of a distribution. */
export interface DistributionInput {
  /** The distribution name (its directory under dists/): Suite, and Codename of a first publish. */
  readonly distribution: string;
  readonly packages: Iterable<DistributionPackage>;
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

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function architectureOf(entry: PackagesEntry): string {
  const arch = entry.control.get('Architecture');
  check(arch !== undefined, `${entry.filename} has no Architecture`);
  return arch;
}

/** The architectures to publish: concrete ones seen, configured or published before; `all` alone when there are none. */
export function servedArchitectures(packages: readonly DistributionPackage[], configured: readonly string[], previous: readonly string[]): string[] {
  const concrete = new Set<string>();
  for (const p of packages) concrete.add(architectureOf(p.entry));
  for (const a of [...configured, ...previous]) concrete.add(a);
  concrete.delete('all');
  return concrete.size ? [...concrete].sort() : ['all'];
}

/** Renders the index files and Release of one distribution. Pure: same input, same bytes. */
export function renderDistribution(input: DistributionInput): RenderedDistribution {
  check(NAME.test(input.distribution), `invalid distribution name ${JSON.stringify(input.distribution)}`);
  const packages = [...input.packages];
  const previous = input.previous;
  const architectures = servedArchitectures(packages, input.architectures ?? [], previous?.architectures ?? []);
  const components = [...new Set([...packages.map((p) => p.component), ...(previous?.components ?? [])])].sort();
  for (const name of [...architectures, ...components]) check(NAME.test(name), `invalid architecture or component name ${JSON.stringify(name)}`);

  const indexFiles: DistributionFile[] = [];
  const byHash: DistributionFile[] = [];
  const listed: ReleaseFileEntry[] = [];
  for (const component of components) {
    for (const arch of architectures) {
      const dir = `${component}/binary-${arch}`;
      const selected = packages
        .filter((p) => p.component === component && (architectureOf(p.entry) === arch || architectureOf(p.entry) === 'all' || arch === 'all'))
        .map((p) => p.entry);
      const plain = Buffer.from(writePackages(selected), 'utf8');
      const gzip = zlib.gzipSync(plain, { level: 9 });
      for (const [name, body, contentType] of [['Packages', plain, TEXT], ['Packages.gz', gzip, 'application/gzip']] as const) {
        const digest = sha256(body);
        indexFiles.push({ path: `${dir}/${name}`, body, contentType, kind: 'manifest' });
        byHash.push({ path: `${dir}/by-hash/SHA256/${digest}`, body, contentType, kind: 'immutable' });
        listed.push({ path: `${dir}/${name}`, size: body.length, sha256: digest });
      }
    }
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
