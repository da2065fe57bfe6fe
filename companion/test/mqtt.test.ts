/** The embedded aedes broker: API-key logins, ACLs, telemetry and status published, commands round trip. */
import { createRequire } from 'node:module';
import { topics } from '@kiln/protocol';
import { connect, connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onlineDevice, registerDevice, startTestGateway, TestDevice } from './helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
let url: string;
const clients: MqttClient[] = [];

beforeAll(async () => {
  t = await startTestGateway();
  url = t.gw.mqttUrl;
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await t?.stop();
});

async function client(password?: string): Promise<MqttClient> {
  const c = await connectAsync(url, {
    ...(password ? { username: 'op', password } : {}),
    reconnectPeriod: 0,
    connectTimeout: 3000,
  });
  clients.push(c);
  return c;
}

function nextMessage(
  c: MqttClient,
  filter: (topic: string) => boolean,
  ms = 5000,
): Promise<{ topic: string; body: Record<string, unknown>; retain: boolean }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no MQTT message in time')), ms);
    const on = (topic: string, payload: Buffer, packet: { retain: boolean }) => {
      if (!filter(topic)) return;
      clearTimeout(timer);
      c.off('message', on);
      resolve({ topic, body: JSON.parse(String(payload)) as Record<string, unknown>, retain: packet.retain });
    };
    c.on('message', on);
  });
}

