/**
 * A fleet of simulated devices in one native process (bench/loadgen, C + OpenSSL), driven like
 * procs.ts's `devices` role: connect, telemetry phases, reconnect storms. It does on the wire what that role
 * does (TLS 1.2 with the chain verified, ES256 token per device, hello, the same telemetry text
 * and schedule), for a fraction of Node's CPU per message, so that a generator sharing the cores
 * takes less from the gateway being measured.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, signDeviceToken } from '@kiln/protocol';
import { importJWK, type JWK } from 'jose';
import type { LatencyHistogram } from './latency-histogram.ts';
import { roles } from './roles.ts';

const LOADGEN_DIR = fileURLToPath(new URL('./loadgen/', import.meta.url));
const BINARY = join(LOADGEN_DIR, 'build', 'loadgen');

export interface NativeFleet {
  proc: ChildProcess;
  connect(): Promise<{ ms: number; connected: number; failed: number; genCpuMs: number }>;
  /** ratePerDevice in samples/s; `batch` samples per message (telemetry_batch when > 1). */
  telemetry(
    ratePerDevice: number,
    batch: number,
    durationMs: number,
  ): Promise<{
    sent: number;
    messages: number;
    acked: number;
    /** Messages not sent because a connection's bounded output buffer was full. */
    dropped: number;
    p50: number;
    p99: number;
    /** The latencies in 1 ms buckets (latency-histogram.ts), to merge windows. */
    hist: LatencyHistogram;
    genCpuMs: number;
    loopP99: number;
    loopMax: number;
  }>;
  /**
   * Arms a reconnect storm (loadgen/storm.c): from now on every device that loses its connection
   * comes back by itself, with `tokensPerDevice` fresh tokens signed here ahead of it, offering
   * its last TLS session when `resume`.
   */
  expectStorm(resume: boolean, tokensPerDevice?: number): Promise<void>;
  /** Waits until every device has been welcomed since `since` (epoch ms; 60 s at most). */
  awaitStorm(since: number): Promise<StormResult>;
  stop(): Promise<void>;
}

export interface StormResult {
  welcomed: number;
  /** From `since` to the last welcome, when all came. */
  ms: number;
  attempts: number;
  resumed: number;
  /** Attempts begun at or after `since` that failed, by reason. */
  failedAfter: Record<string, number>;
  cpuMs: number;
  p50: number;
  p90: number;
}

let built = false;
/** Compiles the generator (build.sh rebuilds only when a source changed), once per process. */
function build(): void {
  if (built) return;
  execFileSync(join(LOADGEN_DIR, 'build.sh'), { stdio: ['ignore', 'inherit', 'inherit'] });
  built = true;
}

/** JSON null (NaN on the C side: no samples) back to NaN, as procs.ts reports it. */
const n = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);

