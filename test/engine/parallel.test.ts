import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticApk, syntheticDeb, syntheticPacman } from '../../bench/other-packages';
import { syntheticRpm, type SyntheticPackage } from '../../bench/yum-packages';
import { syncAll } from '../../src/engine/engine';
import type { FormatName, PackageObject, RepositoryFormat } from '../../src/engine/format';
import { createFormat } from '../../src/engine/formats';
import { decodeClasses, encodeClasses, parallelFormat, type ParallelFormat } from '../../src/engine/parallel';
import { Deb822Paragraph } from '../../src/formats/deb/deb822';
import { PackageFormatError } from '../../src/formats/errors';
import { generatePgpKey, loadPgpSigner } from '../../src/signing/pgp';
import { LocalStorage } from '../../src/storage/local';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const GENERATORS: Record<FormatName, (seed: number, index: number) => SyntheticPackage | Promise<SyntheticPackage>> = {
  yum: syntheticRpm,
  apt: syntheticDeb,
  pacman: syntheticPacman,
  apk: syntheticApk,
};
const OPTIONS = { repoName: 'bench', localLinks: true };

const temps: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
afterAll(() => Promise.all(temps.map((d) => rm(d, { recursive: true, force: true }))));

function packageObject(p: SyntheticPackage, bytes: Uint8Array = p.bytes): PackageObject {
  return {
    key: p.path,
    size: bytes.length,
    lastModified: new Date(p.mtime * 1000),
    read: async () => bytes,
    stream: async () => (async function* once() {
      yield bytes;
    })(),
    scan: async (visit) => visit(bytes),
    readRelated: async () => undefined,
  };
}

/** What readPackage gives: the entry, or the PackageFormatError's message. */
async function outcome(format: RepositoryFormat<any>, pkg: PackageObject): Promise<unknown> {
  const unit = format.unitOf(pkg.key)!;
  try {
    return { entry: await format.readPackage(pkg, unit) };
  } catch (e) {
    expect(e).toBeInstanceOf(PackageFormatError);
    return { error: (e as Error).message };
  }
}

describe.each(['yum', 'apt', 'pacman', 'apk'] as const)('parallelFormat(%s)', (name) => {
  let packages: SyntheticPackage[];
  let format: ParallelFormat;
  beforeAll(async () => {
    packages = await Promise.all(Array.from({ length: 8 }, (_, i) => GENERATORS[name](7, i)));
    format = parallelFormat(name, OPTIONS, { workers: 2, startAfter: 0 });
  });
  afterAll(() => format.close());

  it('parses in worker threads entries equal to the plain format\'s, classes and all', async () => {
    const plain = createFormat(name, OPTIONS);
    const pkgs = [
      ...packages.map((p) => packageObject(p)),
      packageObject(packages[0], packages[0].bytes.subarray(0, 200)),
      packageObject(packages[1], new Uint8Array(300).fill(7)),
    ];
    const expected = await Promise.all(pkgs.map((p) => outcome(plain, p)));
    const got = await Promise.all(pkgs.map((p) => outcome(format, p)));
    expect(got).toEqual(expected);
    expect(got.filter((o) => 'entry' in (o as object))).toHaveLength(packages.length);
    expect(got.slice(-2).every((o) => 'error' in (o as object))).toBe(true);
    expect(format.parsed).toEqual({ inWorkers: packages.length + 2, here: 0 });
  });
});

