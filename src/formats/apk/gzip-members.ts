/**
 * apk files are several gzip members back to back (RFC 1952 §2.2). A plain gunzip joins
 * them into one stream; apk-tools (`src/io_gunzip.c`) instead notices where each member
 * ends, because the package identity and the signatures cover the raw bytes of single
 * members. The shared `../gzip-members.ts` finds those boundaries.
 */
export {
  IncompleteGzipMemberError, readGzipMember, splitGzipMembers, type GzipMember, type GzipSplitLimits,
} from '../gzip-members';
