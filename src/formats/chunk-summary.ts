/**
 * The JSON layout of the engine's index summaries (yum primary.xml, pacman `.db`): one row of
 * fields per package, grouped by the chunk (gzip member) of the index that holds it,
 * `{"version":N,"chunks":[[row, ...], ...]}`. Each format says what a row holds and checks it.
 */
import { PackageFormatError } from './errors';

/** The words a format's messages use. */
export interface SummaryWording {
  /** What a row describes: 'package', 'entry'. */
  readonly item: string;
  /** The index the chunks belong to: 'primary.xml', 'the database'. */
  readonly index: string;
}

/** A summary as JSON text. */
export function renderChunkSummary(version: number, chunks: ReadonlyArray<ReadonlyArray<readonly unknown[]>>): string {
  return JSON.stringify({ version, chunks });
}

/**
 * Reads a summary back: `counts` are the rows each chunk must hold (from the gzip member tags
 * of the index it describes); `entryOf` turns a row of `width` fields into an entry, or
 * undefined when the row is malformed. PackageFormatError when the text is not such a summary.
 */
export function parseChunkSummary<E>(
  bytes: Uint8Array,
  expected: { readonly version: number; readonly counts: readonly number[]; readonly width: number },
  file: string,
  wording: SummaryWording,
  entryOf: (row: readonly unknown[]) => E | undefined,
): E[][] {
  let parsed: { version?: unknown; chunks?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as typeof parsed;
  } catch (e) {
    throw new PackageFormatError(`${file}: not JSON (${(e as Error).message})`);
  }
  const fail = (what: string): never => {
    throw new PackageFormatError(`${file}: ${what}`);
  };
  const { version, counts, width } = expected;
  if (parsed === null || typeof parsed !== 'object' || parsed.version !== version) fail(`not a summary of version ${version}`);
  const chunks = parsed.chunks;
  if (!Array.isArray(chunks) || chunks.length !== counts.length) {
    fail(`describes ${Array.isArray(chunks) ? chunks.length : 'no'} chunks, ${wording.index} has ${counts.length}`);
  }
  // plain loops and index access: this runs for every package on every update
  const out: E[][] = [];
  for (let c = 0; c < counts.length; c++) {
    const chunk = (chunks as unknown[])[c];
    if (!Array.isArray(chunk) || chunk.length !== counts[c]) fail(`chunk ${c} does not hold the ${counts[c]} ${wording.item === 'entry' ? 'entries' : `${wording.item}s`} its gzip member says`);
    const entries: E[] = [];
    for (let i = 0; i < counts[c]; i++) {
      const row = (chunk as unknown[])[i];
      if (!Array.isArray(row) || row.length !== width) fail(`${wording.item} ${i} of chunk ${c} is not a row of ${width} fields`);
      const entry = entryOf(row as unknown[]);
      if (entry === undefined) fail(`${wording.item} ${i} of chunk ${c} is malformed`);
      entries.push(entry!);
    }
    out.push(entries);
  }
  return out;
}
