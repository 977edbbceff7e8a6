/**
 * Writing a small but valid binary .deb without dpkg-deb: an ar archive of `debian-binary`
 * ("2.0\n"), `control.tar.gz` (`./control`, `./md5sums`) and `data.tar.gz`, laid out as
 * `dpkg-deb --root-owner-group -Zgzip --build` lays it out (members owned by root, entries
 * depth first with each directory sorted, symlinks last). For demos and benchmarks; dpkg-deb reads the
 * result and dpkg installs and verifies it.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { buildTree, fitsUstar, tarMemberOf, writeTar, type PackageBuildFile, type TarMember, type TreeEntry } from '../build-tree';
import { AR_MAGIC } from './ar';
import { packageIdentity } from './deb-package';
import { Deb822Paragraph, formatParagraph } from './deb822';

/** What `buildDeb` makes a package from. */
export interface DebBuildSpec {
  /** `Package`, e.g. `hello-tool`. */
  readonly name: string;
  /** `Version`: `[epoch:]upstream[-revision]`, e.g. `1:2.0~rc1-3`. */
  readonly version: string;
  /** `Architecture`. @default 'all' */
  readonly architecture?: string;
  /** `Maintainer`, e.g. `Jane Doe <jane@example.org>`. */
  readonly maintainer: string;
  /** The synopsis: the first line of `Description`. */
  readonly summary: string;
  /**
   * The extended description (may span lines; empty lines become ` .`; trailing whitespace
   * is dropped). @default none
   */
  readonly description?: string;
  /** @default none */
  readonly section?: string;
  /** @default none */
  readonly priority?: string;
  /** @default none */
  readonly homepage?: string;
  /** @default none */
  readonly multiArch?: 'same' | 'foreign' | 'allowed' | 'no';
  /** Relationship fields: one entry per relation, e.g. `libc6 (>= 2.34)` or `mail-transport-agent | postfix`. @default [] */
  readonly preDepends?: readonly string[];
  readonly depends?: readonly string[];
  readonly recommends?: readonly string[];
  readonly suggests?: readonly string[];
  readonly conflicts?: readonly string[];
  readonly breaks?: readonly string[];
  readonly replaces?: readonly string[];
  readonly provides?: readonly string[];
  /** `Installed-Size` in KiB. @default - computed as dpkg-gencontrol does */
  readonly installedSize?: number;
  /** Whether to add `md5sums` to the control member (dpkg --verify uses it). @default true */
  readonly md5sums?: boolean;
  /** Modification time of every member and entry, seconds since the epoch. @default 0 */
  readonly buildTime?: number;
  /** @default [] */
  readonly files?: readonly PackageBuildFile[];
}

const BUILDER = 'buildDeb';
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** One alternative of a relation: `name[:arch] [(op version)]` (deb-control(5)). */
const ALTERNATIVE = /^[a-z0-9][a-z0-9+.-]*(?::[a-z0-9-]+)?(?: \((?:<<|<=|=|>=|>>) (?:[0-9]+:)?[0-9A-Za-z][0-9A-Za-z.+~:-]*\))?$/;

const RELATIONS = [
  ['Pre-Depends', 'preDepends'], ['Depends', 'depends'], ['Recommends', 'recommends'], ['Suggests', 'suggests'],
  ['Conflicts', 'conflicts'], ['Breaks', 'breaks'], ['Replaces', 'replaces'], ['Provides', 'provides'],
] as const;

/** A single-line field value: non-empty, no control characters, no surrounding whitespace. */
function oneLine(value: string, field: string): string {
  if (typeof value !== 'string' || value === '' || CONTROL.test(value) || value.trim() !== value) {
    throw new Error(`${BUILDER}: ${field} must be one line of text without control characters or surrounding spaces: ${JSON.stringify(value)}`);
  }
  return value;
}

function relationValue(values: readonly string[], field: string): string {
  return values.map((relation) => {
    const alternatives = oneLine(relation, field).split('|').map((a) => a.trim());
    for (const a of alternatives) {
      if (!ALTERNATIVE.test(a)) {
        throw new Error(`${BUILDER}: ${field} relation ${JSON.stringify(relation)} is not "name[:arch] [(op version)]" alternatives joined by |`);
      }
    }
    return alternatives.join(' | ');
  }).join(', ');
}

/** `Description`: the synopsis, then the extended lines each indented by one space. */
function descriptionValue(summary: string, description: string | undefined): string {
  const lines = (description ?? '').replace(/\s+$/, '').split('\n').map((l) => l.replace(/\s+$/, ''));
  if (lines.length === 1 && lines[0] === '') return oneLine(summary, 'summary');
  const body = lines.map((line, i) => {
    if (CONTROL.test(line.replace(/\t/g, ' '))) throw new Error(`${BUILDER}: description line ${i + 1} has a control character`);
    if (line.startsWith('.')) throw new Error(`${BUILDER}: description line ${i + 1} starts with '.', which deb-control(5) reserves`);
    return line === '' ? ' .' : ` ${line}`;
  });
  return [oneLine(summary, 'summary'), ...body].join('\n');
}

