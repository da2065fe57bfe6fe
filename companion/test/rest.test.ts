/** The operator REST API: devices, telemetry, commands, API keys, OpenAPI, metrics, limits. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, deviceKeys, registerDevice, startTestGateway, TestDevice } from './helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
let admin: string;
let reader: string;
let operator: string;

beforeAll(async () => {
  t = await startTestGateway({
    corsOrigins: ['https://console.example'],
    limits: { restRequestsPerMinPerRoute: 1000 },
  });
  admin = t.gw.store.apiKeys.create('admin', 'admin').key;
  reader = t.gw.store.apiKeys.create('reader', 'read').key;
  operator = t.gw.store.apiKeys.create('op', 'operate').key;
});
afterAll(async () => t?.stop());

const call = (method: string, path: string, opts: Parameters<typeof api>[4] = {}) =>
  api(t.gw, t.ca, method, path, opts);

describe('REST: devices', () => {
  it('registers, lists with filters and paging, shows, rotates, revokes and deletes', async () => {
    const keys = await deviceKeys();
    for (const id of ['rest-a1', 'rest-a2', 'rest-a3', 'rest-b1']) {
      const r = await call('POST', '/api/v1/devices', { key: admin, body: { id, publicKey: keys.pub } });
      expect(r.status, r.text).toBe(201);
    }
    expect(
      (await call('POST', '/api/v1/devices', { key: admin, body: { id: 'rest-a1', publicKey: keys.pub } })).status,
    ).toBe(409);
    const page1 = await call('GET', '/api/v1/devices?prefix=rest-a&limit=2', { key: reader });
    const body1 = page1.body as { devices: { id: string }[]; next: string };
    expect(body1.devices.map((d) => d.id)).toEqual(['rest-a1', 'rest-a2']);
    const page2 = await call('GET', `/api/v1/devices?prefix=rest-a&limit=2&after=${body1.next}`, { key: reader });
    expect((page2.body as { devices: { id: string }[]; next: null }).devices.map((d) => d.id)).toEqual(['rest-a3']);
    expect((await call('GET', '/api/v1/devices/rest-b1', { key: reader })).body).toMatchObject({
      id: 'rest-b1',
      state: 'registered',
    });
    const fresh = await deviceKeys();
    const rot = await call('POST', '/api/v1/devices/rest-b1/rotate-key', {
      key: admin,
      body: { publicKey: fresh.pub },
    });
    expect(rot.status).toBe(200);
    expect((rot.body as { publicKey: { x: string } }).publicKey.x).toBe(fresh.pub.x);
    expect((await call('POST', '/api/v1/devices/rest-b1/revoke', { key: admin })).body).toMatchObject({
      state: 'revoked',
    });
    expect((await call('GET', '/api/v1/devices?state=revoked', { key: reader })).body).toMatchObject({
      devices: [{ id: 'rest-b1' }],
    });
    expect((await call('DELETE', '/api/v1/devices/rest-b1', { key: admin })).status).toBe(204);
    expect((await call('GET', '/api/v1/devices/rest-b1', { key: reader })).status).toBe(404);
    const actions = (await call('GET', '/api/v1/audit', { key: admin })).body as { entries: { action: string }[] };
    expect(actions.entries.map((e) => e.action)).toEqual(
      expect.arrayContaining(['device.register', 'device.rotate-key', 'device.revoke', 'device.delete']),
    );
  });

  it('refuses a bad public key, unknown fields and the wrong scope with stable codes', async () => {
    const bad = await call('POST', '/api/v1/devices', {
      key: admin,
      body: { id: 'rest-x', publicKey: { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43) } },
    });
    expect(bad.body).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    const extra = await call('POST', '/api/v1/devices', {
      key: admin,
      body: { id: 'rest-x', publicKey: {}, admin: true },
    });
    expect(extra.body).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    expect((await call('POST', '/api/v1/devices', { key: reader, body: {} })).body).toMatchObject({
      error: { code: 'FORBIDDEN' },
    });
    expect((await call('GET', '/api/v1/devices')).body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    expect((await call('POST', '/api/v1/devices', { key: admin, raw: '{"id":', headers: {} })).body).toMatchObject({
      error: { code: 'BAD_REQUEST' },
    });
    expect(
      (await call('POST', '/api/v1/devices', { key: admin, raw: 'id=1', headers: { 'content-type': 'text/plain' } }))
        .status,
    ).toBe(415);
    expect(
      (await call('POST', '/api/v1/devices', { key: admin, raw: JSON.stringify({ id: 'x'.repeat(70_000) }) })).status,
    ).toBe(413);
    expect((await call('GET', '/api/v1/nope', { key: reader })).body).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });
});

describe('REST: the enroll scope (least privilege for provisioning stations)', () => {
  it('registers devices and rotates their keys, reads, and can do nothing else', async () => {
    const enroll = t.gw.store.apiKeys.create('station', 'enroll').key;
    const keys = await deviceKeys();
    expect(
      (await call('POST', '/api/v1/devices', { key: enroll, body: { id: 'rest-e1', publicKey: keys.pub } })).status,
    ).toBe(201);
    expect((await call('GET', '/api/v1/devices/rest-e1', { key: enroll })).status).toBe(200);
    const fresh = await deviceKeys();
    const rotate = () =>
      call('POST', '/api/v1/devices/rest-e1/rotate-key', { key: enroll, body: { publicKey: fresh.pub } });
    expect((await rotate()).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/api/v1/devices/rest-e1/revoke', undefined],
      ['DELETE', '/api/v1/devices/rest-e1', undefined],
      ['POST', '/api/v1/devices/rest-e1/commands', { name: 'reboot' }],
      ['POST', '/api/v1/api-keys', { name: 'more', scope: 'admin' }],
      ['GET', '/api/v1/api-keys', undefined],
    ] as const) {
      const r = await call(method, path, { key: enroll, ...(body ? { body } : {}) });
      expect([r.status, (r.body as { error?: { code: string } }).error?.code], `${method} ${path}`).toEqual([
        403,
        'FORBIDDEN',
      ]);
    }
    // Undoing a revocation is an admin's call, even by rotating the key.
    expect((await call('POST', '/api/v1/devices/rest-e1/revoke', { key: admin })).status).toBe(200);
    expect(await rotate()).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    // And an operator cannot enrol.
    const op = await call('POST', '/api/v1/devices', { key: operator, body: { id: 'rest-e2', publicKey: keys.pub } });
    expect(op.status).toBe(403);
  });
});

describe('REST: telemetry and commands', () => {
  it('queries raw and downsampled telemetry, and sends a command that the device answers', async () => {
    const keys = await registerDevice(t.gw, 'rest-tel');
    const now = Date.now();
    t.gw.store.telemetry.insertMany(
      Array.from({ length: 20 }, (_, i) => ({
        deviceId: 'rest-tel',
        bootId: 'b1b1b1b1',
        seq: i,
        ts: now - 20_000 + i * 1000,
        metrics: { temp: i, rssi: -50 },
      })),
    );
    const raw = await call('GET', `/api/v1/devices/rest-tel/telemetry?from=${now - 60_000}&to=${now}&metric=temp`, {
      key: reader,
    });
    expect((raw.body as { points: unknown[] }).points).toHaveLength(20);
    const down = await call(
      'GET',
      `/api/v1/devices/rest-tel/telemetry?from=${now - 60_000}&to=${now}&metric=temp&bucket=10`,
      { key: reader },
    );
    const pts = (down.body as { points: { count: number }[] }).points;
    expect(pts.reduce((a, p) => a + p.count, 0)).toBe(20);
    expect(pts.length).toBeLessThanOrEqual(3);
    expect((await call('GET', '/api/v1/devices/rest-tel/telemetry?from=abc', { key: reader })).body).toMatchObject({
      error: { code: 'VALIDATION_FAILED' },
    });

    const d = await TestDevice.connect(t.gw, t.ca, 'rest-tel', keys.priv);
    d.hello('rest-tel');
    await d.next('welcome');
    const sent = await call('POST', '/api/v1/devices/rest-tel/commands', {
      key: operator,
      body: { name: 'led.set', args: { on: true }, ttlSec: 30 },
    });
    expect(sent.status, sent.text).toBe(202);
    const id = (sent.body as { id: string }).id;
    const cmd = await d.next('command');
    expect(cmd).toMatchObject({ id, name: 'led.set', args: { on: true } });
    d.send({ type: 'command_result', id, status: 'ok', result: { led: 'on' } });
    await expect
      .poll(
        async () => ((await call('GET', `/api/v1/commands/${id}`, { key: reader })).body as { status: string }).status,
      )
      .toBe('ok');
    expect((await call('GET', `/api/v1/commands/${id}`, { key: reader })).body).toMatchObject({
      result: { led: 'on' },
    });
    expect((await call('POST', '/api/v1/devices/rest-tel/commands', { key: reader, body: { name: 'x' } })).status).toBe(
      403,
    );
    d.close();
  });
});

describe('REST: API keys, OpenAPI, metrics, health', () => {
  it('creates a key shown once, lists without secrets, revokes it', async () => {
    const c = await call('POST', '/api/v1/api-keys', { key: admin, body: { name: 'ci', scope: 'read' } });
    expect(c.status).toBe(201);
    const { id, key } = c.body as { id: string; key: string };
    expect(key).toMatch(/^kiln_/);
    const list = await call('GET', '/api/v1/api-keys', { key: admin });
    expect(list.text).not.toContain(key);
    expect(list.text).not.toContain('h1:');
    expect((await call('GET', '/api/v1/devices', { key })).status).toBe(200);
    expect((await call('DELETE', `/api/v1/api-keys/${id}`, { key: admin })).status).toBe(204);
    expect((await call('GET', '/api/v1/devices', { key })).status).toBe(401);
  });

  it('serves an OpenAPI document that lists every route, /health, and /metrics with the named series', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json')).body as { openapi: string; paths: Record<string, object> };
    expect(doc.openapi).toBe('3.1.0');
    for (const p of [
      '/api/v1/devices',
      '/api/v1/devices/{id}',
      '/api/v1/devices/{id}/revoke',
      '/api/v1/devices/{id}/rotate-key',
      '/api/v1/devices/{id}/telemetry',
      '/api/v1/devices/{id}/commands',
      '/api/v1/commands/{id}',
      '/api/v1/api-keys',
      '/api/v1/api-keys/{id}',
      '/api/v1/audit',
      '/health',
      '/metrics',
    ]) {
      expect(doc.paths[p], p).toBeDefined();
    }
    expect((await call('GET', '/health')).body).toMatchObject({ status: 'ok', db: 'ok', mqtt: 'ok' });
    const m = await call('GET', '/metrics', { key: reader });
    for (const name of [
      'kiln_device_connections',
      'kiln_device_auth_failures_total',
      'kiln_messages_in_total',
      'kiln_messages_out_total',
      'kiln_queue_drops_total',
      'kiln_db_write_seconds',
      'kiln_mqtt_publish_seconds',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(m.text, name).toContain(name);
    }
    // A new data dir: the start checked the tables, not the whole file.
    expect(m.text).toMatch(/^kiln_db_start_check_seconds\{kind="tables"\} \d/m);
    expect((await call('GET', '/metrics')).status).toBe(401);
  });

  it("says how busy each of the gateway's threads was since the last scrape", async () => {
    const keys = await registerDevice(t.gw, 'rest-busy');
    const threads = async () => {
      const m = await call('GET', '/metrics', { key: reader });
      return Object.fromEntries(
        [...m.text.matchAll(/^kiln_thread_event_loop_utilization\{thread="([a-z-]+)"\} (\S+)$/gm)].map((x) => [
          x[1],
          Number(x[2]),
        ]),
      );
    };
    await threads();
    // Between two scrapes: a device's TLS (the TLS front), a commit (the writer), its session (the event loop).
    const d = await TestDevice.connect(t.gw, t.ca, 'rest-busy', keys.priv);
    d.hello('rest-busy');
    await d.next('welcome');
    d.send({ type: 'telemetry', seq: 1, ts: Date.now(), metrics: { t: 1 } });
    await d.next('ack');
    d.close();
    const busy = await threads();
    expect(Object.keys(busy).sort()).toEqual(['event-loop', 'telemetry-writer', 'tls-front']);
    for (const [thread, u] of Object.entries(busy)) {
      expect(u, thread).toBeGreaterThan(0);
      expect(u, thread).toBeLessThanOrEqual(1);
    }
  });

  it('sets security headers and answers CORS only for allowlisted origins', async () => {
    const r = await call('GET', '/health', { headers: { origin: 'https://console.example' } });
    expect(r.headers['access-control-allow-origin']).toBe('https://console.example');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['strict-transport-security']).toContain('max-age');
    expect(r.headers['content-security-policy']).toContain("default-src 'none'");
    expect(r.headers['x-powered-by']).toBeUndefined();
    const evil = await call('GET', '/api/v1/devices', { key: reader, headers: { origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
  });
});
