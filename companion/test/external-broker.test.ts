/**
 * External broker (a real Mosquitto) and two gateway instances sharing a fleet: a command
 * sent to instance A reaches the device connected to instance B, through the broker. The
 * broker runs with the ACL Kiln ships (companion/deploy/mosquitto/kiln.acl): everything
 * here works with the gateways' account as it grants, and the other accounts are held to it.
 */

import { fileURLToPath } from 'node:url';
import { CloseCode, signDeviceToken, topics } from '@kiln/protocol';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, deviceKeys, refusedHandshake, registerDevice, startTestGateway, TestDevice, tempDir } from './helpers.ts';
import { type Mosquitto, startMosquitto } from './mosquitto.ts';
import { StreamClient } from './operator-helpers.ts';

let mosq: Mosquitto;
let dir: ReturnType<typeof tempDir>;
let a: Awaited<ReturnType<typeof startTestGateway>>;
let b: Awaited<ReturnType<typeof startTestGateway>>;
let watcher: MqttClient;
const devices: TestDevice[] = [];
const ACL = fileURLToPath(new URL('../deploy/mosquitto/kiln.acl', import.meta.url));

beforeAll(async () => {
  mosq = await startMosquitto({ acl: ACL, user: 'kiln-gateway' });
  dir = tempDir();
  // Both instances share the store (one SQLite file in WAL mode, as on one host) and the broker.
  a = await startTestGateway({ mqtt: { url: mosq.url }, instanceId: 'gw-a' }, dir.dir);
  b = await startTestGateway({ mqtt: { url: mosq.url }, instanceId: 'gw-b' }, dir.dir);
  watcher = await connectAsync(`mqtt://127.0.0.1:${mosq.port}`, {
    username: mosq.user,
    password: mosq.password,
    reconnectPeriod: 0,
  });
  await watcher.subscribeAsync('kiln/v1/#', { qos: 1 });
});
afterAll(async () => {
  for (const d of devices) d.close();
  await watcher?.endAsync(true);
  await a?.stop();
  await b?.stop();
  await mosq?.stop();
  dir?.remove();
});

function seen(filter: (topic: string, body: Record<string, unknown>) => boolean, ms = 5000) {
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not seen on the broker')), ms);
    const on = (topic: string, payload: Buffer) => {
      const body = JSON.parse(String(payload)) as Record<string, unknown>;
      if (!filter(topic, body)) return;
      clearTimeout(timer);
      watcher.off('message', on);
      resolve(body);
    };
    watcher.on('message', on);
  });
}

/** A device of the shared store, connected to `on` and past its welcome. */
async function welcomed(on: typeof a, id: string, keys?: Awaited<ReturnType<typeof registerDevice>>) {
  const k = keys ?? (await registerDevice(a.gw, id));
  const d = await TestDevice.connect(on.gw, on.ca, id, k.priv);
  devices.push(d);
  d.hello(id);
  await d.next('welcome');
  return { d, keys: k };
}

describe('external broker (Mosquitto)', () => {
  it('publishes telemetry and retained status to the external broker', async () => {
    const keys = await registerDevice(b.gw, 'ext-tel');
    const d = await TestDevice.connect(b.gw, b.ca, 'ext-tel', keys.priv);
    devices.push(d);
    const online = seen((tp, body) => tp === topics.status('ext-tel') && body.state === 'online');
    d.hello('ext-tel');
    await d.next('welcome');
    expect(await online).toMatchObject({ instance: 'gw-b' });
    const tel = seen((tp) => tp === topics.telemetry('ext-tel'));
    d.send({ type: 'telemetry', ts: 5, metrics: { v: 3.3 } });
    await d.next('ack');
    expect(await tel).toMatchObject({ deviceId: 'ext-tel', metrics: { v: 3.3 } });
  });
});

