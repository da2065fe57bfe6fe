/**
 * The benchmark's native device fleet (bench/loadgen, C with OpenSSL) against a real gateway,
 * short and bounded: what `npm run bench -- gateway` reports is only as good as this
 * generator's wire behaviour and its counting, so both are checked against the gateway's own
 * storage here.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { histogramPercentile } from '../bench/latency-histogram.ts';
import { type NativeFleet, nativeFleet } from '../bench/native-fleet.ts';
import { deviceKeys, startTestGateway, tempDir } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('bench load generator (native)', () => {
  it('connects a fleet with the kiln.v1 handshake, and its sent and acked counts are what the gateway stored', async () => {
    const t = await startTestGateway();
    cleanups.push(() => t.stop());
    const keys = await deviceKeys();
    const ids = Array.from({ length: 20 }, (_, i) => `loadgen-${String(i).padStart(2, '0')}`);
    for (const id of ids) t.gw.store.devices.register(id, keys.pub);
    const fleet: NativeFleet = await nativeFleet({
      url: t.gw.deviceUrl,
      ca: readFileSync(t.gw.caPath as string, 'utf8'),
      ids,
      priv: keys.priv,
    });
    cleanups.push(() => fleet.stop());

    const conn = await fleet.connect();
    expect(conn).toMatchObject({ connected: 20, failed: 0 });
    expect(t.gw.sessions.size).toBe(20);

    // 20 devices × 10 samples/s × 1 s, one sample per message; then batches of 5.
    const single = await fleet.telemetry(10, 1, 1000);
    expect(single).toMatchObject({ sent: 200, messages: 200, acked: 200, dropped: 0 });
    expect(single.p50).toBeGreaterThan(0);
    expect(single.p99).toBeGreaterThanOrEqual(single.p50);
    // Every acknowledged sample is in the histogram, and its percentiles agree with the exact
    // ones to the bucket (the bench merges windows through it).
    expect(single.hist.reduce((a, c) => a + c, 0)).toBe(200);
    for (const [p, exact] of <[number, number][]>[
      [99, single.p99],
      [50, single.p50],
    ]) {
      // The bucket's upper edge: at most 1 ms above (the exact figure is printed to 0.001 ms).
      expect(histogramPercentile(single.hist, p)).toBeGreaterThanOrEqual(exact - 0.001);
      expect(histogramPercentile(single.hist, p)).toBeLessThanOrEqual(exact + 1);
    }
    const batched = await fleet.telemetry(10, 5, 1000);
    expect(batched).toMatchObject({ sent: 200, messages: 40, acked: 200, dropped: 0 });
    // Every sample it counted as acknowledged is stored, once, with its own seq per device.
    expect(t.gw.store.telemetry.count()).toBe(400);
    const one = t.gw.store.telemetry.query({ deviceId: 'loadgen-07', from: 0, to: Date.now() + 1000, limit: 100 });
    expect((one as { seq: number }[]).map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    await fleet.stop();
    expect(fleet.proc.exitCode).toBe(0);
    await expect.poll(() => t.gw.sessions.size).toBe(0);
  });

  it('comes back by itself after a gateway restart, with fresh tokens, and resumes TLS sessions when asked', async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    let t = await startTestGateway({}, dir.dir);
    const listen = { host: '127.0.0.1', port: t.gw.port };
    const keys = await deviceKeys();
    const ids = Array.from({ length: 20 }, (_, i) => `storm-${String(i).padStart(2, '0')}`);
    for (const id of ids) t.gw.store.devices.register(id, keys.pub);
    const fleet = await nativeFleet({
      url: t.gw.deviceUrl,
      ca: readFileSync(t.gw.caPath as string, 'utf8'),
      ids,
      priv: keys.priv,
    });
    cleanups.push(() => fleet.stop());
    cleanups.push(() => t.stop());
    expect(await fleet.connect()).toMatchObject({ connected: 20, failed: 0 });

    for (const resume of [false, true]) {
      await fleet.expectStorm(resume);
      await t.stop(); // 1001 to every device: each waits at most 2 s between attempts (kiln_backoff.h)
      t = await startTestGateway({ listen }, dir.dir);
      const since = Date.now();
      const storm = await fleet.awaitStorm(since);
      // Every device welcomed by the new gateway, each on its own token (a replay would be refused).
      expect(storm).toMatchObject({ welcomed: 20, failedAfter: {} });
      expect(storm.ms).toBeGreaterThanOrEqual(storm.p90);
      expect(storm.attempts).toBeGreaterThanOrEqual(20);
      // Tickets are sealed in the data directory, so the new gateway takes the old ones.
      expect(storm.resumed).toBe(resume ? 20 : 0);
      expect(t.gw.sessions.size).toBe(20);
    }
  }, 60_000);
});
