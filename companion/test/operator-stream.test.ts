/**
 * The operator stream /api/v1/stream with real WebSocket clients over real TLS: refusals in the
 * upgrade, the subprotocol, subscription filtering with real devices, status, config, deleted and command events,
 * bad frames, the drop policy under a slow reader (bounded), dead peers, connection limits and
 * the end of streams whose credentials end.
 */
import { CloseCode } from '@kiln/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, deviceKeys, onlineDevice, registerDevice, startTestGateway } from './helpers.ts';
import { originOf, refusedStream, STREAM_PROTOCOL, StreamClient, signIn } from './operator-helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
let admin: string;
let reader: string;
const open: { close(): void }[] = [];

beforeAll(async () => {
  t = await startTestGateway({
    corsOrigins: ['https://console.example'],
    limits: { restRequestsPerMinPerRoute: 1000, authFailuresPerMinPerIp: 1000, streamConnectionsPerPrincipal: 3 },
  });
  admin = t.gw.store.apiKeys.create('admin', 'admin').key;
  reader = t.gw.store.apiKeys.create('reader', 'read').key;
});
afterAll(async () => {
  for (const c of open) c.close();
  await t?.stop();
});

const connect = async (opts: Parameters<typeof StreamClient.connect>[2]) => {
  const c = await StreamClient.connect(t.gw, t.ca, opts);
  open.push(c);
  return c;
};
const device = async (id: string) => {
  const d = await onlineDevice(t.gw, t.ca, id);
  open.push(d);
  return d;
};

