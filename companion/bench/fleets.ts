/**
 * The gateway benchmark's device fleets (gateway.bench.ts): the Node generator, two processes
 * of procs.ts's `devices` role, and the native one (native-fleet.ts) behind the same
 * connect/telemetry/storm/stop calls. Each telemetry call lasts `phaseMs` unless told otherwise.
 */
import { fileURLToPath } from 'node:url';
import { type LatencyHistogram, mergeHistograms } from './latency-histogram.ts';
import { nativeFleet, type StormResult } from './native-fleet.ts';
import { forkRole } from './roles.ts';

const PROCS = fileURLToPath(new URL('./procs.ts', import.meta.url));

/** Two Node generator processes (procs.ts, role `devices`), half the devices each. */
export async function nodeFleet(url: string, ca: string, ids: string[], priv: object, raw = false, phaseMs = 5000) {
  const half = Math.ceil(ids.length / 2);
  const gens = [ids.slice(0, half), ids.slice(half)]
    .filter((x) => x.length)
    .map((part) => forkRole(PROCS, 'devices', { url, ca, ids: part, priv, raw }));
  await Promise.all(gens.map((g) => g.ready));
  const connect = async () => {
    const rs = await Promise.all(gens.map((g) => g.ask({ cmd: 'connect', concurrency: 64 }, 'connect')));
    const c = rs.map((r) => r.connect as { ms: number; connected: number; failed: number });
    return {
      ms: Math.max(...c.map((x) => x.ms)),
      connected: c.reduce((a, x) => a + x.connected, 0),
      failed: c.reduce((a, x) => a + x.failed, 0),
      genCpuMs: (rs.map((r) => r.connect) as { cpuMs: number }[]).reduce((a, x) => a + x.cpuMs, 0),
    };
  };
  /** ratePerDevice in samples/s; batch samples per message (telemetry_batch when > 1). */
  const telemetry = async (ratePerDevice: number, batch = 1, durationMs = phaseMs) => {
    const rs = await Promise.all(
      gens.map((g) => g.ask({ cmd: 'telemetry', ratePerDevice, batch, durationMs }, 'telemetry')),
    );
    const t = rs.map(
      (r) =>
        r.telemetry as {
          sent: number;
          messages: number;
          acked: number;
          p50: number;
          p99: number;
          hist: LatencyHistogram;
          cpuMs: number;
          loopP99: number;
          loopMax: number;
        },
    );
    return {
      sent: t.reduce((a, x) => a + x.sent, 0),
      messages: t.reduce((a, x) => a + x.messages, 0),
      acked: t.reduce((a, x) => a + x.acked, 0),
      p50: Math.max(...t.map((x) => x.p50)),
      p99: Math.max(...t.map((x) => x.p99)),
      hist: mergeHistograms(t.map((x) => x.hist)),
      genCpuMs: t.reduce((a, x) => a + x.cpuMs, 0),
      loopP99: Math.max(...t.map((x) => x.loopP99)),
      loopMax: Math.max(...t.map((x) => x.loopMax)),
    };
  };
  /** From here on, a device that loses its connection comes back by itself (device-role.ts). */
  const expectStorm = async (resume: boolean) => {
    await Promise.all(gens.map((g) => g.ask({ cmd: 'expect-storm', resume }, 'armed')));
  };
  /** Both processes' storms as one: the last welcome, the sums, the slower process's percentiles. */
  const awaitStorm = async (since: number): Promise<StormResult> => {
    const st = (await Promise.all(gens.map((g) => g.ask({ cmd: 'await-storm', since }, 'storm')))).map(
      (r) => r.storm as StormResult,
    );
    const failedAfter: Record<string, number> = {};
    for (const x of st) for (const [k, v] of Object.entries(x.failedAfter)) failedAfter[k] = (failedAfter[k] ?? 0) + v;
    return {
      welcomed: st.reduce((a, x) => a + x.welcomed, 0),
      ms: Math.max(...st.map((x) => x.ms)),
      attempts: st.reduce((a, x) => a + x.attempts, 0),
      resumed: st.reduce((a, x) => a + x.resumed, 0),
      failedAfter,
      cpuMs: st.reduce((a, x) => a + x.cpuMs, 0),
      p50: Math.max(...st.map((x) => x.p50)),
      p90: Math.max(...st.map((x) => x.p90)),
    };
  };
  const stop = async () => {
    for (const g of gens) g.proc.send({ cmd: 'stop' });
    await Promise.all(gens.map((g) => new Promise((r) => g.proc.once('exit', r))));
  };
  return { gens, connect, telemetry, expectStorm, awaitStorm, stop };
}

export type NodeFleet = Awaited<ReturnType<typeof nodeFleet>>;

/** The fleet for the connect, telemetry and storm phases: the native generator unless KILN_BENCH_GEN=node. */
export async function loadFleet(url: string, ca: string, ids: string[], priv: object, raw = false, phaseMs = 5000) {
  if (process.env.KILN_BENCH_GEN === 'node') return nodeFleet(url, ca, ids, priv, raw, phaseMs);
  // 128 handshakes in flight: as many as the two Node generator processes keep.
  const f = await nativeFleet({ url, ca, ids, priv: priv as never, raw, concurrency: 128 });
  return {
    gens: undefined,
    connect: () => f.connect(),
    telemetry: (ratePerDevice: number, batch = 1, durationMs = phaseMs) =>
      f.telemetry(ratePerDevice, batch, durationMs),
    expectStorm: (resume: boolean) => f.expectStorm(resume),
    awaitStorm: (since: number) => f.awaitStorm(since),
    stop: () => f.stop(),
  };
}
export type LoadFleet = Awaited<ReturnType<typeof loadFleet>>;