describe('parallelFormat', () => {
  it('round-trips Buffers and registered classes through a structured clone, and refuses others', () => {
    const paragraph = Deb822Paragraph.of([['Package', 'hello'], ['Version', '1.0']]);
    const value = { xml: { primary: Buffer.from('<package/>') }, list: [new Map([['p', paragraph]])], raw: new Uint8Array([1]), when: new Date(5) };
    const marks = encodeClasses(value);
    const back = decodeClasses(structuredClone(value), marks);
    expect(back).toEqual(value);
    expect(Buffer.isBuffer(back.xml.primary)).toBe(true);
    expect(back.list[0].get('p')).toBeInstanceOf(Deb822Paragraph);
    expect(back.list[0].get('p')!.get('version')).toBe('1.0');
    expect(() => encodeClasses({ x: new (class Unregistered {})() })).toThrow(/Unregistered instance cannot be sent between threads/);
  });

  it('parses the first packages here and starts the workers only past startAfter', async () => {
    const format = parallelFormat('yum', {}, { workers: 2, startAfter: 3 });
    try {
      const pkgs = await Promise.all(Array.from({ length: 5 }, (_, i) => syntheticRpm(3, i)));
      for (const p of pkgs) await format.readPackage(packageObject(p), format.unitOf(p.path)!);
      expect(format.parsed).toEqual({ inWorkers: 2, here: 3 });
    } finally {
      await format.close();
    }
  });

  it('publishes a yum repository identical to the single-threaded one', async () => {
    const keys = { pgp: await loadPgpSigner((await generatePgpKey({ name: 'parallel test', type: 'ed25519' })).privateKeyArmored) };
    const source = await tempDir('parallel-src-');
    for (let i = 0; i < 40; i++) {
      const p = syntheticRpm(11, i);
      await mkdir(path.dirname(path.join(source, p.path)), { recursive: true });
      await writeFile(path.join(source, p.path), p.bytes);
    }
    const now = () => new Date('2026-01-02T03:04:05Z');
    const publish = async (format: RepositoryFormat<any>) => {
      const dir = await tempDir('parallel-repo-');
      await cp(source, dir, { recursive: true, preserveTimestamps: true });
      const report = await syncAll({ storage: new LocalStorage(dir), format, keys, now });
      const names = (await readdir(path.join(dir, 'repodata'))).filter((n) => n.endsWith('.gz') || n === 'repomd.xml').sort();
      return { added: report.units[0].added, files: await Promise.all(names.map(async (n) => [n, await readFile(path.join(dir, 'repodata', n))])) };
    };
    const format = parallelFormat('yum', {}, { workers: 2, startAfter: 0 });
    try {
      const [plain, parallel] = [await publish(createFormat('yum')), await publish(format)];
      expect(format.parsed.inWorkers).toBe(40);
      expect(parallel.added).toEqual(plain.added);
      expect(parallel.files).toEqual(plain.files);
    } finally {
      await format.close();
    }
  });

  it.each([
    ['compiled like lib/ (one file per module, the worker beside parallel.js)', false],
    ['bundled (one file, with parallel-worker.js beside it)', true],
  ])('starts its workers when %s', async (_, bundled) => {
    const out = await tempDir('parallel-build-');
    const common = { platform: 'node', format: 'cjs', target: 'node20', logLevel: 'silent' } as const;
    const rpm = syntheticRpm(5, 0);
    await writeFile(path.join(out, 'package.rpm'), rpm.bytes);
    const script = [
      `const { parallelFormat } = require(${JSON.stringify(bundled ? './main.js' : './src/engine/parallel.js')});`,
      'const bytes = require("node:fs").readFileSync(require("node:path").join(__dirname, "package.rpm"));',
      `const key = ${JSON.stringify(rpm.path)};`,
      'const format = parallelFormat("yum", {}, { workers: 1, startAfter: 0 });',
      'const pkg = { key, size: bytes.length, lastModified: new Date(0), read: async () => bytes, stream: async () => [bytes], readRelated: async () => undefined };',
      'format.readPackage(pkg, format.unitOf(key)).then((e) => { console.log(JSON.stringify({ name: e.name, parsed: format.parsed })); return format.close(); });',
    ].join('\n');
    if (bundled) {
      await esbuild.build({
        ...common,
        bundle: true,
        outdir: out,
        entryPoints: [
          { in: path.join(ROOT, 'src/engine/parallel.ts'), out: 'main' },
          { in: path.join(ROOT, 'src/engine/parallel-worker.ts'), out: 'parallel-worker' },
        ],
      });
    } else {
      const sources = (await readdir(path.join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
      await esbuild.build({ ...common, bundle: false, outdir: path.join(out, 'src'), entryPoints: sources.map((f) => path.join(ROOT, 'src', f)) });
    }
    await writeFile(path.join(out, 'run.js'), script);
    // dependencies from the repository's node_modules, as lib/ finds them in the package's
    const env = { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') };
    const { stdout } = await run(process.execPath, [path.join(out, 'run.js')], { cwd: out, env });
    expect(JSON.parse(stdout)).toEqual({ name: rpm.name, parsed: { inWorkers: 1, here: 0 } });
  });
});
