/** other.xml writer (createrepo_c `xml_dump_other.c`), as string chunks. */
import type { RpmPackage } from './model';
import { packageAttributes, RPM_MD_NS, versionAttributes, XML_DECLARATION } from './primary-xml';
import { attribute, escapeText } from './xml-text';

/** XML declaration and the opening `<otherdata>` element for `count` packages. */
export function otherXmlHeader(count: number): string {
  return `${XML_DECLARATION}<otherdata xmlns="${RPM_MD_NS.other}" packages="${count}">\n`;
}

/** One `<package>` element with its changelog entries (oldest first), with trailing newline. */
export function otherPackageXml(pkg: Pick<RpmPackage, 'pkgId' | 'name' | 'arch' | 'epoch' | 'version' | 'release' | 'changelogs'>): string {
  let out = `<package${packageAttributes(pkg)}>\n`
    + `  <version${versionAttributes(pkg)}/>\n`;
  for (const c of pkg.changelogs) {
    out += `  <changelog${attribute('author', c.author)}${attribute('date', String(c.date))}>${escapeText(c.text)}</changelog>\n`;
  }
  return `${out}</package>\n`;
}

/** The closing `</otherdata>` (no newline after it, as createrepo_c). */
export function otherXmlFooter(): string {
  return '</otherdata>';
}

/** The whole other.xml for `pkgs`, in the given order. */
export function writeOtherXml(pkgs: readonly RpmPackage[]): string {
  return otherXmlHeader(pkgs.length) + pkgs.map(otherPackageXml).join('') + otherXmlFooter();
}
