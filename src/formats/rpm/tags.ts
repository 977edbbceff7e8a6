/**
 * RPM header tag numbers and flag bits (rpm `include/rpm/rpmtag.h`, `rpmds.h`, `rpmfiles.h`).
 * The signature header and the main header number their tags independently (1000 is SIZE in
 * one and NAME in the other), so each has its own table.
 */

/** Data types of header entries. */
export enum RpmTagType {
  NULL = 0,
  CHAR = 1,
  INT8 = 2,
  INT16 = 3,
  INT32 = 4,
  INT64 = 5,
  STRING = 6,
  BIN = 7,
  STRING_ARRAY = 8,
  I18NSTRING = 9,
}

/** Region tags: the first entry of a header, marking its immutable region. */
export const RegionTag = {
  HEADERSIGNATURES: 62,
  HEADERIMMUTABLE: 63,
} as const;

/** Tags of the signature header. */
export const SigTag = {
  HEADERSIGNATURES: 62,
  /** DSA over the main header. */
  DSA: 267,
  /** RSA over the main header. */
  RSA: 268,
  /** SHA-1 of the main header, hex string. */
  SHA1: 269,
  LONGSIZE: 270,
  LONGARCHIVESIZE: 271,
  /** SHA-256 of the main header, hex string. */
  SHA256: 273,
  RESERVED: 999,
  /** Main header + payload size, INT32. */
  SIZE: 1000,
  PGP: 1002,
  /** MD5 of main header + payload, BIN(16). */
  MD5: 1004,
  GPG: 1005,
  /** Uncompressed payload size, INT32. */
  PAYLOADSIZE: 1007,
  RESERVEDSPACE: 1008,
} as const;

/** Tags of the main header. */
export const Tag = {
  HEADERIMMUTABLE: 63,
  HEADERI18NTABLE: 100,
  LONGARCHIVESIZE: 271,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  DESCRIPTION: 1005,
  BUILDTIME: 1006,
  BUILDHOST: 1007,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  PACKAGER: 1015,
  GROUP: 1016,
  URL: 1020,
  OS: 1021,
  ARCH: 1022,
  FILESIZES: 1028,
  FILEMODES: 1030,
  FILERDEVS: 1033,
  FILEMTIMES: 1034,
  FILEDIGESTS: 1035,
  FILELINKTOS: 1036,
  FILEFLAGS: 1037,
  FILEUSERNAME: 1039,
  FILEGROUPNAME: 1040,
  SOURCERPM: 1044,
  FILEVERIFYFLAGS: 1045,
  ARCHIVESIZE: 1046,
  PROVIDENAME: 1047,
  REQUIREFLAGS: 1048,
  REQUIRENAME: 1049,
  REQUIREVERSION: 1050,
  CONFLICTFLAGS: 1053,
  CONFLICTNAME: 1054,
  CONFLICTVERSION: 1055,
  RPMVERSION: 1064,
  CHANGELOGTIME: 1080,
  CHANGELOGNAME: 1081,
  CHANGELOGTEXT: 1082,
  OBSOLETENAME: 1090,
  FILEDEVICES: 1095,
  FILEINODES: 1096,
  FILELANGS: 1097,
  PROVIDEFLAGS: 1112,
  PROVIDEVERSION: 1113,
  OBSOLETEFLAGS: 1114,
  OBSOLETEVERSION: 1115,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
  PAYLOADFLAGS: 1126,
  SOURCEPACKAGE: 1106,
  OLDFILENAMES: 1027,
  OLDSUGGESTSNAME: 1156,
  OLDSUGGESTSVERSION: 1157,
  OLDSUGGESTSFLAGS: 1158,
  OLDENHANCESNAME: 1159,
  OLDENHANCESVERSION: 1160,
  OLDENHANCESFLAGS: 1161,
  LONGFILESIZES: 5008,
  LONGSIZE: 5009,
  FILEDIGESTALGO: 5011,
  RECOMMENDNAME: 5046,
  RECOMMENDVERSION: 5047,
  RECOMMENDFLAGS: 5048,
  SUGGESTNAME: 5049,
  SUGGESTVERSION: 5050,
  SUGGESTFLAGS: 5051,
  SUPPLEMENTNAME: 5052,
  SUPPLEMENTVERSION: 5053,
  SUPPLEMENTFLAGS: 5054,
  ENHANCENAME: 5055,
  ENHANCEVERSION: 5056,
  ENHANCEFLAGS: 5057,
  ENCODING: 5062,
  PAYLOADDIGEST: 5092,
  PAYLOADDIGESTALGO: 5093,
} as const;

/** Dependency sense bits (`RPMSENSE_*`, rpm writes them as `1 << n`). */
export const Sense = {
  LESS: 0x2,
  GREATER: 0x4,
  EQUAL: 0x8,
  POSTTRANS: 0x20,
  PREREQ: 0x40,
  PRETRANS: 0x80,
  INTERP: 0x100,
  SCRIPT_PRE: 0x200,
  SCRIPT_POST: 0x400,
  SCRIPT_PREUN: 0x800,
  SCRIPT_POSTUN: 0x1000,
  /** Legacy weak dependency among the requires (createrepo_c: a recommends). */
  MISSINGOK: 0x80000,
  RPMLIB: 0x1000000,
  /** Old-style weak dependency (OLDSUGGESTS/OLDENHANCES): recommends resp. supplements. */
  STRONG: 0x8000000,
} as const;

/** File attribute bits (`RPMFILE_*`). */
export const FileFlag = {
  CONFIG: 0x1,
  DOC: 0x2,
  GHOST: 0x40,
} as const;

/** PGP hash algorithm ids as rpm stores them (FILEDIGESTALGO, PAYLOADDIGESTALGO). */
export const HashAlgo = {
  MD5: 1,
  SHA1: 2,
  SHA256: 8,
} as const;
