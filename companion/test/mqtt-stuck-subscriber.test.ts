/**
 * An MQTT subscriber that stops reading (a frozen dashboard, a client behind a dead link)
 * must not stall the fleet: devices go on being acknowledged at once, every other subscriber
 * goes on getting every sample, and the stuck one is dropped once MAX_WAITING_PER_CLIENT
 * bytes wait for it, instead of being buffered without bound. (Before, aedes held the
 * publishes until it drained, and every subscriber waited out its 10 s drain timeout.)
 */

import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { topics } from '@kiln/protocol';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { onlineDevice, startTestGateway, type TestDevice } from './helpers.ts';

const packets = createRequire(import.meta.resolve('mqtt'))('mqtt-packet') as {
  generate(p: object): Buffer;
};

let t: Awaited<ReturnType<typeof startTestGateway>>;
const closers: (() => unknown)[] = [];

beforeAll(async () => {
  t = await startTestGateway({
    limits: { messagesPerSecPerDevice: 10_000, bytesPerSecPerDevice: 100_000_000 },
  });
});
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
  await t?.stop();
});

/** A client on a raw socket: logs in, subscribes to everything, then never reads again. */
async function stuckSubscriber(port: number, key: string): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  closers.push(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  const seen: Buffer[] = [];
  const subacked = new Promise<void>((resolve) =>
    s.on('data', (c: Buffer) => {
      seen.push(c);
      // CONNACK (0x20) then SUBACK (0x90): enough to know the subscription stands.
      if (Buffer.concat(seen).includes(0x90)) resolve();
    }),
  );
  s.write(
    packets.generate({
      cmd: 'connect',
      clientId: 'stuck',
      username: 'op',
      password: Buffer.from(key),
      clean: true,
      keepalive: 0,
      protocolVersion: 4,
    }),
  );
  s.write(packets.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'kiln/v1/#', qos: 0 }] }));
  await subacked;
  s.removeAllListeners('data');
  s.pause();
  return s;
}

it('drops a subscriber that stops reading, while devices are acknowledged and the others get every sample', async () => {
  const port = Number(new URL(t.gw.mqttUrl).port);
  const key = t.gw.store.apiKeys.create('dash', 'read').key;
  const stuck = await stuckSubscriber(port, key);
  const stuckClosed = new Promise((r) => stuck.once('close', r));
  const healthy: MqttClient = await connectAsync(`mqtt://127.0.0.1:${port}`, {
    username: 'op',
    password: key,
    reconnectPeriod: 0,
  });
  closers.push(() => healthy.endAsync(true));
  let delivered = 0;
  healthy.on('message', (topic) => {
    if (topic === topics.telemetry('stuck-feed')) delivered++;
  });
  await healthy.subscribeAsync(topics.telemetry('stuck-feed'), { qos: 0 });

  const d: TestDevice = await onlineDevice(t.gw, t.ca, 'stuck-feed');
  closers.push(() => d.close());
  // 32 metrics a sample, about 1 KB a publish: 30,080 of them are far more than the stuck
  // client's socket buffers hold (about 10 MB here) and MAX_WAITING_PER_CLIENT (8 MiB), and
  // more than the bridge has in flight (8,000).
  const metrics = Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`metric_${i}`, 1234.5678 + i]));
  const batches = 470;
  const started = Date.now();
  let seq = 0;
  let slowestAck = 0;
  for (let b = 0; b < batches; b++) {
    const samples = Array.from({ length: 64 }, () => ({ seq: seq++, ts: started, metrics }));
    const sent = Date.now();
    d.send({ type: 'telemetry_batch', samples });
    const ack = await d.next('ack');
    slowestAck = Math.max(slowestAck, Date.now() - sent);
    expect(ack.acked).toHaveLength(64);
  }
  // Every batch was acknowledged as it came, while the stuck client held deliveries back.
  expect(slowestAck).toBeLessThan(2000);
  expect(t.gw.bridge.queued).toBeLessThanOrEqual(t.gw.bridge.maxQueued);
  // The healthy subscriber has them all, well before aedes' 10 s drain timeout would have
  // let them through.
  await expect.poll(() => delivered, { timeout: 6000, interval: 100 }).toBe(batches * 64);
  expect(t.gw.bridge.queued).toBe(0);
  // The broker dropped the stuck one: read what reached it, and its connection ends.
  stuck.resume();
  const kept = new Promise((r) => setTimeout(() => r('still connected'), 10_000).unref());
  expect(await Promise.race([stuckClosed.then(() => 'dropped'), kept])).toBe('dropped');
}, 40_000);
