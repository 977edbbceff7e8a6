import { mkdtemp, readFile, rm, writeFile, mkdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRpm } from '../../src/formats/rpm';
import { generatePgpKey } from '../../src/signing/pgp';
import { cli } from '../support/cli';
import { startS3rver, type S3rverHandle } from '../support/s3rver';

const rpm = (name: string) => buildRpm({ name, version: '1.0', release: '1', arch: 'x86_64', summary: `${name} for the reconcile test` });
const file = (name: string) => `${name}-1.0-1.x86_64.rpm`;

/** The package names primary.xml lists (found through repomd.xml), read with gunzip and a regular expression. */
function primaryNames(repomd: string, primaryGz: (href: string) => Promise<Buffer>): Promise<string[]> {
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1];
  return primaryGz(href).then((gz) => [...gunzipSync(gz).toString('utf8').matchAll(/<package type="rpm">\s*<name>([^<]+)<\/name>/g)].map((m) => m[1]).sort());
}

describe('pkgrepo reconcile', () => {
  let work: string;
  let keyFile: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'reconcile-'));
    keyFile = path.join(work, 'key.asc');
    await writeFile(keyFile, (await generatePgpKey({ name: 'Reconcile Test', type: 'ed25519' })).privateKeyArmored);
  });
  afterAll(async () => rm(work, { recursive: true, force: true }));

  it('explains itself: reconcile --help', async () => {
    const r = await cli(['reconcile', '--help']);
    expect(r.out).toMatch(/Usage: pkgrepo reconcile \[options\] \[dir\]/);
    for (const option of ['--dry-run', '--json', '--bucket', '--prefix', '--format', '--key', '--same-version', '--keep-versions']) expect(r.out).toContain(option);
    expect((await cli(['--help'])).out).toContain('reconcile');
  });

  describe('a directory with a missed upload and a missed delete', () => {
    let repo: string;
    const repomd = () => readFile(path.join(repo, 'repodata', 'repomd.xml'), 'utf8');
    const names = async () => primaryNames(await repomd(), (href) => readFile(path.join(repo, href)));

    beforeAll(async () => {
      // GIVEN an indexed directory of two packages; then, behind the index's back, one more file and one file less
      repo = path.join(work, 'dir');
      await mkdir(repo, { recursive: true });
      await writeFile(path.join(repo, file('kept')), rpm('kept'));
      await writeFile(path.join(repo, file('deleted')), rpm('deleted'));
      expect((await cli(['index', repo, '--format', 'yum', '--key', keyFile])).code).toBe(0);
      await unlink(path.join(repo, file('deleted')));
      await writeFile(path.join(repo, file('added')), rpm('added'));
    });

    it('--dry-run names them, reads no package and writes nothing', async () => {
      const before = await repomd();
      // no key needed, and a package that would not even parse is not read
      await writeFile(path.join(repo, 'unread-1-1.x86_64.rpm'), 'not an rpm');
      const r = await cli(['reconcile', repo, '--format', 'yum', '--dry-run']);
      await unlink(path.join(repo, 'unread-1-1.x86_64.rpm'));
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`added: ${path.join(repo, file('added'))}`);
      expect(r.out).toContain(`added: ${path.join(repo, 'unread-1-1.x86_64.rpm')}`);
      expect(r.out).toContain(`removed: ${path.join(repo, file('deleted'))}`);
      expect(r.out).toMatch(/would be added 2, removed 1, rejected 0, unchanged 1$/);
      expect(await repomd()).toBe(before);
      expect(await names()).toEqual(['deleted', 'kept']);
    });

    it('repairs the index and reports it as JSON', async () => {
      const r = await cli(['reconcile', repo, '--format', 'yum', '--key', keyFile, '--json']);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const report = JSON.parse(r.out);
      expect(report).toMatchObject({
        dryRun: false,
        location: repo,
        units: [{ published: true, packageCount: 2, added: [file('added')], removed: [file('deleted')], rejected: [], unchanged: 1 }],
        rejected: [],
        totals: { added: 1, removed: 1, rejected: 0, unchanged: 1 },
      });
      expect(await names()).toEqual(['added', 'kept']);
      // a second run finds nothing to do
      const again = await cli(['reconcile', repo, '--format', 'yum', '--key', keyFile]);
      expect(again.out).toMatch(/unchanged, 2 packages \(0 added, 0 removed, 0 rejected, 2 unchanged\)/);
      expect(again.out).toMatch(/^added 0, removed 0, rejected 0, unchanged 2$/m);
    });

    it('exits 1 and names a rejected package on stderr; the good ones are indexed all the same', async () => {
      await writeFile(path.join(repo, 'bad-1-1.x86_64.rpm'), 'this is not an rpm');
      await writeFile(path.join(repo, file('late')), rpm('late'));
      const r = await cli(['reconcile', repo, '--format', 'yum', '--key', keyFile]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`^rejected: ${path.join(repo, 'bad-1-1.x86_64.rpm').replace(/[.+]/g, '\\$&')}: \\S`));
      expect(r.out).toContain(`added: ${path.join(repo, file('late'))}`);
      expect(r.out).toMatch(/^added 1, removed 0, rejected 1, unchanged 2$/m);
      expect(await names()).toEqual(['added', 'kept', 'late']);
    });
  });

  it('--keep-versions prunes older versions from the index (and --delete-pruned their files); --same-version replace takes new bytes', async () => {
    // GIVEN two versions of a package
    const repo = path.join(work, 'versions');
    await mkdir(repo, { recursive: true });
    const versioned = (version: string, summary = 'v') => buildRpm({ name: 'multi', version, release: '1', arch: 'x86_64', summary });
    await writeFile(path.join(repo, 'multi-1.0-1.x86_64.rpm'), versioned('1.0'));
    await writeFile(path.join(repo, 'multi-2.0-1.x86_64.rpm'), versioned('2.0'));
    // WHEN reconciled keeping one version, deleting the pruned files
    const r = await cli(['reconcile', repo, '--format', 'yum', '--key', keyFile, '--keep-versions', '1', '--delete-pruned', '--json']);
    // THEN the older one is pruned from the index and from the directory
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).units[0]).toMatchObject({ pruned: ['multi-1.0-1.x86_64.rpm'], packageCount: 1 });
    const primary = async () => {
      const repomd = await readFile(path.join(repo, 'repodata', 'repomd.xml'), 'utf8');
      const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1];
      return gunzipSync(await readFile(path.join(repo, href))).toString('utf8');
    };
    expect([...(await primary()).matchAll(/<version [^>]*ver="([^"]+)"/g)].map((m) => m[1])).toEqual(['2.0']);
    await expect(readFile(path.join(repo, 'multi-1.0-1.x86_64.rpm'))).rejects.toThrow(/ENOENT/);

    // WHEN the indexed file is overwritten with other bytes: refused by default, replaced with --same-version replace
    await writeFile(path.join(repo, 'multi-2.0-1.x86_64.rpm'), versioned('2.0', 'rebuilt with another summary'));
    const refused = await cli(['reconcile', repo, '--format', 'yum', '--key', keyFile, '--json']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.out).rejected).toEqual([expect.objectContaining({ key: 'multi-2.0-1.x86_64.rpm', code: 'changed-bytes' })]);
    const replaced = await cli(['reconcile', repo, '--format', 'yum', '--key', keyFile, '--same-version', 'replace', '--json']);
    expect(replaced.code).toBe(0);
    expect(JSON.parse(replaced.out).units[0]).toMatchObject({ replaced: ['multi-2.0-1.x86_64.rpm'] });
    expect(await primary()).toContain('rebuilt with another summary');
  });

  it.each([
    [['reconcile', '--format', 'yum', '--key', 'k'], /give either DIR or --bucket NAME/],
    [['reconcile', 'dir', '--bucket', 'b', '--format', 'yum', '--key', 'k'], /give either DIR or --bucket NAME/],
    [['reconcile', 'dir', '--format', 'yum'], /--key FILE is needed/],
    [['reconcile', '--bucket', 'b', '--prefix', 'yum', '--format', 'yum', '--dry-run'], /--prefix is '' or ends in "\/"/],
    [['reconcile', 'dir', '--format', 'yum', '--dry-run', '--delete-pruned'], /--delete-pruned needs --keep-versions/],
    [['reconcile', 'dir', '--format', 'yum', '--dry-run', '--keep-versions', '0'], /at least 1/],
  ])('refuses %j', async (args, error) => {
    const r = await cli(args);
    expect(String((r.thrown as Error)?.message ?? '') + r.err).toMatch(error);
  });

  describe('on S3 (s3rver through AWS_ENDPOINT_URL_S3)', () => {
    let s3: S3rverHandle;
    let env: Record<string, string>;
    const BUCKET = 'reconcile-bucket';
    const put = (key: string, body: Uint8Array) => s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    const get = async (key: string) => {
      const out = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return Buffer.from(await out.Body!.transformToByteArray());
    };
    const names = async () => primaryNames((await get('repo/el9/repodata/repomd.xml')).toString('utf8'), (href) => get(`repo/el9/${href}`));

    beforeAll(async () => {
      s3 = await startS3rver({ bucket: BUCKET });
      env = { AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
    });
    afterAll(async () => s3?.stop());

    it('indexes packages put without events, then drops one deleted without an event', async () => {
      // GIVEN packages put under the prefix (no indexer listening), and one outside it
      await put(`repo/el9/${file('one')}`, rpm('one'));
      await put(`repo/el9/${file('two')}`, rpm('two'));
      await put(`other/${file('elsewhere')}`, rpm('elsewhere'));
      const args = ['reconcile', '--bucket', BUCKET, '--prefix', 'repo/', '--format', 'yum'];
      // WHEN a dry run, then a run
      const dry = await cli([...args, '--dry-run'], env);
      expect(dry.err).toBe('');
      expect(dry.out).toContain(`added: s3://${BUCKET}/repo/el9/${file('one')}`);
      expect(dry.out).toMatch(/would be added 2, removed 0, rejected 0, unchanged 0$/);
      const r = await cli([...args, '--key', keyFile], env);
      // THEN
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^added 2, removed 0, rejected 0, unchanged 0$/m);
      expect(await names()).toEqual(['one', 'two']);
      expect((await get('repo/el9/repodata/repomd.xml.asc')).toString('utf8')).toContain('BEGIN PGP SIGNATURE');

      // WHEN a package is deleted behind the index's back
      await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `repo/el9/${file('one')}` }));
      const repaired = await cli([...args, '--key', keyFile, '--json'], env);
      // THEN the report names it and the index no longer lists it
      expect(JSON.parse(repaired.out)).toMatchObject({
        location: `s3://${BUCKET}/repo/`,
        units: [{ removed: [`el9/${file('one')}`], added: [], unchanged: 1, published: true }],
      });
      expect(await names()).toEqual(['two']);
    });
  });
});
