/**
 * The main-thread side of the fuzzer: bundles worker.ts (esbuild) into a temporary script,
 * runs it in a worker thread with a heap limit, and keeps the clock: an input that gets no
 * answer within the limit is a hang, reported with its seed and steps, and the worker is
 * replaced to carry on with the next input.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildSync } from 'esbuild';
import { LIMITS, type Outcome, type ReplayInput, type ToMain, type ToWorker } from './protocol';

/** One input that broke the oracle. */
export interface Failure {
  readonly target: string;
  readonly index: number;
  /** The input's seed: with the campaign seed and index it regenerates the input. */
  readonly seed: number;
  readonly steps: readonly string[];
  readonly reason: string;
  /** Where the input was saved (for the regression corpus). */
  readonly file: string;
}

/** Counts of one campaign. */
export interface CampaignResult {
  readonly target: string;
  readonly baseSeed: number;
  readonly inputs: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly failures: readonly Failure[];
  readonly seeds: readonly string[];
  /** Slowest input, ms; largest memory growth, bytes. */
  readonly slowestMs: number;
  readonly maxGrowth: number;
}

/** Extra time the watchdog gives beyond the limit, so the worker's own (exact) verdict arrives first. */
const WATCHDOG_GRACE_MS = 500;
/** Where failing inputs (and with FUZZ_SAVE_ALL=1, every input) are saved. */
const FAILURE_DIR = path.join(os.tmpdir(), 'cdk-package-repos-fuzz');

let script: string | undefined;

/** The worker bundled into one CommonJS file under the temporary directory. */
function workerScript(): string {
  if (!script) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-worker-'));
    const outfile = path.join(dir, 'worker.js');
    buildSync({ entryPoints: [path.join(__dirname, 'worker.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile, logLevel: 'silent' });
    script = outfile;
  }
  return script;
}

interface Handlers {
  ready?(seeds: readonly string[]): void;
  done(start: Extract<ToMain, { kind: 'start' }>, outcome: Outcome): void;
}

/**
 * Run a job from input `from` on, replacing the worker after a hang or a crash; resolves when
 * every input has an outcome.
 */
async function drive(job: (from: number) => ToWorker, handlers: Handlers, first = 0): Promise<void> {
  let from = first;
  let finished = false;
  while (!finished) {
    from = await new Promise<number>((resolve, reject) => {
      const worker = new Worker(workerScript(), { resourceLimits: { maxOldGenerationSizeMb: 2048 } });
      let current: Extract<ToMain, { kind: 'start' }> | undefined;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (next: number | Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        if (next instanceof Error) reject(next);
        else resolve(next);
      };
      const abandon = (reason: string) => {
        if (settled) return;
        if (!current) return settle(new Error(`fuzz worker failed outside an input: ${reason}`));
        handlers.done(current, { verdict: 'failure', message: reason, ms: NaN, growth: NaN });
        settle(current.index + 1);
      };
      worker.on('message', (m: ToMain) => {
        switch (m.kind) {
          case 'ready':
            handlers.ready?.(m.seeds);
            break;
          case 'start':
            current = m;
            timer = setTimeout(() => abandon(`no answer within ${LIMITS.perInputMs + WATCHDOG_GRACE_MS} ms (limit ${LIMITS.perInputMs} ms): a hang`), LIMITS.perInputMs + WATCHDOG_GRACE_MS);
            break;
          case 'done':
            clearTimeout(timer);
            handlers.done(current!, m.outcome);
            current = undefined;
            break;
          case 'end':
            finished = true;
            settle(-1);
            break;
          case 'fatal':
            settle(new Error(m.message));
            break;
        }
      });
      worker.on('error', (e) => abandon(`the worker died: ${e.message}`));
      worker.on('exit', (code) => abandon(`the worker exited with code ${code}`));
      worker.postMessage(job(from));
    });
  }
}

function save(target: string, name: string, bytes: Uint8Array): string {
  fs.mkdirSync(FAILURE_DIR, { recursive: true });
  const file = path.join(FAILURE_DIR, `${target}-${name}.bin`);
  fs.writeFileSync(file, bytes);
  return file;
}

/** Fuzz one target with inputs `from` .. `to` - 1 generated from `baseSeed`. */
export async function runCampaign(target: string, to: number, baseSeed: number, from = 0): Promise<CampaignResult> {
  let accepted = 0;
  let rejected = 0;
  let slowestMs = 0;
  let maxGrowth = 0;
  let seeds: readonly string[] = [];
  const failures: Failure[] = [];
  await drive((next) => ({ kind: 'campaign', target, baseSeed, from: next, to }), {
    ready: (names) => {
      seeds = names;
    },
    done: (start, outcome) => {
      slowestMs = Math.max(slowestMs, outcome.ms || 0);
      maxGrowth = Math.max(maxGrowth, outcome.growth || 0);
      if (process.env.FUZZ_SAVE_ALL) save(target, `${baseSeed.toString(16)}-${start.index}-${outcome.verdict}`, start.bytes);
      if (outcome.verdict === 'accepted') {accepted++;} else if (outcome.verdict === 'rejected') {rejected++;} else {
        const file = save(target, `${baseSeed.toString(16)}-${start.index}`, start.bytes);
        failures.push({ target, index: start.index, seed: start.seed, steps: start.steps, reason: outcome.message ?? '', file });
      }
    },
  }, from);
  return { target, baseSeed, inputs: accepted + rejected + failures.length, accepted, rejected, failures, seeds, slowestMs, maxGrowth };
}

/** Run stored inputs again (in one worker, replaced after a hang); the outcomes in input order. */
export async function replayInputs(inputs: readonly ReplayInput[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  await drive((from) => ({ kind: 'replay', inputs, from }), {
    done: (start, outcome) => {
      outcomes[start.index] = outcome;
    },
  });
  return outcomes;
}

/** A failure as one printable paragraph: how to see it again and what it was. */
export function formatFailure(f: Failure, baseSeed: number): string {
  return [
    `FUZZ FAILURE ${f.target} input ${f.index} (input seed 0x${f.seed.toString(16)}): ${f.reason}`,
    `  mutation: ${f.steps.join(' | ')}`,
    `  input saved to ${f.file}`,
    `  regenerate: FUZZ_TARGET=${f.target} FUZZ_SEED=0x${baseSeed.toString(16)} FUZZ_FROM=${f.index} FUZZ_COUNT=${f.index + 1} npx vitest run test/fuzz/fuzz.test.ts`,
  ].join('\n');
}
