import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The assets/ directory of the package (next to lib/ when installed, next to src/ in the repo). */
const ASSETS_DIR = path.join(__dirname, '..', '..', 'assets');

/**
 * The directory of a Lambda asset, checked to hold its bundle (made by `npx projen
 * bundle:<name>`, part of every build), so a missing bundle fails at synth with a clear message
 * instead of at deploy time.
 */
export function assetDirectory(name: 'indexer' | 'keygen' | 'edge'): string {
  const dir = path.join(ASSETS_DIR, name);
  if (!existsSync(path.join(dir, 'index.js'))) {
    throw new Error(`the ${name} bundle is missing: ${path.join(dir, 'index.js')} (run \`npx projen bundle:${name}\`)`);
  }
  return dir;
}
