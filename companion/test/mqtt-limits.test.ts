/**
 * The embedded broker's bounds on what clients hold (mqtt/broker.ts): connections at once
 * (MAX_CLIENTS; here 3) and from one address (MAX_CLIENTS_PER_IP; here 2), and topic filters
 * per client (MAX_SUBSCRIPTIONS_PER_CLIENT).
 */
import { connect as connectTcp } from 'node:net';
import { connect, connectAsync } from 'mqtt';
import { afterEach, expect, it } from 'vitest';
import { MAX_SUBSCRIPTIONS_PER_CLIENT } from '../src/mqtt/broker.ts';
import { type Cleanups, runCleanups, tempBroker } from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

async function broker(limits: { maxClients?: number; maxClientsPerIp?: number } = {}) {
  const { broker: b, store } = await tempBroker(cleanups, limits);
  const key = store.apiKeys.create('c', 'read').key;
  const login = async () => {
    const c = await connectAsync(`mqtt://127.0.0.1:${b.port}`, {
      username: 'op',
      password: key,
      reconnectPeriod: 0,
      connectTimeout: 3000,
    });
    cleanups.push(() => c.endAsync(true));
    return c;
  };
  /** 'in' once logged in, 'out' if the connection closed before (mqtt.js' connectAsync would wait). */
  const tryLogin = () =>
    new Promise<'in' | 'out'>((resolve) => {
      const c = connect(`mqtt://127.0.0.1:${b.port}`, { username: 'op', password: key, reconnectPeriod: 0 });
      cleanups.push(() => c.endAsync(true));
      c.once('connect', () => resolve('in'));
      c.once('close', () => resolve('out'));
      c.on('error', () => undefined);
    });
  return { b, login, tryLogin };
}

it('holds at most maxClients connections; the next is closed before its login, and a freed place is taken again', async () => {
  const { login, tryLogin } = await broker({ maxClients: 3 });
  const held = [await login(), await login(), await login()];
  expect(await tryLogin()).toBe('out');
  await held[0]?.endAsync(true);
  await expect.poll(tryLogin, { timeout: 5000 }).toBe('in');
});

it('holds at most maxClientsPerIp connections from one address, whatever their state', async () => {
  const { b, login, tryLogin } = await broker({ maxClientsPerIp: 2 });
  // One that never logs in takes a place as much as one that did.
  const silentOne = connectTcp(b.port as number, '127.0.0.1');
  silentOne.on('error', () => undefined);
  await new Promise((r) => silentOne.once('connect', r));
  cleanups.push(() => {
    silentOne.destroy();
  });
  await login();
  expect(await tryLogin()).toBe('out');
  silentOne.destroy();
  await expect.poll(tryLogin, { timeout: 5000 }).toBe('in');
});

it('grants a client at most MAX_SUBSCRIPTIONS_PER_CLIENT filters; one it holds may be renewed', async () => {
  const { login } = await broker();
  const c = await login();
  const filters = Array.from({ length: MAX_SUBSCRIPTIONS_PER_CLIENT }, (_, i) => `kiln/v1/dev-${i}/status`);
  for (let i = 0; i < filters.length; i += 64) {
    const granted = await c.subscribeAsync(filters.slice(i, i + 64), { qos: 0 });
    expect(granted.every((g) => g.qos === 0)).toBe(true);
  }
  // One more is refused (0x80); one it has is granted again; freeing one makes room.
  await expect(c.subscribeAsync('kiln/v1/one-more/status')).rejects.toThrow();
  expect((await c.subscribeAsync(filters[0] as string))[0]?.qos).toBe(0);
  await c.unsubscribeAsync(filters[1] as string);
  expect((await c.subscribeAsync('kiln/v1/one-more/status'))[0]?.qos).toBe(0);
});

it('counts the filters of one SUBSCRIBE as it grants them: of more than the bound in one packet, the bound is granted', async () => {
  const { login } = await broker();
  const c = await login();
  const filters = Array.from({ length: MAX_SUBSCRIPTIONS_PER_CLIENT + 44 }, (_, i) => `kiln/v1/dev-${i}/status`);
  // mqtt.js rejects a SUBACK holding a refusal, with the packet.
  const suback = await c.subscribeAsync(filters, { qos: 0 }).then(
    () => undefined,
    (e: { packet?: { granted: number[] } }) => e.packet,
  );
  const granted = suback?.granted ?? [];
  expect(granted).toHaveLength(filters.length);
  expect(granted.filter((g) => g === 0)).toHaveLength(MAX_SUBSCRIPTIONS_PER_CLIENT);
  expect(granted.slice(MAX_SUBSCRIPTIONS_PER_CLIENT).every((g) => g === 0x80)).toBe(true);
});
