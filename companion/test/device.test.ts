/** The device endpoint over real TLS: handshake auth, sessions, acks after commit, limits, close codes. */
import { CloseCode, signDeviceToken } from '@kiln/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { refusedHandshake, registerDevice, startTestGateway, TestDevice } from './helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
const open: TestDevice[] = [];

beforeAll(async () => {
  t = await startTestGateway({ limits: { helloTimeoutMs: 400, messagesPerSecPerDevice: 40 } });
});
afterAll(async () => {
  for (const d of open) d.close();
  await t?.stop();
});

async function connect(id: string, keys?: Awaited<ReturnType<typeof registerDevice>>) {
  const k = keys ?? (await registerDevice(t.gw, id));
  const d = await TestDevice.connect(t.gw, t.ca, id, k.priv);
  open.push(d);
  return { d, keys: k };
}

describe('device endpoint: handshake', () => {
  it('selects kiln.v1 only (never echoes the token) and answers hello with welcome', async () => {
    const { d } = await connect('dev-hello');
    expect(d.ws.protocol).toBe('kiln.v1');
    d.hello('dev-hello');
    const w = await d.next('welcome');
    expect(w.serverTime).toBeGreaterThan(Date.now() - 10_000);
    expect(w.heartbeatSec).toBe(t.gw.config.limits.heartbeatSec);
    expect(w.maxBatch).toBe(64);
    expect(t.gw.store.devices.get('dev-hello')?.state).toBe('online');
    d.close();
  });

  it('refuses an unknown device, a bad signature and a missing token with 401 before the upgrade', async () => {
    const url = t.gw.deviceUrl;
    const stranger = await registerDevice(t.gw, 'dev-known');
    const forged = await signDeviceToken(stranger.priv, {
      deviceId: 'dev-unknown',
      audience: t.gw.audiences[0] as string,
    });
    expect((await refusedHandshake(url, ['kiln.v1', `kiln.jwt.${forged}`], t.ca)).code).toBe('UNKNOWN_DEVICE');
    const other = await registerDevice(t.gw, 'dev-other');
    const wrongKey = await signDeviceToken(other.priv, {
      deviceId: 'dev-known',
      audience: t.gw.audiences[0] as string,
    });
    const r = await refusedHandshake(url, ['kiln.v1', `kiln.jwt.${wrongKey}`], t.ca);
    expect(r).toMatchObject({ status: 401, code: 'JWT_BAD_SIGNATURE' });
    expect(r.protocolHeader).toBeUndefined();
    expect((await refusedHandshake(url, ['kiln.v1'], t.ca)).code).toBe('NO_TOKEN');
    const aud = await signDeviceToken(stranger.priv, { deviceId: 'dev-known', audience: 'elsewhere' });
    expect((await refusedHandshake(url, ['kiln.v1', `kiln.jwt.${aud}`], t.ca)).code).toBe('JWT_BAD_AUDIENCE');
    const metrics = await t.gw.metrics.registry.getSingleMetricAsString('kiln_device_auth_failures_total');
    expect(metrics).toContain('reason="JWT_BAD_SIGNATURE"');
    expect(metrics).toContain('reason="UNKNOWN_DEVICE"');
  });
});

describe('device endpoint: audience (SPEC §1.2)', () => {
  it('accepts the origin of any loopback spelling of its URL, and nothing generic', async () => {
    const port = new URL(t.gw.deviceUrl).port;
    expect(t.gw.audiences).toEqual([`wss://127.0.0.1:${port}`, `wss://localhost:${port}`, `wss://[::1]:${port}`]);
    const k = await registerDevice(t.gw, 'dev-aud');
    for (const audience of [`wss://localhost:${port}`, `wss://127.0.0.1:${port}`]) {
      const token = await signDeviceToken(k.priv, { deviceId: 'dev-aud', audience });
      const d = await TestDevice.connect(t.gw, t.ca, 'dev-aud', k.priv, { token });
      d.close();
    }
    for (const audience of ['kiln-gateway', `wss://127.0.0.1:${Number(port) + 1}`, `https://127.0.0.1:${port}`]) {
      const token = await signDeviceToken(k.priv, { deviceId: 'dev-aud', audience });
      expect((await refusedHandshake(t.gw.deviceUrl, ['kiln.v1', `kiln.jwt.${token}`], t.ca)).code).toBe(
        'JWT_BAD_AUDIENCE',
      );
    }
  });
});

