/**
 * The operator stream's send policy with a reader that stops reading (a real paused socket):
 * telemetry is dropped oldest first and bounded, the client is told how many it missed, status
 * frames are never dropped, a connection that cannot take even those is closed with 1013, and a
 * peer that stops answering pings is cut. Event volume comes from the gateway's bridge, the same
 * publish path ingest uses; everything is bounded in count and time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/gateway.ts';
import { api, startTestGateway } from './helpers.ts';
import { StreamClient } from './operator-helpers.ts';

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

async function gateway(limits: Record<string, number>) {
  const t = await startTestGateway({ limits: { authFailuresPerMinPerIp: 1000, ...limits } });
  stops.push(() => t.stop());
  return { ...t, key: t.gw.store.apiKeys.create('r', 'read').key };
}

async function metric(gw: Gateway, name: string): Promise<number> {
  const m = await gw.metrics.registry.getSingleMetric(name)?.get();
  return (m?.values ?? []).reduce((a, v) => a + v.value, 0);
}

/** ~1 KiB of metrics, so that the kernel's socket buffers fill after a bounded number of frames. */
const WIDE = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`metric_with_a_long_name_${i}`, i + 0.5]));

const publishTelemetry = (gw: Gateway, from: number, count: number) => {
  for (let seq = from; seq < from + count; seq++)
    gw.bridge.publishTelemetryJson('bp-dev', 'b00710aa', seq, 1_700_000_000_000 + seq, JSON.stringify(WIDE));
};

describe('operator stream: a slow reader', () => {
  it('drops the oldest telemetry (bounded), keeps status, and reports the count once it drains', async () => {
    const cutoff = 64 * 1024;
    const t = await gateway({ streamTelemetryCutoffBytes: cutoff, streamSendQueueBytes: 64 * 1024 * 1024 });
    const c = await StreamClient.connect(t.gw, t.ca, { key: t.key });
    stops.push(() => c.close());
    await c.next('hello');
    await c.subscribe(['*']);
    c.ws.pause();

    // Publish in rounds until the reader's kernel buffers are full and frames wait in the gateway
    // (bursts are dropped before that already: a burst passes the cutoff within one tick).
    let published = 0;
    const settle = async () => {
      await expect.poll(() => t.gw.bridge.queued + t.gw.bridge.inflight, { timeout: 10_000, interval: 5 }).toBe(0);
      await new Promise((r) => setTimeout(r, 50)); // the kernel takes what it can
    };
    for (let round = 0; round < 40 && t.gw.operator.stream.queuedBytes === 0; round++) {
      publishTelemetry(t.gw, published, 2000);
      published += 2000;
      await settle();
    }
    const stuck = t.gw.operator.stream.queuedBytes;
    expect(stuck).toBeGreaterThan(0);
    // More keeps arriving: what waits stays bounded by the cutoff, the oldest go.
    const droppedBefore = await metric(t.gw, 'kiln_operator_stream_dropped_total');
    t.gw.bridge.publishStatus('bp-dev', { state: 'offline', since: Date.now(), lastSeen: 123 });
    publishTelemetry(t.gw, published, 2000);
    published += 2000;
    await settle();
    expect(await metric(t.gw, 'kiln_operator_stream_queued_bytes')).toBeLessThanOrEqual(cutoff);
    expect(t.gw.operator.stream.queuedBytes).toBeGreaterThan(cutoff / 2);
    expect(await metric(t.gw, 'kiln_operator_stream_dropped_total')).toBeGreaterThanOrEqual(droppedBefore + 1900);

    c.ws.resume();
    // Everything published is accounted for: received, or counted in a dropped frame.
    const seqs: number[] = [];
    let dropped = 0;
    const deadline = Date.now() + 30_000;
    while (seqs.length + dropped < published && Date.now() < deadline) {
      const i = c.inbox.findIndex((f) => f.type === 'telemetry' || f.type === 'dropped');
      if (i < 0) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const f = c.inbox.splice(i, 1)[0] as { type: string; seq?: number; count?: number };
      if (f.type === 'dropped') dropped += f.count as number;
      else seqs.push(f.seq as number);
    }
    expect(seqs.length + dropped).toBe(published);
    console.log(
      `slow reader: ${published} published, ${seqs.length} received, ${dropped} dropped, ${stuck} B waiting when stuck`,
    );
    expect(dropped).toBeGreaterThan(0);
    // Oldest first: what arrives is in order, and the newest sample is never the one dropped.
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.at(-1)).toBe(published - 1);
    expect(await c.next('status')).toMatchObject({ deviceId: 'bp-dev', state: 'offline', lastSeenAt: 123 });
    expect(c.closeCode).toBeUndefined();
  }, 60_000);

  it('closes with 1013 when even status frames cannot be queued', async () => {
    const t = await gateway({ streamTelemetryCutoffBytes: 16 * 1024, streamSendQueueBytes: 256 * 1024 });
    const c = await StreamClient.connect(t.gw, t.ca, { key: t.key });
    stops.push(() => c.close());
    await c.next('hello');
    c.ws.pause();
    for (let round = 0; round < 40 && (await metric(t.gw, 'kiln_operator_stream_overflows_total')) === 0; round++) {
      for (let i = 0; i < 2000; i++)
        t.gw.bridge.publishStatus(`bp-${round}-${i}`, { state: 'online', since: Date.now(), lastSeen: Date.now() });
      await expect.poll(() => t.gw.bridge.queued + t.gw.bridge.inflight, { timeout: 10_000 }).toBe(0);
    }
    expect(await metric(t.gw, 'kiln_operator_stream_overflows_total')).toBe(1);
    c.ws.resume();
    expect(await c.closed(10_000)).toBe(1013);
  }, 60_000);
});

describe('operator stream: dead peers', () => {
  it('terminates a connection that stops answering pings', async () => {
    const t = await gateway({ pingSec: 1 });
    const c = await StreamClient.connect(t.gw, t.ca, { key: t.key });
    stops.push(() => c.close());
    await c.next('hello');
    const healthy = await StreamClient.connect(t.gw, t.ca, { key: t.key });
    stops.push(() => healthy.close());
    c.ws.pause(); // reads nothing, so answers no ping
    await expect.poll(() => t.gw.operator.stream.size, { timeout: 6000, interval: 100 }).toBe(1);
    expect(healthy.closeCode).toBeUndefined();
    const m = await api(t.gw, t.ca, 'GET', '/metrics', { key: t.key });
    expect(m.text).toMatch(/kiln_operator_stream_closes_total\{code="dead-peer"\} 1/);
    expect(m.text).toMatch(/kiln_operator_stream_connections 1/);
  }, 20_000);
});