export async function nativeFleet(opts: {
  url: string;
  ca: string;
  ids: string[];
  priv: JWK;
  raw?: boolean;
  /** Handshakes in flight during connect (default 64, one Node generator's; the bench runs two). */
  concurrency?: number;
}): Promise<NativeFleet> {
  build();
  const url = new URL(opts.url);
  // Signed ahead, as a device signs on its own CPU: the generator's figures are the wire's only.
  const key = (await importJWK(opts.priv, 'ES256')) as import('node:crypto').webcrypto.CryptoKey;
  for (const id of opts.ids) if (/\s/.test(id)) throw new Error(`device id ${JSON.stringify(id)} has white space`);
  /** `<deviceId> <token>` lines, `perDevice` for each device. */
  const tokenLines = async (perDevice: number) => {
    const lines: string[] = [];
    for (let k = 0; k < perDevice; k++)
      for (const id of opts.ids)
        lines.push(
          `${id} ${opts.raw ? 'a.b.c' : await signDeviceToken(key, { deviceId: id, audience: url.origin })}\n`,
        );
    return lines.join('');
  };
  // Tokens are credentials: a private directory, removed on stop and when this process exits.
  const dir = mkdtempSync(join(tmpdir(), 'kiln-loadgen-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  writeFileSync(join(dir, 'ca.pem'), opts.ca, { mode: 0o600 });
  writeFileSync(join(dir, 'tokens'), await tokenLines(1), { mode: 0o600 });

  const args = [
    '--host',
    url.hostname.replace(/^\[(.*)\]$/, '$1'),
    '--port',
    url.port || '443',
    '--path',
    url.pathname,
    '--ca',
    join(dir, 'ca.pem'),
    '--tokens',
    join(dir, 'tokens'),
    '--boot-id',
    // One boot per fleet, as procs.ts: devices in a later fleet start a new sequence.
    randomBytes(8).toString('hex'),
    '--concurrency',
    String(opts.concurrency ?? 64),
    // What the gateway's welcome says by default (the bench leaves it so).
    '--heartbeat-sec',
    String(DEFAULTS.heartbeatSec),
    ...(opts.raw ? ['--raw'] : []),
  ];
  const proc = spawn(BINARY, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  roles.push(proc);

  let stderrTail = '';
  proc.stderr.on('data', (d: Buffer) => {
    process.stderr.write(d); // its lines begin with "loadgen:"
    stderrTail = (stderrTail + d).slice(-2000);
  });
  const pending: { key: string; resolve(v: Record<string, unknown>): void; reject(e: Error): void }[] = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const answer = JSON.parse(line) as Record<string, unknown>;
    const w = pending.shift();
    if (!w) return;
    if (w.key in answer) w.resolve(answer[w.key] as Record<string, unknown>);
    else w.reject(new Error(`loadgen answered ${line} to ${w.key}`));
  });
  let exitError: Error | undefined;
  let onExit: () => void = () => {};
  const exited = new Promise<void>((resolve) => {
    onExit = resolve;
  });
  const finish = (e: Error) => {
    if (exitError) return;
    exitError = e;
    removeDir();
    process.removeListener('exit', removeDir);
    for (const w of pending.splice(0)) w.reject(e);
    onExit();
  };
  proc.once('exit', (code, signal) =>
    finish(
      new Error(
        `loadgen exited (${signal ?? `code ${code}`})${stderrTail ? `; its stderr ends: ${stderrTail.trim()}` : ''}`,
      ),
    ),
  );
  proc.once('error', finish);
  proc.stdin.on('error', () => {}); // a write after the process died: the exit handler reports it

  const ask = (line: string, key: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      if (exitError) return reject(exitError);
      pending.push({ key, resolve, reject });
      proc.stdin.write(`${line}\n`);
    });

  return {
    proc,
    async connect() {
      const r = await ask('connect', 'connect');
      return { ms: n(r.ms), connected: n(r.connected), failed: n(r.failed), genCpuMs: n(r.cpuMs) };
    },
    async telemetry(ratePerDevice, batch, durationMs) {
      const r = await ask(`telemetry ${ratePerDevice} ${batch} ${durationMs}`, 'telemetry');
      return {
        sent: n(r.sent),
        messages: n(r.messages),
        acked: n(r.acked),
        dropped: n(r.dropped),
        p50: n(r.p50),
        p99: n(r.p99),
        hist: (r.hist ?? []) as LatencyHistogram,
        genCpuMs: n(r.cpuMs),
        loopP99: n(r.loopP99),
        loopMax: n(r.loopMax),
      };
    },
    async expectStorm(resume, tokensPerDevice = 2) {
      const file = join(dir, `storm-tokens-${resume ? 'resume' : 'fresh'}`);
      writeFileSync(file, await tokenLines(tokensPerDevice), { mode: 0o600 });
      await ask(`storm ${resume ? 1 : 0} ${file}`, 'armed');
    },
    async awaitStorm(since) {
      const r = await ask(`storm-await ${since}`, 'storm');
      return {
        welcomed: n(r.welcomed),
        ms: n(r.ms),
        attempts: n(r.attempts),
        resumed: n(r.resumed),
        failedAfter: (r.failedAfter ?? {}) as Record<string, number>,
        cpuMs: n(r.cpuMs),
        p50: n(r.p50),
        p90: n(r.p90),
      };
    },
    async stop() {
      if (!exitError) {
        proc.stdin.end('stop\n');
        const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(killer);
      }
      removeDir();
    },
  };
}
