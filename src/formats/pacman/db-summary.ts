/**
 * A summary of one of our own package databases: per chunk (gzip member of the `.db`), the
 * six `desc` fields the engine lists packages by. Kept as engine state beside the databases
 * and named by the SHA-256 of the `.db` archive it describes, it lets an update list the
 * packages without inflating the database: only the chunks it changes are rendered again.
 */
import { parseChunkSummary, renderChunkSummary } from '../chunk-summary';
import { isPackageFileName } from './package';

/** Version of the summary layout. */
export const DB_SUMMARY_VERSION = 1;

/** What a summary keeps of one entry: its `desc` fields %FILENAME%, %CSIZE%, %SHA256SUM%, %NAME%, %VERSION%, %ARCH%. */
export interface SummaryEntry {
  readonly filename: string;
  readonly csize: number;
  /** '' when the entry has none. */
  readonly sha256sum: string;
  readonly name: string;
  readonly version: string;
  /** '' when the entry has none. */
  readonly arch: string;
}

type Row = [filename: string, csize: number, sha256sum: string, name: string, version: string, arch: string];

/** The summary of a database's chunks (in order) as JSON text. */
export function renderDbSummary(chunks: ReadonlyArray<readonly SummaryEntry[]>): string {
  const rows = chunks.map((chunk) => chunk.map((e): Row => [e.filename, e.csize, e.sha256sum, e.name, e.version, e.arch]));
  return renderChunkSummary(DB_SUMMARY_VERSION, rows);
}

/**
 * Reads a summary back; `entries` are the entry counts of the database's chunks (from their
 * gzip member tags). PackageFormatError when it does not describe chunks of those counts, or
 * an entry is malformed.
 */
export function parseDbSummary(bytes: Uint8Array, entries: readonly number[], file: string): SummaryEntry[][] {
  return parseChunkSummary(bytes, { version: DB_SUMMARY_VERSION, counts: entries, width: 6 }, file, { item: 'entry', index: 'the database' }, (row) => {
    const [filename, csize, sha256sum, name, version, arch] = row;
    const valid = typeof filename === 'string' && isPackageFileName(filename) && !filename.includes('/')
      && typeof csize === 'number' && Number.isSafeInteger(csize) && csize >= 0
      && typeof sha256sum === 'string' && (sha256sum === '' || SHA256.test(sha256sum))
      && typeof name === 'string' && name !== '' && typeof version === 'string' && version !== '' && typeof arch === 'string';
    return valid ? { filename, csize, sha256sum, name, version, arch } as SummaryEntry : undefined;
  });
}

const SHA256 = /^[0-9a-f]{64}$/;
