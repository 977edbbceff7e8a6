import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { runDemo } from './demo';
import { keygen, loadKeyFiles, PASSPHRASE_ENV } from './keys';
import { startServer } from './serve';
import { syncAll, type Report } from '../engine/engine';
import type { FormatName } from '../engine/format';
import { createFormat, FORMAT_NAMES } from '../engine/formats';
import { LocalStorage } from '../storage/local';

/** Where the CLI writes; tests capture it. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 0 to 65535');
  return n;
}

interface IndexOptions {
  readonly format: FormatName;
  readonly key: string;
  readonly keyName?: string;
  readonly origin?: string;
  readonly label?: string;
  readonly repo?: string;
  readonly quiet?: boolean;
}

/** Build the `pkgrepo` command. Exit codes are set on `process.exitCode` by the actions. */
export function program(io: Io = processIo): Command {
  const cli = new Command('pkgrepo')
    .description('Index, sign and serve yum/dnf, apt, pacman and apk package repositories from a plain directory.\n'
      + 'The same engine runs in the cdk-package-repos constructs on S3.')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  cli.command('keygen')
    .description('Generate a signing key pair and print the paths of the files written.\n'
      + '  pgp: NAME.private.asc + NAME.public.asc (armored OpenPGP; RSA 4096 unless --algorithm ed25519)\n'
      + '  rsa: NAME.rsa + NAME.rsa.pub (PEM, for apk; users install NAME.rsa.pub in /etc/apk/keys)')
    .addOption(new Option('--type <type>', 'key type').choices(['pgp', 'rsa']).default('pgp'))
    .requiredOption('--name <name>', 'key name: file names, and the user id of a pgp key')
    .option('--out <dir>', 'directory to write into', '.')
    .addOption(new Option('--algorithm <algorithm>', 'pgp key algorithm').choices(['rsa', 'ed25519']).default('rsa'))
    .option('--email <email>', 'pgp user id e-mail')
    .addHelpText('after', `\nA passphrase for the pgp key is taken from ${PASSPHRASE_ENV} when set.`)
    .action(async (opts: { type: 'pgp' | 'rsa'; name: string; out: string; algorithm: 'rsa' | 'ed25519'; email?: string }) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9._@+-]*$/.test(opts.name)) throw new InvalidArgumentError('--name may hold letters, digits and . _ @ + - only');
      const files = await keygen({
        type: opts.type,
        name: opts.name,
        outDir: opts.out,
        algorithm: opts.algorithm,
        email: opts.email,
        passphrase: process.env[PASSPHRASE_ENV] || undefined,
      });
      io.out(`private key: ${files.privateKey}`);
      io.out(`public key: ${files.publicKey}`);
    });

  cli.command('index')
    .description('Create or update the signed index of every repository under DIR, in place.\n'
      + 'Only packages not indexed yet are read; packages gone from DIR leave the index.\n'
      + 'Exit status 0 when every package was indexed; 1 when any was rejected (each printed on\n'
      + 'stderr as "rejected: <path>: <reason>"), the good ones being indexed all the same.')
    .argument('<dir>', 'the repository tree')
    .addOption(new Option('--format <format>', 'repository format').choices(FORMAT_NAMES as string[]).makeOptionMandatory())
    .requiredOption('--key <file>', 'private signing key: armored OpenPGP (yum, apt, pacman) or PEM RSA (apk)')
    .option('--key-name <name>', 'apk: key name in the signature (default: the key file name + ".pub")')
    .option('--origin <origin>', 'apt: Release Origin')
    .option('--label <label>', 'apt: Release Label')
    .option('--repo <name>', 'pacman: repository name (default: first path segment)')
    .option('--quiet', 'print only rejections')
    .addHelpText('after', '\nLayouts:\n  yum: every directory holding .rpm files is a repository (a Packages/ directory belongs to the one above)\n'
      + `Passphrase of a protected key: ${PASSPHRASE_ENV}.`)
    .action(async (dir: string, opts: IndexOptions) => {
      const format = createFormat(opts.format, {
        origin: opts.origin, label: opts.label, repoName: opts.repo, keyName: opts.keyName, localLinks: true,
      });
      const keys = await loadKeyFiles(opts.format === 'apk' ? { rsa: opts.key, rsaKeyName: opts.keyName } : { pgp: opts.key });
      const report = await syncAll({ storage: new LocalStorage(path.resolve(dir)), format, keys });
      printReport(io, report, { quiet: opts.quiet ?? false, base: dir });
      process.exitCode = report.rejected.length ? 1 : 0;
    });

  cli.command('serve')
    .description('Serve DIR read-only over HTTP on 127.0.0.1 until interrupted.')
    .argument('<dir>', 'directory to serve')
    .option('--port <port>', 'TCP port (0: any free port)', port, 8080)
    .action(async (dir: string, opts: { port: number }) => {
      const server = await startServer({ root: dir, port: opts.port });
      io.out(`serving ${path.resolve(dir)} at ${server.url}/ (Ctrl-C stops)`);
      await waitForSignal();
      await server.close();
    });

  cli.command('demo')
    .description('Build sample packages, generate a key, index and sign the repository, serve it on\n'
      + '127.0.0.1 and print the client configuration. With --check, run the real client against it\n'
      + 'and exit with its verdict instead of serving on.')
    .option('--dir <dir>', 'where to build the demo repository (default: a new temporary directory)')
    .option('--port <port>', 'TCP port (0: any free port)', port, 0)
    .option('--check', 'run the real clients and exit 0 when they accept the repository')
    .action(async (opts: { dir?: string; port: number; check?: boolean }) => {
      const ok = await runDemo({ dir: opts.dir, port: opts.port, check: opts.check ?? false, io, waitForSignal });
      process.exitCode = ok ? 0 : 1;
    });

  return cli;
}

/** Print what an index run did: one line per repository, one line per rejection (stderr). */
export function printReport(io: Io, report: Report, options: { quiet: boolean; base: string }): void {
  const where = (key: string) => path.join(options.base, key);
  for (const u of report.units) {
    if (!options.quiet) {
      const what = u.published ? 'published' : 'unchanged';
      io.out(`${u.unit.id} (${where(u.unit.root)}): ${what}, ${u.packageCount} packages (${u.added.length} added, ${u.removed.length} removed, ${u.rejected.length} rejected)`);
    }
  }
  for (const r of report.rejected) io.err(`rejected: ${where(r.key)}: ${r.reason}`);
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/** Entry point of bin/pkgrepo. */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await program().parseAsync([...argv]);
  } catch (e) {
    process.stderr.write(`pkgrepo: ${(e as Error).message ?? String(e)}\n`);
    process.exitCode = 2;
  }
}
