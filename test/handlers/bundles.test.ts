import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEventBridgeStandIn, type EventBridgeStandIn } from './eventbridge-standin';
import { DnfSandbox } from '../../src/cli/clients/dnf';
import { buildRpm } from '../../src/formats/rpm';
import { IndexerEnv, type KeygenProperties } from '../../src/handlers/contract';
import { startS3rver, type S3rverHandle } from '../support/s3rver';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');

/** The Lambda bundles exactly as they ship (assets/<name>/index.js, made by `npx projen bundle:<name>`). */
function bundle(name: string): string {
  const file = path.join(ROOT, 'assets', name, 'index.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: run 'npx projen bundle:${name}' (the test task does)`);
  return file;
}

/**
 * A stand-in for SSM Parameter Store on 127.0.0.1, speaking its JSON protocol for the three calls
 * the handlers make (there is no local SSM server to run). SecureString values are kept as given.
 */
async function startParameterStore(): Promise<{ url: string; parameters: Map<string, { value: string; type: string }>; close(): Promise<void> }> {
  const parameters = new Map<string, { value: string; type: string }>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const input = JSON.parse(body || '{}') as { Name: string; Value?: string; Type?: string; Overwrite?: boolean };
      const reply = (status: number, payload: object) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(payload));
      };
      const action = String(req.headers['x-amz-target'] ?? '').replace('AmazonSSM.', '');
      const existing = parameters.get(input.Name);
      if (action === 'GetParameter') {
        if (!existing) return reply(400, { __type: 'ParameterNotFound', message: `${input.Name} not found` });
        return reply(200, { Parameter: { Name: input.Name, Type: existing.type, Value: existing.value, Version: 1 } });
      }
      if (action === 'PutParameter') {
        if (existing && !input.Overwrite) return reply(400, { __type: 'ParameterAlreadyExists', message: `${input.Name} exists` });
        parameters.set(input.Name, { value: input.Value ?? '', type: input.Type ?? 'String' });
        return reply(200, { Version: 1, Tier: 'Standard' });
      }
      if (action === 'DeleteParameter') {
        parameters.delete(input.Name);
        return reply(200, {});
      }
      return reply(400, { __type: 'InvalidAction', message: action });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, parameters, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('the shipped Lambda bundles, run as Lambda would run them', () => {
  let s3: S3rverHandle;
  let ssm: Awaited<ReturnType<typeof startParameterStore>>;
  let eventBridge: EventBridgeStandIn;

  beforeAll(async () => {
    s3 = await startS3rver();
    ssm = await startParameterStore();
    eventBridge = await startEventBridgeStandIn();
  });
  afterAll(async () => {
    await s3?.stop();
    await ssm?.close();
    await eventBridge?.close();
  });

  /** Invoke `handler(event)` of a bundle in a fresh Node process with the AWS SDK pointed at the local servers. */
  async function invoke(name: string, event: object, env: Record<string, string>): Promise<any> {
    const script = 'require(process.argv[1]).handler(JSON.parse(process.argv[2])).then((r) => process.stdout.write(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); })';
    const { stdout } = await run(process.execPath, ['-e', script, bundle(name), JSON.stringify(event)], {
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_SSM: ssm.url,
        AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
        ...env,
      },
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  }

  it('first deploy generates the key, an upload is indexed and signed, and dnf accepts the bucket', async () => {
    const parameter = '/pkgrepo/test/yum-signing-key';
    const properties: KeygenProperties = {
      KeyKind: 'openpgp',
      ParameterName: parameter,
      UserId: 'Bundle Test <test@example.com>',
      BucketName: s3.bucket,
      PublicKeyPrefix: 'yum/keys/',
      RemovalPolicy: 'retain',
    };
    const created = await invoke('keygen', { RequestType: 'Create', ResourceProperties: properties }, {});
    expect(created.PhysicalResourceId).toBe(parameter);
    expect(ssm.parameters.get(parameter)).toMatchObject({ type: 'SecureString', value: expect.stringContaining('BEGIN PGP PRIVATE KEY BLOCK') });
    // a second deploy keeps the key
    const again = await invoke('keygen', { RequestType: 'Update', PhysicalResourceId: parameter, ResourceProperties: properties }, {});
    expect(again.Data.Fingerprint).toBe(created.Data.Fingerprint);

    const key = 'yum/el9/x86_64/Packages/bundle-hello-1.0-1.x86_64.rpm';
    await s3.client.send(new PutObjectCommand({
      Bucket: s3.bucket,
      Key: key,
      Body: buildRpm({ name: 'bundle-hello', version: '1.0', release: '1', arch: 'x86_64', summary: 'indexed by the shipped bundle' }),
    }));
    const message = (id: string) => ({
      messageId: id,
      body: JSON.stringify({ 'detail-type': 'Object Created', 'bucket': s3.bucket, key, 'sequencer': id }),
      attributes: { MessageGroupId: 'yum/' },
    });
    const env = {
      [IndexerEnv.FORMAT]: 'yum',
      [IndexerEnv.BUCKET_NAME]: s3.bucket,
      [IndexerEnv.PREFIX]: 'yum/',
      [IndexerEnv.PGP_KEY_PARAMETER]: parameter,
    };
    // the same event twice in one batch: a duplicate delivery
    const result = await invoke('indexer', { Records: [message('1'), message('2')] }, env);
    expect(result).toEqual({ batchItemFailures: [] });
    const repomd = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'yum/el9/x86_64/repodata/repomd.xml' }));
    expect(await repomd.Body!.transformToString()).toContain('primary.xml.gz');
    // the bundled EventBridge client told the default bus
    expect(eventBridge.requests.flat().map((e) => [e.Source, e.DetailType, e.EventBusName, JSON.parse(e.Detail).added])).toEqual([
      ['cdk-package-repos', 'Repository Published', undefined, [{ key: 'el9/x86_64/Packages/bundle-hello-1.0-1.x86_64.rpm', name: 'bundle-hello', version: '1.0-1', arch: 'x86_64' }]],
    ]);

    const base = `${s3.endpoint}/${s3.bucket}/yum`;
    const dnf = await DnfSandbox.create({ baseUrl: `${base}/el9/x86_64/`, gpgKeyUrl: `${base}/keys/repository.asc` });
    try {
      await dnf.dnf(['makecache']);
      const { stdout } = await dnf.dnf(['-q', 'repoquery', '--qf', '%{name}-%{version}']);
      expect(stdout.trim()).toBe('bundle-hello-1.0');
    } finally {
      await dnf.dispose();
    }
  });
});
