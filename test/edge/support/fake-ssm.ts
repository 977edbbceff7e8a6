import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSMClient } from '@aws-sdk/client-ssm';

/**
 * The four SSM Parameter Store operations token management uses, over SSM's real wire
 * protocol (JSON 1.1, X-Amz-Target), in memory on 127.0.0.1: the AWS SDK, unmodified, talks
 * to it through its endpoint setting (`AWS_ENDPOINT_URL_SSM` in a child process).
 */
export interface FakeSsm {
  readonly endpoint: string;
  readonly parameters: Map<string, string>;
  /** Every operation received, in order (`GetParametersByPath /path/`). */
  readonly calls: string[];
  /** Make every request fail with a 500 until set back to false. */
  failing: boolean;
  client(): SSMClient;
  close(): Promise<void>;
}

export async function startFakeSsm(): Promise<FakeSsm> {
  const parameters = new Map<string, string>();
  const calls: string[] = [];
  const state = { failing: false };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSSM\./, '');
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, any>;
      calls.push(`${operation} ${input.Name ?? input.Path ?? ''}`);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      const error = (type: string) => reply(400, { __type: type, message: type });
      if (state.failing) return reply(500, { __type: 'InternalServerError', message: 'injected failure' });
      switch (operation) {
        case 'GetParametersByPath': {
          const path = `${String(input.Path).replace(/\/$/, '')}/`;
          const names = [...parameters.keys()].filter((n) => n.startsWith(path) && !n.slice(path.length).includes('/')).sort();
          const start = input.NextToken ? Number(input.NextToken) : 0;
          const max = input.MaxResults ?? 10;
          const page = names.slice(start, start + max);
          return reply(200, {
            Parameters: page.map((Name) => ({ Name, Type: 'String', Value: parameters.get(Name), Version: 1 })),
            ...(start + max < names.length ? { NextToken: String(start + max) } : {}),
          });
        }
        case 'PutParameter':
          if (parameters.has(input.Name) && !input.Overwrite) return error('ParameterAlreadyExists');
          parameters.set(input.Name, input.Value);
          return reply(200, { Version: 1, Tier: 'Standard' });
        case 'DeleteParameter':
          if (!parameters.delete(input.Name)) return error('ParameterNotFound');
          return reply(200, {});
        default:
          return error('InvalidAction');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    parameters,
    calls,
    get failing() {
      return state.failing;
    },
    set failing(value: boolean) {
      state.failing = value;
    },
    client: () => new SSMClient({ region: 'eu-west-1', endpoint, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, maxAttempts: 1 }),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
