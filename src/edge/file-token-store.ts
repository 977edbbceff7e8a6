import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  checkTokenName, createToken, formatTokenFile, parseTokenFile, type TokenRecord, type TokenStore, TokenStoreUnavailableError,
} from './access';

/**
 * Token records in a JSON file (`pkgrepo serve --tokens FILE`, `pkgrepo token --file FILE`).
 * The file is read again whenever it changes, so tokens are added and revoked without a
 * restart; a file that cannot be read or parsed makes lookups fail (503), never grant.
 */
export class FileTokenStore implements TokenStore {
  private cached?: { stamp: string; byName: Map<string, TokenRecord> };

  constructor(public readonly file: string) {}

  public async lookup(name: string): Promise<TokenRecord | undefined> {
    return (await this.load()).get(name);
  }

  private async load(): Promise<Map<string, TokenRecord>> {
    let stamp: string;
    try {
      const stat = await fs.stat(this.file, { bigint: true });
      stamp = `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
      if (this.cached?.stamp === stamp) return this.cached.byName;
      const records = parseTokenFile(await fs.readFile(this.file, 'utf8'), this.file);
      this.cached = { stamp, byName: new Map(records.map((r) => [r.name, r])) };
      return this.cached.byName;
    } catch (e) {
      throw new TokenStoreUnavailableError(`cannot read the token file: ${(e as Error).message}`);
    }
  }
}

/** The records of a token file; none when the file does not exist yet. */
export async function readTokenFile(file: string): Promise<TokenRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return parseTokenFile(text, file);
}

/** Replace the token file atomically (mode 0600: hashes are not secrets, but they are nobody's business). */
async function writeTokenFile(file: string, records: readonly TokenRecord[]): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await fs.writeFile(temp, formatTokenFile(records), { mode: 0o600 });
  await fs.rename(temp, file);
}

/** Add a new token to the file; returns the token (shown once). Fails if the name is taken. */
export async function addFileToken(
  file: string, name: string, options: { prefixes?: readonly string[] } = {},
): Promise<{ token: string; record: TokenRecord }> {
  const records = await readTokenFile(file);
  if (records.some((r) => r.name === name)) throw new Error(`a token named ${name} exists already in ${file}: remove it first to replace it`);
  const created = createToken(name, options);
  await writeTokenFile(file, [...records, created.record]);
  return created;
}

/** Remove a token from the file; false when there was none of that name. */
export async function removeFileToken(file: string, name: string): Promise<boolean> {
  checkTokenName(name);
  const records = await readTokenFile(file);
  const kept = records.filter((r) => r.name !== name);
  if (kept.length === records.length) return false;
  await writeTokenFile(file, kept);
  return true;
}
