import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeygenProperties } from '../../src/handlers/contract';
import { onEvent, type KeygenEvent } from '../../src/handlers/keygen';
import { generatePgpKey } from '../../src/signing/pgp';
import { startS3rver, type S3rverHandle } from '../support/s3rver';

/**
 * An in-memory Parameter Store with the semantics the handler relies on: PutParameter with
 * Overwrite=false fails with ParameterAlreadyExists, SecureString values are only returned
 * WithDecryption, missing names are ParameterNotFound. (There is no local SSM server.)
 */
class FakeParameterStore {
  public readonly parameters = new Map<string, { value: string; type: string; keyId?: string; tier?: string }>();

  public readonly client = {
    send: async (command: unknown) => {
      if (command instanceof PutParameterCommand) {
        const { Name, Value, Type, Overwrite, KeyId, Tier } = command.input;
        if (this.parameters.has(Name!) && !Overwrite) throw named('ParameterAlreadyExists');
        this.parameters.set(Name!, { value: Value!, type: Type!, keyId: KeyId, tier: Tier });
        return { Version: 1 };
      }
      if (command instanceof GetParameterCommand) {
        const parameter = this.parameters.get(command.input.Name!);
        if (!parameter) throw named('ParameterNotFound');
        if (parameter.type === 'SecureString' && !command.input.WithDecryption) return { Parameter: { Value: 'ENCRYPTED' } };
        return { Parameter: { Name: command.input.Name, Value: parameter.value } };
      }
      if (command instanceof DeleteParameterCommand) {
        if (!this.parameters.delete(command.input.Name!)) throw named('ParameterNotFound');
        return {};
      }
      throw new Error(`unexpected command ${(command as object).constructor.name}`);
    },
  } as unknown as SSMClient;
}

function named(name: string): Error {
  return Object.assign(new Error(name), { name });
}

function properties(overrides: Partial<KeygenProperties> = {}): KeygenProperties {
  return {
    KeyKind: 'openpgp',
    ParameterName: '/cdk-package-repos/Test/Yum/openpgp-private-key',
    UserId: 'yum (cdk-package-repos)',
    BucketName: 'test-bucket',
    PublicKeyPrefix: 'yum/keys/',
    RemovalPolicy: 'retain',
    ...overrides,
  };
}

function event(requestType: KeygenEvent['RequestType'], props: KeygenProperties, physicalId?: string): KeygenEvent {
  return { RequestType: requestType, PhysicalResourceId: physicalId, ResourceProperties: props };
}

