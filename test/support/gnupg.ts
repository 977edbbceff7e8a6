import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** The result of a finished tool run. */
export interface ToolResult {
  readonly status: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/**
 * Runs a real tool and returns its result; throws when the tool is not installed (a missing
 * tool is a test failure, never a skip).
 */
export function runTool(command: string, args: string[], options: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv } = {}): ToolResult {
  const result = spawnSync(command, args, { input: options.input, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${command} is not installed; the tests need it (Debian: apt-get install ${packageOf(command)})`);
    throw result.error;
  }
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr.toString('utf8') };
}

function packageOf(command: string): string {
  return { gpg: 'gnupg', gpgv: 'gpgv', gpgconf: 'gnupg', sqv: 'sqv', openssl: 'openssl', rpmkeys: 'rpm' }[command] ?? command;
}

/** Like runTool, but throws unless the tool exits with 0. */
export function runToolOk(command: string, args: string[], options: { input?: string | Uint8Array; env?: NodeJS.ProcessEnv } = {}): ToolResult {
  const result = runTool(command, args, options);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}:\n${result.stderr}`);
  return result;
}

/** A throw-away GnuPG home: no network, no prompts, no trust questions. */
export interface GnupgHome {
  readonly dir: string;
  /** Runs gpg in this home (batch mode); returns the result whatever the exit status. */
  gpg(args: string[], input?: string | Uint8Array): ToolResult;
  /** Runs gpg in this home and throws unless it succeeds. */
  gpgOk(args: string[], input?: string | Uint8Array): ToolResult;
  /** Writes a file into the home's scratch area and returns its path. */
  file(name: string, content: string | Uint8Array): Promise<string>;
  /** Stops the agent and removes the home. */
  dispose(): Promise<void>;
}

const GPG_CONF = [
  'no-auto-key-locate',
  'no-auto-key-retrieve',
  'disable-dirmngr',
  'no-tty',
  'pinentry-mode loopback',
  'trust-model always',
  '',
].join('\n');

/** Creates a GnuPG home under the system temp directory (short path: agent sockets live there). */
export async function createGnupgHome(): Promise<GnupgHome> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gpg-'));
  await writeFile(path.join(dir, 'gpg.conf'), GPG_CONF, { mode: 0o600 });
  await writeFile(path.join(dir, 'gpg-agent.conf'), 'allow-loopback-pinentry\n', { mode: 0o600 });
  const env = { ...process.env, GNUPGHOME: dir, LC_ALL: 'C' };
  const gpg = (args: string[], input?: string | Uint8Array) => runTool('gpg', ['--batch', ...args], { input, env });
  return {
    dir,
    gpg,
    gpgOk: (args, input) => runToolOk('gpg', ['--batch', ...args], { input, env }),
    file: async (name, content) => {
      const file = path.join(dir, name);
      await writeFile(file, content);
      return file;
    },
    dispose: async () => {
      runTool('gpgconf', ['--kill', 'all'], { env });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The fields of gpg's `[GNUPG:] VALIDSIG` status line. */
export interface ValidSignature {
  /** Fingerprint of the key that made the signature (a subkey or the primary). */
  readonly signingFingerprint: string;
  /** Fingerprint of the primary key. */
  readonly primaryFingerprint: string;
  /** OpenPGP hash algorithm id (8 = SHA256, 9 = SHA384, 10 = SHA512). */
  readonly hashAlgorithm: number;
  /** Signature class (0x00 binary, 0x01 text). */
  readonly signatureClass: number;
}

/** Parses the VALIDSIG line of `--status-fd 1` output; undefined when there is none. */
export function parseValidSig(statusOutput: string): ValidSignature | undefined {
  const line = statusOutput.split('\n').find((l) => l.startsWith('[GNUPG:] VALIDSIG '));
  if (!line) return undefined;
  const f = line.split(' ').slice(2);
  return {
    signingFingerprint: f[0],
    primaryFingerprint: f[9],
    hashAlgorithm: Number(f[7]),
    signatureClass: parseInt(f[8], 16),
  };
}
