import { program, type Io } from '../../src/cli/main';

/** An Io that keeps what the CLI printed. */
export function capture(): Io & { out_: string[]; err_: string[] } {
  const out_: string[] = [];
  const err_: string[] = [];
  return { out_, err_, out: (l) => out_.push(l), err: (l) => err_.push(l) };
}

/**
 * Runs `pkgrepo args` in this process, with `env` set for the run only: its exit status, what it
 * printed, and what it threw (commander's errors under `exitOverride`).
 */
export async function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const io = capture();
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const savedCode = process.exitCode;
  process.exitCode = 0;
  let thrown: unknown;
  try {
    await program(io).exitOverride().parseAsync(['node', 'pkgrepo', ...args]);
  } catch (e) {
    thrown = e;
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = savedCode;
  return { code, out: io.out_.join('\n'), err: io.err_.join('\n'), thrown };
}
