/**
 * The `devices` role of the gateway benchmark (procs.ts): a fleet of Node devices that do on
 * the wire what a Kiln device does, TLS 1.2 handshake, token in the subprotocol, hello, then
 * telemetry on the parent's command, and that reconnect by themselves for the storms.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type ConnectionOptions, createSecureContext, connect as tlsConnect } from 'node:tls';
import { DEFAULTS, deviceSubprotocols, signDeviceToken } from '@kiln/protocol';
import { importJWK, type JWK } from 'jose';
import { WebSocket } from 'ws';
import { histogramOf } from './latency-histogram.ts';
import { cfg, cpuMs, now, on, pct, reply } from './role-io.ts';

export async function devices() {
  const ids = cfg.ids as string[];
  // Imported once, as a device holds its key; signing still costs this process ~0.1 ms a token.
  const priv = (await importJWK(cfg.priv as JWK, 'ES256')) as import('node:crypto').webcrypto.CryptoKey;
  const raw = cfg.raw === true;
  // A boot per generator process: the same devices come back in later fleets (the 1,000 of
  // the first phase are among the N of the next) with seq starting at 1 again, which in the
  // old boot would be duplicates (acknowledged, not published) — a third of the N=3,000
  // phase never reached the subscriber that way.
  const bootId = randomBytes(8).toString('hex');
  // What a Kiln device speaks: ESP-IDF's esp-tls/mbedTLS defaults to TLS 1.2 (TLS 1.3 is off
  // unless CONFIG_MBEDTLS_SSL_PROTO_TLS1_3 is set; firmware/sdkconfig.defaults does not), and it
  // loads its trust store once. One context for the whole fleet of this process, so the CA is
  // not parsed again on every connect (the gateway sees the same handshake either way).
  const secureContext = createSecureContext({ ca: cfg.ca as string, maxVersion: 'TLSv1.2' });
  /** TLS sessions by device (tickets), offered on reconnect when `resume` is on, as esp-tls does. */
  const tlsSessions = new Map<string, Buffer>();
  let resume = false;
  let attempts = 0;
  let resumed = 0;
  /** Tokens signed ahead of a storm: a device signs on its own CPU, not on the gateway's cores. */
  const presigned = new Map<string, string>();
  const conns = new Map<string, WebSocket>();
  const pending = new Map<string, number>();
  const latencies: number[] = [];
  let acked = 0;
  let sent = 0;
  let welcomed = 0;
  let onWelcome: (() => void) | undefined;
  /** When each device was last welcomed: a storm counts only welcomes by the new gateway. */
  const welcomeTimes = new Map<string, number>();
  let reconnecting = false;
  const seqs = new Map<string, number>();

  const connect = async (id: string): Promise<void> => {
    attempts++;
    // A presigned token is used up once it may have reached the gateway (the TCP connection
    // is up); an attempt refused before that, while the gateway is down, keeps it for the next.
    let token = presigned.get(id);
    token ??= raw
      ? 'a.b.c'
      : await signDeviceToken(priv, { deviceId: id, audience: new URL(cfg.url as string).origin });
    const session = resume ? tlsSessions.get(id) : undefined;
    const ws = new WebSocket(cfg.url as string, deviceSubprotocols(token), {
      perMessageDeflate: false,
      ...(session ? { session } : {}),
      // ws' own tlsConnect, with the fleet's TLS context, plus a hook to keep the session ticket the server sends.
      createConnection: ((o: ConnectionOptions & { host?: string; path?: string }) => {
        o.path = undefined;
        if (!o.servername && o.servername !== '') o.servername = isIP(o.host ?? '') ? '' : o.host;
        const sock = tlsConnect({ ...o, secureContext });
        sock.once('connect', () => presigned.delete(id));
        sock.on('session', (sess: Buffer) => tlsSessions.set(id, sess));
        sock.once('secureConnect', () => {
          if (sock.isSessionReused()) resumed++;
        });
        return sock;
      }) as never,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_q, r) => reject(new Error(`HTTP ${r.statusCode}`)));
    });
    conns.set(id, ws);
    ws.on('error', () => {});
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { type: string; acked?: number[] };
      if (m.type === 'welcome') {
        welcomed++;
        welcomeTimes.set(id, Date.now());
        onWelcome?.();
      } else if (m.type === 'ack') {
        const t = now();
        for (const s of m.acked ?? []) {
          const k = `${id}:${s}`;
          const at = pending.get(k);
          if (at !== undefined) {
            pending.delete(k);
            latencies.push(t - at);
            acked++;
          }
        }
      }
    });
    ws.on('close', (code) => {
      conns.delete(id);
      if (reconnecting && code !== 4001 && code !== 4003) void reconnectLoop(id, code === 1001);
    });
    if (!raw) {
      seqs.set(id, 1);
      ws.send(
        JSON.stringify({
          type: 'hello',
          seq: 0,
          deviceId: id,
          bootId,
          firmware: { name: 'bench', version: '1' },
          chip: 'esp32',
          mac: '00:00:00:00:00:01',
        }),
      );
    }
  };
  /** Failed reconnect attempts in a storm (when begun), to tell refusals while the gateway is down from later ones. */
  const failures: { at: number; reason: string }[] = [];
  /**
   * The Kiln firmware's reconnect policy, so that the storm times what a fleet of Kiln devices
   * does (kiln_backoff.h with kiln_device.c's defaults): a wait drawn before each attempt, full
   * jitter; after the gateway's 1001 (a restart) 15 waits of at most 2 s, otherwise, and then,
   * the exponential from 1 s to 60 s.
   */
  const firmwareWait = (attempt: number, restart: boolean) => {
    if (restart && attempt < 15) return Math.random() * 2000;
    const n = restart ? attempt - 15 : attempt;
    return Math.random() * Math.min(60_000, 1000 * 2 ** n);
  };
  const reconnectLoop = async (id: string, restart: boolean) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      await new Promise((r) => setTimeout(r, firmwareWait(attempt, restart)));
      const at = Date.now();
      try {
        await connect(id);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        failures.push({ at, reason: code ?? String((e as Error).message ?? e).slice(0, 40) });
      }
    }
  };
  const connectAll = async (concurrency: number) => {
    const t0 = now();
    let i = 0;
    let failed = 0;
    let lastError = '';
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (i < ids.length) {
          const id = ids[i++] as string;
          await connect(id).catch((e: unknown) => {
            failed++;
            lastError = String(e);
          });
        }
      }),
    );
    if (!raw) await waitFor(() => welcomed >= ids.length - failed, 30_000);
    if (lastError) console.error(`[devices] ${failed} failed, last: ${lastError}`);
    return { ms: now() - t0, connected: conns.size, failed };
  };
  const waitFor = (cond: () => boolean, ms: number) =>
    new Promise<void>((resolve) => {
      const deadline = Date.now() + ms;
      const tick = () => (cond() || Date.now() > deadline ? resolve() : setTimeout(tick, 20));
      tick();
    });

  on(async (m) => {
    if (m.cmd === 'connect') {
      const cpu0 = cpuMs();
      reply({ connect: { ...(await connectAll(m.concurrency as number)), cpuMs: cpuMs() - cpu0 } });
    }
    if (m.cmd === 'telemetry') {
      // Each device sends at ratePerDevice for durationMs, spread evenly.
      latencies.length = 0;
      acked = 0;
      sent = 0;
      let messages = 0;
      const cpu0 = cpuMs();
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      const list = [...conns.entries()];
      if (list.length === 0) return void reply({ telemetry: { sent: 0, acked: 0, p50: Number.NaN, p99: Number.NaN } });
      // ratePerDevice is in samples/s; a message carries `batch` samples (telemetry_batch when > 1).
      const batch = Math.max(1, (m.batch as number | undefined) ?? 1);
      const periodMs = (1000 * batch) / (m.ratePerDevice as number);
      const start = Date.now();
      const end = start + (m.durationMs as number);
      const tickMs = 10;
      let cursor = 0;
      /** Messages per ms offered by this fleet: every device once per period. */
      const perMs = list.length / periodMs;
      // And a heartbeat from each device every heartbeatSec (the welcome's), spread evenly, with
      // a seq of its own as the firmware's (loadgen.c does the same).
      const hbPerMs = raw ? 0 : list.length / (1000 * DEFAULTS.heartbeatSec);
      let heartbeats = 0;
      await new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const clock = Math.min(Date.now(), end);
          // What is due by now, not a fixed count per tick: under load timers fire late, and
          // the devices a process stands for would have sent meanwhile all the same. The last
          // tick tops up to the phase's whole count.
          const due = Math.round((clock - start) * perMs) - messages;
          if (clock >= end) {
            clearInterval(timer);
            resolve();
          }
          for (let k = 0; k < due; k++) {
            const [id, ws] = list[cursor++ % list.length] as [string, WebSocket];
            const seq = seqs.get(id) ?? 1;
            seqs.set(id, seq + batch);
            const t = now();
            for (let b = 0; b < batch; b++) pending.set(`${id}:${seq + b}`, t);
            sent += batch;
            messages++;
            const ts = Math.round(t);
            ws.send(
              raw
                ? JSON.stringify(batch === 1 ? { seq } : { seq, n: batch })
                : batch === 1
                  ? JSON.stringify({ type: 'telemetry', seq, ts, metrics: { temp: 21.5, rssi: -60 } })
                  : JSON.stringify({
                      type: 'telemetry_batch',
                      seq,
                      samples: Array.from({ length: batch }, (_, b) => ({
                        seq: seq + b,
                        ts,
                        metrics: { temp: 21.5, rssi: -60 },
                      })),
                    }),
            );
          }
          for (let k = Math.round((clock - start) * hbPerMs) - heartbeats; k > 0; k--) {
            const [id, ws] = list[heartbeats++ % list.length] as [string, WebSocket];
            const seq = seqs.get(id) ?? 1;
            seqs.set(id, seq + 1);
            ws.send(JSON.stringify({ type: 'heartbeat', seq, uptimeMs: Math.round(performance.now()) }));
          }
        }, tickMs);
      });
      await waitFor(() => acked >= sent, 5000);
      loop.disable();
      pending.clear();
      reply({
        telemetry: {
          sent,
          messages,
          acked,
          p50: pct(latencies, 50),
          p99: pct(latencies, 99),
          hist: histogramOf(latencies),
          cpuMs: cpuMs() - cpu0,
          // How late this process's own event loop ran: the floor under the latencies it measures.
          loopP99: loop.percentile(99) / 1e6,
          loopMax: loop.max / 1e6,
        },
      });
    }
    if (m.cmd === 'expect-storm') {
      reconnecting = true;
      resume = m.resume === true;
      for (const id of ids)
        presigned.set(id, await signDeviceToken(priv, { deviceId: id, audience: new URL(cfg.url as string).origin }));
      welcomed = 0;
      welcomeTimes.clear();
      attempts = 0;
      resumed = 0;
      failures.length = 0;
      reply({ armed: true });
    }
    if (m.cmd === 'await-storm') {
      const t0 = m.since as number;
      const cpu0 = cpuMs();
      // Done when every device has been welcomed since the new gateway listened: a device the
      // old one welcomed while it was shutting down (and then cut) does not count.
      const since = () => [...welcomeTimes.values()].filter((x) => x >= t0);
      await new Promise<void>((resolve) => {
        onWelcome = () => {
          // Cheap until the total says all may be in; then the exact count.
          if (welcomeTimes.size >= ids.length && since().length >= ids.length) resolve();
        };
        onWelcome();
        setTimeout(resolve, 60_000);
      });
      const at = since().map((x) => x - t0);
      const count = at.length;
      const failedAfter: Record<string, number> = {};
      for (const f of failures) if (f.at >= t0) failedAfter[f.reason] = (failedAfter[f.reason] ?? 0) + 1;
      reply({
        storm: {
          welcomed: count,
          // To the last welcome, when all came (the command may arrive after they did).
          ms: (count >= ids.length ? at.reduce((a, b) => Math.max(a, b), 0) + t0 : Date.now()) - t0,
          attempts,
          resumed,
          failedAfter,
          cpuMs: cpuMs() - cpu0,
          p50: pct(at, 50),
          p90: pct(at, 90),
        },
      });
    }
    if (m.cmd === 'stop') {
      for (const ws of conns.values()) ws.terminate();
      process.exit(0);
    }
  });
  reply({ ready: true });
}
