/**
 * Child-process roles for the gateway benchmark, one entry point so that every role runs
 * the same way: `node --import tsx procs.ts <role>` with a JSON config in KILN_BENCH, talking
 * to the parent over IPC (role-io.ts). Roles: gateway, ws-baseline, aedes-baseline, devices
 * (device-role.ts), subscriber, mqtt-pubsub.
 */
import { appendFileSync } from 'node:fs';
import { createServer as createHttps } from 'node:https';
import { createServer as createNet } from 'node:net';
import { monitorEventLoopDelay, PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { resolveConfig } from '../src/config.ts';
import { startGateway } from '../src/gateway.ts';
import { devices } from './device-role.ts';
import { histogramOf } from './latency-histogram.ts';
import { cfg, cpuMs, now, on, pct, reply, rss } from './role-io.ts';

async function gateway() {
  const enteredAt = Date.now(); // the code is loaded: from here on, startGateway
  const gw = await startGateway(resolveConfig(cfg as never), { log: pino({ level: 'error' }) });
  // `listeningAt`: the storm is timed from here, on this process's clock (the same wall clock as
  // the generators'), not from when the bench receives this message, which can be seconds later
  // when the event loop is already busy with the fleet's handshakes.
  const listeningAt = Date.now();
  reply({
    ready: true,
    listeningAt,
    deviceUrl: gw.deviceUrl,
    caPath: gw.caPath,
    mqttUrl: gw.mqttUrl,
    rss: rss(),
    integrity: gw.store.check,
    processStartedAt: Math.round(performance.timeOrigin),
    enteredAt,
  });
  // With a CPU profile being written (KILN_BENCH_PROF), note when each phase starts and ends
  // (the bench asks for CPU time there), on the profile's clock, to cut the profile by phase.
  const marks = process.env.KILN_BENCH_PROF ? `${process.env.KILN_BENCH_PROF}/marks-${process.pid}.txt` : undefined;
  // Major collections so far and the longest pause: the bench says which windows had one.
  const gc = { majors: 0, maxPauseMs: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      if (kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR) continue;
      gc.majors++;
      gc.maxPauseMs = Math.max(gc.maxPauseMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  // Where a window's ack tail comes from: the event loop's delays (a turn that ran long, or a
  // thread starved of a core) and the commits' round trips to the writer's thread.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const commitsSoFar = async () => {
    let count = 0;
    let sum = 0;
    let within50 = 0;
    let within100 = 0;
    for (const v of (await gw.metrics.dbWrite.get()).values) {
      if (v.metricName?.endsWith('_count')) count = v.value;
      else if (v.metricName?.endsWith('_sum')) sum = v.value;
      else if (v.labels.le === 0.05) within50 = v.value;
      else if (v.labels.le === 0.1) within100 = v.value;
    }
    return { count, sum, within50, within100 };
  };
  let commits0 = await commitsSoFar();
  on(async (m) => {
    if (m.cmd === 'rss') reply({ rss: rss(), sessions: gw.sessions.size, gc: { ...gc } });
    if (m.cmd === 'window-start') {
      loop.reset();
      commits0 = await commitsSoFar();
      await gw.metrics.threadUtilization.get(); // from here (it reads since the last time it was read)
      reply({ windowStarted: true });
    }
    if (m.cmd === 'window-end') {
      const c = await commitsSoFar();
      const count = c.count - commits0.count;
      const threads = Object.fromEntries(
        (await gw.metrics.threadUtilization.get()).values.map((v) => [v.labels.thread, v.value]),
      );
      reply({
        window: {
          loopP99Ms: loop.percentile(99) / 1e6,
          loopMaxMs: loop.max / 1e6,
          commits: count,
          commitMeanMs: (1000 * (c.sum - commits0.sum)) / Math.max(1, count),
          commitsOver50: count - (c.within50 - commits0.within50),
          commitsOver100: count - (c.within100 - commits0.within100),
          threads,
        },
      });
    }
    if (m.cmd === 'cpu') {
      if (marks) appendFileSync(marks, `${m.label ?? 'cpu'} ${process.hrtime.bigint() / 1000n}\n`);
      reply({ cpu: cpuMs() });
    }
    if (m.cmd === 'stop') {
      await gw.close();
      process.exit(0);
    }
  });
}

async function wsBaseline() {
  const server = createHttps({ cert: cfg.cert as string, key: cfg.key as string });
  const wss = new WebSocketServer({ server, perMessageDeflate: false, handleProtocols: () => 'kiln.v1' });
  wss.on('connection', (ws) => {
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { seq: number; n?: number };
      ws.send(JSON.stringify({ type: 'ack', seq: 0, acked: Array.from({ length: m.n ?? 1 }, (_, i) => m.seq + i) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  reply({
    ready: true,
    deviceUrl: `wss://127.0.0.1:${(server.address() as { port: number }).port}/v1/device`,
    rss: rss(),
  });
  on((m) => {
    if (m.cmd === 'rss') reply({ rss: rss(), sessions: wss.clients.size });
    if (m.cmd === 'cpu') reply({ cpu: cpuMs() });
    if (m.cmd === 'stop') process.exit(0);
  });
}

async function aedesBaseline() {
  const broker = await Aedes.createBroker({ concurrency: 1000 });
  const server = createNet(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  reply({ ready: true, url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}` });
  on((m) => {
    if (m.cmd === 'stop') process.exit(0);
  });
}

/** A fleet of device connections; with cfg.raw, no hello (the raw ws baseline). */
/** Counts telemetry arriving on MQTT and its end-to-end latency (device send → subscriber). */
async function subscriber() {
  const c = await connectAsync(cfg.url as string, {
    ...(cfg.password ? { username: 'bench', password: cfg.password as string } : {}),
    reconnectPeriod: 1000,
  });
  await c.subscribeAsync('kiln/v1/+/telemetry', { qos: 0 });
  let lat: number[] = [];
  let count = 0;
  let cpu0 = cpuMs();
  c.on('message', (_t, p) => {
    count++;
    const ts = (JSON.parse(String(p)) as { ts: number }).ts;
    lat.push(now() - ts);
  });
  on(async (m) => {
    if (m.cmd === 'reset') {
      lat = [];
      count = 0;
      cpu0 = cpuMs();
      reply({ reset: true });
    }
    if (m.cmd === 'report')
      reply({ sub: { count, p50: pct(lat, 50), p99: pct(lat, 99), hist: histogramOf(lat), cpuMs: cpuMs() - cpu0 } });
    if (m.cmd === 'stop') {
      await c.endAsync(true);
      process.exit(0);
    }
  });
  reply({ ready: true });
}

/** Broker baseline: one publisher, one subscriber, `count` 100-byte messages at QoS `qos`. */
async function mqttPubSub() {
  const opts = {
    ...(cfg.username ? { username: cfg.username as string, password: cfg.password as string } : {}),
    reconnectPeriod: 0,
  };
  const sub = await connectAsync(cfg.url as string, opts);
  const pub = await connectAsync(cfg.url as string, opts);
  const qos = cfg.qos as 0 | 1;
  const count = cfg.count as number;
  await sub.subscribeAsync('bench/#', { qos });
  const payload = Buffer.alloc(100, 'x');
  let got = 0;
  const done = new Promise<void>((resolve) => {
    sub.on('message', () => {
      if (++got >= count) resolve();
    });
  });
  const t0 = now();
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, () => pub.publishAsync('bench/t', payload, { qos })),
    );
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 20_000))]);
  reply({ pubsub: { count, got, perSec: got / ((now() - t0) / 1000) } });
  await Promise.all([sub.endAsync(true), pub.endAsync(true)]);
  process.exit(0);
}

const roles: Record<string, () => Promise<void>> = {
  gateway,
  'ws-baseline': wsBaseline,
  'aedes-baseline': aedesBaseline,
  devices,
  subscriber,
  'mqtt-pubsub': mqttPubSub,
};
const role = roles[process.argv[2] ?? ''];
if (!role) throw new Error(`unknown role ${process.argv[2]}`);
process.on('disconnect', () => process.exit(0)); // the parent is gone: never outlive it
await role();
