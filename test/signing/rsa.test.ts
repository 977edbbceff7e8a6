import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRsaKey, loadRsaSigner } from '../../src/signing/rsa';
import { runToolOk, runTool } from '../support/gnupg';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pkgrepo-rsa-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCounter = 0;
async function file(content: string | Uint8Array): Promise<string> {
  const name = path.join(dir, `f${++fileCounter}`);
  await writeFile(name, content);
  return name;
}

const openssl = (...args: string[]) => runToolOk('openssl', args).stdout.toString();

/** `openssl dgst -<digest> -verify` of a signature; true when openssl says "Verified OK". */
async function opensslVerifies(publicKeyPem: string, digest: 'sha1' | 'sha256', data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const result = runTool('openssl', ['dgst', `-${digest}`, '-verify', await file(publicKeyPem), '-signature', await file(signature), await file(data)]);
  return result.status === 0 && result.stdout.toString().trim() === 'Verified OK';
}

describe('generateRsaKey', () => {
  it('writes a 4096-bit PKCS#1 private key and an SPKI public key by default, as abuild-keygen does', async () => {
    const key = generateRsaKey();
    expect(key.privateKeyPem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect(key.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    const privateFile = await file(key.privateKeyPem);
    expect(openssl('rsa', '-in', privateFile, '-check', '-noout')).toContain('RSA key ok');
    expect(openssl('rsa', '-in', privateFile, '-noout', '-text')).toMatch(/Private-Key: \(4096 bit, 2 primes\)[\s\S]*publicExponent: 65537/);
    expect(openssl('rsa', '-in', privateFile, '-pubout')).toBe(key.publicKeyPem);
  });

  it('refuses weak or odd sizes', () => {
    expect(() => generateRsaKey(1024)).toThrow(/from 2048 to 16384/);
    expect(() => generateRsaKey(2048.5)).toThrow(/integer/);
  });
});

describe('loadRsaSigner', () => {
  const data = Buffer.concat([randomBytes(5000), Buffer.from('APKINDEX')]);
  const pkcs1 = () => file(openssl('genrsa', '-traditional', '2048'));

  it.each(['sha1', 'sha256'] as const)('makes %s PKCS#1 v1.5 signatures openssl verifies, byte-identical to openssl dgst -sign', async (digest) => {
    const keyFile = await pkcs1();
    const pem = await readFile(keyFile, 'utf8');
    expect(pem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    const signer = loadRsaSigner(pem, 'builder@example.com-61a0b1c2.rsa.pub');
    const signature = signer.sign(data, digest);
    expect(signature).toBeInstanceOf(Uint8Array);
    expect(await opensslVerifies(signer.publicKeyPem, digest, data, signature)).toBe(true);
    expect(await opensslVerifies(signer.publicKeyPem, digest, Buffer.concat([data, Buffer.from('x')]), signature)).toBe(false);
    // abuild-sign runs `openssl dgst -<digest> -sign`: PKCS#1 v1.5 is deterministic, so the bytes must match
    const reference = runToolOk('openssl', ['dgst', `-${digest}`, '-sign', keyFile, await file(data)]).stdout;
    expect(Buffer.from(signature).equals(reference)).toBe(true);
  });

  it('publishes the public key as openssl derives it from the private key', async () => {
    const keyFile = await pkcs1();
    const signer = loadRsaSigner(await readFile(keyFile, 'utf8'), 'k.rsa.pub');
    expect(signer.publicKeyPem).toBe(openssl('rsa', '-in', keyFile, '-pubout'));
    expect(signer.keyName).toBe('k.rsa.pub');
  });

  it('accepts PKCS#8 keys (openssl genpkey) and keys we generate', async () => {
    const pkcs8 = openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048');
    expect(pkcs8).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const ours = generateRsaKey(2048);
    for (const [pem, publicKeyPem] of [[pkcs8, openssl('pkey', '-in', await file(pkcs8), '-pubout')], [ours.privateKeyPem, ours.publicKeyPem]]) {
      const signer = loadRsaSigner(pem, 'k.rsa.pub');
      expect(signer.publicKeyPem).toBe(publicKeyPem);
      expect(await opensslVerifies(publicKeyPem, 'sha256', data, signer.sign(data, 'sha256'))).toBe(true);
    }
  });

  it.each([
    ['PKCS#1 with a DEK-Info header', ['genrsa', '-traditional', '-aes256', '-passout', 'pass:s3cret', '2048'], /Proc-Type: 4,ENCRYPTED/],
    ['encrypted PKCS#8', ['genrsa', '-aes256', '-passout', 'pass:s3cret', '2048'], /BEGIN ENCRYPTED PRIVATE KEY/],
  ])('reads a passphrase-protected key (%s) and explains a missing or wrong passphrase', async (_name, args, shape) => {
    const pem = openssl(...args);
    expect(pem).toMatch(shape);
    const signer = loadRsaSigner(pem, 'k.rsa.pub', 's3cret');
    expect(await opensslVerifies(signer.publicKeyPem, 'sha1', data, signer.sign(data, 'sha1'))).toBe(true);
    expect(() => loadRsaSigner(pem, 'k.rsa.pub')).toThrow('the RSA key is protected by a passphrase: set PKGREPO_KEY_PASSPHRASE');
    expect(() => loadRsaSigner(pem, 'k.rsa.pub', 'wrong')).toThrow(/passphrase is wrong/);
  });

  it('refuses keys that are not RSA, not PEM, and bad key names', async () => {
    const ed = openssl('genpkey', '-algorithm', 'ed25519');
    expect(() => loadRsaSigner(ed, 'k.rsa.pub')).toThrow(/must be an RSA key, not ed25519/);
    expect(() => loadRsaSigner('garbage', 'k.rsa.pub')).toThrow(/not a PEM RSA private key/);
    const pem = generateRsaKey(2048).privateKeyPem;
    for (const bad of ['', 'keys/k.rsa.pub', '..', 'a\0b']) expect(() => loadRsaSigner(pem, bad)).toThrow(/invalid apk key name/);
    expect(() => loadRsaSigner(pem, 'k').sign(data, 'md5' as 'sha1')).toThrow(/unsupported digest/);
  });
});
