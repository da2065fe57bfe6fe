/**
 * `npm run bench -- gateway`: the gateway under load on loopback, with its baselines
 * measured in the same run (a raw `ws` TLS server; aedes and Mosquitto pub/sub), so the
 * figures come with ratios. Every load generator is its own process (procs.ts). Bounded:
 * KILN_BENCH_DEVICES (default 10,000) devices, 5 s per throughput phase.
 *
 * Targets (issue 6): 10,000 TLS devices within 1 GiB RSS; ≥ 20,000 telemetry msgs/s stored,
 * acknowledged and published with p99 ≤ 100 ms; a 10,000-device reconnect storm
 * re-authenticated within 15 s. Figures are printed whether or not a target is met.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import { SecretBox } from '../src/secrets.ts';
import { Store } from '../src/store/index.ts';
import { ensureDevTls } from '../src/tls.ts';
import { tempDir } from '../test/helpers.ts';
import { startMosquitto } from '../test/mosquitto.ts';

const N = Number(process.env.KILN_BENCH_DEVICES ?? 10_000);
const SMALL = Math.min(1000, N);
const PHASE_MS = Number(process.env.KILN_BENCH_PHASE_MS ?? 5000);
const TARGET_RATE = 20_000;
const PROCS = fileURLToPath(new URL('./procs.ts', import.meta.url));
const children: ChildProcess[] = [];

type Reply = Record<string, unknown>;
function spawnRole(
  role: string,
  cfg: object,
): { proc: ChildProcess; ask: (cmd: object, key: string) => Promise<Reply>; ready: Promise<Reply> } {
  const proc = fork(PROCS, [role], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, KILN_BENCH: JSON.stringify(cfg) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(proc);
  const waiters: { key: string; resolve: (r: Reply) => void }[] = [];
  proc.on('message', (m: Reply) => {
    if (m.error) console.error(`[${role}]`, m.error);
    const i = waiters.findIndex((w) => w.key in m);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(m);
  });
  const wait = (key: string) => new Promise<Reply>((resolve) => waiters.push({ key, resolve }));
  const ready = wait('ready');
  return {
    proc,
    ready,
    ask: (cmd, key) => {
      const p = wait(key);
      proc.send(cmd);
      return p;
    },
  };
}
const stopAll = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
};
process.on('exit', stopAll);
process.on('SIGINT', () => {
  stopAll();
  process.exit(130);
});

const fmt = (n: number, d = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a';
const rows: string[][] = [];
const row = (...cells: string[]) => {
  rows.push(cells);
  console.log(`  ${cells.join(' | ')}`);
};

async function fleet(url: string, ca: string, ids: string[], priv: object, raw = false) {
  const half = Math.ceil(ids.length / 2);
  const gens = [ids.slice(0, half), ids.slice(half)]
    .filter((x) => x.length)
    .map((part) => spawnRole('devices', { url, ca, ids: part, priv, raw }));
  await Promise.all(gens.map((g) => g.ready));
  const connect = async () => {
    const rs = await Promise.all(gens.map((g) => g.ask({ cmd: 'connect', concurrency: 64 }, 'connect')));
    const c = rs.map((r) => r.connect as { ms: number; connected: number; failed: number });
    return {
      ms: Math.max(...c.map((x) => x.ms)),
      connected: c.reduce((a, x) => a + x.connected, 0),
      failed: c.reduce((a, x) => a + x.failed, 0),
    };
  };
  const telemetry = async (ratePerDevice: number) => {
    const rs = await Promise.all(
      gens.map((g) => g.ask({ cmd: 'telemetry', ratePerDevice, durationMs: PHASE_MS }, 'telemetry')),
    );
    const t = rs.map((r) => r.telemetry as { sent: number; acked: number; p50: number; p99: number });
    return {
      sent: t.reduce((a, x) => a + x.sent, 0),
      acked: t.reduce((a, x) => a + x.acked, 0),
      p50: Math.max(...t.map((x) => x.p50)),
      p99: Math.max(...t.map((x) => x.p99)),
    };
  };
  const stop = async () => {
    for (const g of gens) g.proc.send({ cmd: 'stop' });
    await Promise.all(gens.map((g) => new Promise((r) => g.proc.once('exit', r))));
  };
  return { gens, connect, telemetry, stop };
}

async function main() {
  const work = tempDir('kiln-bench-');
  console.log(
    `kiln gateway benchmark: ${N} devices, ${PHASE_MS} ms per throughput phase, ${process.env.KILN_BENCH_CPUS ?? 'all'} cores, node ${process.version}`,
  );
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const priv = await exportJWK(privateKey);
  const pub = await exportJWK(publicKey);
  const ids = Array.from({ length: N }, (_, i) => `bench-${String(i).padStart(5, '0')}`);
  const gwDir = `${work.dir}/gw`;
  const store = Store.open(gwDir);
  store.db.transaction(() => {
    for (const id of ids) store.devices.register(id, pub);
  })();
  const subKey = store.apiKeys.create('bench', 'read').key;
  store.close();

  // ---- Baseline 1: a raw ws server over TLS (ack per message, no auth, no storage).
  mkdirSync(`${work.dir}/ws-tls`);
  const tls = ensureDevTls(`${work.dir}/ws-tls`, new SecretBox(randomBytes(32)));
  const caPem = readFileSync(tls.caPath as string, 'utf8');
  console.log('\n[baseline] raw ws over TLS');
  const wsb = spawnRole('ws-baseline', { cert: tls.cert, key: tls.key });
  const wsReady = await wsb.ready;
  const wsRss0 = wsReady.rss as number;
  const wsFleet = await fleet(wsReady.deviceUrl as string, caPem, ids, priv, true);
  const wsConn = await wsFleet.connect();
  const wsRss = (await wsb.ask({ cmd: 'rss' }, 'rss')).rss as number;
  const wsTel = await wsFleet.telemetry(TARGET_RATE / N);
  await wsFleet.stop();
  wsb.proc.send({ cmd: 'stop' });

  // ---- Baseline 2: brokers, 1 publisher -> 1 subscriber, 100 B, QoS 1.
  console.log('[baseline] aedes and Mosquitto pub/sub (QoS 1, 100 B, 50,000 messages)');
  const aedes = spawnRole('aedes-baseline', {});
  const aedesUrl = (await aedes.ready).url as string;
  const ps = async (cfg: object) => {
    const r = spawnRole('mqtt-pubsub', cfg);
    return new Promise<{ perSec: number; got: number }>((resolve) =>
      r.proc.on('message', (m: Reply) => m.pubsub && resolve(m.pubsub as { perSec: number; got: number })),
    );
  };
  const aedesRate = await ps({ url: aedesUrl, qos: 1, count: 50_000 });
  aedes.proc.send({ cmd: 'stop' });
  const mosq = await startMosquitto();
  const mosqRate = await ps({
    url: `mqtt://127.0.0.1:${mosq.port}`,
    username: mosq.user,
    password: mosq.password,
    qos: 1,
    count: 50_000,
  });
  await mosq.stop();

  // ---- The gateway, in its own process.
  console.log('[gateway] starting');
  const gwCfg = {
    dataDir: gwDir,
    listen: { host: '127.0.0.1', port: 0 },
    mqtt: { listen: { host: '127.0.0.1', port: 0 }, qos: 0 },
    limits: { maxConnections: N + 1000, authFailuresPerMinPerIp: 1_000_000, pingSec: 60, messagesPerSecPerDevice: 200 },
  };
  let gw = spawnRole('gateway', gwCfg);
  let gwReady = await gw.ready;
  const gwRss0 = gwReady.rss as number;
  const port = Number(new URL(gwReady.deviceUrl as string).port);
  const mqttPort = Number(new URL(gwReady.mqttUrl as string).port);
  const ca = readFileSync(gwReady.caPath as string, 'utf8');
  const sub = spawnRole('subscriber', { url: `mqtt://127.0.0.1:${mqttPort}`, password: subKey });
  await sub.ready;

  const results: Record<
    number,
    {
      conn: Awaited<ReturnType<Awaited<ReturnType<typeof fleet>>['connect']>>;
      rss: number;
      tel: Awaited<ReturnType<Awaited<ReturnType<typeof fleet>>['telemetry']>>;
      sub: { count: number; p50: number; p99: number };
    }
  > = {};
  let big: Awaited<ReturnType<typeof fleet>> | undefined;
  for (const n of [...new Set([SMALL, N])]) {
    console.log(`[gateway] ${n} devices: connect, then telemetry at ${fmt(TARGET_RATE)} msgs/s for ${PHASE_MS} ms`);
    const f = await fleet(gwReady.deviceUrl as string, ca, ids.slice(0, n), priv);
    const conn = await f.connect();
    const rss = (await gw.ask({ cmd: 'rss' }, 'rss')).rss as number;
    await sub.ask({ cmd: 'reset' }, 'reset');
    const tel = await f.telemetry(TARGET_RATE / n);
    await new Promise((r) => setTimeout(r, 500));
    const s = (await sub.ask({ cmd: 'report' }, 'sub')).sub as { count: number; p50: number; p99: number };
    results[n] = { conn, rss, tel, sub: s };
    if (n === N) big = f;
    else await f.stop();
  }

  // ---- Reconnect storm: restart the gateway under all N devices.
  let storm = { welcomed: 0, ms: Number.NaN };
  if (big) {
    console.log(`[gateway] reconnect storm: restart under ${N} devices`);
    await Promise.all(big.gens.map((g) => g.ask({ cmd: 'expect-storm' }, 'armed')));
    const exited = new Promise((r) => gw.proc.once('exit', r));
    gw.proc.send({ cmd: 'stop' });
    await exited;
    console.log('[gateway] stopped; restarting on the same port');
    gw = spawnRole('gateway', {
      ...gwCfg,
      listen: { host: '127.0.0.1', port },
      mqtt: { ...gwCfg.mqtt, listen: { host: '127.0.0.1', port: mqttPort } },
    });
    gwReady = await gw.ready;
    console.log('[gateway] restarted; waiting for the fleet to re-authenticate');
    const since = Date.now();
    const rs = await Promise.all(big.gens.map((g) => g.ask({ cmd: 'await-storm', since }, 'storm')));
    const st = rs.map((r) => r.storm as { welcomed: number; ms: number });
    storm = { welcomed: st.reduce((a, x) => a + x.welcomed, 0), ms: Math.max(...st.map((x) => x.ms)) };
    await big.stop();
  }
  gw.proc.send({ cmd: 'stop' });
  sub.proc.send({ cmd: 'stop' });

  // ---- Report.
  const MiB = 1024 * 1024;
  const L = results[N] as (typeof results)[number];
  const S = results[SMALL] as (typeof results)[number];
  const gwPerConn = (L.rss - gwRss0) / Math.max(1, L.conn.connected);
  const wsPerConn = (wsRss - wsRss0) / Math.max(1, wsConn.connected);
  const rate = (t: { acked: number }) => t.acked / (PHASE_MS / 1000);
  console.log('\n== Figures (one run, loopback, load generators on the same 2 cores)');
  rows.length = 0;
  row('figure', 'gateway', 'baseline', 'ratio', 'target');
  row(
    `TLS devices held (${N})`,
    `${L.conn.connected} (${L.conn.failed} failed)`,
    `raw ws ${wsConn.connected}`,
    fmt(L.conn.connected / Math.max(1, wsConn.connected), 2),
    `${N}`,
  );
  row(
    'RSS total with all devices',
    `${fmt(L.rss / MiB)} MiB`,
    `raw ws ${fmt(wsRss / MiB)} MiB`,
    fmt(L.rss / wsRss, 2),
    '≤ 1024 MiB',
  );
  row(
    'RSS per connection',
    `${fmt(gwPerConn / 1024, 1)} KiB`,
    `raw ws ${fmt(wsPerConn / 1024, 1)} KiB`,
    fmt(gwPerConn / wsPerConn, 2),
    '',
  );
  row(
    'connect rate (TLS + JWT + hello)',
    `${fmt(L.conn.connected / (L.conn.ms / 1000))}/s`,
    `raw ws ${fmt(wsConn.connected / (wsConn.ms / 1000))}/s (TLS only)`,
    fmt(L.conn.connected / (L.conn.ms / 1000) / (wsConn.connected / (wsConn.ms / 1000)), 2),
    '',
  );
  for (const [n, r] of [
    [SMALL, S],
    [N, L],
  ] as const) {
    row(
      `telemetry stored+acked, ${n} devices`,
      `${fmt(rate(r.tel))}/s (sent ${fmt(r.tel.sent / (PHASE_MS / 1000))}/s)`,
      n === N ? `raw ws ack ${fmt(rate(wsTel))}/s` : '',
      n === N ? fmt(rate(r.tel) / rate(wsTel), 2) : '',
      '≥ 20,000/s',
    );
    row(
      `  ack latency p50 / p99, ${n} devices`,
      `${fmt(r.tel.p50, 1)} / ${fmt(r.tel.p99, 1)} ms`,
      n === N ? `raw ws ${fmt(wsTel.p50, 1)} / ${fmt(wsTel.p99, 1)} ms` : '',
      '',
      'p99 ≤ 100 ms',
    );
    row(
      `  MQTT subscriber received, ${n} devices`,
      `${fmt(r.sub.count / (PHASE_MS / 1000))}/s, e2e p50 ${fmt(r.sub.p50, 1)} / p99 ${fmt(r.sub.p99, 1)} ms`,
      `aedes ${fmt(aedesRate.perSec)}/s, mosquitto ${fmt(mosqRate.perSec)}/s`,
      fmt(r.sub.count / (PHASE_MS / 1000) / aedesRate.perSec, 2),
      '',
    );
  }
  row(
    `reconnect storm (${N} devices, restart)`,
    `${storm.welcomed} re-authenticated in ${fmt(storm.ms / 1000, 1)} s`,
    '',
    '',
    '≤ 15 s',
  );
  console.log(
    '\nBaselines: raw ws = TLS WebSocket server acking each message (no auth, no storage); aedes/mosquitto = 1 pub -> 1 sub, QoS 1, 100 B, 50,000 msgs.',
  );
  work.remove();
  stopAll();
}

await main().catch((e) => {
  console.error(e);
  stopAll();
  process.exit(1);
});
