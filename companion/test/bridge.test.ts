/**
 * The bridge's publish queue on the real embedded broker: publishes reach subscribers in the
 * order they were made, also when one is made while older ones still wait for a slot, so the
 * retained status a late subscriber is given is the newest one.
 */
import { connectAsync } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../src/metrics.ts';
import { Bridge } from '../src/mqtt/bridge.ts';
import { AedesBus, type PublishOptions } from '../src/mqtt/bus.ts';
import { type Cleanups, runCleanups, silent, tempBroker } from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

/** The real bus, with a hook run once right after the broker has taken a publish. */
class WatchedBus extends AedesBus {
  afterNextSettle: (() => void) | undefined;
  override publish(topic: string, payload: string, opts: PublishOptions, done: (err?: Error) => void): void {
    super.publish(topic, payload, opts, (err) => {
      done(err);
      const hook = this.afterNextSettle;
      this.afterNextSettle = undefined;
      hook?.();
    });
  }
}

async function brokerAndBridge(maxInflight: number) {
  const { broker, store } = await tempBroker(cleanups);
  const bus = new WatchedBus(broker.broker);
  const bridge = new Bridge(bus, new GatewayMetrics(), silent, { qos: 1, instanceId: 'gw-a', maxInflight });
  return { bus, bridge, broker, key: store.apiKeys.create('watcher', 'read').key };
}

describe('bridge publish order', () => {
  it('sends a publish made while older ones wait after them, and the newest status stays retained', async () => {
    const { bus, bridge, broker, key } = await brokerAndBridge(1);
    const seen: number[] = [];
    await bus.subscribe('kiln/v1/+/status', (_t, payload) => {
      seen.push((JSON.parse(payload.toString('utf8')) as { since: number }).since);
    });
    const status = (since: number) => bridge.publishStatus('dev-1', { state: 'online', since, lastSeen: since });
    // The fourth is made the moment the first is taken: its slot is free then, while the
    // second and third still wait for theirs.
    bus.afterNextSettle = () => status(4);
    status(1);
    status(2);
    status(3);
    expect(bridge.queued).toBe(2);
    await expect.poll(() => seen.length, { timeout: 5000 }).toBe(4);
    expect(seen).toEqual([1, 2, 3, 4]);
    await expect.poll(() => bridge.queued + bridge.inflight, { timeout: 5000 }).toBe(0);

    // What an MQTT client subscribing now is told is the device's state: the newest.
    const client = await connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      username: 'watcher',
      password: key,
      reconnectPeriod: 0,
      connectTimeout: 3000,
    });
    cleanups.push(() => client.endAsync());
    const retained = new Promise<number>((resolve) =>
      client.on('message', (_t, payload) => resolve((JSON.parse(payload.toString('utf8')) as { since: number }).since)),
    );
    await client.subscribeAsync('kiln/v1/dev-1/status', { qos: 1 });
    expect(await retained).toBe(4);
  });

  it('drains a backlog larger than its window completely, in order', async () => {
    const { bus, bridge } = await brokerAndBridge(16);
    const seen: number[] = [];
    await bus.subscribe('kiln/v1/+/telemetry', (_t, payload) => {
      seen.push((JSON.parse(payload.toString('utf8')) as { seq: number }).seq);
    });
    const total = 5000;
    for (let seq = 0; seq < total; seq++)
      bridge.publishTelemetryJson('dev-2', 'b00710aa', seq, 1_700_000_000_000, '{"t":1}');
    expect(bridge.inflight).toBe(16);
    expect(bridge.queued).toBe(total - 16);
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(total);
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(bridge.queued + bridge.inflight).toBe(0);
  });
});