describe('two gateway instances sharing a fleet', () => {
  it('a command sent to instance A reaches the device held by instance B, and its result comes back', async () => {
    const admin = a.gw.store.apiKeys.create('admin', 'admin').key;
    const { d } = await welcomed(b, 'fleet-1');
    expect(a.gw.sessions.get('fleet-1')).toBeUndefined();
    const sent = await api(a.gw, a.ca, 'POST', '/api/v1/devices/fleet-1/commands', {
      key: admin,
      body: { name: 'reboot' },
    });
    expect(sent.status, sent.text).toBe(202);
    const id = (sent.body as { id: string }).id;
    const cmd = await d.next('command');
    expect(cmd.id).toBe(id);
    const result = seen((tp) => tp === topics.commandResult('fleet-1', id));
    d.send({ type: 'command_result', id, status: 'ok' });
    expect(await result).toMatchObject({ id, status: 'ok' });
    await expect
      .poll(
        async () =>
          ((await api(a.gw, a.ca, 'GET', `/api/v1/commands/${id}`, { key: admin })).body as { status: string }).status,
      )
      .toBe('ok');
  });

  it('a device that logs in on instance A supersedes its session on instance B (4001)', async () => {
    const { d: onB, keys } = await welcomed(b, 'fleet-2');
    await new Promise((r) => setTimeout(r, 20));
    await welcomed(a, 'fleet-2', keys);
    expect(await onB.closed()).toBe(CloseCode.SUPERSEDED);
    expect(a.gw.sessions.get('fleet-2')).toBeDefined();
  });

  it('a configuration change made on instance A reaches the device held by instance B', async () => {
    const op = a.gw.store.apiKeys.create('op-config', 'operate').key;
    const { d } = await welcomed(b, 'fleet-4');
    // An operator watching B's stream sees the change made on A.
    const stream = await StreamClient.connect(b.gw, b.ca, { key: op });
    await stream.next('hello');
    const published = seen((tp) => tp === topics.config('fleet-4'));
    const r = await api(a.gw, a.ca, 'PUT', '/api/v1/devices/fleet-4/config', { key: op, body: { telemetrySec: 7 } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ telemetrySec: 7, delivered: false }); // not held by A …
    expect(await published).toMatchObject({ telemetrySec: 7, instance: 'gw-a' });
    // … so B sends it, with both intervals in force.
    expect(await d.next('config')).toMatchObject({ telemetrySec: 7, heartbeatSec: a.gw.config.limits.heartbeatSec });
    expect(await stream.next('config', 5000, (f) => f.deviceId === 'fleet-4')).toMatchObject({ telemetrySec: 7 });
    stream.close();
    // On the instance that holds the session, it is sent once, from there.
    const again = await api(b.gw, b.ca, 'PUT', '/api/v1/devices/fleet-4/config', {
      key: op,
      body: { telemetrySec: 9 },
    });
    expect(again.body).toMatchObject({ telemetrySec: 9, delivered: true });
    expect(await d.next('config')).toMatchObject({ telemetrySec: 9 });
    await new Promise((r) => setTimeout(r, 300)); // A, which does not hold it, sends nothing
    expect(d.inbox.filter((m) => m.type === 'config')).toEqual([]);
  });

  it("rotating the key on instance A ends the old key's session on instance B (4003), and B takes only the new key", async () => {
    const admin = a.gw.store.apiKeys.create('admin3', 'admin').key;
    const { d, keys: old } = await welcomed(b, 'fleet-5');
    const fresh = await deviceKeys();
    const r = await api(a.gw, a.ca, 'POST', '/api/v1/devices/fleet-5/rotate-key', {
      key: admin,
      body: { publicKey: fresh.pub },
    });
    expect(r.status).toBe(200);
    expect(await d.closed()).toBe(CloseCode.REVOKED);
    // B had the old key cached from that session: a token signed with it is refused now …
    const stale = await signDeviceToken(old.priv, { deviceId: 'fleet-5', audience: b.gw.audiences[0] as string });
    expect(await refusedHandshake(b.gw.deviceUrl, ['kiln.v1', `kiln.jwt.${stale}`], b.ca)).toMatchObject({
      status: 401,
      code: 'JWT_BAD_SIGNATURE',
    });
    // … and the new key's session there is not cut by the rotation it came after, even when that
    // rotation's message arrives late (here: again, through the broker).
    const { d: next } = await welcomed(b, 'fleet-5', fresh);
    await watcher.publishAsync(
      topics.key('fleet-5'),
      JSON.stringify({ change: 'rotated', at: Date.now() - 1000, instance: 'gw-a' }),
      {
        qos: 1,
      },
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(next.ws.readyState).toBe(next.ws.OPEN);
  });

  it('deleting on instance A closes the session on instance B (4003) and clears the retained status', async () => {
    const admin = a.gw.store.apiKeys.create('admin4', 'admin').key;
    const { d } = await welcomed(b, 'fleet-6');
    const late = await connectAsync(`mqtt://127.0.0.1:${mosq.port}`, {
      username: mosq.user,
      password: mosq.password,
      reconnectPeriod: 0,
    });
    try {
      const retained = () =>
        new Promise<Buffer | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(undefined), 500);
          late.once('message', (_t, payload) => {
            clearTimeout(timer);
            resolve(payload);
          });
          void late.subscribeAsync(topics.status('fleet-6'), { qos: 1 });
        });
      expect(JSON.parse(String(await retained()))).toMatchObject({ state: 'online' });
      await late.unsubscribeAsync(topics.status('fleet-6'));
      expect((await api(a.gw, a.ca, 'DELETE', '/api/v1/devices/fleet-6', { key: admin })).status).toBe(204);
      expect(await d.closed()).toBe(CloseCode.REVOKED);
      // A subscriber arriving now finds no retained status for it.
      await new Promise((r) => setTimeout(r, 200));
      expect(await retained()).toBeUndefined();
    } finally {
      await late.endAsync(true);
    }
  });

  it('revoking on instance A closes the session on instance B (4003)', async () => {
    const admin = a.gw.store.apiKeys.create('admin2', 'admin').key;
    const { d } = await welcomed(b, 'fleet-3');
    expect((await api(a.gw, a.ca, 'POST', '/api/v1/devices/fleet-3/revoke', { key: admin })).status).toBe(200);
    expect(await d.closed()).toBe(CloseCode.REVOKED);
  });
});

