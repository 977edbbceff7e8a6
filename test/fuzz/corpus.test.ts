/**
 * The regression corpus: inputs the fuzzer found (or that were crafted after a finding), kept in
 * test/fuzz/corpus/<format>/<name>.bin with their expected outcome in expected.json. Each is
 * replayed through the same worker and oracle as the fuzz run (typed error only, within 1 s
 * and the memory bound), with the chunking seed it was found with.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { replayInputs } from './harness';
import type { Outcome } from './protocol';

/** One entry of a format's expected.json. */
interface CorpusEntry {
  readonly target: string;
  /** The input's seed, hex: it decides how the reader's input stream is cut into chunks. */
  readonly seed: string;
  readonly expect: 'accepted' | 'rejected';
  /** A regular expression the rejection message must match. */
  readonly message?: string;
  /** What the input broke before it was fixed. */
  readonly found: string;
}

const CORPUS = path.join(__dirname, 'corpus');

const entries = fs.readdirSync(CORPUS).sort().flatMap((format) => {
  const expected = JSON.parse(fs.readFileSync(path.join(CORPUS, format, 'expected.json'), 'utf8')) as Record<string, CorpusEntry>;
  return Object.entries(expected).map(([name, entry]) => ({ format, name, ...entry, bytes: fs.readFileSync(path.join(CORPUS, format, `${name}.bin`)) }));
});

describe('fuzz regression corpus', () => {
  let outcomes: Outcome[] = [];

  beforeAll(async () => {
    outcomes = await replayInputs(entries.map((e) => ({ target: e.target, seed: Number(e.seed), bytes: e.bytes })));
    console.log(`fuzz corpus: ${entries.length} inputs replayed, ${outcomes.filter((o) => o.verdict === 'rejected').length} typed rejections, `
      + `${outcomes.filter((o) => o.verdict === 'accepted').length} accepted, ${outcomes.filter((o) => o.verdict === 'failure').length} failures`);
  });

  it('every .bin has an expected outcome and every expected outcome a .bin', () => {
    for (const format of fs.readdirSync(CORPUS)) {
      const bins = fs.readdirSync(path.join(CORPUS, format)).filter((f) => f.endsWith('.bin')).map((f) => f.slice(0, -4)).sort();
      const listed = Object.keys(JSON.parse(fs.readFileSync(path.join(CORPUS, format, 'expected.json'), 'utf8'))).sort();
      expect(bins).toEqual(listed);
      for (const bin of bins) expect(fs.statSync(path.join(CORPUS, format, `${bin}.bin`)).size).toBeLessThan(16 * 1024);
    }
  });

  it.each(entries.map((e, i) => [`${e.format}/${e.name}`, i] as const))('%s', (_name, i) => {
    const entry = entries[i];
    const outcome = outcomes[i];
    expect({ verdict: outcome.verdict, message: outcome.message?.split('\n')[0] }).toMatchObject({ verdict: entry.expect });
    if (entry.message) expect(outcome.message).toMatch(new RegExp(entry.message));
  });
});