/** Installed-Size as dpkg-gencontrol computes it: KiB per file or symlink, rounded up; 1 per directory. */
function installedKiB(tree: readonly TreeEntry[]): number {
  const kib = (bytes: number) => Math.ceil(bytes / 1024);
  return 1 + tree.reduce((sum, e) => sum + (e.type === 'dir' ? 1 : kib(e.type === 'file' ? e.data.length : Buffer.byteLength(e.target))), 0);
}

/** The control stanza of a spec, validated (throws an Error for anything dpkg would refuse). */
function controlOf(spec: DebBuildSpec, tree: readonly TreeEntry[]): Deb822Paragraph {
  const size = spec.installedSize ?? installedKiB(tree);
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`${BUILDER}: installedSize must be a non-negative integer, got ${size}`);
  const fields: [string, string][] = [
    ['Package', oneLine(spec.name, 'name')],
    ['Version', oneLine(spec.version, 'version')],
    ['Architecture', oneLine(spec.architecture ?? 'all', 'architecture')],
    ['Maintainer', oneLine(spec.maintainer, 'maintainer')],
    ['Installed-Size', String(size)],
  ];
  for (const [field, key] of RELATIONS) {
    const values = spec[key] ?? [];
    if (values.length > 0) fields.push([field, relationValue(values, field)]);
  }
  const optional = (field: string, value: string | undefined) => {
    if (value !== undefined) fields.push([field, oneLine(value, field)]);
  };
  optional('Section', spec.section);
  optional('Priority', spec.priority);
  optional('Multi-Arch', spec.multiArch);
  optional('Homepage', spec.homepage);
  fields.push(['Description', descriptionValue(spec.summary, spec.description)]);
  const control = Deb822Paragraph.of(fields);
  packageIdentity(control, `${BUILDER} spec`);
  return control;
}

/** The data member of an entry; dpkg (1.21) unpacks no PAX headers, so every name must fit ustar. */
function dataMember(entry: TreeEntry): TarMember {
  const member = tarMemberOf(entry, './');
  if (!fitsUstar(member)) {
    throw new Error(`${BUILDER}: /${entry.path} needs a PAX header (a non-ASCII or over-long name or link target), which dpkg cannot unpack`);
  }
  return member;
}

/** An ar archive as dpkg-deb writes it: common-format names, root owner, mode 100644, even padding. */
function arArchive(members: ReadonlyArray<readonly [string, Uint8Array]>, mtime: number): Buffer {
  const parts: Buffer[] = [Buffer.from(AR_MAGIC, 'latin1')];
  for (const [name, data] of members) {
    const header = name.padEnd(16) + String(mtime).padEnd(12) + '0'.padEnd(6) + '0'.padEnd(6) + '100644'.padEnd(8)
      + String(data.length).padEnd(10) + '`\n';
    parts.push(Buffer.from(header, 'latin1'), Buffer.from(data));
    if (data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** The file name Debian archives use: `<name>_<version without epoch>_<architecture>.deb`. */
export function debFileName(spec: Pick<DebBuildSpec, 'name' | 'version' | 'architecture'>): string {
  return `${spec.name}_${spec.version.replace(/^[0-9]+:/, '')}_${spec.architecture ?? 'all'}.deb`;
}

/** Build the bytes of a binary .deb (gzip-compressed members). */
export async function buildDeb(spec: DebBuildSpec): Promise<Uint8Array> {
  const mtime = spec.buildTime ?? 0;
  if (!Number.isSafeInteger(mtime) || mtime < 0) throw new Error(`${BUILDER}: buildTime must be a non-negative integer, got ${mtime}`);
  const tree = buildTree(spec.files ?? [], 'per-directory', BUILDER);
  const control = controlOf(spec, tree);
  const root = { name: './', type: 'directory', mode: 0o755 } as const;

  const regular = tree.filter((e) => e.type === 'file');
  const md5sums = regular.map((e) => `${createHash('md5').update(e.data).digest('hex')}  ${e.path}\n`).join('');
  const controlTar = await writeTar([
    root,
    { name: './control', type: 'file', mode: 0o644, data: Buffer.from(formatParagraph(control)) },
    ...(spec.md5sums === false || regular.length === 0 ? [] : [{ name: './md5sums', type: 'file', mode: 0o644, data: Buffer.from(md5sums) } as const]),
  ], mtime);
  // dpkg-deb puts symlinks last, so that their targets are unpacked first
  const ordered = [...tree.filter((e) => e.type !== 'symlink'), ...tree.filter((e) => e.type === 'symlink')];
  const dataTar = await writeTar([root, ...ordered.map(dataMember)], mtime);
  return arArchive([
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar.gz', gzipSync(controlTar, { level: 9 })],
    ['data.tar.gz', gzipSync(dataTar, { level: 9 })],
  ], mtime);
}