describe('key generation custom resource', () => {
  let s3: S3rverHandle;
  beforeAll(async () => {
    s3 = await startS3rver({ bucket: 'test-bucket' });
  });
  afterAll(async () => {
    await s3?.stop();
  });

  const text = async (key: string) => {
    const out = await s3.client.send(new GetObjectCommand({ Bucket: 'test-bucket', Key: key }));
    return out.Body!.transformToString();
  };

  it('generates an OpenPGP key into a SecureString and publishes a public key gpg accepts', async () => {
    // GIVEN an empty parameter store
    const store = new FakeParameterStore();
    // WHEN the resource is created
    const result = await onEvent(event('Create', properties({ KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/k' })), { ssm: store.client, s3: s3.client });
    // THEN the private key is a SecureString (RSA 4096, encrypted with the given key, tier left to SSM)
    const parameter = store.parameters.get('/cdk-package-repos/Test/Yum/openpgp-private-key')!;
    expect(parameter).toMatchObject({ type: 'SecureString', keyId: 'arn:aws:kms:eu-west-1:123456789012:key/k', tier: 'Intelligent-Tiering' });
    expect(parameter.value).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----/);
    expect(parameter.value.length).toBeLessThan(8192); // fits an advanced parameter
    expect(result.PhysicalResourceId).toBe('/cdk-package-repos/Test/Yum/openpgp-private-key');
    expect(result.Data?.PublicKeys).toBe('yum/keys/repository.asc,yum/keys/repository.gpg');
    // AND gpg reads the published public key: RSA 4096, the user id, the fingerprint returned
    const dir = mkdtempSync(path.join(tmpdir(), 'keygen-'));
    writeFileSync(path.join(dir, 'repository.asc'), await text('yum/keys/repository.asc'));
    const listing = execFileSync('gpg', ['--homedir', dir, '--batch', '--with-colons', '--show-keys', path.join(dir, 'repository.asc')], { encoding: 'utf8' });
    const pub = listing.split('\n').find((l) => l.startsWith('pub:'))!.split(':');
    expect(pub[2]).toBe('4096');
    expect(pub[3]).toBe('1'); // RSA
    expect(listing).toContain('yum (cdk-package-repos)');
    expect(listing).toContain(`fpr:::::::::${result.Data?.Fingerprint}:`);
  });

  it('keeps an existing key on create and update (never overwrites a key clients trust)', async () => {
    // GIVEN a parameter that exists already
    const store = new FakeParameterStore();
    const existing = await generatePgpKey({ name: 'Existing', type: 'ed25519' });
    store.parameters.set('/cdk-package-repos/Test/Yum/openpgp-private-key', { value: existing.privateKeyArmored, type: 'SecureString' });
    // WHEN the resource is created, then updated
    const created = await onEvent(event('Create', properties()), { ssm: store.client, s3: s3.client });
    const updated = await onEvent(event('Update', properties({ PublicKeyPrefix: 'yum2/keys/' }), created.PhysicalResourceId), { ssm: store.client, s3: s3.client });
    // THEN the key is unchanged and its public half is published where asked
    expect(store.parameters.get('/cdk-package-repos/Test/Yum/openpgp-private-key')!.value).toBe(existing.privateKeyArmored);
    expect(created.Data?.Fingerprint).toBe(existing.fingerprint);
    expect(updated.PhysicalResourceId).toBe(created.PhysicalResourceId);
    expect(await text('yum2/keys/repository.asc')).toBe(existing.publicKeyArmored);
  });

  it('generates an RSA key for apk and publishes it under its key name', async () => {
    const store = new FakeParameterStore();
    const props = properties({ KeyKind: 'rsa', ParameterName: '/k/rsa-private-key', RsaKeyName: 'ops-1a2b3c4d.rsa.pub', PublicKeyPrefix: 'apk/keys/' });
    const result = await onEvent(event('Create', props), { ssm: store.client, s3: s3.client });
    expect(store.parameters.get('/k/rsa-private-key')!.value).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(result.Data?.PublicKeys).toBe('apk/keys/ops-1a2b3c4d.rsa.pub');
    const pem = await text('apk/keys/ops-1a2b3c4d.rsa.pub');
    const dir = mkdtempSync(path.join(tmpdir(), 'keygen-'));
    writeFileSync(path.join(dir, 'k.pub'), pem);
    expect(execFileSync('openssl', ['rsa', '-pubin', '-in', path.join(dir, 'k.pub'), '-noout', '-text'], { encoding: 'utf8' })).toMatch(/Public-Key: \(4096 bit\)/);
  });

  it.each<['retain' | 'destroy', boolean]>([
    ['retain', true],
    ['destroy', false],
  ])('on delete with removal policy %s, the parameter is kept: %s', async (removalPolicy, kept) => {
    const store = new FakeParameterStore();
    store.parameters.set('/k/p', { value: 'x', type: 'SecureString' });
    const result = await onEvent(event('Delete', properties({ ParameterName: '/k/p', RemovalPolicy: removalPolicy }), '/k/p'), { ssm: store.client, s3: s3.client });
    expect(result.PhysicalResourceId).toBe('/k/p');
    expect(store.parameters.has('/k/p')).toBe(kept);
  });

  describe('a key the user brings (Mode existing)', () => {
    it('publishes the public half of a passphrase-protected key and never writes the parameters', async () => {
      // GIVEN the user's key, locked by a passphrase kept in its own parameter
      const store = new FakeParameterStore();
      const own = await generatePgpKey({ name: 'Ops <ops@example.com>', type: 'ed25519', passphrase: 'correct horse' });
      store.parameters.set('/ops/key', { value: own.privateKeyArmored, type: 'SecureString' });
      store.parameters.set('/ops/passphrase', { value: 'correct horse', type: 'SecureString' });
      const props = properties({ Mode: 'existing', ParameterName: '/ops/key', PassphraseParameterName: '/ops/passphrase', PublicKeyPrefix: 'byo/keys/' });
      // WHEN the resource is created, then deleted with a destroy policy
      const result = await onEvent(event('Create', props), { ssm: store.client, s3: s3.client });
      await onEvent(event('Delete', { ...props, RemovalPolicy: 'destroy' }, result.PhysicalResourceId), { ssm: store.client, s3: s3.client });
      // THEN the public key clients need is published, and the user's parameters are untouched
      expect(result.Data?.Fingerprint).toBe(own.fingerprint);
      expect(await text('byo/keys/repository.asc')).toBe(own.publicKeyArmored);
      expect(store.parameters.get('/ops/key')!.value).toBe(own.privateKeyArmored);
      expect(store.parameters.has('/ops/passphrase')).toBe(true);
    });

    it('publishes an apk RSA key under its key name', async () => {
      const store = new FakeParameterStore();
      const dir = mkdtempSync(path.join(tmpdir(), 'keygen-'));
      execFileSync('openssl', ['genrsa', '-out', path.join(dir, 'k.pem'), '2048'], { stdio: 'ignore' });
      const pem = execFileSync('openssl', ['rsa', '-in', path.join(dir, 'k.pem'), '-traditional'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      store.parameters.set('/ops/apk', { value: pem, type: 'SecureString' });
      const props = properties({ Mode: 'existing', KeyKind: 'rsa', ParameterName: '/ops/apk', RsaKeyName: 'ops.rsa.pub', PublicKeyPrefix: 'byo-apk/keys/' });
      await onEvent(event('Create', props), { ssm: store.client, s3: s3.client });
      const expected = execFileSync('openssl', ['rsa', '-in', path.join(dir, 'k.pem'), '-pubout'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      expect((await text('byo-apk/keys/ops.rsa.pub')).trim()).toBe(expected.trim());
    });

    it.each<[string, (store: FakeParameterStore) => Promise<void>, RegExp]>([
      ['a missing parameter', async () => undefined, /the SSM parameter \/ops\/key \(the signing key's private key\) does not exist or is empty: create it/],
      ['a missing passphrase', async (store) => {
        store.parameters.set('/ops/key', { value: (await generatePgpKey({ name: 'x', type: 'ed25519', passphrase: 'p' })).privateKeyArmored, type: 'SecureString' });
      }, /the key in \/ops\/key cannot sign: the key is protected by a passphrase/],
      ['something that is not a key', async (store) => {
        store.parameters.set('/ops/key', { value: 'hello', type: 'SecureString' });
      }, /the key in \/ops\/key cannot sign: not an armored OpenPGP private key/],
    ])('fails the deployment clearly on %s, creating nothing', async (_, given, message) => {
      const store = new FakeParameterStore();
      await given(store);
      const before = new Map(store.parameters);
      await expect(onEvent(event('Create', properties({ Mode: 'existing', ParameterName: '/ops/key' })), { ssm: store.client, s3: s3.client })).rejects.toThrow(message);
      expect(store.parameters).toEqual(before);
    });
  });

  it('deleting a parameter that is gone already succeeds', async () => {
    const store = new FakeParameterStore();
    await expect(onEvent(event('Delete', properties({ ParameterName: '/k/gone', RemovalPolicy: 'destroy' }), '/k/gone'), { ssm: store.client, s3: s3.client }))
      .resolves.toEqual({ PhysicalResourceId: '/k/gone' });
  });
});
