import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { Command, InvalidArgumentError, Option } from 'commander';
import { keygen, loadKeyFiles, PASSPHRASE_ENV } from './keys';
import { registerReconcile } from './reconcile';
import { detectEdgeConfig, startServer } from './serve';
import { addFileToken, FileTokenStore, readTokenFile, removeFileToken } from '../edge/file-token-store';
import { parseEdgeConfig } from '../edge/router';
import { addSsmToken, listSsmTokens, removeSsmToken } from '../edge/ssm-token-store';
import { syncAll, type Report } from '../engine/engine';
import type { FormatName } from '../engine/format';
import { FORMAT_NAMES } from '../engine/formats';
import { DEFAULT_START_AFTER, defaultWorkers, parallelFormat } from '../engine/parallel';
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
  readonly workers?: number;
}

interface TokenOptions {
  readonly file?: string;
  readonly ssmPath?: string;
  readonly region?: string;
}

/** Where `pkgrepo token` keeps tokens: exactly one of --file and --ssm-path. */
function tokenStoreOf(opts: TokenOptions): { kind: 'file'; file: string } | { kind: 'ssm'; path: string } {
  if ((opts.file === undefined) === (opts.ssmPath === undefined)) throw new InvalidArgumentError('give exactly one of --file FILE and --ssm-path PATH');
  if (opts.file !== undefined) return { kind: 'file', file: path.resolve(opts.file) };
  if (!/^\/([A-Za-z0-9_.-]+\/)+$/.test(opts.ssmPath!)) throw new InvalidArgumentError('--ssm-path is a parameter path that starts and ends with "/"');
  return { kind: 'ssm', path: opts.ssmPath! };
}

