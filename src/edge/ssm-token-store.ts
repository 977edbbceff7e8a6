import type { SSMClient } from '@aws-sdk/client-ssm';
import {
  checkTokenName, createToken, parseTokenRecord, type TokenRecord, type TokenStore, TokenStoreUnavailableError,
} from './access';

/**
 * Token records in SSM Parameter Store, one String parameter per token: `<path><name>` holds
 * the record's JSON. Why there: the edge function is deployed by a separate us-east-1 stack
 * that cannot reference the host's bucket (the host's stack depends on it), but it can name a
 * parameter path chosen at synth in the host's region. Tokens are added and revoked with
 * `pkgrepo token --ssm-path` (or `aws ssm put-parameter`), no deployment.
 *
 * The edge reads the whole path (GetParametersByPath) at most once per cache period and
 * instance, whatever names requests carry: guessing names costs SSM nothing.
 */
export interface SsmTokenStoreOptions {
  readonly region: string;
  /** Starts and ends with '/'. */
  readonly parameterPath: string;
  /** How long a read is trusted: a revoked token stops working after at most this. @default 60 */
  readonly cacheSeconds?: number;
  /** @default - an SSMClient for `region` (endpoint and credentials from the environment) */
  readonly client?: SSMClient;
  /** The clock, in milliseconds. @default Date.now */
  readonly now?: () => number;
}

/** After a failed read, the old records stay in use and the next read waits this long. */
const RETRY_AFTER_FAILURE_MS = 5_000;
/** At most this many tokens are read (a bound on memory and on the time of one refresh). */
export const MAX_TOKENS = 10_000;

export class SsmTokenStore implements TokenStore {
  private snapshot?: { byName: Map<string, TokenRecord>; nextRefresh: number };
  private refreshing?: Promise<Map<string, TokenRecord>>;
  private client?: SSMClient;

  constructor(private readonly options: SsmTokenStoreOptions) {}

  public async lookup(name: string): Promise<TokenRecord | undefined> {
    return (await this.records()).get(name);
  }

  private async records(): Promise<Map<string, TokenRecord>> {
    const now = (this.options.now ?? Date.now)();
    if (this.snapshot && now < this.snapshot.nextRefresh) return this.snapshot.byName;
    this.refreshing ??= this.refresh(now).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(now: number): Promise<Map<string, TokenRecord>> {
    try {
      const byName = new Map((await listSsmTokens(await this.ssm(), this.options.parameterPath)).map((r) => [r.name, r]));
      this.snapshot = { byName, nextRefresh: now + (this.options.cacheSeconds ?? 60) * 1000 };
      return byName;
    } catch (e) {
      if (this.snapshot) {
        this.snapshot.nextRefresh = now + RETRY_AFTER_FAILURE_MS;
        return this.snapshot.byName;
      }
      throw new TokenStoreUnavailableError(`cannot read the tokens under ${this.options.parameterPath}: ${(e as Error).message}`);
    }
  }

  private async ssm(): Promise<SSMClient> {
    if (!this.client) {
      // loaded on first use: hosts without private repositories never pay for the SDK. A viewer
      // request has 5 seconds in all: fail fast (503, retried by the client) rather than time out.
      this.client = this.options.client ?? new (await import('@aws-sdk/client-ssm')).SSMClient({
        region: this.options.region,
        maxAttempts: 2,
        requestHandler: { connectionTimeout: 1000, requestTimeout: 1500 },
      });
    }
    return this.client;
  }
}

/** Every token record under `path` (ignoring parameters that are not records, which would be a mistake, loudly). */
export async function listSsmTokens(client: SSMClient, path: string): Promise<TokenRecord[]> {
  const { GetParametersByPathCommand } = await import('@aws-sdk/client-ssm');
  const records: TokenRecord[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new GetParametersByPathCommand({ Path: path.replace(/\/$/, ''), Recursive: false, MaxResults: 10, NextToken: nextToken }));
    for (const parameter of page.Parameters ?? []) {
      const where = `SSM parameter ${parameter.Name}`;
      let value: unknown;
      try {
        value = JSON.parse(parameter.Value ?? '');
      } catch {
        throw new Error(`${where}: not a token record (JSON)`);
      }
      const record = parseTokenRecord(value, where);
      if (parameter.Name !== `${path}${record.name}`) throw new Error(`${where}: holds the record of ${record.name}`);
      records.push(record);
    }
    if (records.length > MAX_TOKENS) throw new Error(`more than ${MAX_TOKENS} tokens under ${path}`);
    nextToken = page.NextToken;
  } while (nextToken);
  return records;
}

/** Add a token as the parameter `<path><name>`; fails if it exists. Returns the token (shown once). */
export async function addSsmToken(
  client: SSMClient, path: string, name: string, options: { prefixes?: readonly string[] } = {},
): Promise<{ token: string; record: TokenRecord }> {
  const { PutParameterCommand } = await import('@aws-sdk/client-ssm');
  const created = createToken(name, options);
  try {
    await client.send(new PutParameterCommand({
      Name: `${path}${name}`,
      Value: JSON.stringify(created.record),
      Type: 'String',
      Overwrite: false,
      Description: 'cdk-package-repos read token (salted SHA-256; the token itself is not stored)',
    }));
  } catch (e) {
    if ((e as Error).name === 'ParameterAlreadyExists') throw new Error(`a token named ${name} exists already under ${path}: remove it first to replace it`);
    throw e;
  }
  return created;
}

/** Remove the parameter of a token; false when there was none. */
export async function removeSsmToken(client: SSMClient, path: string, name: string): Promise<boolean> {
  checkTokenName(name);
  const { DeleteParameterCommand } = await import('@aws-sdk/client-ssm');
  try {
    await client.send(new DeleteParameterCommand({ Name: `${path}${name}` }));
    return true;
  } catch (e) {
    if ((e as Error).name === 'ParameterNotFound') return false;
    throw e;
  }
}
