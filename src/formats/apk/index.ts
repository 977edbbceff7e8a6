/** The apk (Alpine, apk-tools v2 index) format: package reader, APKINDEX writer/reader, signing. */
export * from './model';
export { readApk, DEFAULT_APK_LIMITS, type ApkReadLimits } from './package';
export {
  indexEntryOf, compareIndexEntries, writeApkIndex, parseApkIndex, readApkIndexArchive, buildApkIndexArchive,
  signApkIndexArchive, DEFAULT_APKINDEX_LIMITS, type ApkIndexLimits, type ApkIndexArchive, type ApkIndexArchiveOptions,
  type ApkSignatureType,
} from './apkindex';
export { parsePkgInfo } from './pkginfo';
export { isValidApkVersion, compareApkVersions } from './version';
export { splitGzipMembers, readGzipMember, type GzipMember, type GzipSplitLimits } from './gzip-members';
export { buildApk, apkFileName, type ApkBuildSpec, type ApkBuildOptions } from './build-apk';
