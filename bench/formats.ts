/**
 * What the benchmark knows about each format: how to make its synthetic packages, which
 * reference tools index them (full and incremental command lines), and how to tell whether
 * our metadata equals the reference's.
 */
import { copyFile, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { syntheticApk, syntheticDeb, syntheticPacman } from './other-packages';
import { syntheticRpm, type SyntheticPackage } from './yum-packages';
import type { FormatName } from '../src/engine/format';
import { parseRepomd } from '../src/formats/rpm';

/** A command line: program and arguments. */
export type Command = readonly [string, readonly string[]];

/** A reference indexer: command lines for a full index and, where it has one, its incremental mode. */
export interface ReferenceTool {
  readonly name: string;
  readonly full: (dir: string) => Command;
  /**
   * Its full index runs only on repositories of at most this many packages (repo-add takes
   * minutes for thousands). Above it, the row is left out and an incremental mode starts from
   * `seed`: our own index, which the tool reads as its own.
   */
  readonly maxPackages?: number;
  /** Copies our index (in `ours`) into `dir` as this tool's starting point. */
  readonly seed?: (ours: string, dir: string) => Promise<void>;
  /** Its incremental mode: the name it goes by there, and the command for the packages added and removed. */
  readonly incremental?: {
    readonly name: string;
    readonly command: (dir: string, added: readonly BenchPackage[], removed: readonly BenchPackage[]) => Command;
  };
}

/** A package of a benchmark tree. */
export interface BenchPackage {
  /** Path relative to the tree. */
  readonly path: string;
  readonly name: string;
  readonly size: number;
}

/** One format in the benchmark. */
export interface BenchFormat {
  readonly name: FormatName;
  readonly generate: (seed: number, index: number) => SyntheticPackage | Promise<SyntheticPackage>;
  /** Is this path (relative to the tree) a package file? Everything else is metadata, put back between repeats. */
  readonly isPackage: (relative: string) => boolean;
  /** The first is what ours is compared with. */
  readonly references: readonly ReferenceTool[];
  /** Whether our metadata and the first reference's agree (byte for byte where the formats say so). */
  readonly sameIndex?: (ours: string, reference: string) => Promise<boolean>;
  /** The objects of our current index under `dir`: with the new packages, the read budget of an update. */
  readonly indexFiles?: (dir: string) => Promise<string[]>;
  /** The floor of an incremental update, measured by a minimal process (a script of the bundle). */
  readonly floor?: { readonly script: string; readonly tool: string; readonly scenario: (packages: number) => string };
  /** pacman: the repository directory and name. */
  readonly repoName?: string;
  /** Repeats of each scenario. @default the --repeat option */
  readonly repeat?: number;
  /** Run ours a second time with the stat-listed storage (LocalStorage's MD5 listing left out). @default false */
  readonly statVariant?: boolean;
}

const YUM_DATA = ['primary', 'filelists', 'other'];

async function repomdOf(dir: string) {
  return parseRepomd(await readFile(path.join(dir, 'repodata/repomd.xml'), 'utf8'));
}

/** `sh -c script sh args...`: the script sees the arguments as "$@". */
const sh = (script: string, ...args: string[]): Command => ['sh', ['-c', script, 'sh', ...args]];

export const FORMATS: Readonly<Record<string, BenchFormat>> = {
  yum: {
    name: 'yum',
    generate: syntheticRpm,
    statVariant: true,
    isPackage: (p) => p.endsWith('.rpm'),
    references: [{
      name: 'createrepo_c',
      full: (dir) => ['createrepo_c', ['--quiet', '--no-database', dir]],
      incremental: { name: 'createrepo_c --update', command: (dir) => ['createrepo_c', ['--quiet', '--no-database', '--update', dir]] },
    }],
    // the uncompressed XML is what must be identical: compare the open-checksums
    sameIndex: async (ours, reference) => {
      const [a, b] = [await repomdOf(ours), await repomdOf(reference)];
      return YUM_DATA.every((type) => {
        const x = a.records.find((r) => r.type === type);
        const y = b.records.find((r) => r.type === type);
        return x !== undefined && y !== undefined && x.openChecksum === y.openChecksum && x.openSize === y.openSize;
      });
    },
    indexFiles: async (dir) => ['repodata/repomd.xml', 'repodata/repomd.xml.asc', ...(await repomdOf(dir)).records.map((r) => r.href)],
    floor: { script: 'floor.js', tool: 'minimal process', scenario: (n) => `floor of an update: read, inflate, SHA-256 the ${n}-package index` },
  },
  apt: {
    name: 'apt',
    generate: syntheticDeb,
    isPackage: (p) => p.endsWith('.deb'),
    repeat: 1,
    references: [
      {
        // its incremental mode: the --db cache of what it read before
        name: 'apt-ftparchive --db',
        full: (dir) => sh('cd "$1" && mkdir -p .ref && apt-ftparchive --db .ref/cache.db packages pool > .ref/Packages', dir),
        incremental: {
          name: 'apt-ftparchive --db (cached)',
          command: (dir) => sh('cd "$1" && apt-ftparchive --db .ref/cache.db packages pool > .ref/Packages', dir),
        },
      },
      {
        name: 'dpkg-scanpackages',
        full: (dir) => sh('cd "$1" && mkdir -p .ref && dpkg-scanpackages -m pool > .ref/Packages 2>/dev/null', dir),
        maxPackages: 1000,
      },
    ],
    // our Packages against apt-ftparchive's, stanza for stanza; apt-ftparchive adds SHA512 (ours stops at SHA256)
    sameIndex: async (ours, reference) => {
      const stanzas = (text: string) => text.split('\n\n').map((s) => s.replace(/^SHA512: .*\n?/m, '').trim()).filter(Boolean).sort();
      const mine = stanzas(await readFile(path.join(ours, 'dists/stable/main/binary-amd64/Packages'), 'utf8').catch(() => ''));
      const theirs = stanzas(await readFile(path.join(reference, '.ref/Packages'), 'utf8'));
      return mine.length > 0 && mine.length === theirs.length && mine.every((s, i) => s === theirs[i]);
    },
  },
  pacman: {
    name: 'pacman',
    generate: syntheticPacman,
    isPackage: (p) => /\.pkg\.tar\.(gz|zst|xz)$/.test(p),
    repeat: 1,
    repoName: 'bench',
    references: [{
      name: 'repo-add',
      full: (dir) => sh('cd "$1/bench" && repo-add -q --nocolor bench.db.tar.gz *.pkg.tar.gz', dir),
      maxPackages: 1000,
      seed: async (ours, dir) => {
        for (const db of ['bench.db.tar.gz', 'bench.files.tar.gz']) await copyFile(path.join(ours, 'bench', db), path.join(dir, 'bench', db));
      },
      incremental: {
        name: 'repo-add / repo-remove',
        command: (dir, added, removed) => (added.length
          ? sh('d=$1; shift; cd "$d/bench" && repo-add -q --nocolor bench.db.tar.gz "$@"', dir, ...added.map((p) => path.basename(p.path)))
          : sh('d=$1; shift; cd "$d/bench" && repo-remove -q --nocolor bench.db.tar.gz "$@"', dir, ...removed.map((p) => p.name))),
      },
    }],
  },
  apk: {
    name: 'apk',
    generate: syntheticApk,
    isPackage: (p) => p.endsWith('.apk'),
    repeat: 1,
    references: [],
  },
};
