/**
 * The benchmark: our indexer and the reference tool, side by side on the same synthetic
 * packages, on this machine, in one run. Scenarios: full index of a small and a large
 * repository, then on the large one: add 1 package, remove it again, add 10. Each run is a
 * child process measured from outside (see measure.ts). Run it with `node bench/run.js`.
 */
import { cp, mkdir, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { FORMATS, type BenchFormat, type Command } from './formats';
import { measure, type Measurement } from './measure';
import type { OursJob, OursResult } from './ours';
import { addToTree, ensurePackages, linkTree, writePackages, type CachedPackage, type GenerateTask } from './package-cache';
import type { FormatName } from '../src/engine/format';
import { defaultWorkers } from '../src/engine/parallel';
import { generatePgpKey } from '../src/signing/pgp';
import { generateRsaKey } from '../src/signing/rsa';

/** Bump when a generator changes: cached packages of another version are made again. */
const GENERATOR_VERSION = 2;

/** One measured run (the median of the repeats). */
interface Row {
  readonly format: FormatName;
  readonly scenario: string;
  readonly tool: string;
  readonly measurement: Measurement;
  /** Walls of every repeat, seconds. */
  readonly walls: readonly number[];
  /** Ours: bytes the engine read from storage. */
  readonly storageBytesRead?: number;
  /** Ours: wall time of the engine call inside the process (see OursResult.engineSeconds). */
  readonly engineSeconds?: number;
  /** Incremental runs: new packages + the current index (ours), the read budget. */
  readonly budget?: number;
  /** Whether this tool's metadata and the reference tool's agree after this scenario. */
  readonly identical?: boolean;
  /** The row whose wall this one is compared with. */
  readonly versus?: string;
}

interface Options {
  readonly small: number;
  readonly large: number;
  readonly seed: number;
  readonly repeat: number;
  readonly out: string;
  readonly formats: readonly string[];
  /** The scenarios to run (SCENARIOS); the large full index runs whenever an update does (it builds the tree). */
  readonly scenarios: ReadonlySet<Scenario>;
}

/** Scenario names for `--scenarios`. */
const SCENARIOS = ['full-small', 'full-large', 'floor', 'add1', 'remove1', 'add10'] as const;
type Scenario = typeof SCENARIOS[number];

function options(): Options {
  const { values } = parseArgs({
    options: {
      small: { type: 'string', default: '1000' },
      large: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '1' },
      repeat: { type: 'string', default: '3' },
      out: { type: 'string', default: path.join(__dirname, '..') },
      formats: { type: 'string', default: Object.keys(FORMATS).join(',') },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
    },
  });
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${v}`);
    return n;
  };
  const formats = values.formats!.split(',');
  for (const f of formats) if (!FORMATS[f]) throw new Error(`unknown format ${f}: one of ${Object.keys(FORMATS).join(', ')}`);
  const scenarios = values.scenarios!.split(',');
  for (const x of scenarios) if (!(SCENARIOS as readonly string[]).includes(x)) throw new Error(`unknown scenario ${x}: one of ${SCENARIOS.join(', ')}`);
  return {
    small: int('small', values.small!),
    large: int('large', values.large!),
    seed: int('seed', values.seed!),
    repeat: int('repeat', values.repeat!),
    out: path.resolve(values.out!),
    formats,
    scenarios: new Set(scenarios as Scenario[]),
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

async function sizeOf(dir: string, keys: readonly string[]): Promise<number> {
  let total = 0;
  for (const k of keys) total += await stat(path.join(dir, k)).then((s) => s.size, () => 0);
  return total;
}

/** What one run of a tool cost. */
interface ToolRun {
  readonly measurement: Measurement;
  readonly storageBytesRead?: number;
  readonly engineSeconds?: number;
}

/** One indexer under test, with its own copy of the repository. */
interface Tool {
  readonly name: string;
  readonly dir: string;
  readonly ours: boolean;
  /** Absent for a tool without an incremental mode. */
  readonly incremental?: {
    readonly name: string;
    run(add: readonly CachedPackage[], remove: readonly CachedPackage[]): Promise<ToolRun>;
  };
  full(): Promise<ToolRun>;
}

/** Ours, parsing in `workers` threads; `fullOnly`: a variant measured on the full indexes only. */
function oursTool(name: string, format: BenchFormat, dir: string, keyFile: string, workers: number, fullOnly = false): Tool {
  const run = async (changes?: OursJob['changes']) => {
    const job: OursJob = {
      format: format.name,
      dir,
      keyFile,
      workers,
      ...(format.repoName ? { repoName: format.repoName } : {}),
      ...(changes ? { changes } : {}),
    };
    const measurement = await measure(process.execPath, [path.join(__dirname, 'ours.js'), JSON.stringify(job)]);
    const result = JSON.parse(measurement.stdout.trim().split('\n').pop()!) as OursResult;
    if (changes && (result.added !== (changes.upserted?.length ?? 0) || result.removed !== (changes.deleted?.length ?? 0))) {
      throw new Error(`${name}: added ${result.added} and removed ${result.removed} packages`);
    }
    return { measurement, storageBytesRead: result.bytesRead, engineSeconds: result.engineSeconds };
  };
  return {
    name,
    dir,
    ours: true,
    full: () => run(),
    ...(fullOnly ? {} : { incremental: { name, run: (add, remove) => run({ upserted: add.map((p) => p.path), deleted: remove.map((p) => p.path) }) } }),
  };
}

/**
 * `pkgrepo index` on its own tree, full index and updates alike: it lists the tree and reads
 * what the engine's journal does not know, as the command does for a user.
 */
function cliTool(format: BenchFormat, dir: string, keyFile: string): Tool {
  const run = async () => {
    const args = ['index', dir, '--format', format.name, '--key', keyFile, '--quiet', ...(format.repoName ? ['--repo', format.repoName] : [])];
    return { measurement: await measure(process.execPath, [path.join(__dirname, 'cli.js'), ...args]) };
  };
  const name = 'ours, pkgrepo index';
  return { name, dir, ours: true, full: run, incremental: { name, run } };
}

function referenceTool(reference: BenchFormat['references'][number], dir: string): Tool {
  const run = async ([command, args]: Command) => ({ measurement: await measure(command, args) });
  const incremental = reference.incremental;
  return {
    name: reference.name,
    dir,
    ours: false,
    full: () => run(reference.full(dir)),
    ...(incremental ? { incremental: { name: incremental.name, run: (add, remove) => run(incremental.command(dir, add, remove)) } } : {}),
  };
}

/** The median run by wall time. */
function median<T extends { measurement: Measurement }>(runs: readonly T[]): T {
  return [...runs].sort((a, b) => a.measurement.wall - b.measurement.wall)[Math.floor((runs.length - 1) / 2)];
}

async function benchFormat(format: BenchFormat, o: Options, keyFiles: Record<'pgp' | 'rsa', string>, rows: Row[]): Promise<void> {
  const cache = path.join(o.out, 'cache', `${format.name}-g${GENERATOR_VERSION}-seed${o.seed}`);
  const packages = await ensurePackages({ script: __filename, generator: format.name, seed: o.seed, dir: cache, count: o.large + 11, log });
  const work = path.join(o.out, 'work', format.name);
  await rm(work, { recursive: true, force: true });
  const keyFile = format.name === 'apk' ? keyFiles.rsa : keyFiles.pgp;
  const references = format.references.map((r, i) => referenceTool(r, path.join(work, `reference-${i}`)));
  // as `pkgrepo index` runs by default, and with a parser thread per CPU
  const ours = oursTool('ours', format, path.join(work, 'ours'), keyFile, defaultWorkers(format.name as FormatName));
  const threads = availableParallelism();
  const tools = [
    ours,
    ...(format.threadsVariant ? [oursTool(`ours, ${threads} parser threads`, format, path.join(work, 'ours-threads'), keyFile, threads, true)] : []),
    ...(format.cliVariant ? [cliTool(format, path.join(work, 'ours-cli'), keyFile)] : []),
    ...references,
  ];
  const repeat = format.repeat ?? o.repeat;
  /** References whose full index is too slow for `count` packages. */
  const skipped = (tool: Tool, count: number) => {
    const max = format.references[references.indexOf(tool)]?.maxPackages;
    return max !== undefined && count > max;
  };

  /** Runs `run` for every tool `o.repeat` times (the metadata put back between repeats), keeps the medians. */
  const scenario = async (
    name: string, active: readonly Tool[], incremental: boolean, run: (tool: Tool) => Promise<ToolRun>, budgetOf?: (tool: Tool) => number | undefined,
  ) => {
    log(`${format.name}: ${name}`);
    const label = (tool: Tool) => (incremental ? tool.incremental!.name : tool.name);
    const versus = active.find((t) => !t.ours);
    const snapshots = new Map<Tool, string>();
    for (const tool of active) snapshots.set(tool, await snapshot(format, tool.dir, path.join(work, 'snapshots', tool.name)));
    const runs = new Map<Tool, ToolRun[]>(active.map((t) => [t, []]));
    for (let r = 0; r < repeat; r++) {
      for (const tool of active) {
        if (r > 0) await restore(format, tool.dir, snapshots.get(tool)!);
        runs.get(tool)!.push(await run(tool));
      }
    }
    for (const tool of active) {
      const m = median(runs.get(tool)!);
      const budget = budgetOf?.(tool);
      rows.push({
        format: format.name,
        scenario: name,
        tool: label(tool),
        measurement: m.measurement,
        walls: runs.get(tool)!.map((x) => x.measurement.wall),
        ...(tool.ours ? {
          storageBytesRead: m.storageBytesRead,
          engineSeconds: m.engineSeconds,
          ...(format.sameIndex && versus && versus === references[0] ? { identical: await format.sameIndex(tool.dir, versus.dir) } : {}),
          ...(versus ? { versus: label(versus) } : {}),
        } : {}),
        ...(budget === undefined ? {} : { budget }),
      });
    }
  };

  const full = async (count: number) => {
    for (const tool of tools) await linkTree(cache, packages.slice(0, count), tool.dir);
    await scenario(`full index, ${count} packages`, tools.filter((t) => !skipped(t, count)), false, (tool) => tool.full());
    for (const tool of references.filter((t) => skipped(t, count))) {
      const seed = format.references[references.indexOf(tool)].seed;
      if (seed) await seed(ours.dir, tool.dir);
    }
  };
  const incremental = async (name: string, add: readonly CachedPackage[], remove: readonly CachedPackage[]) => {
    const budgets = new Map<Tool, number>();
    if (format.indexFiles) {
      for (const tool of tools.filter((t) => t.ours)) {
        const index = await sizeOf(tool.dir, [...await format.indexFiles(tool.dir), ...(await listState(tool.dir))]);
        budgets.set(tool, index + add.reduce((n, p) => n + p.size, 0));
      }
    }
    for (const tool of tools) {
      await addToTree(cache, add, tool.dir);
      for (const p of remove) await unlink(path.join(tool.dir, p.path));
    }
    const active = tools.filter((t) => t.incremental && (!skipped(t, o.large) || format.references[references.indexOf(t)]?.seed));
    await scenario(name, active, true, (tool) => tool.incremental!.run(add, remove), (tool) => budgets.get(tool));
  };

  const run = (x: Scenario) => o.scenarios.has(x);
  if (run('full-small')) await full(o.small);
  if (run('full-large') || run('add1') || run('remove1') || run('add10')) await full(o.large);
  if (format.floor && run('floor')) {
    const floor = format.floor;
    log(`${format.name}: floor`);
    const runs = [];
    for (let r = 0; r < repeat; r++) runs.push({ measurement: await measure(process.execPath, [path.join(__dirname, floor.script), ours.dir]) });
    const walls = runs.map((x) => x.measurement.wall);
    rows.push({ format: format.name, scenario: floor.scenario(o.large), tool: floor.tool, measurement: median(runs).measurement, walls });
  }
  const extra = packages.slice(o.large, o.large + 11);
  // remove 1 removes the package add 1 added: it runs after add 1 (which it then needs)
  if (run('add1') || run('remove1')) await incremental(`add 1 to ${o.large}`, extra.slice(0, 1), []);
  if (run('remove1')) await incremental(`remove 1 from ${o.large + 1}`, [], extra.slice(0, 1));
  if (run('add10')) await incremental(`add 10 to ${o.large}`, extra.slice(1, 11), []);
}

/** Every file of the tree that is not a package (relative paths). */
async function metadataFiles(format: BenchFormat, dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() || e.isSymbolicLink())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .filter((p) => !format.isPackage(p));
}

/** Copies the tool's metadata (every file that is not a package) aside. */
async function snapshot(format: BenchFormat, dir: string, to: string): Promise<string> {
  await rm(to, { recursive: true, force: true });
  await mkdir(to, { recursive: true });
  for (const f of await metadataFiles(format, dir)) {
    await mkdir(path.dirname(path.join(to, f)), { recursive: true });
    await cp(path.join(dir, f), path.join(to, f), { preserveTimestamps: true, verbatimSymlinks: true });
  }
  return to;
}

/** Puts the tool's metadata back as `snapshot` found it. */
async function restore(format: BenchFormat, dir: string, from: string): Promise<void> {
  for (const f of await metadataFiles(format, dir)) await rm(path.join(dir, f), { force: true });
  for (const f of await metadataFiles(format, from)) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await cp(path.join(from, f), path.join(dir, f), { preserveTimestamps: true, verbatimSymlinks: true });
  }
}

/** The engine's own state objects (the garbage-collection journal), part of what it reads. */
async function listState(dir: string): Promise<string[]> {
  const names = await readdir(path.join(dir, '.pkgrepo')).catch(() => [] as string[]);
  return names.map((n) => `.pkgrepo/${n}`);
}

const mb = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);

/** The results as a Markdown table. */
export function table(rows: readonly Row[]): string {
  const lines = [
    '| scenario | tool | wall s | engine s | CPU s | peak RSS MB | read MB: storage (budget) | read MB: rchar | wall vs reference | same metadata |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const m = r.measurement;
    const reference = r.versus ? rows.find((x) => x.format === r.format && x.scenario === r.scenario && x.tool === r.versus) : undefined;
    const ratio = reference ? `${(m.wall / reference.measurement.wall).toFixed(2)}` : '';
    const read = r.storageBytesRead === undefined ? '' : `${mb(r.storageBytesRead)}${r.budget === undefined ? '' : ` (${mb(r.budget)})`}`;
    const same = r.identical === undefined ? '' : r.identical ? 'yes' : 'NO';
    const engine = r.engineSeconds === undefined ? '' : r.engineSeconds.toFixed(2);
    lines.push(`| ${r.format} ${r.scenario} | ${r.tool} | ${m.wall.toFixed(2)} | ${engine} | ${m.cpu.toFixed(2)} | ${mb(m.maxRss)} | ${read} | ${mb(m.rchar)} | ${ratio} | ${same} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = options();
  await mkdir(o.out, { recursive: true });
  const keyFiles = { pgp: path.join(o.out, 'bench-key.asc'), rsa: path.join(o.out, 'bench.rsa') };
  await writeFile(keyFiles.pgp, (await generatePgpKey({ name: 'benchmark', type: 'rsa', rsaBits: 3072 })).privateKeyArmored);
  await writeFile(keyFiles.rsa, generateRsaKey(2048).privateKeyPem);
  const rows: Row[] = [];
  for (const name of o.formats) await benchFormat(FORMATS[name], o, keyFiles, rows);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${mb(totalmem())} MB RAM, Node ${process.version}`;
  const md = `${table(rows)}\n\nMachine: ${machine}\n`;
  await writeFile(path.join(o.out, 'results.json'), JSON.stringify({ machine, options: o, rows }, undefined, 1));
  await writeFile(path.join(o.out, 'results.md'), md);
  process.stdout.write(md);
  const different = rows.filter((r) => r.identical === false);
  if (different.length) throw new Error(`our metadata differs from the reference tool's after: ${different.map((r) => r.scenario).join(', ')}`);
}

if (isMainThread) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
} else {
  const task = workerData as GenerateTask;
  void writePackages(task, FORMATS[task.generator].generate).then((written) => parentPort!.postMessage(written));
}
