import type { IConstruct } from 'constructs';
import type { EdgeFormat } from '../edge/router';

/** What a repository tells its RepositoryHost about itself (internal: not exported from the package). */
export interface HostedRepository {
  /** The repository construct (for error messages). */
  readonly scope: IConstruct;
  readonly prefix: string;
  readonly format: EdgeFormat;
  /** CloudFront path patterns, relative to the prefix, of the fixed-name manifests. */
  readonly manifestPatterns: string[];
  readonly pacmanRepositories?: string[];
}
