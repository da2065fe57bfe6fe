/**
 * The external-broker bus (mqtt.js against a real Mosquitto): its TCP connection runs without
 * Nagle's algorithm, the first one and each one after a reconnect, so a telemetry publish is
 * not held back behind the broker's delayed ACK.
 */
import { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterEach, expect, it, vi } from 'vitest';
import { ClientBus } from '../src/mqtt/bus.ts';
import { type Mosquitto, startMosquitto } from './mosquitto.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('turns Nagle off on its connection to the broker, and again on the socket of a reconnect', async () => {
  const mosq: Mosquitto = await startMosquitto();
  cleanups.push(() => mosq.stop());
  const setNoDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
  const bus = await ClientBus.connect(mosq.url, { clientId: 'kiln-nodelay-test', clean: true });
  cleanups.push(() => bus.close());
  const client = (bus as unknown as { client: MqttClient }).client;
  const first = client.stream as Socket;
  const onSocket = (s: Socket) =>
    setNoDelay.mock.contexts.some((c, i) => c === s && setNoDelay.mock.calls[i]?.[0] !== false);
  expect(onSocket(first)).toBe(true);

  // The broker's side of the connection goes away; mqtt.js reconnects on a new socket.
  first.destroy();
  await vi.waitFor(
    () => {
      expect(client.stream).not.toBe(first);
      expect(bus.connected()).toBe(true);
    },
    { timeout: 10_000, interval: 50 },
  );
  expect(onSocket(client.stream as Socket)).toBe(true);

  // And it still carries publishes.
  await new Promise<void>((resolve, reject) =>
    bus.publish('kiln/v1/test/telemetry', '{}', { qos: 1 }, (err) => (err ? reject(err) : resolve())),
  );
});
