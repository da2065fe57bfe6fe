/**
 * `kiln gateway` as an operator runs it: a child process on loopback with ports the kernel
 * picks, found by its banner. Every one started is killed when the test file ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

const KILN = fileURLToPath(new URL('../../cli/bin/kiln.js', import.meta.url));
const procs: ChildProcess[] = [];

afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

export interface GatewayProcess {
  proc: ChildProcess;
  /** The device endpoint (wss://…/v1/device). */
  url: string;
  ca: Buffer;
  /** What it printed (stdout: the banner, the stop) so far. */
  out(): string;
  /** Its log (stderr) so far. */
  log(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startGatewayProcess(
  dataDir: string,
  opts: { env?: NodeJS.ProcessEnv; openFiles?: number } = {},
): Promise<GatewayProcess> {
  const args = [KILN, 'gateway', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--mqtt-listen', '127.0.0.1:0'];
  const env = { ...process.env, KILN_LOG_LEVEL: 'warn', ...opts.env };
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  // A lower open-files limit, as a machine left at its distribution's default has (ulimit -n).
  const proc =
    opts.openFiles === undefined
      ? spawn(process.execPath, args, { stdio, env })
      : spawn('bash', ['-c', `ulimit -n ${opts.openFiles} && exec "$0" "$@"`, process.execPath, ...args], {
          stdio,
          env,
        });
  procs.push(proc);
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d) => {
    err += String(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${out}${err}`)), 30_000);
    proc.stdout?.on('data', (d) => {
      out += String(d);
      const m = /devices:\s+(wss:\/\/\S+)/.exec(out);
      if (m && /dev CA:/.test(out)) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    proc.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${err}`)));
  });
  const caPath = /dev CA:\s+(\S+)/.exec(out)?.[1] as string;
  return { proc, url, ca: readFileSync(caPath), out: () => out, log: () => err, exited };
}
