/**
 * The fuzz worker thread: generates inputs, calls the reader, and judges each outcome. The
 * main thread (harness.ts) watches the clock: a reader stuck in a synchronous loop cannot
 * report anything, so the main thread terminates this worker after the per-input limit.
 */
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { generate, type Seed } from './mutators';
import { inputSeed, Prng, runSeed } from './prng';
import type { Outcome, ReplayInput, ToMain, ToWorker } from './protocol';
import { LIMITS } from './protocol';
import { targetNamed, type FuzzTarget } from './targets';
import { PackageFormatError } from '../../src/formats/errors';

const port = parentPort!;
const send = (message: ToMain) => port.postMessage(message);

/** Errors that escaped the reader's promise while an input ran (unhandled rejections, async throws). */
let strays: unknown[] = [];
process.on('unhandledRejection', (e) => strays.push(e));
process.on('uncaughtException', (e) => strays.push(e));

const memory = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return `non-Error thrown: ${String(e)}`;
}

/** Run one input and judge it: a value or a PackageFormatError, in time, within the memory bound. */
async function execute(target: FuzzTarget, bytes: Buffer, seed: number): Promise<Outcome> {
  strays = [];
  const before = memory();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, memory());
  }, 2);
  const start = performance.now();
  let outcome: Outcome;
  try {
    await target.run(bytes, new Prng(runSeed(seed)));
    outcome = { verdict: 'accepted', ms: 0, growth: 0 };
  } catch (e) {
    if (e instanceof PackageFormatError) {
      outcome = e.message.length > 0 && e.message.length <= LIMITS.maxMessage
        ? { verdict: 'rejected', message: e.message, ms: 0, growth: 0 }
        : { verdict: 'failure', message: `PackageFormatError message of ${e.message.length} characters (must be 1..${LIMITS.maxMessage})`, ms: 0, growth: 0 };
    } else {
      outcome = { verdict: 'failure', message: `not a PackageFormatError: ${describe(e)}`, ms: 0, growth: 0 };
    }
  }
  const ms = performance.now() - start;
  // let errors that a reader left behind (a stream failing after it returned) surface now
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 0));
  clearInterval(sampler);
  peak = Math.max(peak, memory());
  const growth = peak - before;
  if (strays.length) outcome = { verdict: 'failure', message: `unhandled error while reading: ${describe(strays[0])}`, ms: 0, growth: 0 };
  else if (ms > LIMITS.perInputMs) outcome = { verdict: 'failure', message: `took ${ms.toFixed(0)} ms, more than ${LIMITS.perInputMs} ms`, ms: 0, growth: 0 };
  else if (growth > LIMITS.memoryGrowthBytes) outcome = { verdict: 'failure', message: `memory grew by ${(growth / 2 ** 20).toFixed(0)} MiB, more than ${LIMITS.memoryGrowthBytes / 2 ** 20} MiB`, ms: 0, growth: 0 };
  return { ...outcome, ms, growth };
}

const seedCache = new Map<string, Promise<Seed[]>>();

function seedsOf(target: FuzzTarget): Promise<Seed[]> {
  let seeds = seedCache.get(target.name);
  if (!seeds) {
    seeds = target.seeds();
    seedCache.set(target.name, seeds);
  }
  return seeds;
}

async function campaign(name: string, baseSeed: number, from: number, to: number): Promise<void> {
  const target = targetNamed(name);
  const seeds = await seedsOf(target);
  // the seeds themselves must be read without complaint, or the run proves nothing
  for (const s of seeds) {
    try {
      await target.run(s.bytes, new Prng(0));
    } catch (e) {
      throw new Error(`fuzz seed ${s.name} of ${name} is not accepted by the reader: ${describe(e)}`);
    }
  }
  send({ kind: 'ready', seeds: seeds.map((s) => s.name) });
  for (let index = from; index < to; index++) {
    const seed = inputSeed(baseSeed, name, index);
    const input = generate(seeds, target.dictionary, new Prng(seed));
    send({ kind: 'start', index, seed, steps: input.steps, bytes: input.bytes });
    send({ kind: 'done', index, outcome: await execute(target, input.bytes, seed) });
  }
  send({ kind: 'end' });
}

async function replay(inputs: readonly ReplayInput[], from: number): Promise<void> {
  send({ kind: 'ready', seeds: [] });
  for (let index = from; index < inputs.length; index++) {
    const { target, seed, bytes } = inputs[index];
    send({ kind: 'start', index, seed, steps: ['replay'], bytes });
    send({ kind: 'done', index, outcome: await execute(targetNamed(target), Buffer.from(bytes), seed) });
  }
  send({ kind: 'end' });
}

port.on('message', (message: ToWorker) => {
  const work = message.kind === 'campaign'
    ? campaign(message.target, message.baseSeed, message.from, message.to)
    : replay(message.inputs, message.from);
  work.catch((e) => send({ kind: 'fatal', message: describe(e) }));
});
