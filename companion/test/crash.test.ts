/**
 * Crash test: the gateway (the real `kiln gateway` process) is killed with SIGKILL during
 * ingest and restarted; every sample it acknowledged is stored exactly once, resends after
 * the restart add nothing twice, and the database passes integrity_check, which the restart
 * runs in full because the killed run never closed the file.
 */
import { deviceSubprotocols, signDeviceToken } from '@kiln/protocol';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Store } from '../src/store/index.ts';
import { startGatewayProcess } from './gateway-process.ts';
import { ALL_SAMPLES_SQL, deviceKeys, tempDir } from './helpers.ts';

const dir = tempDir();
const startProcess = () => startGatewayProcess(dir.dir);

afterAll(() => dir.remove());

async function device(url: string, ca: Buffer, priv: Parameters<typeof signDeviceToken>[0]) {
  const token = await signDeviceToken(priv, { deviceId: 'crash-dev', audience: new URL(url).origin });
  const ws = new WebSocket(url, deviceSubprotocols(token), { ca });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const acked = new Set<number>();
  let welcomed!: () => void;
  const welcome = new Promise<void>((r) => {
    welcomed = r;
  });
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as { type: string; acked?: number[] };
    if (m.type === 'welcome') welcomed();
    if (m.type === 'ack') for (const s of m.acked ?? []) acked.add(s);
  });
  ws.on('error', () => {});
  ws.send(
    JSON.stringify({
      type: 'hello',
      seq: 0,
      deviceId: 'crash-dev',
      bootId: 'c0ffee00',
      firmware: { name: 'fw', version: '1' },
      chip: 'esp32',
      mac: '00:11:22:33:44:55',
    }),
  );
  await welcome;
  return { ws, acked };
}

const sample = (seq: number) => ({ seq, ts: 1_700_000_000_000 + seq, metrics: { v: seq } });

describe('crash: kill -9 during ingest', () => {
  it('keeps every acknowledged sample exactly once, and integrity_check is ok after restart', async () => {
    const keys = await deviceKeys();
    const s = Store.open(dir.dir);
    s.devices.register('crash-dev', keys.pub);
    s.close();

    const first = await startProcess();
    const dev = await device(first.url, first.ca, keys.priv);
    let seq = 1;
    const pump = setInterval(() => {
      if (dev.ws.readyState !== WebSocket.OPEN) return;
      const samples = Array.from({ length: 16 }, () => sample(seq++));
      dev.ws.send(JSON.stringify({ type: 'telemetry_batch', seq: samples[0]?.seq, samples }));
    }, 35); // within the per-device message and byte rates
    await new Promise((r) => {
      const wait = setInterval(() => {
        if (dev.acked.size > 200) {
          clearInterval(wait);
          r(undefined);
        }
      }, 10);
    });
    first.proc.kill('SIGKILL');
    await new Promise((r) => first.proc.once('exit', r));
    clearInterval(pump);
    const acked = [...dev.acked];
    const sent = seq - 1;
    expect(acked.length).toBeGreaterThan(200);

    // The restart runs the full integrity check itself, since the first run left its row in
    // store_openers; then we check the file too.
    const second = await startProcess();
    await expect
      .poll(second.log, { timeout: 5000 })
      .toMatch(/full integrity check at start: process \d+ had the database open and did not close it/);
    const db = new Database(`${dir.dir}/gateway.db`, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const stored = new Set(
      (db.prepare(`SELECT seq FROM (${ALL_SAMPLES_SQL}) WHERE device_id = 'crash-dev'`).all() as { seq: number }[]).map(
        (r) => r.seq,
      ),
    );
    for (const a of acked) expect(stored.has(a), `acked seq ${a}`).toBe(true);

    // The device resends everything it sent (acked or not): stored once each, never twice.
    const again = await device(second.url, second.ca, keys.priv);
    for (let from = 1; from <= sent; from += 64) {
      const samples = Array.from({ length: Math.min(64, sent - from + 1) }, (_, i) => sample(from + i));
      again.ws.send(JSON.stringify({ type: 'telemetry_batch', seq: from, samples }));
      await new Promise((r) => setTimeout(r, 100)); // within the default 64 KiB/s per device
    }
    await expect.poll(() => again.acked.size, { timeout: 15_000 }).toBe(sent);
    const rows = db
      .prepare(`SELECT seq, count(*) AS n FROM (${ALL_SAMPLES_SQL}) WHERE device_id = 'crash-dev' GROUP BY seq`)
      .all() as { seq: number; n: number }[];
    expect(rows.length).toBe(sent);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    db.close();
    again.ws.terminate();
    second.proc.kill('SIGTERM');
    await new Promise((r) => second.proc.once('exit', r));
    expect(second.proc.exitCode).toBe(0);
    // A clean stop: the next start reads only the tables that do not grow with telemetry.
    const next = Store.open(dir.dir);
    expect(next.check).toMatchObject({ kind: 'tables' });
    next.close();
  }, 60_000);
});