describe('MQTT (embedded aedes)', () => {
  it('refuses anonymous clients and unknown keys', async () => {
    await expect(client()).rejects.toThrow(/Bad username or password|Not authorized|Connection refused/i);
    await expect(client('kiln_not-a-key')).rejects.toThrow(
      /Bad username or password|Not authorized|Connection refused/i,
    );
  });

  it('publishes telemetry and retained status; a read key may subscribe but not command', async () => {
    const read = t.gw.store.apiKeys.create('sub', 'read').key;
    const sub = await client(read);
    await sub.subscribeAsync('kiln/v1/#', { qos: 1 });
    const keys = await registerDevice(t.gw, 'mq-dev');
    const d = await TestDevice.connect(t.gw, t.ca, 'mq-dev', keys.priv);
    const status = nextMessage(sub, (tp) => tp === topics.status('mq-dev'));
    d.hello('mq-dev', 'feedf00d');
    await d.next('welcome');
    expect((await status).body).toMatchObject({ state: 'online' });
    const tel = nextMessage(sub, (tp) => tp === topics.telemetry('mq-dev'));
    d.send({ type: 'telemetry', ts: 123, metrics: { temp: 20 } });
    await d.next('ack');
    expect((await tel).body).toMatchObject({
      deviceId: 'mq-dev',
      bootId: 'feedf00d',
      seq: 1,
      ts: 123,
      metrics: { temp: 20 },
    });
    // A late subscriber still sees the retained status.
    const late = await client(read);
    const retained = nextMessage(late, (tp) => tp === topics.status('mq-dev'));
    await late.subscribeAsync(topics.status('mq-dev'));
    expect(await retained).toMatchObject({ retain: true, body: { state: 'online' } });
    // read scope: a command publish is dropped by the ACL (aedes closes the client).
    sub.publish(topics.command('mq-dev'), JSON.stringify({ id: 'nope', name: 'reboot' }), { qos: 0 });
    await new Promise((r) => setTimeout(r, 150));
    expect(t.gw.store.commands.get('nope')).toBeUndefined();
    const off = nextMessage(late, (tp) => tp === topics.status('mq-dev'));
    d.close();
    expect((await off).body).toMatchObject({ state: 'offline' });
    // Packets were written, and mqtt-packet's number cache (65,536 Buffers, alive for good,
    // marked by every major collection) was never made.
    const numbers = createRequire(import.meta.resolve('aedes'))('mqtt-packet/numbers') as { cache: object };
    expect(Object.keys(numbers.cache)).toHaveLength(0);
  });

  it('limits subscriptions to the kiln/v1 subtree', async () => {
    const c = await client(t.gw.store.apiKeys.create('s', 'admin').key);
    await expect(c.subscribeAsync('$SYS/#')).rejects.toThrow();
    await expect(c.subscribeAsync('#')).rejects.toThrow();
    const granted = await c.subscribeAsync('kiln/v1/+/telemetry');
    expect(granted.map((g) => g.qos)).toEqual([0]);
  });

  it('gives a client that asks for a persistent session a clean one: nothing is kept while it is away', async () => {
    const key = t.gw.store.apiKeys.create('away', 'read').key;
    const opts = { username: 'op', password: key, clientId: 'away-1', clean: false, reconnectPeriod: 0 };
    /** Connects, answering the client and whether its CONNACK said a session was present. */
    const connectPersistent = () =>
      new Promise<{ c: MqttClient; sessionPresent: boolean }>((resolve, reject) => {
        const c = connect(url, opts);
        clients.push(c);
        c.once('connect', (ack) => resolve({ c, sessionPresent: ack.sessionPresent }));
        c.once('error', reject);
      });
    const first = await connectPersistent();
    expect(first.sessionPresent).toBe(false);
    await first.c.subscribeAsync(topics.telemetry('mq-away'), { qos: 1 });
    await first.c.endAsync();
    // Telemetry flows while it is away; a broker that queued it for the session would keep
    // every message in memory, without bound, until it came back.
    const d = await onlineDevice(t.gw, t.ca, 'mq-away');
    for (let i = 0; i < 20; i++) {
      d.send({ type: 'telemetry', ts: 1000 + i, metrics: { temp: i } });
      await d.next('ack');
    }
    const back = await connectPersistent();
    expect(back.sessionPresent).toBe(false);
    const got: string[] = [];
    back.c.on('message', (topic) => got.push(topic));
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([]);
    // Subscribed again, as a client does when no session was present, it gets what comes now.
    await back.c.subscribeAsync(topics.telemetry('mq-away'), { qos: 1 });
    const next = nextMessage(back.c, (tp) => tp === topics.telemetry('mq-away'));
    d.send({ type: 'telemetry', ts: 2000, metrics: { temp: 99 } });
    expect((await next).body).toMatchObject({ metrics: { temp: 99 } });
    d.close();
  });

  it('an operate key commands a device over MQTT and gets its result (round trip)', async () => {
    const op = await client(t.gw.store.apiKeys.create('op', 'operate').key);
    await op.subscribeAsync('kiln/v1/mq-cmd/cmd/+/result', { qos: 1 });
    const keys = await registerDevice(t.gw, 'mq-cmd');
    const d = await TestDevice.connect(t.gw, t.ca, 'mq-cmd', keys.priv);
    d.hello('mq-cmd');
    await d.next('welcome');
    const result = nextMessage(op, (tp) => tp.endsWith('/result'));
    await op.publishAsync(topics.command('mq-cmd'), JSON.stringify({ id: 'mq-1', name: 'blink', args: { n: 3 } }), {
      qos: 1,
    });
    const cmd = await d.next('command');
    expect(cmd).toMatchObject({ id: 'mq-1', name: 'blink', args: { n: 3 } });
    d.send({ type: 'command_result', id: 'mq-1', status: 'ok', result: { blinked: 3 } });
    expect((await result).body).toMatchObject({ id: 'mq-1', status: 'ok', result: { blinked: 3 } });
    expect(t.gw.store.commands.get('mq-1')?.status).toBe('ok');
    // The config topic is the gateways' alone: an operate key's publish there is refused
    // (aedes closes the client) and reaches no device.
    const closed = new Promise<void>((r) => op.once('close', () => r()));
    op.publish(topics.config('mq-cmd'), JSON.stringify({ telemetrySec: 1, heartbeatSec: 5, instance: 'x' }), {
      qos: 0,
    });
    await closed;
    await new Promise((r) => setTimeout(r, 150));
    expect(d.inbox.filter((m) => m.type === 'config')).toEqual([]);
    d.close();
  });

  it('commands that are never answered time out and publish a timeout result', async () => {
    const op = await client(t.gw.store.apiKeys.create('op2', 'operate').key);
    await op.subscribeAsync('kiln/v1/mq-slow/cmd/+/result', { qos: 1 });
    const keys = await registerDevice(t.gw, 'mq-slow');
    const d = await TestDevice.connect(t.gw, t.ca, 'mq-slow', keys.priv);
    d.hello('mq-slow');
    await d.next('welcome');
    const result = nextMessage(op, (tp) => tp.endsWith('/result'));
    await op.publishAsync(
      topics.command('mq-slow'),
      JSON.stringify({ id: 'slow-1', name: 'wait', expiresAt: Date.now() + 300 }),
      { qos: 1 },
    );
    await d.next('command');
    expect((await result).body).toMatchObject({ id: 'slow-1', status: 'timeout' });
    d.close();
  });
});
