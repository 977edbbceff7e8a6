/**
 * What the benchmark knows about each format: how to make its synthetic packages, which
 * reference tools index them (full and incremental command lines), and how to tell whether
 * our metadata equals the reference's.
 */
import { createHash } from 'node:crypto';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { syntheticApk, syntheticDeb, syntheticPacman } from './other-packages';
import { syntheticRpm, type SyntheticPackage } from './yum-packages';
import type { FormatName } from '../src/engine/format';
import { readDatabase, renderDesc, renderFiles } from '../src/formats/pacman';
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
  /** Also run ours with a package parser thread per CPU for the full indexes. @default false */
  readonly threadsVariant?: boolean;
  /**
   * Also run `pkgrepo index` (the CLI, which finds the changes itself by listing the tree) on
   * its own copy of the tree, in every scenario. @default false
   */
  readonly cliVariant?: boolean;
}

const YUM_DATA = ['primary', 'filelists', 'other'];

async function repomdOf(dir: string) {
  return parseRepomd(await readFile(path.join(dir, 'repodata/repomd.xml'), 'utf8'));
}

/** SHA-256 of the uncompressed primary, filelists and other of the yum repository in `dir`. */
async function openDigests(dir: string): Promise<string[]> {
  const repomd = await repomdOf(dir);
  const digests: string[] = [];
  for (const type of YUM_DATA) {
    const record = repomd.records.find((r) => r.type === type);
    if (record) digests.push(createHash('sha256').update(gunzipSync(await readFile(path.join(dir, record.href)))).digest('hex'));
  }
  return digests;
}

/** `sh -c script sh args...`: the script sees the arguments as "$@". */
const sh = (script: string, ...args: string[]): Command => ['sh', ['-c', script, 'sh', ...args]];

export const FORMATS: Readonly<Record<string, BenchFormat>> = {
  yum: {
    name: 'yum',
    generate: syntheticRpm,
    threadsVariant: true,
    cliVariant: true,
    isPackage: (p) => p.endsWith('.rpm'),
    references: [{
      name: 'createrepo_c',
      full: (dir) => ['createrepo_c', ['--quiet', '--no-database', dir]],
      incremental: { name: 'createrepo_c --update', command: (dir) => ['createrepo_c', ['--quiet', '--no-database', '--update', dir]] },
    }],
    // the uncompressed XML is what must be identical (our repomd.xml has no open-checksum to compare)
    sameIndex: async (ours, reference) => {
      const [a, b] = [await openDigests(ours), await openDigests(reference)];
      return a.length === YUM_DATA.length && a.every((d, i) => d === b[i]);
    },
    indexFiles: async (dir) => ['repodata/repomd.xml', 'repodata/repomd.xml.asc', ...(await repomdOf(dir)).records.map((r) => r.href)],
    floor: { script: 'floor.js', tool: 'minimal process', scenario: (n) => `floor of an update: read, inflate, SHA-256 the ${n}-package index` },
  },
  apt: {
    name: 'apt',
    generate: syntheticDeb,
    threadsVariant: true,
    cliVariant: true,
    isPackage: (p) => p.endsWith('.deb'),
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
    // the entry points and every Packages file of each distribution (by-hash copies are the same bytes again)
    indexFiles: async (dir) => {
      const files: string[] = [];
      for (const distribution of await readdir(path.join(dir, 'dists')).catch(() => [] as string[])) {
        const root = `dists/${distribution}`;
        for (const name of ['InRelease', 'Release', 'Release.gpg']) files.push(`${root}/${name}`);
        for (const entry of await readdir(path.join(dir, root), { recursive: true })) {
          if (/^[^/]+\/binary-[^/]+\/Packages(\.gz)?$/.test(entry)) files.push(`${root}/${entry}`);
        }
      }
      return files;
    },
  },
  pacman: {
    name: 'pacman',
    generate: syntheticPacman,
    cliVariant: true,
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
    // every desc and files entry of both databases equal repo-add's (repo-add 6.0.2 adds MD5SUM, ignored)
    sameIndex: async (ours, reference) => {
      for (const kind of ['db', 'files']) {
        const entries = async (dir: string) => (await readDatabase(await readFile(path.join(dir, 'bench', `bench.${kind}.tar.gz`))))
          .map((e) => `${renderDesc({ ...e, md5sum: undefined })}${e.files === undefined ? '' : renderFiles(e.files)}`).sort();
        const [a, b] = [await entries(ours), await entries(reference)];
        if (a.length === 0 || a.length !== b.length || !a.every((x, i) => x === b[i])) return false;
      }
      return true;
    },
    // the databases, their signatures and the engine's state objects of the unit
    indexFiles: async (dir) => [
      ...['bench.db.tar.gz', 'bench.db.tar.gz.sig', 'bench.files.tar.gz', 'bench.files.tar.gz.sig'].map((f) => `bench/${f}`),
      ...(await readdir(path.join(dir, 'bench', '.pkgrepo')).catch(() => [] as string[])).map((n) => `bench/.pkgrepo/${n}`),
    ],
  },
  apk: {
    name: 'apk',
    generate: syntheticApk,
    isPackage: (p) => p.endsWith('.apk'),
    repeat: 1,
    references: [],
  },
};
