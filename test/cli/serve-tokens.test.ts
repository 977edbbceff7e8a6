import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize } from '../../src/edge/access';
import { FileTokenStore } from '../../src/edge/file-token-store';
import { SsmTokenStore } from '../../src/edge/ssm-token-store';
import { startFakeSsm, type FakeSsm } from '../edge/support/fake-ssm';
import { cli } from '../support/cli';

const tokenOf = (out: string) => /^token [^:]+: (\S+)$/m.exec(out)![1];
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('pkgrepo token', () => {
  let work: string;
  let ssm: FakeSsm;
  const env = ['AWS_ENDPOINT_URL_SSM', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'token-cli-'));
    ssm = await startFakeSsm();
    for (const name of env) saved[name] = process.env[name];
    Object.assign(process.env, { AWS_ENDPOINT_URL_SSM: ssm.endpoint, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });
  });
  afterAll(async () => {
    for (const name of env) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    await ssm.close();
    await rm(work, { recursive: true, force: true });
  });

  it('adds, lists and removes tokens in a file that pkgrepo serve --tokens reads', async () => {
    const file = path.join(work, 'tokens.json');
    const added = await cli(['token', 'add', 'laptop', '--file', file]);
    expect(added.code).toBe(0);
    const token = tokenOf(added.out);
    expect(added.out).toContain('keeps only its salted SHA-256');
    expect(await readFile(file, 'utf8')).not.toContain(token);
    expect((await cli(['token', 'add', 'ci', '--file', file, '--prefix', 'apt/', 'yum/'])).code).toBe(0);
    const listed = await cli(['token', 'list', '--file', file]);
    expect(listed.out.split('\n').map((l) => l.split('\t')[0])).toEqual(['ci', 'laptop']);
    expect(listed.out).toContain('apt/,yum/');
    const store = new FileTokenStore(file);
    expect((await authorize(basic('laptop', token), 'x/', store)).kind).toBe('granted');
    expect((await cli(['token', 'remove', 'laptop', '--file', file])).out).toBe('removed token laptop');
    expect((await authorize(basic('laptop', token), 'x/', store)).kind).toBe('denied');
    expect(await cli(['token', 'remove', 'laptop', '--file', file])).toMatchObject({ code: 1, err: 'no token named laptop' });
  });

  it('adds, lists and removes tokens as the SSM parameters the edge function reads', async () => {
    const ssmPath = '/cdk-package-repos/Cli/tokens/';
    const added = await cli(['token', 'add', 'build-01', '--ssm-path', ssmPath, '--region', 'eu-west-1']);
    expect(added.code).toBe(0);
    const token = tokenOf(added.out);
    expect(ssm.parameters.get(`${ssmPath}build-01`)).not.toContain(token);
    expect((await cli(['token', 'list', '--ssm-path', ssmPath, '--region', 'eu-west-1'])).out).toMatch(/^build-01\t/);
    const edge = new SsmTokenStore({ region: 'eu-west-1', parameterPath: ssmPath, client: ssm.client() });
    expect((await authorize(basic('build-01', token), 'x/', edge)).kind).toBe('granted');
    expect((await cli(['token', 'remove', 'build-01', '--ssm-path', ssmPath, '--region', 'eu-west-1'])).code).toBe(0);
    expect(ssm.parameters.has(`${ssmPath}build-01`)).toBe(false);
  });

  it.each([
    [['token', 'add', 'x'], /exactly one of --file FILE and --ssm-path PATH/],
    [['token', 'add', 'x', '--file', 'f', '--ssm-path', '/p/'], /exactly one/],
    [['token', 'add', 'x', '--ssm-path', 'p'], /--ssm-path is a parameter path/],
    [['token', 'add', 'bad name', '--file', 'f'], /token name/],
  ])('refuses %j', async (args, error) => {
    const run = await cli(args.map((a) => (a === 'f' ? path.join(work, 'f.json') : a)));
    expect(String((run.thrown as Error | undefined)?.message ?? run.err)).toMatch(error);
  });
});

describe('pkgrepo serve options', () => {
  it.each([
    [['--plain', '--tokens', 't.json'], /--plain serves files only/],
    [['--port', '0'], /no published repository index/],
  ])('refuses %j before serving', async (options, error) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'serve-opts-'));
    try {
      await mkdir(path.join(dir, 'empty'));
      const run = await cli(['serve', path.join(dir, 'empty'), ...options]);
      expect(String((run.thrown as Error | undefined)?.message)).toMatch(error);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
