/**
 * A summary of one of our own package databases: per chunk (gzip member of the `.db`), the
 * six `desc` fields the engine lists packages by. Kept as engine state beside the databases
 * and named by the SHA-256 of the `.db` archive it describes, it lets an update list the
 * packages without inflating the database: only the chunks it changes are rendered again.
 */
import { PackageFormatError } from '../errors';
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
  return JSON.stringify({ version: DB_SUMMARY_VERSION, chunks: rows });
}

/**
 * Reads a summary back; `entries` are the entry counts of the database's chunks (from their
 * gzip member tags). PackageFormatError when it does not describe chunks of those counts, or
 * an entry is malformed.
 */
export function parseDbSummary(bytes: Uint8Array, entries: readonly number[], file: string): SummaryEntry[][] {
  let parsed: { version?: unknown; chunks?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as typeof parsed;
  } catch (e) {
    throw new PackageFormatError(`${file}: not JSON (${(e as Error).message})`);
  }
  const fail = (what: string): never => {
    throw new PackageFormatError(`${file}: ${what}`);
  };
  if (parsed === null || typeof parsed !== 'object' || parsed.version !== DB_SUMMARY_VERSION) fail(`not a summary of version ${DB_SUMMARY_VERSION}`);
  const chunks = parsed.chunks;
  if (!Array.isArray(chunks) || chunks.length !== entries.length) fail(`describes ${Array.isArray(chunks) ? chunks.length : 'no'} chunks, the database has ${entries.length}`);
  // plain loops and index access: this runs for every package on every update
  const out: SummaryEntry[][] = [];
  for (let c = 0; c < entries.length; c++) {
    const chunk = (chunks as unknown[])[c];
    if (!Array.isArray(chunk) || chunk.length !== entries[c]) fail(`chunk ${c} does not hold the ${entries[c]} entries its gzip member says`);
    const rows: SummaryEntry[] = [];
    for (let i = 0; i < entries[c]; i++) {
      const row = (chunk as unknown[])[i] as unknown[];
      if (!Array.isArray(row) || row.length !== 6) fail(`entry ${i} of chunk ${c} is not a row of 6 fields`);
      const filename = row[0];
      const csize = row[1];
      const sha256sum = row[2];
      const name = row[3];
      const version = row[4];
      const arch = row[5];
      const valid = typeof filename === 'string' && isPackageFileName(filename) && !filename.includes('/')
        && typeof csize === 'number' && Number.isSafeInteger(csize) && csize >= 0
        && typeof sha256sum === 'string' && (sha256sum === '' || SHA256.test(sha256sum))
        && typeof name === 'string' && name !== '' && typeof version === 'string' && version !== '' && typeof arch === 'string';
      if (!valid) fail(`entry ${i} of chunk ${c} is malformed`);
      rows.push({ filename, csize, sha256sum, name, version, arch } as SummaryEntry);
    }
    out.push(rows);
  }
  return out;
}

const SHA256 = /^[0-9a-f]{64}$/;