async function ssmClient(region: string | undefined): Promise<SSMClient> {
  const { SSMClient: Client } = await import('@aws-sdk/client-ssm');
  return new Client(region ? { region } : {});
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
    .option('--workers <n>', `threads parsing packages once more than ${DEFAULT_START_AFTER} are read (0: none; default: the CPUs, for yum two fewer)`, (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError('a number of threads, 0 or more');
      return Number(v);
    })
    .addHelpText('after', '\nLayouts:\n  yum: every directory holding .rpm files is a repository (a Packages/ directory belongs to the one above)\n'
      + `Passphrase of a protected key: ${PASSPHRASE_ENV}.`)
    .action(async (dir: string, opts: IndexOptions) => {
      const format = parallelFormat(opts.format, {
        origin: opts.origin, label: opts.label, repoName: opts.repo, keyName: opts.keyName, localLinks: true,
      }, { workers: opts.workers ?? defaultWorkers(opts.format) });
      const keys = await loadKeyFiles(opts.format === 'apk' ? { rsa: opts.key, rsaKeyName: opts.keyName } : { pgp: opts.key });
      const report = await syncAll({ storage: new LocalStorage(path.resolve(dir)), format, keys }).finally(() => format.close());
      printReport(io, report, { quiet: opts.quiet ?? false, base: dir });
      process.exitCode = report.rejected.length ? 1 : 0;
    });

  registerReconcile(cli, io);

  cli.command('serve')
    .description('Serve DIR read-only over HTTP on 127.0.0.1 until interrupted, through the same router as the\n'
      + 'CDN: pacman\'s .db names, key aliases, setup files under <prefix>setup/, directory listings,\n'
      + 'content types and Cache-Control; private repositories need a read token.\n'
      + 'The repositories are found from the indexes in DIR (one per top-level directory) unless --config\n'
      + 'describes them (the JSON the constructs bake into the edge function).\n'
      + 'With --plain, DIR is served as plain static files instead.')
    .argument('<dir>', 'directory to serve')
    .option('--port <port>', 'TCP port (0: any free port)', port, 8080)
    .option('--config <file>', 'edge configuration (JSON): repositories, prefixes, names, setup paths, private flags')
    .option('--tokens <file>', 'read tokens (made with `pkgrepo token add --file`); without --config, every repository becomes private')
    .option('--plain', 'serve static files only, without the router')
    .action(async (dir: string, opts: { port: number; config?: string; tokens?: string; plain?: boolean }) => {
      if (opts.plain && (opts.config || opts.tokens)) throw new InvalidArgumentError('--plain serves files only: it takes neither --config nor --tokens');
      const router = opts.plain ? undefined : opts.config
        ? parseEdgeConfig(JSON.parse(await readFile(opts.config, 'utf8')))
        : await detectEdgeConfig(dir, { private: opts.tokens !== undefined });
      if (router?.repositories.some((r) => r.private) && !opts.tokens) throw new InvalidArgumentError('the configuration has private repositories: give --tokens FILE');
      const tokens = opts.tokens ? new FileTokenStore(path.resolve(opts.tokens)) : undefined;
      const server = await startServer({ root: dir, port: opts.port, router, tokens });
      io.out(`serving ${path.resolve(dir)} at ${server.url}/ (Ctrl-C stops)`);
      for (const r of router?.repositories ?? []) {
        io.out(`  ${r.format} ${r.private ? '(private) ' : ''}${server.url}/${r.prefix}  setup: curl -fsSL ${r.private ? '-u NAME:TOKEN ' : ''}${server.url}/${r.prefix}setup/setup.sh | sudo sh`);
      }
      await waitForSignal();
      await server.close();
    });

  const token = cli.command('token')
    .description('Manage the read tokens of private repositories: in a JSON file (pkgrepo serve --tokens FILE) or\n'
      + 'as SSM parameters under a path (what a RepositoryHost\'s edge function reads; see its\n'
      + 'tokenParameterPath). Only a salted SHA-256 of each token is stored; `add` prints the token once.\n'
      + 'Clients send it as HTTP basic auth: user NAME, password TOKEN.');
  const where = (command: Command) => command
    .option('--file <file>', 'the token file')
    .option('--ssm-path <path>', 'the SSM parameter path (starts and ends with "/")')
    .option('--region <region>', 'AWS region of the SSM parameters (default: from the environment)');
  where(token.command('add'))
    .description('Make a new token NAME and print it (once).')
    .argument('<name>', 'token name: the basic-auth user (letters, digits, _ . -)')
    .option('--prefix <prefix...>', 'repository prefixes the token may read (default: every private repository)')
    .action(async (name: string, opts: TokenOptions & { prefix?: string[] }) => {
      const store = tokenStoreOf(opts);
      const { token: secret, record } = store.kind === 'file'
        ? await addFileToken(store.file, name, { prefixes: opts.prefix })
        : await addSsmToken(await ssmClient(opts.region), store.path, name, { prefixes: opts.prefix });
      io.out(`token ${record.name}: ${secret}`);
      io.out(`(shown once; ${store.kind === 'file' ? store.file : `${store.path}${name}`} keeps only its salted SHA-256)`);
      io.out(`clients: HTTP basic auth, user ${record.name}, password the token; e.g. curl -fsSL -u ${record.name}:TOKEN <repository URL>setup/setup.sh | sudo sh`);
    });
  where(token.command('remove'))
    .description('Revoke the token NAME (at the edge within its cache period, a minute by default).')
    .argument('<name>', 'token name')
    .action(async (name: string, opts: TokenOptions) => {
      const store = tokenStoreOf(opts);
      const removed = store.kind === 'file' ? await removeFileToken(store.file, name) : await removeSsmToken(await ssmClient(opts.region), store.path, name);
      if (!removed) {
        io.err(`no token named ${name}`);
        process.exitCode = 1;
        return;
      }
      io.out(`removed token ${name}`);
    });
  where(token.command('list'))
    .description('List the tokens: name, creation time, the prefixes it may read.')
    .action(async (opts: TokenOptions) => {
      const store = tokenStoreOf(opts);
      const records = store.kind === 'file' ? await readTokenFile(store.file) : await listSsmTokens(await ssmClient(opts.region), store.path);
      for (const r of records) io.out(`${r.name}\t${r.created}\t${r.prefixes?.join(',') ?? '(all private repositories)'}`);
    });

  cli.command('demo')
    .description('Run the local pipeline (the AWS deployment\'s parts on 127.0.0.1: s3rver as the bucket, its object\n'
      + 'events through each repository\'s rule into a FIFO queue, the real indexer, the edge rules in front),\n'
      + 'upload sample packages of all four formats through the S3 API with fresh keys, and print the client\n'
      + 'configuration. With --check, run the real clients against it and exit with their verdict instead of\n'
      + 'serving on.')
    .option('--dir <dir>', 'where to keep the keys and the bucket\'s data (default: a new temporary directory)')
    .option('--port <port>', 'TCP port of the edge server (0: any free port)', port, 0)
    .option('--check', 'run the real clients and exit 0 when they accept the repositories')
    .action(async (opts: { dir?: string; port: number; check?: boolean }) => {
      // loaded only here: it brings the S3 SDK and a local S3 server, which no other command needs
      const { runDemo } = await import('./demo.js');
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
