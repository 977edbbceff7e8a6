/**
 * Hostile input: every reader gets mutated inputs; the oracle accepts only a value or a
 * PackageFormatError, within 1 s and 256 MiB per input. CI runs FUZZ_COUNT inputs per target
 * (default 400); RELIABILITY.md has the command of the full run.
 */
import { describe, expect, it } from 'vitest';
import { formatFailure, runCampaign } from './harness';
import { TARGETS } from './targets';

const COUNT = Number(process.env.FUZZ_COUNT ?? 400);
const FROM = Number(process.env.FUZZ_FROM ?? 0);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed2026);
const ONLY = process.env.FUZZ_TARGET;

describe('fuzz: hostile input for every reader', () => {
  for (const target of TARGETS.filter((t) => !ONLY || ONLY.split(',').includes(t.name))) {
    it(`${target.name} (${target.reader}): only typed rejections, no hang, bounded memory`, async () => {
      const result = await runCampaign(target.name, COUNT, SEED, FROM);
      console.log(`fuzz ${target.name}: ${result.inputs} inputs, ${result.rejected} typed rejections, ${result.accepted} accepted, `
        + `${result.failures.length} failures (seed 0x${SEED.toString(16)}, slowest ${result.slowestMs.toFixed(0)} ms, `
        + `largest growth ${(result.maxGrowth / 2 ** 20).toFixed(1)} MiB)`);
      for (const f of result.failures.slice(0, 10)) console.log(formatFailure(f, SEED));
      expect(result.inputs).toBe(COUNT - FROM);
      expect(result.failures.map((f) => `${f.index}: ${f.reason.split('\n')[0]}`)).toEqual([]);
    }, Math.max(120_000, (COUNT - FROM) * 200));
  }
});