describe('device endpoint: sessions', () => {
  it('acknowledges telemetry only after it is committed, and stores resends exactly once', async () => {
    const { d } = await connect('dev-tel');
    d.hello('dev-tel', 'aa01aa01');
    await d.next('welcome');
    d.send({ type: 'telemetry', ts: Date.now(), metrics: { temp: 21.5 } });
    const first = await d.next('ack');
    expect(first.acked).toEqual([1]);
    // The ack means the row is there.
    expect(t.gw.store.telemetry.count('dev-tel')).toBe(1);
    const samples = [1, 2, 3].map((seq) => ({ seq, ts: Date.now(), metrics: { temp: seq } }));
    d.send({ type: 'telemetry_batch', samples });
    const again = await d.next('ack');
    expect(again.acked.sort()).toEqual([1, 2, 3]);
    expect(t.gw.store.telemetry.count('dev-tel')).toBe(3);
    d.close();
  });

  it('a new login supersedes the old session (4001)', async () => {
    const { d: a, keys } = await connect('dev-twice');
    a.hello('dev-twice');
    await a.next('welcome');
    const { d: b } = await connect('dev-twice', keys);
    b.hello('dev-twice');
    await b.next('welcome');
    expect(await a.closed()).toBe(CloseCode.SUPERSEDED);
    expect(t.gw.sessions.get('dev-twice')).toBeDefined();
    b.close();
  });

  it('closes with 4008 when no hello comes in time', async () => {
    const { d } = await connect('dev-silent');
    expect(await d.closed()).toBe(CloseCode.HELLO_TIMEOUT);
  });

  it('closes with 1008 when something other than hello comes first, or a hello for another device', async () => {
    const { d } = await connect('dev-rude');
    d.send({ type: 'heartbeat' });
    expect(await d.closed()).toBe(CloseCode.POLICY_VIOLATION);
    const { d: e } = await connect('dev-liar');
    e.hello('dev-rude');
    expect(await e.closed()).toBe(CloseCode.POLICY_VIOLATION);
  });

  it('answers an invalid message with a documented error and keeps the session', async () => {
    const { d } = await connect('dev-bad');
    d.hello('dev-bad');
    await d.next('welcome');
    d.ws.send('{"type":"telemetry","seq":1,"ts":1,"metrics":{}}');
    const err = await d.next('error');
    expect(err.code).toBe('BAD_MESSAGE');
    expect(err.message).toContain('TOO_SHORT');
    d.send({ type: 'heartbeat' });
    await d.next('heartbeat');
    d.close();
  });

  it('closes with 1008 for a gateway-only message type (direction rule)', async () => {
    const { d } = await connect('dev-dir');
    d.hello('dev-dir');
    await d.next('welcome');
    d.send({ type: 'ack', acked: [1] });
    expect(await d.closed()).toBe(CloseCode.POLICY_VIOLATION);
  });

  it('closes with 1009 for a frame over maxPayload (64 KiB)', async () => {
    const { d } = await connect('dev-big');
    d.hello('dev-big');
    await d.next('welcome');
    d.ws.send('x'.repeat(70_000));
    expect(await d.closed()).toBe(CloseCode.MESSAGE_TOO_BIG);
  });

  it('turns a dead peer out on the ping round (no pong)', async () => {
    const { d } = await connect('dev-dead');
    d.hello('dev-dead');
    await d.next('welcome');
    const s = t.gw.sessions.get('dev-dead');
    expect(s).toBeDefined();
    // A peer that stops answering pings: pause its socket so pongs never come back.
    (d.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    t.gw.sessions.pingAll();
    t.gw.sessions.pingAll();
    await new Promise((r) => setTimeout(r, 50));
    expect(t.gw.sessions.get('dev-dead')).toBeUndefined();
    d.close();
  });

  it('ws client libraries see the selected subprotocol in the 101 (never the token)', async () => {
    const k = await registerDevice(t.gw, 'dev-proto');
    const token = await signDeviceToken(k.priv, { deviceId: 'dev-proto', audience: t.gw.audiences[0] as string });
    const ws = new WebSocket(t.gw.deviceUrl, ['kiln.v1', `kiln.jwt.${token}`], { ca: t.ca as Buffer });
    const header = await new Promise<string | undefined>((resolve, reject) => {
      ws.once('upgrade', (res) => resolve(res.headers['sec-websocket-protocol'] as string | undefined));
      ws.once('error', reject);
    });
    expect(header).toBe('kiln.v1');
    ws.terminate();
  });
});
