import type { ObjectEvent } from './s3rver';
import type { FormatName } from '../engine/format';

/**
 * The EventBridge rule of a repository, locally: which S3 object events it matches and the SQS
 * message it sends for them. The same pattern, message group and input transformer as the
 * `UploadRule` of src/constructs/repository-core.ts (test/pipeline/upload-rule.test.ts
 * compares them with the synthesized template).
 */
export interface UploadRule {
  readonly bucket: string;
  /** The repository's key prefix: '' or ending in '/'. */
  readonly prefix: string;
  /** Name endings of package files: events of other keys are not sent. */
  readonly suffixes: readonly string[];
  /** One group per repository: its index updates run one batch at a time, in order. */
  readonly messageGroupId: string;
}

/** Package file name endings per format, as the repository constructs declare them. */
export const PACKAGE_SUFFIXES: Readonly<Record<FormatName, readonly string[]>> = {
  yum: ['.rpm'],
  apt: ['.deb'],
  apk: ['.apk'],
  pacman: ['.pkg.tar.zst', '.pkg.tar.xz', '.pkg.tar.gz'],
};

/** The rule of a repository of `format` under `prefix` in `bucket`. */
export function uploadRule(format: FormatName, bucket: string, prefix: string): UploadRule {
  return { bucket, prefix, suffixes: PACKAGE_SUFFIXES[format], messageGroupId: `${format}:${prefix}` };
}

/** The rule's key patterns in EventBridge's wildcard syntax: `yum/*.rpm`. */
export function keyWildcards(rule: UploadRule): string[] {
  return rule.suffixes.map((suffix) => `${rule.prefix}*${suffix}`);
}

/**
 * Does the rule match the event? EventBridge's `prefix*suffix` wildcard: the key starts with the
 * prefix and ends with a suffix, and `*` may match nothing (but the two may not overlap).
 */
export function matches(rule: UploadRule, event: ObjectEvent): boolean {
  if (event.bucket !== rule.bucket || !event.key.startsWith(rule.prefix)) return false;
  return rule.suffixes.some((suffix) => event.key.length >= rule.prefix.length + suffix.length && event.key.endsWith(suffix));
}

/**
 * The message body the rule's input transformer makes of an event: its template is
 * `{"detail-type":<detail-type>,"bucket":<bucket>,"key":<key>,"sequencer":<sequencer>}` and
 * EventBridge puts each value in as JSON. With content-based deduplication the body is the
 * deduplication id, so one S3 change sent twice within 5 minutes is queued once.
 */
export function messageBody(event: ObjectEvent): string {
  return JSON.stringify({ 'detail-type': event.detailType, 'bucket': event.bucket, 'key': event.key, 'sequencer': event.sequencer });
}
