/**
 * The gateway benchmark's baselines, measured in the same run so the figures come with ratios:
 * a raw `ws` TLS server that acks each message (no auth, no storage) under the same device
 * fleet, and 1 publisher -> 1 subscriber through aedes and through Mosquitto (QoS 1, 100 B).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SecretBox } from '../src/secrets.ts';
import { ensureDevTls } from '../src/tls.ts';
import { startMosquitto } from '../test/mosquitto.ts';
import { loadFleet } from './fleets.ts';
import { forkRole, type Reply } from './roles.ts';

const PROCS = fileURLToPath(new URL('./procs.ts', import.meta.url));

/** The fleet connects, warms up, then one single-sample and one batched phase at the given rates. */
export async function wsBaseline(
  workDir: string,
  ids: string[],
  priv: object,
  o: { phaseMs: number; warmupMs: number; rate: number; batchRate: number; batch: number },
) {
  console.log('\n[baseline] raw ws over TLS');
  mkdirSync(`${workDir}/ws-tls`);
  const tls = ensureDevTls(`${workDir}/ws-tls`, new SecretBox(randomBytes(32)));
  const caPem = readFileSync(tls.caPath as string, 'utf8');
  const server = forkRole(PROCS, 'ws-baseline', { cert: tls.cert, key: tls.key });
  const ready = await server.ready;
  const n = ids.length;
  const fleet = await loadFleet(ready.deviceUrl as string, caPem, ids, priv, true, o.phaseMs);
  const wsConn = await fleet.connect();
  const wsRss = (await server.ask({ cmd: 'rss' }, 'rss')).rss as number;
  await fleet.telemetry(o.rate / n, 1, o.warmupMs);
  const cpu0 = (await server.ask({ cmd: 'cpu' }, 'cpu')).cpu as number;
  const wsTel = await fleet.telemetry(o.rate / n);
  const cpuMs = ((await server.ask({ cmd: 'cpu' }, 'cpu')).cpu as number) - cpu0;
  const wsTelB = await fleet.telemetry(o.batchRate / n, o.batch);
  await fleet.stop();
  server.proc.send({ cmd: 'stop' });
  return { wsRss0: ready.rss as number, wsRss, wsConn, wsTel, wsTelB, cpuMs };
}

export async function brokerBaselines(count = 50_000) {
  console.log(`[baseline] aedes and Mosquitto pub/sub (QoS 1, 100 B, ${count.toLocaleString('en-US')} messages)`);
  const pubsub = (cfg: object) => {
    const r = forkRole(PROCS, 'mqtt-pubsub', cfg);
    return new Promise<{ perSec: number; got: number }>((resolve) =>
      r.proc.on('message', (m: Reply) => m.pubsub && resolve(m.pubsub as { perSec: number; got: number })),
    );
  };
  const aedes = forkRole(PROCS, 'aedes-baseline', {});
  const aedesRate = await pubsub({ url: (await aedes.ready).url as string, qos: 1, count });
  aedes.proc.send({ cmd: 'stop' });
  const mosq = await startMosquitto();
  const mosqRate = await pubsub({
    url: `mqtt://127.0.0.1:${mosq.port}`,
    username: mosq.user,
    password: mosq.password,
    qos: 1,
    count,
  });
  await mosq.stop();
  return { aedesRate, mosqRate };
}
