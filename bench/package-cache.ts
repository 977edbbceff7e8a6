/**
 * The generated packages, kept on disk between benchmark runs (bench/out/cache/): generating
 * ten thousand packages takes a minute, linking them into a repository tree a second.
 * Generation runs on every core, in worker threads of this same script.
 */
import { existsSync } from 'node:fs';
import { link, mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SyntheticPackage } from './yum-packages';

/** One cached package. */
export interface CachedPackage {
  readonly index: number;
  /** Path relative to a repository root. */
  readonly path: string;
  readonly size: number;
  /** The package name. */
  readonly name: string;
}

/** A generator of package `index` of `seed`, by name so that worker threads can find it. */
export type GeneratorName = string;

/** What a generation worker is given. */
export interface GenerateTask {
  readonly generator: GeneratorName;
  readonly seed: number;
  readonly dir: string;
  readonly indexes: readonly number[];
}

/** Writes packages `indexes` into `dir` (in a worker thread) and returns what it wrote. */
export async function writePackages(
  task: GenerateTask,
  generate: (seed: number, index: number) => SyntheticPackage | Promise<SyntheticPackage>,
): Promise<CachedPackage[]> {
  const out: CachedPackage[] = [];
  for (const index of task.indexes) {
    const pkg = await generate(task.seed, index);
    const file = path.join(task.dir, pkg.path);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, pkg.bytes);
    await utimes(file, pkg.mtime, pkg.mtime);
    out.push({ index, path: pkg.path, size: pkg.bytes.length, name: pkg.name });
  }
  return out;
}

/**
 * Packages 0..count-1 of `generator` and `seed` in `dir`, generated where missing. `script` is
 * the file worker threads run (this bundle), which must call `writePackages` for a task.
 */
export async function ensurePackages(options: {
  readonly script: string;
  readonly generator: GeneratorName;
  readonly seed: number;
  readonly dir: string;
  readonly count: number;
  readonly log: (line: string) => void;
}): Promise<CachedPackage[]> {
  const manifest = path.join(options.dir, 'manifest.json');
  let cached: CachedPackage[] = [];
  if (existsSync(manifest)) cached = JSON.parse(await readFile(manifest, 'utf8')) as CachedPackage[];
  if (cached.length >= options.count) return cached.slice(0, options.count);
  const missing = Array.from({ length: options.count - cached.length }, (_, i) => cached.length + i);
  options.log(`generating ${missing.length} ${options.generator} packages into ${options.dir}`);
  const started = Date.now();
  const workers = Math.max(1, Math.min(availableParallelism(), missing.length));
  const parts = await Promise.all(Array.from({ length: workers }, (_, w) => {
    const indexes = missing.filter((_i, k) => k % workers === w);
    const task: GenerateTask = { generator: options.generator, seed: options.seed, dir: options.dir, indexes };
    return new Promise<CachedPackage[]>((resolve, reject) => {
      const worker = new Worker(options.script, { workerData: task });
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => { if (code !== 0) reject(new Error(`package generator worker exited with ${code}`)); });
    });
  }));
  const all = [...cached, ...parts.flat()].sort((a, b) => a.index - b.index);
  await writeFile(manifest, JSON.stringify(all));
  options.log(`generated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return all;
}

/** A repository tree at `dest` holding hard links to `packages` of the cache `from`. */
export async function linkTree(from: string, packages: readonly CachedPackage[], dest: string): Promise<void> {
  await rm(dest, { recursive: true, force: true });
  await addToTree(from, packages, dest);
}

/** Hard-links `packages` of the cache `from` into the tree `dest`. */
export async function addToTree(from: string, packages: readonly CachedPackage[], dest: string): Promise<void> {
  for (const p of packages) {
    const target = path.join(dest, p.path);
    await mkdir(path.dirname(target), { recursive: true });
    await link(path.join(from, p.path), target);
  }
}