describe('operator stream: the upgrade', () => {
  it('refuses, before any WebSocket exists: no credentials, a wrong key, a token in the URL, no subprotocol', async () => {
    expect(await refusedStream(t.gw, t.ca)).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
    expect(await refusedStream(t.gw, t.ca, { headers: { authorization: 'Bearer kiln_wrong' } })).toEqual({
      status: 401,
      code: 'UNAUTHENTICATED',
    });
    expect(
      await refusedStream(t.gw, t.ca, { path: `?token=${reader}`, headers: { authorization: `Bearer ${reader}` } }),
    ).toEqual({
      status: 400,
      code: 'TOKEN_IN_URL',
    });
    const auth = { authorization: `Bearer ${reader}` };
    expect(await refusedStream(t.gw, t.ca, { headers: auth, protocols: [] })).toEqual({
      status: 400,
      code: 'SUBPROTOCOL_REQUIRED',
    });
    expect(await refusedStream(t.gw, t.ca, { headers: auth, protocols: ['kiln.v1'] })).toEqual({
      status: 400,
      code: 'SUBPROTOCOL_REQUIRED',
    });
  });

  it('refuses a cookie from a foreign Origin or with no Origin (403), and a bearer key from a foreign Origin', async () => {
    const s = await signIn(t.gw, t.ca, reader);
    expect(await refusedStream(t.gw, t.ca, { headers: { cookie: s.cookie }, origin: 'https://evil.example' })).toEqual({
      status: 403,
      code: 'ORIGIN_NOT_ALLOWED',
    });
    expect(await refusedStream(t.gw, t.ca, { headers: { cookie: s.cookie } })).toEqual({
      status: 403,
      code: 'ORIGIN_NOT_ALLOWED',
    });
    expect(
      await refusedStream(t.gw, t.ca, {
        headers: { authorization: `Bearer ${reader}` },
        origin: 'https://evil.example',
      }),
    ).toEqual({ status: 403, code: 'ORIGIN_NOT_ALLOWED' });
    // A cookie of no live session, from our own origin: 401.
    expect(
      await refusedStream(t.gw, t.ca, {
        headers: { cookie: `kiln_session=${'B'.repeat(43)}` },
        origin: originOf(t.gw),
      }),
    ).toEqual({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('accepts a bearer key or the cookie from the own origin, selects only kiln.operator.v1, and says hello', async () => {
    const bearer = await connect({ key: reader, protocols: ['x-other', STREAM_PROTOCOL, 'kiln.jwt.abc'] });
    expect(bearer.ws.protocol).toBe(STREAM_PROTOCOL);
    const hello = await bearer.next('hello');
    expect(hello).toMatchObject({ server: 'kiln' });
    expect(Math.abs((hello.time as number) - Date.now())).toBeLessThan(5000);
    const s = await signIn(t.gw, t.ca, reader);
    const browser = await connect({ cookie: s.cookie, origin: originOf(t.gw) });
    expect(browser.ws.protocol).toBe(STREAM_PROTOCOL);
    await browser.next('hello');
    const allowlisted = await connect({ cookie: s.cookie, origin: 'https://console.example' });
    await allowlisted.next('hello');
    for (const c of [bearer, browser, allowlisted]) c.close();
  });

  it('limits streams per key: the next one is refused 429 until one closes', async () => {
    const key = t.gw.store.apiKeys.create('many', 'read').key;
    const conns = [await connect({ key }), await connect({ key }), await connect({ key })];
    expect(await refusedStream(t.gw, t.ca, { headers: { authorization: `Bearer ${key}` } })).toEqual({
      status: 429,
      code: 'TOO_MANY_STREAMS',
    });
    conns[0]?.ws.close();
    await conns[0]?.closed();
    await expect.poll(async () => (await connect({ key }).then((c) => c.ws.protocol)).toString()).toBe(STREAM_PROTOCOL);
    for (const c of conns) c.close();
  });

  it('keeps the device endpoint on the same server working', async () => {
    const d = await device('os-coexist');
    d.close();
  });
});

describe('operator stream: events', () => {
  it('sends subscribed telemetry only, with the metrics asked for', async () => {
    const a = await device('os-tel-a');
    const b = await device('os-tel-b');
    const c = await connect({ key: reader });
    await c.next('hello');
    expect(await c.subscribe(['os-tel-a'], ['temp'])).toMatchObject({ devices: ['os-tel-a'], metrics: ['temp'] });
    const now = Date.now();
    b.send({ type: 'telemetry', ts: now, metrics: { temp: 99 } });
    a.send({ type: 'telemetry', ts: now, metrics: { temp: 21.5, hum: 40 } });
    a.send({ type: 'telemetry', ts: now + 1, metrics: { hum: 41 } }); // nothing asked for: no frame
    a.send({ type: 'telemetry', ts: now + 2, metrics: { temp: 22, hum: 42 } });
    const first = await c.next('telemetry');
    expect(first).toMatchObject({ deviceId: 'os-tel-a', bootId: 'b00710aa', ts: now, metrics: { temp: 21.5 } });
    expect(first.metrics).toEqual({ temp: 21.5 });
    expect(typeof first.seq).toBe('number');
    expect((await c.next('telemetry')).metrics).toEqual({ temp: 22 });
    // Everything of every device, all metrics.
    expect(await c.subscribe(['*'])).toMatchObject({ devices: ['*'], metrics: null });
    b.send({ type: 'telemetry', ts: now + 3, metrics: { temp: 5, hum: 6 } });
    expect(await c.next('telemetry')).toMatchObject({ deviceId: 'os-tel-b', metrics: { temp: 5, hum: 6 } });
    // Unsubscribed (empty list): no telemetry any more, but status still flows.
    await c.subscribe([]);
    a.send({ type: 'telemetry', ts: now + 4, metrics: { temp: 1 } });
    a.close();
    expect(await c.next('status', 5000, (f) => f.deviceId === 'os-tel-a')).toMatchObject({
      state: 'offline',
      online: false,
    });
    expect(c.inbox.filter((f) => f.type === 'telemetry')).toEqual([]);
    c.close();
  });

  it('sends status for every device and command events from pending to the result', async () => {
    const c = await connect({ key: reader });
    await c.next('hello');
    const d = await device('os-cmd');
    const online = await c.next('status', 5000, (f) => f.deviceId === 'os-cmd');
    expect(online).toMatchObject({ state: 'online', online: true });
    expect(Math.abs((online.lastSeenAt as number) - Date.now())).toBeLessThan(5000);
    const sent = await api(t.gw, t.ca, 'POST', '/api/v1/devices/os-cmd/commands', {
      key: admin,
      body: { name: 'identify', args: { seconds: 3 } },
    });
    const id = (sent.body as { id: string }).id;
    expect(await c.next('command', 5000, (f) => f.id === id)).toEqual({
      type: 'command',
      deviceId: 'os-cmd',
      id,
      status: 'pending',
      name: 'identify',
    });
    await d.next('command');
    d.send({ type: 'command_result', id, status: 'ok', result: { blinking: true } });
    expect(await c.next('command', 5000, (f) => f.id === id)).toMatchObject({
      deviceId: 'os-cmd',
      status: 'ok',
      result: { blinking: true },
    });
    await api(t.gw, t.ca, 'POST', '/api/v1/devices/os-cmd/revoke', { key: admin });
    expect(await c.next('status', 5000, (f) => f.deviceId === 'os-cmd')).toMatchObject({
      state: 'revoked',
      online: false,
    });
    c.close();
  });

  it('sends the intervals in force when an operator changes a device configuration, online or not', async () => {
    const c = await connect({ key: reader });
    await c.next('hello');
    await registerDevice(t.gw, 'os-cfg');
    const r = await api(t.gw, t.ca, 'PUT', '/api/v1/devices/os-cfg/config', { key: admin, body: { telemetrySec: 5 } });
    expect(r.status).toBe(200);
    expect(await c.next('config', 5000, (f) => f.deviceId === 'os-cfg')).toEqual({
      type: 'config',
      deviceId: 'os-cfg',
      telemetrySec: 5,
      heartbeatSec: t.gw.config.limits.heartbeatSec,
    });
    // Back to the gateway's default: the event carries the value now in force, not null.
    await api(t.gw, t.ca, 'PUT', '/api/v1/devices/os-cfg/config', { key: admin, body: { telemetrySec: null } });
    expect(await c.next('config', 5000, (f) => f.deviceId === 'os-cfg')).toMatchObject({
      telemetrySec: t.gw.config.limits.telemetrySec,
    });
    c.close();
  });

  it('says when an operator deletes a device, and only then (a key rotation shows as the session ending)', async () => {
    const c = await connect({ key: reader });
    await c.next('hello');
    await device('os-del');
    await c.next('status', 5000, (f) => f.deviceId === 'os-del' && f.online === true);
    await api(t.gw, t.ca, 'POST', '/api/v1/devices/os-del/rotate-key', {
      key: admin,
      body: { publicKey: (await deviceKeys()).pub },
    });
    expect(await c.next('status', 5000, (f) => f.deviceId === 'os-del')).toMatchObject({ online: false });
    const before = Date.now();
    expect((await api(t.gw, t.ca, 'DELETE', '/api/v1/devices/os-del', { key: admin })).status).toBe(204);
    const gone = await c.next('deleted', 5000, (f) => f.deviceId === 'os-del');
    expect(gone).toEqual({ type: 'deleted', deviceId: 'os-del', at: expect.any(Number) });
    expect(gone.at as number).toBeGreaterThanOrEqual(before - 1000);
    // One deleted frame, none for the rotation before it.
    await expect(c.next('deleted', 500)).rejects.toThrow();
    c.close();
  });

  it('answers bad frames with an error and closes after repeated abuse (1008); a frame over 4 KiB closes 1009', async () => {
    const c = await connect({ key: reader });
    await c.next('hello');
    c.send('not json');
    expect(await c.next('error')).toMatchObject({ code: 'BAD_JSON' });
    c.send({ type: 'subscribe', devices: ['NOT AN ID'] });
    expect(await c.next('error')).toMatchObject({ code: 'BAD_SUBSCRIPTION' });
    c.send({ type: 'subscribe', devices: ['*'], metrics: [] });
    expect(await c.next('error')).toMatchObject({ code: 'BAD_SUBSCRIPTION' });
    c.send({ type: 'unsubscribe' });
    expect(await c.next('error')).toMatchObject({ code: 'UNKNOWN_TYPE' });
    for (let i = 0; i < 10; i++) c.send('[]');
    expect(await c.closed()).toBe(CloseCode.POLICY_VIOLATION);
    const big = await connect({ key: reader });
    big.send({ type: 'subscribe', devices: Array.from({ length: 400 }, (_, i) => `device-${i}`) });
    expect(await big.closed()).toBe(1009);
  });
});

describe('operator stream: credentials ending', () => {
  it('closes a bearer stream with 4003 when its key is revoked, and session streams at logout', async () => {
    const made = await api(t.gw, t.ca, 'POST', '/api/v1/api-keys', { key: admin, body: { name: 'ro', scope: 'read' } });
    const { id, key } = made.body as { id: string; key: string };
    const bearer = await connect({ key });
    const s = await signIn(t.gw, t.ca, key);
    const browser = await connect({ cookie: s.cookie, origin: originOf(t.gw) });
    await bearer.next('hello');
    await browser.next('hello');
    await api(t.gw, t.ca, 'DELETE', `/api/v1/api-keys/${id}`, { key: admin });
    expect(await bearer.closed()).toBe(CloseCode.REVOKED);
    expect(await browser.closed()).toBe(CloseCode.REVOKED);

    const s2 = await signIn(t.gw, t.ca, reader);
    const other = await signIn(t.gw, t.ca, reader);
    const mine = await connect({ cookie: s2.cookie, origin: originOf(t.gw) });
    const theirs = await connect({ cookie: other.cookie, origin: originOf(t.gw) });
    await mine.next('hello');
    await theirs.next('hello');
    const out = await api(t.gw, t.ca, 'DELETE', '/api/v1/session', {
      headers: { cookie: s2.cookie, 'x-csrf-token': s2.csrfToken, origin: originOf(t.gw) },
    });
    expect(out.status).toBe(204);
    expect(await mine.closed()).toBe(CloseCode.REVOKED);
    // Another session of the same key is untouched.
    await new Promise((r) => setTimeout(r, 100));
    expect(theirs.closeCode).toBeUndefined();
    theirs.close();
  });
});
