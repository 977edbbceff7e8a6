import { execFile } from 'node:child_process';
import { SETUP_ROOT_ENV } from '../../../src/edge/setup';

/** What one run of a served setup script did. */
export interface ScriptRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `curl -fsSL URL | sh`, exactly as a user runs it (with `-u NAME:TOKEN` for a private
 * repository), but with the script's install root moved to `root`: nothing of this machine's
 * /etc is touched.
 */
export function runSetupScript(
  url: string, root: string, options: { credentials?: string; env?: Record<string, string>; wrapper?: readonly string[] } = {},
): Promise<ScriptRun> {
  const auth = options.credentials ? `-u '${options.credentials}' ` : '';
  return new Promise((resolve) => {
    // bash for pipefail (a failed download fails the run); the script itself runs in sh (dash here, as on Debian)
    execFile('bash', ['-c', `set -o pipefail; curl -fsSL ${auth}"$SETUP_URL" | ${[...options.wrapper ?? [], 'sh'].join(' ')}`], {
      env: { ...process.env, ...options.env, SETUP_URL: url, [SETUP_ROOT_ENV]: root, LC_ALL: 'C.UTF-8' },
    }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
