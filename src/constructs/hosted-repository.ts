import type { IConstruct } from 'constructs';
import type { EdgeClientSetup, EdgeFormat } from '../edge/router';

/** What a repository tells its RepositoryHost about itself (internal: not exported from the package). */
export interface HostedRepository {
  /** The repository construct (for error messages). */
  readonly scope: IConstruct;
  readonly prefix: string;
  readonly format: EdgeFormat;
  /** CloudFront path patterns, relative to the prefix, of the fixed-name manifests. */
  readonly manifestPatterns: string[];
  readonly pacmanRepositories?: string[];
  /** File-name-safe name (setup files, key aliases). */
  readonly name: string;
  /** Readers need a read token. */
  readonly private: boolean;
  /** apk: the public key's file name. */
  readonly apkKeyName?: string;
  /** What the generated setup files point clients at. */
  readonly setup: EdgeClientSetup;
}
