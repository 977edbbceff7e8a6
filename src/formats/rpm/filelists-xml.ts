/** filelists.xml writer (createrepo_c `xml_dump_filelists.c`), as string chunks. */
import type { RpmPackage } from './model';
import { fileLines, packageAttributes, RPM_MD_NS, versionAttributes, XML_DECLARATION } from './primary-xml';

/** XML declaration and the opening `<filelists>` element for `count` packages. */
export function filelistsXmlHeader(count: number): string {
  return `${XML_DECLARATION}<filelists xmlns="${RPM_MD_NS.filelists}" packages="${count}">\n`;
}

/** One `<package>` element with all its files, with trailing newline. */
export function filelistsPackageXml(pkg: Pick<RpmPackage, 'pkgId' | 'name' | 'arch' | 'epoch' | 'version' | 'release' | 'files'>): string {
  return `<package${packageAttributes(pkg)}>\n`
    + `  <version${versionAttributes(pkg)}/>\n`
    + fileLines(pkg.files, '  ')
    + '</package>\n';
}

/** The closing `</filelists>` (no newline after it, as createrepo_c). */
export function filelistsXmlFooter(): string {
  return '</filelists>';
}

/** The whole filelists.xml for `pkgs`, in the given order. */
export function writeFilelistsXml(pkgs: readonly RpmPackage[]): string {
  return filelistsXmlHeader(pkgs.length) + pkgs.map(filelistsPackageXml).join('') + filelistsXmlFooter();
}
