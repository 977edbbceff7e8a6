/** repomd.xml, the index of a repository's metadata files (createrepo_c `xml_dump_repomd.c`). */
import { SaxesParser } from 'saxes';
import { check, PackageFormatError } from '../errors';
import { RPM_MD_NS, XML_DECLARATION } from './primary-xml';
import { attributes, textElement } from './xml-text';

/** One `<data>` record of repomd.xml. */
export interface RepomdRecord {
  /** 'primary', 'filelists', 'other', ... */
  readonly type: string;
  /** Location relative to the repository root (`repodata/<sha256>-primary.xml.gz`). */
  readonly href: string;
  /** Hash algorithm of both checksums. @default 'sha256' */
  readonly checksumType?: string;
  /** Hex digest of the file as stored (compressed). */
  readonly checksum: string;
  /** Hex digest of the uncompressed content; absent for files stored uncompressed (comps). */
  readonly openChecksum?: string;
  /** Size of the file as stored. */
  readonly size: number;
  /** Size of the uncompressed content; absent when `openChecksum` is. */
  readonly openSize?: number;
  /** Seconds since the epoch (createrepo_c: mtime of the file). */
  readonly timestamp: number;
}

/** The content of a repomd.xml. */
export interface Repomd {
  /** `<revision>`; createrepo_c writes the current time in seconds. */
  readonly revision: string;
  readonly records: readonly RepomdRecord[];
}

/** Longest repomd.xml `parseRepomd` accepts (createrepo_c's are a few KiB). */
export const MAX_REPOMD_LENGTH = 4 * 1024 * 1024;

/** Render repomd.xml in createrepo_c's layout (byte-identical for the same records). */
export function writeRepomd(repomd: Repomd): string {
  let out = `${XML_DECLARATION}<repomd xmlns="${RPM_MD_NS.repo}" xmlns:rpm="${RPM_MD_NS.rpm}">\n`
    + `  ${textElement('revision', repomd.revision)}\n`;
  for (const r of repomd.records) {
    const type = attributes([['type', r.checksumType ?? 'sha256']]);
    out += `  <data${attributes([['type', r.type]])}>\n`
      + `    ${textElement('checksum', r.checksum, type)}\n`
      + (r.openChecksum === undefined ? '' : `    ${textElement('open-checksum', r.openChecksum, type)}\n`)
      + `    <location${attributes([['href', r.href]])}/>\n`
      + `    <timestamp>${r.timestamp}</timestamp>\n`
      + `    <size>${r.size}</size>\n`
      + (r.openSize === undefined ? '' : `    <open-size>${r.openSize}</open-size>\n`)
      + '  </data>\n';
  }
  return `${out}</repomd>\n`;
}

interface RecordDraft {
  type: string;
  href?: string;
  checksumType?: string;
  checksum?: string;
  openChecksum?: string;
  size?: number;
  openSize?: number;
  timestamp?: number;
}

function integer(text: string, what: string): number {
  const t = text.trim();
  check(/^\d{1,15}$/.test(t), `repomd.xml: ${what} is not a non-negative integer: ${JSON.stringify(t.slice(0, 40))}`);
  return Number(t);
}

/** Read a repomd.xml (ours or createrepo_c's). Throws PackageFormatError for malformed input. */
export function parseRepomd(xml: string): Repomd {
  check(xml.length <= MAX_REPOMD_LENGTH, `repomd.xml is ${xml.length} characters, more than the limit of ${MAX_REPOMD_LENGTH}`);
  const parser = new SaxesParser({ position: false });
  const path: string[] = [];
  const records: RecordDraft[] = [];
  let revision: string | undefined;
  let text = '';
  let draft: RecordDraft | undefined;
  let sawRoot = false;
  parser.on('opentag', (tag) => {
    path.push(tag.name);
    text = '';
    const a = tag.attributes as Record<string, string>;
    if (path.length === 1) {
      check(tag.name === 'repomd', `repomd.xml: root element is <${tag.name}>, expected <repomd>`);
      sawRoot = true;
    } else if (path.length === 2 && tag.name === 'data') {
      check(a.type, 'repomd.xml: <data> without a type');
      draft = { type: a.type };
    } else if (draft && path.length === 3) {
      if (tag.name === 'location') draft.href = a.href;
      if (tag.name === 'checksum') draft.checksumType = a.type;
    }
  });
  parser.on('text', (t) => {
    text += t;
  });
  parser.on('closetag', (tag) => {
    if (path.length === 2 && tag.name === 'revision') revision = text.trim();
    if (path.length === 2 && tag.name === 'data' && draft) {
      records.push(draft);
      draft = undefined;
    }
    if (path.length === 3 && draft) {
      const what = `<${tag.name}> of the ${draft.type} record`;
      switch (tag.name) {
        case 'checksum': draft.checksum = text.trim(); break;
        case 'open-checksum': draft.openChecksum = text.trim(); break;
        case 'size': draft.size = integer(text, what); break;
        case 'open-size': draft.openSize = integer(text, what); break;
        case 'timestamp': draft.timestamp = integer(text, what); break;
      }
    }
    path.pop();
    text = '';
  });
  let failure: Error | undefined;
  parser.on('error', (e) => {
    failure ??= e;
    // stop at the first error: saxes would otherwise go on and build one per bad character
    throw e;
  });
  try {
    parser.write(xml).close();
  } catch (e) {
    if (e instanceof PackageFormatError) throw e;
    failure ??= e as Error;
  }
  if (failure) throw new PackageFormatError(`repomd.xml is not well-formed XML: ${failure.message}`, { cause: failure });
  check(sawRoot, 'repomd.xml has no <repomd> element');
  return {
    revision: revision ?? '',
    records: records.map((r) => {
      check(r.href, `repomd.xml: the ${r.type} record has no <location href>`);
      check(r.checksum, `repomd.xml: the ${r.type} record has no <checksum>`);
      check(r.size !== undefined, `repomd.xml: the ${r.type} record has no <size>`);
      return {
        type: r.type,
        href: r.href,
        checksumType: r.checksumType ?? 'sha256',
        checksum: r.checksum,
        ...(r.openChecksum === undefined ? {} : { openChecksum: r.openChecksum }),
        size: r.size,
        ...(r.openSize === undefined ? {} : { openSize: r.openSize }),
        timestamp: r.timestamp ?? 0,
      };
    }),
  };
}
