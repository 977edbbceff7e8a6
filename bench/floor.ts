/**
 * The least work any update of a yum index must do: read the current repomd.xml, primary,
 * filelists and other, inflate primary (to know which packages the index holds), and SHA-256
 * the compressed files (what the new repomd.xml's checksums and the file names cover; an
 * update re-hashes files of the same size). A minimal process that does only this, as fast as
 * this machine allows (primary's members inflated in parallel on the thread pool), measures
 * the floor of an incremental update.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gunzipMember, parseRepomd, taggedMembers } from '../src/formats/rpm';

async function main(): Promise<void> {
  const dir = process.argv[2];
  const repomd = parseRepomd(await readFile(path.join(dir, 'repodata/repomd.xml'), 'utf8'));
  const records = repomd.records.filter((r) => ['primary', 'filelists', 'other'].includes(r.type));
  const files = await Promise.all(records.map((r) => readFile(path.join(dir, r.href))));
  const primary = files[records.findIndex((r) => r.type === 'primary')];
  const members = taggedMembers(primary, 'primary.xml') ?? [{ bytes: primary }];
  const texts = await Promise.all(members.map((m) => gunzipMember(m.bytes, 2 ** 30, 'primary.xml')));
  records.forEach((r, i) => {
    const sum = createHash('sha256').update(files[i]).digest('hex');
    if (sum !== r.checksum) throw new Error(`${r.href}: checksum ${sum} is not the ${r.checksum} repomd.xml says`);
  });
  process.stdout.write(`${JSON.stringify({ files: records.length, primaryBytes: texts.reduce((n, t) => n + t.length, 0) })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
  process.exitCode = 1;
});
