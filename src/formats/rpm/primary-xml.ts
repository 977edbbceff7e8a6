/**
 * primary.xml writer (createrepo_c `xml_dump_primary.c`), as string chunks so callers can
 * stream thousands of packages into a compressor. Output is byte-identical to createrepo_c's
 * for the same package data.
 */
import type { RpmDependency, RpmFile, RpmPackage } from './model';
import { attribute, escapeAttr, escapeText, textElement } from './xml-text';

/** XML namespaces of rpm-md. */
export const RPM_MD_NS = {
  common: 'http://linux.duke.edu/metadata/common',
  rpm: 'http://linux.duke.edu/metadata/rpm',
  filelists: 'http://linux.duke.edu/metadata/filelists',
  other: 'http://linux.duke.edu/metadata/other',
  repo: 'http://linux.duke.edu/metadata/repo',
} as const;

/** The XML declaration every rpm-md file starts with. */
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/**
 * Does primary.xml list this path? Paths under /etc/, /usr/lib/sendmail and any path
 * containing `bin/` (createrepo_c `cr_is_primary`): what dnf can resolve file dependencies
 * against without filelists.
 */
export function isPrimaryFile(path: string): boolean {
  return path.startsWith('/etc/') || path === '/usr/lib/sendmail' || path.includes('bin/');
}

/** XML declaration and the opening `<metadata>` element for `count` packages. */
export function primaryXmlHeader(count: number): string {
  return `${XML_DECLARATION}<metadata xmlns="${RPM_MD_NS.common}" xmlns:rpm="${RPM_MD_NS.rpm}" packages="${count}">\n`;
}

/** The closing `</metadata>` (createrepo_c writes no newline after it). */
export function primaryXmlFooter(): string {
  return '</metadata>';
}

/** The whole primary.xml for `pkgs`, in the given order. */
export function writePrimaryXml(pkgs: readonly RpmPackage[]): string {
  return primaryXmlHeader(pkgs.length) + pkgs.map(primaryPackageXml).join('') + primaryXmlFooter();
}

/** The opening `<file>` tag of each type of file. */
const FILE_TAGS: Readonly<Record<RpmFile['type'], string>> = { file: '<file>', dir: '<file type="dir">', ghost: '<file type="ghost">' };

/** `<file>` lines (filelists.xml lists all, primary.xml the primary ones), indented. */
export function fileLines(files: readonly RpmFile[], indent: string, only?: (path: string) => boolean): string {
  let out = '';
  for (const f of files) {
    if (only && !only(f.path)) continue;
    out += `${indent}${FILE_TAGS[f.type]}${escapeText(f.path)}</file>\n`;
  }
  return out;
}

/** ` epoch="…" ver="…" rel="…"` of a package's `<version>`. */
export function versionAttributes(pkg: Pick<RpmPackage, 'epoch' | 'version' | 'release'>): string {
  return attribute('epoch', pkg.epoch) + attribute('ver', pkg.version) + attribute('rel', pkg.release);
}

/** ` pkgid="…" name="…" arch="…"` of a package in filelists.xml and other.xml. */
export function packageAttributes(pkg: Pick<RpmPackage, 'pkgId' | 'name' | 'arch'>): string {
  return attribute('pkgid', pkg.pkgId) + attribute('name', pkg.name) + attribute('arch', pkg.arch);
}

function dependencyList(element: string, deps: readonly RpmDependency[], requires: boolean): string {
  if (deps.length === 0) return '';
  let out = `    <rpm:${element}>\n`;
  for (const d of deps) {
    if (!d.name) continue;
    out += `      <rpm:entry${attribute('name', d.name)}`;
    if (d.flags) {
      out += attribute('flags', d.flags);
      if (d.epoch) out += attribute('epoch', d.epoch);
      if (d.ver) out += attribute('ver', d.ver);
      if (d.rel) out += attribute('rel', d.rel);
    }
    if (requires && d.pre) out += ' pre="1"';
    out += '/>\n';
  }
  return `${out}    </rpm:${element}>\n`;
}

/** One `<package>` element, with trailing newline. */
export function primaryPackageXml(pkg: RpmPackage): string {
  const f = pkg.format;
  const location = (pkg.location.base ? attribute('xml:base', pkg.location.base.startsWith('/') ? `file://${pkg.location.base}` : pkg.location.base) : '')
    + attribute('href', pkg.location.href);
  return '<package type="rpm">\n'
    + `  ${textElement('name', pkg.name)}\n`
    + `  ${textElement('arch', pkg.arch)}\n`
    + `  <version${versionAttributes(pkg)}/>\n`
    + `  ${textElement('checksum', pkg.pkgId, ` type="${escapeAttr(pkg.checksumType)}" pkgid="YES"`)}\n`
    + `  ${textElement('summary', pkg.summary)}\n`
    + `  ${textElement('description', pkg.description)}\n`
    + `  ${textElement('packager', pkg.packager)}\n`
    + `  ${textElement('url', pkg.url)}\n`
    + `  <time file="${pkg.time.file}" build="${pkg.time.build}"/>\n`
    + `  <size package="${pkg.size.package}" installed="${pkg.size.installed}" archive="${pkg.size.archive}"/>\n`
    + `  <location${location}/>\n`
    + '  <format>\n'
    + `    ${textElement('rpm:license', f.license)}\n`
    + `    ${textElement('rpm:vendor', f.vendor)}\n`
    + `    ${textElement('rpm:group', f.group)}\n`
    + `    ${textElement('rpm:buildhost', f.buildhost)}\n`
    + `    ${textElement('rpm:sourcerpm', f.sourcerpm)}\n`
    + `    <rpm:header-range start="${f.headerRange.start}" end="${f.headerRange.end}"/>\n`
    + dependencyList('provides', f.provides, false)
    + dependencyList('requires', f.requires, true)
    + dependencyList('conflicts', f.conflicts, false)
    + dependencyList('obsoletes', f.obsoletes, false)
    + dependencyList('suggests', f.suggests, false)
    + dependencyList('enhances', f.enhances, false)
    + dependencyList('recommends', f.recommends, false)
    + dependencyList('supplements', f.supplements, false)
    + fileLines(pkg.files, '    ', isPrimaryFile)
    + '  </format>\n'
    + '</package>\n';
}
