import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { KeygenProperties } from './contract';
import { KEY_CACHE_CONTROL } from '../cache-control';
import { publicKeyFiles } from '../signing/keys';
import { generatePgpKey, loadPgpSigner } from '../signing/pgp';
import { generateRsaKey, loadRsaSigner } from '../signing/rsa';
import type { SigningKeys } from '../signing/signer';

/**
 * The key-generation custom resource (onEvent handler of the CDK Provider framework).
 *
 * Create/Update: keep the private key parameter if it exists (PutParameter Overwrite=false),
 * else generate a key and store it as a SecureString; then publish the public key files.
 * Delete: delete the parameter only when the removal policy says 'destroy'.
 * A key the user brings (Mode 'existing') is only read, to publish its public half: the handler
 * never writes or deletes it, and fails the deployment with a clear message when it is missing.
 * The physical id is the parameter name, so renaming it creates a new key and lets
 * CloudFormation delete (or keep) the old one.
 */

/** The parts of a CloudFormation custom resource event this handler reads. */
export interface KeygenEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: KeygenProperties & { readonly ServiceToken?: string };
}

export interface KeygenResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** The AWS clients the handler calls (tests pass their own). */
export interface KeygenClients {
  readonly ssm: Pick<SSMClient, 'send'>;
  readonly s3: Pick<S3Client, 'send'>;
}


export async function onEvent(event: KeygenEvent, clients: KeygenClients): Promise<KeygenResult> {
  const props = event.ResourceProperties;
  const existing = props.Mode === 'existing';
  if (event.RequestType === 'Delete') {
    const name = event.PhysicalResourceId ?? props.ParameterName;
    if (props.RemovalPolicy === 'destroy' && !existing) await deleteParameter(clients.ssm, name);
    return { PhysicalResourceId: name };
  }
  const privateKey = existing
    ? await requiredParameter(clients.ssm, props.ParameterName, 'private key')
    : await existingKey(clients.ssm, props.ParameterName) ?? await createKey(clients.ssm, props);
  const passphrase = existing && props.PassphraseParameterName
    ? await requiredParameter(clients.ssm, props.PassphraseParameterName, 'passphrase')
    : undefined;
  const keys = await signingKeys(props, privateKey, passphrase);
  const published: string[] = [];
  for (const file of publicKeyFiles(keys, 'repository')) {
    const key = `${props.PublicKeyPrefix}${file.name}`;
    await clients.s3.send(new PutObjectCommand({
      Bucket: props.BucketName,
      Key: key,
      Body: file.body,
      ContentType: file.contentType,
      CacheControl: KEY_CACHE_CONTROL,
    }));
    published.push(key);
  }
  return {
    PhysicalResourceId: props.ParameterName,
    Data: {
      ParameterName: props.ParameterName,
      PublicKeys: published.join(','),
      ...(keys.pgp ? { Fingerprint: keys.pgp.fingerprint } : {}),
    },
  };
}

async function existingKey(ssm: KeygenClients['ssm'], name: string): Promise<string | undefined> {
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return out.Parameter?.Value;
  } catch (e) {
    if ((e as Error).name === 'ParameterNotFound') return undefined;
    throw e;
  }
}

/** A parameter the user created before deploying (SigningKey.fromParameterNames). */
async function requiredParameter(ssm: KeygenClients['ssm'], name: string, what: string): Promise<string> {
  const value = await existingKey(ssm, name);
  if (value === undefined || value === '') {
    throw new Error(`the SSM parameter ${name} (the signing key's ${what}) does not exist or is empty: create it (a SecureString) before deploying a repository with SigningKey.fromParameterNames`);
  }
  return value;
}

/** Generates a key and stores it; if another writer got there first, theirs is kept. */
async function createKey(ssm: KeygenClients['ssm'], props: KeygenProperties): Promise<string> {
  const privateKey = props.KeyKind === 'rsa'
    ? generateRsaKey(4096).privateKeyPem
    : (await generatePgpKey({ name: props.UserId, type: 'rsa', rsaBits: 4096 })).privateKeyArmored;
  try {
    await ssm.send(new PutParameterCommand({
      Name: props.ParameterName,
      Value: privateKey,
      Type: 'SecureString',
      KeyId: props.KmsKeyId || undefined,
      Overwrite: false,
      // an armored RSA 4096 key is close to the 4 KB of a standard parameter: let SSM pick
      Tier: 'Intelligent-Tiering',
      Description: `Private ${props.KeyKind === 'rsa' ? 'RSA (apk)' : 'OpenPGP'} signing key of a package repository (cdk-package-repos)`,
    }));
    return privateKey;
  } catch (e) {
    if ((e as Error).name !== 'ParameterAlreadyExists') throw e;
    const existing = await existingKey(ssm, props.ParameterName);
    if (existing === undefined) throw e;
    return existing;
  }
}

async function signingKeys(props: KeygenProperties, privateKey: string, passphrase?: string): Promise<SigningKeys> {
  const where = `the key in ${props.ParameterName}`;
  try {
    if (props.KeyKind === 'rsa') {
      if (!props.RsaKeyName) throw new Error('RsaKeyName is required for an RSA key');
      return { rsa: loadRsaSigner(privateKey, props.RsaKeyName, passphrase) };
    }
    return { pgp: await loadPgpSigner(privateKey, passphrase) };
  } catch (e) {
    throw new Error(`${where} cannot sign: ${(e as Error).message}`, { cause: e });
  }
}

async function deleteParameter(ssm: KeygenClients['ssm'], name: string): Promise<void> {
  try {
    await ssm.send(new DeleteParameterCommand({ Name: name }));
  } catch (e) {
    if ((e as Error).name !== 'ParameterNotFound') throw e;
  }
}

let clients: KeygenClients | undefined;

/** Lambda entry point. */
export async function handler(event: KeygenEvent): Promise<KeygenResult> {
  clients ??= { ssm: new SSMClient({}), s3: new S3Client({}) };
  const { ResourceProperties: { ServiceToken: _token, ...properties } } = event;
  console.log(JSON.stringify({ requestType: event.RequestType, physicalResourceId: event.PhysicalResourceId, properties }));
  return onEvent(event, clients);
}
