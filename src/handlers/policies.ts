/**
 * The engine's publishing policies as the indexer's environment and the CLI carry them: the
 * same-version policy and the retention. Plain values and checks, no AWS SDK.
 */

import type { EngineOptions, RetentionPolicy, SameVersionPolicy } from '../engine/engine';

export type { RetentionPolicy, SameVersionPolicy } from '../engine/engine';

/** A same-version policy from its text ('refuse' | 'replace'); undefined when empty. */
export function sameVersionOf(value: string | undefined, what: string): SameVersionPolicy | undefined {
  if (!value) return undefined;
  if (value !== 'refuse' && value !== 'replace') throw new Error(`${what} must be refuse or replace, got ${JSON.stringify(value)}`);
  return value;
}

/** A retention from its JSON (`{"keepVersions": 3, "deleteObjects": true}`); undefined when empty. */
export function retentionOf(value: string | undefined, what: string): RetentionPolicy | undefined {
  if (!value) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (e) {
    throw new Error(`${what} is not JSON: ${(e as Error).message}`);
  }
  const r = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (!Number.isInteger(r.keepVersions) || (r.keepVersions as number) < 1) {
    throw new Error(`${what}.keepVersions must be a whole number of at least 1, got ${JSON.stringify(r.keepVersions)}`);
  }
  if (r.deleteObjects !== undefined && typeof r.deleteObjects !== 'boolean') {
    throw new Error(`${what}.deleteObjects must be true or false, got ${JSON.stringify(r.deleteObjects)}`);
  }
  return { keepVersions: r.keepVersions as number, ...(r.deleteObjects !== undefined ? { deleteObjects: r.deleteObjects as boolean } : {}) };
}

/** The configured policies as `EngineOptions` fields, absent when not configured (the engine's defaults apply). */
export function engineOptionsOf(config: { readonly sameVersion?: SameVersionPolicy; readonly retention?: RetentionPolicy }): Pick<EngineOptions, 'sameVersion' | 'retention'> {
  return {
    ...(config.sameVersion ? { sameVersion: config.sameVersion } : {}),
    ...(config.retention ? { retention: config.retention } : {}),
  };
}
