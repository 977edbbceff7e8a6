/**
 * How the indexer function is packaged. Both carry the same esbuild bundle of the handler.
 */
export class IndexerPackaging {
  /**
   * A container image on the AWS Lambda Node.js 22 base image, built from the Dockerfile shipped
   * in this package (`assets/indexer/`). Needs Docker (or a compatible engine) where you deploy.
   */
  public static readonly IMAGE = new IndexerPackaging('IMAGE');

  /** A zip archive on the managed Node.js 22 runtime: no Docker needed to deploy. */
  public static readonly ZIP = new IndexerPackaging('ZIP');

  private constructor(
    /** The name of the packaging, `IMAGE` or `ZIP`. */
    public readonly name: string,
  ) {}
}
