/** Messages between the fuzz harness (main thread) and its worker, and the oracle's bounds. */

import { availableParallelism, loadavg } from 'node:os';

/**
 * The time limit is 1 s of an unloaded core. It is measured by the wall clock, so when the
 * machine runs more than one busy thread per core (the whole test suite in parallel on 2 cores),
 * the limit scales with the load, at most 3×; the documented full run (alone) gets 1 s exactly.
 */
const LOAD_FACTOR = Math.min(3, Math.max(1, loadavg()[0] / availableParallelism()));

/** The bounds every input must stay within. */
export const LIMITS = {
  /** No input may take longer (wall clock, in the worker and watched by the main thread). */
  perInputMs: Math.round(1000 * LOAD_FACTOR),
  /** No input may grow heap + ArrayBuffers by more. */
  memoryGrowthBytes: 256 * 1024 * 1024,
  /** A rejection message must be shorter (it becomes an event and a log line). */
  maxMessage: 64 * 1024,
} as const;

/** How one input was judged. */
export interface Outcome {
  readonly verdict: 'accepted' | 'rejected' | 'failure';
  /** The rejection message, or what went wrong. */
  readonly message?: string;
  readonly ms: number;
  /** Peak growth of heap + ArrayBuffers while the input ran, bytes. */
  readonly growth: number;
}

/** main -> worker */
export type ToWorker =
  | { readonly kind: 'campaign'; readonly target: string; readonly baseSeed: number; readonly from: number; readonly to: number }
  | { readonly kind: 'replay'; readonly inputs: readonly ReplayInput[]; readonly from: number };

/** One stored input to run again: the target, the seed its chunking used, the bytes. */
export interface ReplayInput {
  readonly target: string;
  readonly seed: number;
  readonly bytes: Uint8Array;
}

/** worker -> main */
export type ToMain =
  | { readonly kind: 'ready'; readonly seeds: readonly string[] }
  | { readonly kind: 'start'; readonly index: number; readonly seed: number; readonly steps: readonly string[]; readonly bytes: Uint8Array }
  | { readonly kind: 'done'; readonly index: number; readonly outcome: Outcome }
  | { readonly kind: 'end' }
  | { readonly kind: 'fatal'; readonly message: string };
