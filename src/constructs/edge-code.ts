import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lazy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3_assets from 'aws-cdk-lib/aws-s3-assets';
import type { Construct } from 'constructs';
import { assetDirectory } from './assets';
import { EDGE_CONFIG_FILE, type EdgeConfig } from '../edge/router';

/**
 * Lambda code whose asset is made late: the edge function's configuration (every repository
 * of a host) is only complete once all repositories are constructed, but the function and the
 * distribution must exist from the host's constructor on. `bind` hands out lazy S3 coordinates;
 * `materialize` (called by the host before synthesis) creates the asset they resolve to.
 */
export class DeferredAssetCode extends lambda.Code {
  private scope?: Construct;
  private asset?: s3_assets.Asset;

  public bind(scope: Construct): lambda.CodeConfig {
    if (this.scope && this.scope !== scope) throw new Error('DeferredAssetCode can be bound to one function only');
    this.scope = scope;
    return {
      s3Location: {
        bucketName: Lazy.string({ produce: () => this.materialized().s3BucketName }),
        objectKey: Lazy.string({ produce: () => this.materialized().s3ObjectKey }),
      },
    };
  }

  /** Creates the asset from `directory`, once. */
  public materialize(directory: string): void {
    if (this.asset) return;
    if (!this.scope) throw new Error('DeferredAssetCode was never bound to a function');
    this.asset = new s3_assets.Asset(this.scope, 'ConfiguredCode', { path: directory });
  }

  private materialized(): s3_assets.Asset {
    if (!this.asset) throw new Error('the edge function code was not materialized before synthesis');
    return this.asset;
  }
}

/**
 * A directory holding the edge bundle and its config.json, named by the hash of both (so equal
 * configurations share it and the asset hash follows the configuration). Written atomically:
 * parallel syntheses may race for the same directory.
 */
export function edgeAssetDirectory(config: EdgeConfig): string {
  const bundle = path.join(assetDirectory('edge'), 'index.js');
  const configText = `${JSON.stringify(config, null, 2)}\n`;
  const hash = createHash('sha256').update(readFileSync(bundle)).update(configText).digest('hex').slice(0, 32);
  const target = path.join(os.tmpdir(), `cdk-package-repos-edge-${hash}`);
  if (existsSync(target)) return target;
  const staging = mkdtempSync(`${target}-`);
  copyFileSync(bundle, path.join(staging, 'index.js'));
  writeFileSync(path.join(staging, EDGE_CONFIG_FILE), configText);
  try {
    renameSync(staging, target);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(target)) throw e;
  }
  return target;
}
