/**
 * Running one indexer as a child process and measuring it from outside, the same way for our
 * indexer and the reference tools: wall time, CPU time and peak RSS from `/usr/bin/time`
 * (wait4's rusage), bytes read from the process's `/proc/<pid>/io` (`rchar`: everything
 * read through read(2), page cache included; reaped children are included).
 */
import { spawn } from 'node:child_process';

/** What one run cost. */
export interface Measurement {
  /** Seconds, from spawn to exit. */
  readonly wall: number;
  /** User + system CPU seconds. */
  readonly cpu: number;
  /** Peak resident set size, bytes. */
  readonly maxRss: number;
  /** Bytes read through read(2) and friends (`rchar`). */
  readonly rchar: number;
  /** Standard output of the command. */
  readonly stdout: string;
}

const TIME = '/usr/bin/time';
/** Runs "$@", then prints its own /proc io counters, which by then include the reaped command's. */
const IO_SCRIPT = '"$@"; s=$?; while read -r k v; do echo "__IO__ $k $v" >&2; done < /proc/$$/io; exit $s';

/** Run `command args` and measure it; throws with its error output when it fails. */
export async function measure(command: string, args: readonly string[], options: { readonly cwd?: string } = {}): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const child = spawn(TIME, ['-f', '__TIME__ %U %S %M', 'bash', '-c', IO_SCRIPT, 'bench', command, ...args], {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const time = /^__TIME__ ([\d.]+) ([\d.]+) (\d+)$/m.exec(stderr);
  const rchar = /^__IO__ rchar: (\d+)$/m.exec(stderr);
  if (code !== 0 || !time || !rchar) {
    const errors = stderr.split('\n').filter((l) => !/^__(IO|TIME)__/.test(l)).join('\n').trim();
    throw new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${errors}`);
  }
  return {
    wall,
    cpu: Number(time[1]) + Number(time[2]),
    maxRss: Number(time[3]) * 1024,
    rchar: Number(rchar[1]),
    stdout,
  };
}
