/**
 * The seed security audit as a checklist (issue 6, point 7): one describe per item,
 * named as the item is, so a reader can match them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { CloseCode, signDeviceToken } from '@kiln/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, resolveConfig } from '../src/config.ts';
import { startGateway } from '../src/gateway.ts';
import { createLogger } from '../src/log.ts';
import { BROKER_CONCURRENCY } from '../src/mqtt/broker.ts';
import { constantTimeEqual, hashSecret, SecretBox, secretMatches } from '../src/secrets.ts';
import { FixedWindowLimiter } from '../src/util/rate-limit.ts';
import { TtlMap } from '../src/util/ttl-map.ts';
import { api, refusedHandshake, registerDevice, startTestGateway, TestDevice, tempDir, testConfig } from './helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
const logLines: string[] = [];
let logged: Awaited<ReturnType<typeof startGateway>>;
let loggedDir: ReturnType<typeof tempDir>;

beforeAll(async () => {
  t = await startTestGateway({
    wsAllowedOrigins: ['https://console.example'],
    limits: { messagesPerSecPerDevice: 20, authFailuresPerMinPerIp: 1000 },
  });
  loggedDir = tempDir();
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  logged = await startGateway(testConfig(loggedDir.dir, { limits: { authFailuresPerMinPerIp: 5 } }), {
    log: createLogger({ level: 'debug', destination: sink }),
  });
});
afterAll(async () => {
  await t?.stop();
  await logged?.close();
  loggedDir?.remove();
});

const call = (method: string, path: string, opts: Parameters<typeof api>[4] = {}) =>
  api(t.gw, t.ca, method, path, opts);

describe('audit: replay protection (jti cache, per-boot sequence window)', () => {
  it('refuses a token whose jti was already used while it is valid', async () => {
    const k = await registerDevice(t.gw, 'au-replay');
    const token = await signDeviceToken(k.priv, { deviceId: 'au-replay', audience: t.gw.audiences[0] as string });
    const first = await TestDevice.connect(t.gw, t.ca, 'au-replay', k.priv, { token });
    first.close();
    const again = await refusedHandshake(t.gw.deviceUrl, ['kiln.v1', `kiln.jwt.${token}`], t.ca);
    expect(again).toMatchObject({ status: 401, code: 'JWT_REPLAYED' });
  });

  it('refuses the replay after a restart too, and on another instance sharing the store', async () => {
    const dir = tempDir();
    // One audience for both instances (each also accepts its own origins, whose ports differ).
    const audience = 'wss://gateway.example';
    const running: Awaited<ReturnType<typeof startTestGateway>>[] = [];
    const start = async () => {
      const g = await startTestGateway({ audience }, dir.dir);
      running.push(g);
      return g;
    };
    try {
      const a = await start();
      const k = await registerDevice(a.gw, 'au-replay-2');
      const token = await signDeviceToken(k.priv, { deviceId: 'au-replay-2', audience });
      const offer = ['kiln.v1', `kiln.jwt.${token}`];
      const first = await TestDevice.connect(a.gw, a.ca, 'au-replay-2', k.priv, { token });
      first.close();
      // Another instance on the same database, with nothing of it in its own memory.
      const b = await start();
      expect(await refusedHandshake(b.gw.deviceUrl, offer, b.ca)).toMatchObject({ status: 401, code: 'JWT_REPLAYED' });
      // The first instance restarted, its memory empty.
      await a.stop();
      const again = await start();
      expect(await refusedHandshake(again.gw.deviceUrl, offer, again.ca)).toMatchObject({
        status: 401,
        code: 'JWT_REPLAYED',
      });
      // A new token gets in, on either.
      const next = await TestDevice.connect(b.gw, b.ca, 'au-replay-2', k.priv, {
        token: await signDeviceToken(k.priv, { deviceId: 'au-replay-2', audience }),
      });
      next.hello('au-replay-2');
      await next.next('welcome');
      next.close();
    } finally {
      for (const g of running) await g.stop();
      dir.remove();
    }
  });

  it('does not store a sample far behind the highest seq of its boot (acknowledged, not stored)', async () => {
    const k = await registerDevice(t.gw, 'au-window');
    const d = await TestDevice.connect(t.gw, t.ca, 'au-window', k.priv);
    d.hello('au-window', 'abcdabcd');
    await d.next('welcome');
    d.send({ type: 'telemetry_batch', samples: [{ seq: 10_000, ts: 1, metrics: { a: 1 } }] });
    await d.next('ack');
    d.send({ type: 'telemetry_batch', samples: [{ seq: 5, ts: 1, metrics: { a: 1 } }] });
    expect((await d.next('ack')).acked).toEqual([5]);
    expect(t.gw.store.telemetry.count('au-window')).toBe(1);
    d.close();
  });
});

// Also bounded: what waits for each MQTT client (a slow one is dropped at
// MAX_WAITING_PER_CLIENT), in mqtt-stuck-subscriber.test.ts; and nothing is queued for an
// MQTT client while it is away (no persistent sessions), in mqtt.test.ts; and an MQTT
// packet's size (MAX_PACKET_BYTES), in packet-bound.test.ts; MQTT connections and each
// client's filters, in mqtt-limits.test.ts.
describe('audit: bounded queues everywhere', () => {
  it('closes a session with 1008 when its send queue would pass sendQueueBytes', async () => {
    const small = await startTestGateway({ limits: { sendQueueBytes: 64 } });
    try {
      const k = await registerDevice(small.gw, 'au-queue');
      const d = await TestDevice.connect(small.gw, small.ca, 'au-queue', k.priv);
      d.hello('au-queue');
      expect(await d.closed()).toBe(CloseCode.POLICY_VIOLATION);
      expect(await small.gw.metrics.registry.getSingleMetricAsString('kiln_queue_drops_total')).toContain(
        'queue="send"',
      );
    } finally {
      await small.stop();
    }
  });

  it('bounds the ingest queue (1013 when full), the bounded maps and the MQTT in-flight count', () => {
    expect(t.gw.ingest.maxQueued).toBeGreaterThan(0);
    const m = new TtlMap<string, number>(2, 60_000);
    expect(m.set('a', 1)).toBe(true);
    expect(m.set('b', 1)).toBe(true);
    expect(m.set('c', 1)).toBe(false);
    m.close();
    const closed: number[] = [];
    const fake = {
      deviceId: 'x',
      bootId: 'b',
      closed: false,
      close: (c: number) => closed.push(c),
      send: () => true,
    } as never;
    const samples = Array.from({ length: t.gw.ingest.maxQueued + 1 }, (_, i) => ({ seq: i, ts: 1, metrics: { a: 1 } }));
    expect(t.gw.ingest.enqueue(fake, samples)).toBe(false);
    expect(closed).toEqual([CloseCode.TRY_AGAIN_LATER]);
    // The bridge's publishes in flight stay below what aedes runs at once; past that the
    // queue is bounded and counts what it drops.
    expect(t.gw.bridge.maxInflight).toBeLessThan(BROKER_CONCURRENCY);
    expect(t.gw.bridge.maxQueued).toBeGreaterThan(0);
  });
});

describe('audit: TTL cleanup of every in-memory map', () => {
  it('expires entries and sweeps them (jti cache, key cache, rate windows are all TtlMaps)', () => {
    let now = 0;
    const m = new TtlMap<string, number>(10, 1000, () => now);
    m.set('jti', 1);
    now = 999;
    expect(m.get('jti')).toBe(1);
    now = 1000;
    expect(m.get('jti')).toBeUndefined();
    m.set('a', 1);
    m.set('b', 1, 10);
    now = 1020;
    expect(m.sweep()).toBe(1);
    expect(m.size).toBe(1);
    m.close();
    const rl = new FixedWindowLimiter(1, 100, 10, () => now);
    rl.hit('ip');
    expect(rl.trackedKeys).toBe(1);
    now += 200;
    expect(rl.hit('other').allowed).toBe(true);
    rl.close();
  });
});

describe('audit: close on failed auth', () => {
  it('answers 401 and closes the TCP connection without upgrading', async () => {
    const r = await refusedHandshake(t.gw.deviceUrl, ['kiln.v1', 'kiln.jwt.aaa.bbb.ccc'], t.ca);
    expect(r.status).toBe(401);
    expect(t.gw.sessions.size).toBeGreaterThanOrEqual(0);
  });
});

describe('audit: rate limits on auth and on messages', () => {
  it('answers 429 after too many failed device handshakes from one address', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) {
      codes.push(
        (
          await refusedHandshake(
            logged.deviceUrl,
            ['kiln.v1', 'kiln.jwt.aaa.bbb.ccc'],
            readFileSync(logged.caPath as string),
          )
        ).status,
      );
    }
    expect(codes.slice(0, 5).every((c) => c === 401)).toBe(true);
    expect(codes.at(-1)).toBe(429);
  });

  it('answers RATE_LIMITED over the per-device message rate, and closes 1008 at twice the rate', async () => {
    const k = await registerDevice(t.gw, 'au-rate');
    const d = await TestDevice.connect(t.gw, t.ca, 'au-rate', k.priv);
    d.hello('au-rate');
    await d.next('welcome');
    for (let i = 0; i < 45; i++) d.send({ type: 'heartbeat' });
    expect((await d.next('error')).code).toBe('RATE_LIMITED');
    expect(await d.closed()).toBe(CloseCode.POLICY_VIOLATION);
  });

  it('answers 429 with Retry-After on the REST per-IP/per-route limits', async () => {
    const lim = await startTestGateway({ limits: { restRequestsPerMinPerRoute: 3 } });
    try {
      const key = lim.gw.store.apiKeys.create('r', 'read').key;
      const statuses: number[] = [];
      let retry: unknown;
      for (let i = 0; i < 4; i++) {
        const r = await api(lim.gw, lim.ca, 'GET', '/api/v1/devices', { key });
        statuses.push(r.status);
        retry = r.headers['retry-after'];
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(Number(retry)).toBeGreaterThan(0);
    } finally {
      await lim.stop();
    }
  });
});

describe('audit: no mock or dev auth path reachable in production mode', () => {
  it('refuses --insecure-dev and a missing certificate in production mode', () => {
    expect(() => resolveConfig({ mode: 'production', insecureDev: true })).toThrow(/INSECURE|production/);
    expect(() => resolveConfig({ mode: 'production' })).toThrow(/certificate/);
  });

  it('has no unauthenticated route to data, whatever the headers', async () => {
    for (const path of ['/api/v1/devices', '/api/v1/api-keys', '/api/v1/audit', '/metrics']) {
      const r = await call('GET', path, { headers: { 'x-kiln-dev': '1', 'x-forwarded-for': '127.0.0.1' } });
      expect(r.status, path).toBe(401);
    }
  });
});

describe('audit: hashed tokens at rest', () => {
  it('stores API keys only as h1:<sha256>, never the key', async () => {
    const { key, row } = t.gw.store.apiKeys.create('h', 'read');
    expect(t.gw.store.apiKeys.storedHash(row.id)).toBe(hashSecret(key));
    t.gw.store.db.pragma('wal_checkpoint(TRUNCATE)');
    const files = readdirSync(t.gw.config.dataDir).filter((f) => f.startsWith('gateway.db'));
    for (const f of files) expect(readFileSync(join(t.gw.config.dataDir, f)).includes(key)).toBe(false);
  });
});

describe('audit: secrets that must be read back encrypted at rest (XChaCha20-Poly1305, enc:v1:)', () => {
  it('keeps the dev CA and server private keys sealed; no clear private key in the data dir', () => {
    const dir = t.gw.config.dataDir;
    for (const f of ['dev-ca.key.enc', 'dev-server.key.enc'])
      expect(readFileSync(join(dir, f), 'utf8')).toMatch(/^enc:v1:[A-Za-z0-9+/=]+$/);
    for (const f of readdirSync(dir)) {
      if (f.startsWith('gateway.db')) continue;
      expect(readFileSync(join(dir, f), 'utf8'), f).not.toContain('PRIVATE KEY');
    }
  });

  it('opens what it sealed, and refuses a tampered value or another key', () => {
    const box = new SecretBox(new Uint8Array(32).fill(7));
    const sealed = box.seal('mqtt-password');
    expect(box.open(sealed).toString()).toBe('mqtt-password');
    const raw = Buffer.from(sealed.slice('enc:v1:'.length), 'base64');
    raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 1;
    expect(() => box.open(`enc:v1:${raw.toString('base64')}`)).toThrow(/SECRET_CORRUPT|does not open/);
    expect(() => new SecretBox(new Uint8Array(32)).open(sealed)).toThrow();
  });
});

describe('audit: revoke and logout paths', () => {
  it('revoking a device closes its live session with 4003 and refuses its next login with 403', async () => {
    const admin = t.gw.store.apiKeys.create('adm', 'admin').key;
    const k = await registerDevice(t.gw, 'au-revoke');
    const d = await TestDevice.connect(t.gw, t.ca, 'au-revoke', k.priv);
    d.hello('au-revoke');
    await d.next('welcome');
    // The device reads nothing for now, so its session waits in the close handshake: it is
    // offline all the same from the moment it is revoked.
    d.ws.pause();
    await call('POST', '/api/v1/devices/au-revoke/revoke', { key: admin });
    expect((await call('GET', '/api/v1/devices/au-revoke', { key: admin })).body).toMatchObject({
      state: 'revoked',
      online: false,
    });
    d.ws.resume();
    expect(await d.closed()).toBe(CloseCode.REVOKED);
    const token = await signDeviceToken(k.priv, { deviceId: 'au-revoke', audience: t.gw.audiences[0] as string });
    expect(await refusedHandshake(t.gw.deviceUrl, ['kiln.v1', `kiln.jwt.${token}`], t.ca)).toMatchObject({
      status: 403,
      code: 'DEVICE_REVOKED',
    });
  });

  it('a revoked API key is refused at once; a device that logs out is marked offline', async () => {
    const { key, row } = t.gw.store.apiKeys.create('gone', 'read');
    expect((await call('GET', '/api/v1/devices', { key })).status).toBe(200);
    t.gw.store.apiKeys.revoke(row.id);
    expect((await call('GET', '/api/v1/devices', { key })).status).toBe(401);
    const k = await registerDevice(t.gw, 'au-logout');
    const d = await TestDevice.connect(t.gw, t.ca, 'au-logout', k.priv);
    d.hello('au-logout');
    await d.next('welcome');
    d.ws.close(CloseCode.NORMAL);
    await expect.poll(() => t.gw.store.devices.get('au-logout')?.state).toBe('offline');
  });
});

describe('audit: WS Origin check', () => {
  it('refuses a browser origin that is not allowlisted, accepts an allowlisted one', async () => {
    const k = await registerDevice(t.gw, 'au-origin');
    const token = await signDeviceToken(k.priv, { deviceId: 'au-origin', audience: t.gw.audiences[0] as string });
    const r = await refusedHandshake(t.gw.deviceUrl, ['kiln.v1', `kiln.jwt.${token}`], t.ca, {
      origin: 'https://evil.example',
    });
    expect(r).toMatchObject({ status: 403, code: 'ORIGIN_NOT_ALLOWED' });
    const ok = await TestDevice.connect(t.gw, t.ca, 'au-origin', k.priv, {
      headers: { origin: 'https://console.example' },
    });
    ok.close();
  });
});

describe('audit: tokens in the URL are refused', () => {
  it('answers 400 to a query string on the device path', async () => {
    const k = await registerDevice(t.gw, 'au-url');
    const token = await signDeviceToken(k.priv, { deviceId: 'au-url', audience: t.gw.audiences[0] as string });
    const r = await refusedHandshake(`${t.gw.deviceUrl}?token=${token}`, ['kiln.v1', `kiln.jwt.${token}`], t.ca);
    expect(r).toMatchObject({ status: 400, code: 'TOKEN_IN_URL' });
  });
});

describe('audit: DSN redaction', () => {
  it('logs no token, no bearer key and no DSN password', async () => {
    const k = await registerDevice(logged, 'au-log');
    const token = await signDeviceToken(k.priv, { deviceId: 'au-log', audience: 'wrong-aud' });
    logged.log.info({ dsn: 'mqtt://kiln:hunter2@broker:1883' }, 'connected');
    await refusedHandshake(
      logged.deviceUrl,
      ['kiln.v1', `kiln.jwt.${token}`],
      readFileSync(logged.caPath as string),
    ).catch(() => undefined);
    const all = logLines.join('');
    expect(all).toContain('device handshake refused');
    expect(all).toMatch(/"sec-websocket-protocol":"(\[redacted\]|kiln\.v1, kiln\.jwt\.\[redacted\])"/);
    expect(all).not.toContain(token.split('.')[2] as string);
    expect(all).not.toContain('hunter2');
  });

  it('does not log a token that was put in the URL of a refused handshake', async () => {
    const k = await registerDevice(logged, 'au-log-url');
    const token = await signDeviceToken(k.priv, { deviceId: 'au-log-url', audience: logged.audiences[0] as string });
    const from = logLines.length;
    const r = await refusedHandshake(
      `${logged.deviceUrl}?token=${token}`,
      ['kiln.v1'],
      readFileSync(logged.caPath as string),
    );
    expect(r).toMatchObject({ status: 400, code: 'TOKEN_IN_URL' });
    const lines = logLines.slice(from).join('');
    expect(lines).toContain('device handshake refused');
    expect(lines).toContain('"url":"/v1/device"');
    expect(lines).not.toContain(token.split('.')[2] as string);
  });
});

describe('audit: constant-time comparisons', () => {
  it('compares fixed-length digests with timingSafeEqual (any input length, never throws)', () => {
    const h = hashSecret('kiln_secret');
    expect(secretMatches('kiln_secret', h)).toBe(true);
    expect(secretMatches('kiln_secreT', h)).toBe(false);
    expect(secretMatches('', h)).toBe(false);
    expect(secretMatches('x'.repeat(10_000), h)).toBe(false);
    expect(secretMatches('kiln_secret', 'h1:abcd')).toBe(false);
    expect(constantTimeEqual('a', 'a')).toBe(true);
    expect(constantTimeEqual('a', 'ab')).toBe(false);
    const src = readFileSync(new URL('../src/secrets.ts', import.meta.url), 'utf8');
    expect(src).toContain('timingSafeEqual(expected, actual)');
  });
});

describe('audit: loopback default bind', () => {
  it('listens on 127.0.0.1 unless told otherwise, and refuses a public bind without the flag', () => {
    expect(defaultConfig().listen.host).toBe('127.0.0.1');
    expect(new URL(t.gw.baseUrl).hostname).toBe('127.0.0.1');
    expect(() => resolveConfig({ listen: { host: '0.0.0.0', port: 0 } })).toThrow(/loopback/);
    expect(() => resolveConfig({ mqtt: { listen: { host: '0.0.0.0', port: 0 } } })).toThrow(/refusing/);
  });
});
