import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Read tokens of private repositories. A client authenticates with HTTP basic auth (what apt's
 * auth.conf, dnf's username/password and the `user:pass@host` URLs of pacman and apk send):
 * the user is the token's name, the password the token. Only a salted SHA-256 of each token is
 * stored. Tokens are 256 random bits made here, never chosen by people, so a fast hash is
 * enough: there is no dictionary to try, and a slow one (scrypt) would cost every request at
 * the edge tens of milliseconds and megabytes.
 */

/** A token as it is stored: its name and a salted hash, never the token. */
export interface TokenRecord {
  /** The basic-auth user name. */
  readonly name: string;
  /** 'sha256': `hash = base64url(SHA-256(salt bytes || token as UTF-8))`. */
  readonly scheme: 'sha256';
  /** base64url of 16 random bytes. */
  readonly salt: string;
  /** base64url of the 32-byte digest. */
  readonly hash: string;
  /** When the token was made (ISO 8601). */
  readonly created: string;
  /** Repository prefixes the token reads; absent: every private repository of the host. */
  readonly prefixes?: readonly string[];
}

/** Where token records come from (a file for `pkgrepo serve`, SSM parameters at the edge). */
export interface TokenStore {
  /**
   * The record of this token name, or undefined when there is none. Throws
   * TokenStoreUnavailableError when the store cannot be read (the edge answers 503, not 401).
   */
  lookup(name: string): Promise<TokenRecord | undefined>;
}

/** The token store could not be read: the request can be neither granted nor refused. */
export class TokenStoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenStoreUnavailableError';
  }
}

/** Token names: basic-auth user names, SSM parameter name segments, file-name safe. */
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const SALT_BYTES = 16;
const TOKEN_BYTES = 32;

/** A new token and the record that stores it. The token is shown once and kept nowhere. */
export function createToken(name: string, options: { prefixes?: readonly string[]; now?: Date } = {}): { token: string; record: TokenRecord } {
  checkTokenName(name);
  for (const prefix of options.prefixes ?? []) {
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`a repository prefix is '' or ends in '/': ${JSON.stringify(prefix)}`);
  }
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  const salt = randomBytes(SALT_BYTES);
  const record: TokenRecord = {
    name,
    scheme: 'sha256',
    salt: salt.toString('base64url'),
    hash: digest(salt, token).toString('base64url'),
    created: (options.now ?? new Date()).toISOString(),
    ...(options.prefixes?.length ? { prefixes: [...options.prefixes] } : {}),
  };
  return { token, record };
}

/** Does `token` match the record? Constant time in the token's content. */
export function verifyToken(record: TokenRecord, token: string): boolean {
  if (record.scheme !== 'sha256') return false;
  const expected = Buffer.from(record.hash, 'base64url');
  const actual = digest(Buffer.from(record.salt, 'base64url'), token);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function digest(salt: Uint8Array, token: string): Buffer {
  return createHash('sha256').update(salt).update(token, 'utf8').digest();
}

/** Throws for a name that cannot be a token name. */
export function checkTokenName(name: string): void {
  if (!TOKEN_NAME.test(name)) throw new Error(`a token name is 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit: ${JSON.stringify(name)}`);
}

/** Credentials of an `Authorization: Basic …` header; undefined for anything else. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  const match = header === undefined ? null : /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!match) return undefined;
  const text = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The verdict on a request for a private repository. */
export type AccessVerdict =
  | { readonly kind: 'granted'; readonly user: string; readonly password: string }
  | { readonly kind: 'denied' }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** Check the request's basic-auth credentials against the store, for the repository at `prefix`. */
export async function authorize(authorization: string | undefined, prefix: string, store: TokenStore): Promise<AccessVerdict> {
  const credentials = parseBasicAuth(authorization);
  if (!credentials || !TOKEN_NAME.test(credentials.user)) return { kind: 'denied' };
  let record: TokenRecord | undefined;
  try {
    record = await store.lookup(credentials.user);
  } catch (e) {
    if (e instanceof TokenStoreUnavailableError) return { kind: 'unavailable', reason: e.message };
    throw e;
  }
  if (!record || record.name !== credentials.user || !verifyToken(record, credentials.password)) return { kind: 'denied' };
  if (record.prefixes && !record.prefixes.includes(prefix)) return { kind: 'denied' };
  return { kind: 'granted', ...credentials };
}

/** Checks a parsed token record (from a file or a parameter); throws a message naming `where`. */
export function parseTokenRecord(value: unknown, where: string): TokenRecord {
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why}`);
  };
  const r = value as Partial<TokenRecord> | null;
  if (typeof r !== 'object' || r === null) fail('a token record is an object');
  if (typeof r?.name !== 'string' || !TOKEN_NAME.test(r.name)) fail('bad token name');
  if (r?.scheme !== 'sha256') fail(`unknown hash scheme ${JSON.stringify(r?.scheme)}`);
  if (typeof r?.salt !== 'string' || Buffer.from(r.salt, 'base64url').length !== SALT_BYTES) fail('the salt is not 16 bytes of base64url');
  if (typeof r?.hash !== 'string' || Buffer.from(r.hash, 'base64url').length !== 32) fail('the hash is not 32 bytes of base64url');
  if (typeof r?.created !== 'string') fail('no creation time');
  if (r?.prefixes !== undefined && (!Array.isArray(r.prefixes) || !r.prefixes.every((p) => typeof p === 'string'))) fail('prefixes must be strings');
  return r as TokenRecord;
}

/** The JSON document of a token file: `{ "tokens": [ records ] }`. */
export interface TokenFile {
  readonly tokens: readonly TokenRecord[];
}

/** Parse a token file's text; throws a clear error for a malformed one. */
export function parseTokenFile(text: string, where = 'token file'): TokenRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not JSON: ${(e as Error).message}`);
  }
  const tokens = (value as Partial<TokenFile> | null)?.tokens;
  if (!Array.isArray(tokens)) throw new Error(`${where}: expected {"tokens": [...]}`);
  const records = tokens.map((t, i) => parseTokenRecord(t, `${where}: tokens[${i}]`));
  const names = new Set<string>();
  for (const r of records) {
    if (names.has(r.name)) throw new Error(`${where}: the token name ${r.name} appears twice`);
    names.add(r.name);
  }
  return records;
}

/** A token file's text for these records (sorted by name, stable). */
export function formatTokenFile(records: readonly TokenRecord[]): string {
  const sorted = [...records].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return `${JSON.stringify({ tokens: sorted }, null, 2)}\n`;
}

/** A store over records held in memory. */
export function memoryTokenStore(records: readonly TokenRecord[]): TokenStore {
  const byName = new Map(records.map((r) => [r.name, r]));
  return { lookup: async (name) => byName.get(name) };
}