describe('the shipped Mosquitto ACL', () => {
  const login = (user: string) =>
    connectAsync(`mqtt://127.0.0.1:${mosq.port}`, {
      username: user,
      password: mosq.passwords[user] as string,
      reconnectPeriod: 0,
    });
  const forged = (id: string): [string, object][] => [
    // Each would end the device's session if a gateway took it: a takeover by another instance, …
    [topics.status(id), { state: 'online', since: Date.now() + 60_000, lastSeen: null, instance: 'forged' }],
    // … a key change after the session began, …
    [topics.key(id), { change: 'deleted', at: Date.now() + 60_000, instance: 'forged' }],
    // … and a command would reach the device.
    [topics.command(id), { id: 'forged-cmd', name: 'reboot' }],
  ];

  it('a reader account sees what the gateways publish, and what it publishes reaches no gateway', async () => {
    const { d } = await welcomed(b, 'fleet-7');
    const reader = await login('kiln-reader');
    try {
      const telemetry = new Promise<Record<string, unknown>>((resolve) => {
        reader.on('message', (tp, p) => {
          if (tp === topics.telemetry('fleet-7')) resolve(JSON.parse(String(p)) as Record<string, unknown>);
        });
      });
      await reader.subscribeAsync('kiln/v1/#', { qos: 1 });
      d.send({ type: 'telemetry', ts: 7, metrics: { temp: 7 } });
      await d.next('ack');
      expect(await telemetry).toMatchObject({ deviceId: 'fleet-7', metrics: { temp: 7 } });
      for (const [topic, body] of forged('fleet-7')) await reader.publishAsync(topic, JSON.stringify(body), { qos: 1 });
      await new Promise((r) => setTimeout(r, 300));
      expect(d.ws.readyState).toBe(d.ws.OPEN);
      expect(b.gw.store.commands.get('forged-cmd')).toBeUndefined();
    } finally {
      await reader.endAsync(true);
    }
  });

  it('an operator account commands a device, and may publish nothing else', async () => {
    const { d } = await welcomed(b, 'fleet-8');
    const operator = await login('kiln-operator');
    try {
      for (const [topic, body] of forged('fleet-8').filter(([t]) => t !== topics.command('fleet-8')))
        await operator.publishAsync(topic, JSON.stringify(body), { qos: 1 });
      await operator.publishAsync(topics.command('fleet-8'), JSON.stringify({ id: 'op-cmd', name: 'reboot' }), {
        qos: 1,
      });
      expect((await d.next('command')).id).toBe('op-cmd');
      await new Promise((r) => setTimeout(r, 300));
      expect(d.ws.readyState).toBe(d.ws.OPEN);
    } finally {
      await operator.endAsync(true);
    }
  });
});
