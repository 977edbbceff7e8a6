/**
 * The least work any update of a yum index must do: read the current primary, filelists and
 * other, inflate all of them and hash the uncompressed XML, since repomd.xml's open-checksum
 * covers every byte and the XML header (the package count) changes first. A minimal process
 * that does only this, as fast as this machine allows (members inflated in parallel on the
 * thread pool, hashed in order), measures the floor of an incremental update.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gunzipMember, parseRepomd, taggedMembers } from '../src/formats/rpm';

async function hashFile(file: string): Promise<string> {
  const gz = await readFile(file);
  const members = taggedMembers(gz, file) ?? [{ bytes: gz }];
  const hash = createHash('sha256');
  const pending: Array<Promise<Buffer>> = [];
  let next = 0;
  const launch = () => {
    while (next < members.length && pending.length < 6) pending.push(gunzipMember(members[next++].bytes, 2 ** 30, file));
  };
  launch();
  while (pending.length) {
    hash.update(await pending.shift()!);
    launch();
  }
  createHash('sha256').update(gz).digest();
  return hash.digest('hex');
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  const repomd = parseRepomd(await readFile(path.join(dir, 'repodata/repomd.xml'), 'utf8'));
  const records = repomd.records.filter((r) => ['primary', 'filelists', 'other'].includes(r.type));
  const sums = await Promise.all(records.map((r) => hashFile(path.join(dir, r.href))));
  records.forEach((r, i) => {
    if (sums[i] !== r.openChecksum) throw new Error(`${r.href}: open-checksum ${sums[i]} is not the ${r.openChecksum} repomd.xml says`);
  });
  process.stdout.write(`${JSON.stringify({ files: records.length })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
  process.exitCode = 1;
});
