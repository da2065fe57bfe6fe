/**
 * Per-device configuration (PUT /api/v1/devices/:id/config, SPEC §4.4) against a real gateway:
 * real TLS, real SQLite, kiln.v1 device clients. The values are stored, sent at once as a
 * `config` message to a live session, carried by the next `welcome`, shown by GET, audited,
 * validated strictly, and guarded by the operate scope (and CSRF for a browser session).
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../src/store/index.ts';
import { MIGRATIONS } from '../src/store/migrations.ts';
import { api, registerDevice, startTestGateway, TestDevice, tempDir } from './helpers.ts';
import { originOf, signIn } from './operator-helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
let admin: string;
let operator: string;
let reader: string;
const devices: TestDevice[] = [];

beforeAll(async () => {
  t = await startTestGateway({ limits: { restRequestsPerMinPerRoute: 10_000, authFailuresPerMinPerIp: 10_000 } });
  admin = t.gw.store.apiKeys.create('admin', 'admin').key;
  operator = t.gw.store.apiKeys.create('ops', 'operate').key;
  reader = t.gw.store.apiKeys.create('reader', 'read').key;
});
afterEach(() => {
  for (const d of devices.splice(0)) d.close();
});
afterAll(async () => t?.stop());

const put = (id: string, body: unknown, key = operator) =>
  api(t.gw, t.ca, 'PUT', `/api/v1/devices/${id}/config`, { key, body });
const show = async (id: string) => {
  const r = await api(t.gw, t.ca, 'GET', `/api/v1/devices/${id}`, { key: reader });
  expect(r.status, r.text).toBe(200);
  return r.body as { config: { telemetrySec: number; heartbeatSec: number } };
};
const errorCode = (r: { body: unknown }) => (r.body as { error?: { code?: string } }).error?.code;

async function online(id: string, keys: Awaited<ReturnType<typeof registerDevice>>, bootId = 'b00710aa') {
  const d = await TestDevice.connect(t.gw, t.ca, id, keys.priv);
  devices.push(d);
  d.hello(id, bootId);
  return { d, welcome: await d.next('welcome') };
}

describe('device config: stored, sent, shown', () => {
  it('an offline device: the values are stored (delivered false), shown by GET, and its next welcome carries them', async () => {
    const { telemetrySec: dflTelemetry, heartbeatSec: dflHeartbeat } = t.gw.config.limits;
    const keys = await registerDevice(t.gw, 'cfg-offline');
    expect((await show('cfg-offline')).config).toEqual({ telemetrySec: dflTelemetry, heartbeatSec: dflHeartbeat });

    const r = await put('cfg-offline', { telemetrySec: 7 });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({
      deviceId: 'cfg-offline',
      telemetrySec: 7,
      heartbeatSec: dflHeartbeat,
      delivered: false,
    });
    expect((await show('cfg-offline')).config).toEqual({ telemetrySec: 7, heartbeatSec: dflHeartbeat });
    expect(t.gw.store.devices.configOf('cfg-offline')).toEqual({ telemetrySec: 7, heartbeatSec: null });
    // The list shows the same item shape.
    const list = await api(t.gw, t.ca, 'GET', '/api/v1/devices?q=cfg-offline', { key: reader });
    expect((list.body as { devices: { config: unknown }[] }).devices[0]?.config).toEqual({
      telemetrySec: 7,
      heartbeatSec: dflHeartbeat,
    });

    const { welcome } = await online('cfg-offline', keys);
    expect(welcome).toMatchObject({ telemetrySec: 7, heartbeatSec: dflHeartbeat });
  });

  it('a live device gets a config message at once (delivered true); a reconnect gets the values in welcome', async () => {
    const keys = await registerDevice(t.gw, 'cfg-live');
    const first = await online('cfg-live', keys);
    expect(first.welcome).toMatchObject({
      telemetrySec: t.gw.config.limits.telemetrySec,
      heartbeatSec: t.gw.config.limits.heartbeatSec,
    });

    const r = await put('cfg-live', { telemetrySec: 2, heartbeatSec: 15 });
    expect(r.body).toEqual({ deviceId: 'cfg-live', telemetrySec: 2, heartbeatSec: 15, delivered: true });
    const config = await first.d.next('config');
    expect(config).toMatchObject({ type: 'config', telemetrySec: 2, heartbeatSec: 15 });
    expect(Number.isInteger(config.seq)).toBe(true);

    // Only the heartbeat changes: the message still carries both values in force.
    expect((await put('cfg-live', { heartbeatSec: 30 })).body).toMatchObject({ telemetrySec: 2, heartbeatSec: 30 });
    expect(await first.d.next('config')).toMatchObject({ telemetrySec: 2, heartbeatSec: 30 });

    first.d.ws.close(1000);
    await first.d.closed();
    await expect.poll(() => t.gw.sessions.get('cfg-live')).toBeUndefined();
    const again = await online('cfg-live', keys, 'b00710ab');
    expect(again.welcome).toMatchObject({ telemetrySec: 2, heartbeatSec: 30 });
  });

  it('null puts a value back to the gateway default, live and in the next welcome', async () => {
    const { telemetrySec: dflTelemetry, heartbeatSec: dflHeartbeat } = t.gw.config.limits;
    const keys = await registerDevice(t.gw, 'cfg-reset');
    expect((await put('cfg-reset', { telemetrySec: 3, heartbeatSec: 20 })).status).toBe(200);
    const { d } = await online('cfg-reset', keys);
    const r = await put('cfg-reset', { telemetrySec: null });
    expect(r.body).toEqual({ deviceId: 'cfg-reset', telemetrySec: dflTelemetry, heartbeatSec: 20, delivered: true });
    expect(await d.next('config')).toMatchObject({ telemetrySec: dflTelemetry, heartbeatSec: 20 });
    expect(t.gw.store.devices.configOf('cfg-reset')).toEqual({ telemetrySec: null, heartbeatSec: 20 });
    expect((await put('cfg-reset', { heartbeatSec: null })).body).toMatchObject({ heartbeatSec: dflHeartbeat });
    expect((await show('cfg-reset')).config).toEqual({ telemetrySec: dflTelemetry, heartbeatSec: dflHeartbeat });
  });

  it('survives a gateway restart (SQLite), and a database from before the columns migrates with none set', async () => {
    const dir = tempDir();
    try {
      const first = await startTestGateway({}, dir.dir);
      try {
        await registerDevice(first.gw, 'cfg-restart');
        const key = first.gw.store.apiKeys.create('ops', 'operate').key;
        const r = await api(first.gw, first.ca, 'PUT', '/api/v1/devices/cfg-restart/config', {
          key,
          body: { telemetrySec: 120, heartbeatSec: 600 },
        });
        expect(r.status, r.text).toBe(200);
      } finally {
        await first.stop();
      }
      const second = await startTestGateway({}, dir.dir);
      try {
        expect(second.gw.store.devices.configOf('cfg-restart')).toEqual({ telemetrySec: 120, heartbeatSec: 600 });
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }

    const old = tempDir();
    try {
      const v3 = new Database(join(old.dir, 'gateway.db'));
      for (const m of MIGRATIONS.slice(0, 3)) v3.exec(m);
      v3.pragma('user_version = 3');
      v3.prepare(`INSERT INTO devices (id, public_key_jwk, created_at) VALUES ('old-1', '{}', 1)`).run();
      v3.close();
      const s = Store.open(old.dir);
      try {
        expect(s.devices.configOf('old-1')).toEqual({ telemetrySec: null, heartbeatSec: null });
        expect(s.devices.setConfig('old-1', { telemetrySec: 5 })).toBe(true);
        expect(s.devices.get('old-1')?.config).toEqual({ telemetrySec: 5, heartbeatSec: null });
        expect(s.devices.setConfig('no-such', { telemetrySec: 5 })).toBe(false);
        // The column constraints hold even for a writer that skips the REST checks.
        expect(() => s.db.prepare("UPDATE devices SET heartbeat_sec = 4 WHERE id = 'old-1'").run()).toThrow(/CHECK/);
      } finally {
        s.close();
      }
    } finally {
      old.remove();
    }
  });
});

describe('device config: refusals', () => {
  beforeAll(async () => {
    await registerDevice(t.gw, 'cfg-strict');
  });

  it('refuses bodies that are not exactly {telemetrySec?: 1..86400, heartbeatSec?: 5..3600} (400), changing nothing', async () => {
    const bodies: unknown[] = [
      {},
      { telemetrySec: 0 },
      { telemetrySec: 86_401 },
      { telemetrySec: -1 },
      { telemetrySec: 1.5 },
      { telemetrySec: '5' },
      { telemetrySec: true },
      { heartbeatSec: 4 },
      { heartbeatSec: 3601 },
      { heartbeatSec: [30] },
      { telemetrySec: 5, interval: 5 },
      { interval: null },
      [],
      [{ telemetrySec: 5 }],
    ];
    for (const body of bodies) {
      const r = await put('cfg-strict', body);
      expect([r.status, errorCode(r)], JSON.stringify(body)).toEqual([400, 'VALIDATION_FAILED']);
    }
    // Not a JSON object at all: the JSON parser refuses it before the route (strict mode).
    for (const raw of ['{"telemetrySec": 5', 'null', '"telemetrySec=5"', '5']) {
      const r = await api(t.gw, t.ca, 'PUT', '/api/v1/devices/cfg-strict/config', { key: operator, raw });
      expect(r.status, raw).toBe(400);
    }
    expect(t.gw.store.devices.configOf('cfg-strict')).toEqual({ telemetrySec: null, heartbeatSec: null });
  });

  it('answers 404 for an unknown device and 409 DEVICE_REVOKED for a revoked one', async () => {
    expect(errorCode(await put('no-such-device', { telemetrySec: 5 }))).toBe('NOT_FOUND');
    expect((await put('no-such-device', { telemetrySec: 5 })).status).toBe(404);
    expect((await put('Not%20An%20Id', { telemetrySec: 5 })).status).toBe(404);
    const keys = await registerDevice(t.gw, 'cfg-revoked');
    const { d } = await online('cfg-revoked', keys);
    expect((await api(t.gw, t.ca, 'POST', '/api/v1/devices/cfg-revoked/revoke', { key: admin })).status).toBe(200);
    expect(await d.closed()).toBe(4003);
    const r = await put('cfg-revoked', { telemetrySec: 5 });
    expect([r.status, errorCode(r)]).toEqual([409, 'DEVICE_REVOKED']);
    expect(t.gw.store.devices.configOf('cfg-revoked')).toEqual({ telemetrySec: null, heartbeatSec: null });
  });

  it('needs the operate scope: read is 403, no key 401; a browser session needs CSRF and its Origin', async () => {
    expect((await put('cfg-strict', { telemetrySec: 5 }, reader)).status).toBe(403);
    const none = await api(t.gw, t.ca, 'PUT', '/api/v1/devices/cfg-strict/config', { body: { telemetrySec: 5 } });
    expect(none.status).toBe(401);
    expect(t.gw.store.devices.configOf('cfg-strict')?.telemetrySec).toBeNull();
    expect((await put('cfg-strict', { telemetrySec: 5 }, admin)).status).toBe(200);

    const s = await signIn(t.gw, t.ca, operator);
    const noCsrf = await api(t.gw, t.ca, 'PUT', '/api/v1/devices/cfg-strict/config', {
      body: { telemetrySec: 6 },
      headers: { cookie: s.cookie, origin: originOf(t.gw) },
    });
    expect([noCsrf.status, errorCode(noCsrf)]).toEqual([403, 'CSRF']);
    const ok = await api(t.gw, t.ca, 'PUT', '/api/v1/devices/cfg-strict/config', {
      body: { telemetrySec: 6 },
      headers: { cookie: s.cookie, origin: originOf(t.gw), 'x-csrf-token': s.csrfToken },
    });
    expect(ok.status, ok.text).toBe(200);
    expect(t.gw.store.devices.configOf('cfg-strict')?.telemetrySec).toBe(6);
  });
});

describe('device config: audited and documented', () => {
  it('writes one audit entry per change: who, which device, what was asked, whether it was delivered', async () => {
    const keys = await registerDevice(t.gw, 'cfg-audit');
    await online('cfg-audit', keys);
    expect((await put('cfg-audit', { telemetrySec: 9, heartbeatSec: null })).status).toBe(200);
    expect((await put('cfg-audit', { telemetrySec: 0 })).status).toBe(400); // refused: not audited
    const audit = (await api(t.gw, t.ca, 'GET', '/api/v1/audit?limit=100', { key: admin })).body as {
      entries: { action: string; actor: string; target: string; detail: unknown }[];
    };
    const mine = audit.entries.filter((e) => e.action === 'device.config' && e.target === 'cfg-audit');
    const opsId = t.gw.store.apiKeys.list().find((k) => k.name === 'ops')?.id;
    expect(mine).toEqual([
      expect.objectContaining({ actor: opsId, detail: { telemetrySec: 9, heartbeatSec: null, delivered: true } }),
    ]);
  });

  it('is in the OpenAPI document, and a browser on an allowed origin may send PUT', async () => {
    const doc = (await api(t.gw, t.ca, 'GET', '/api/v1/openapi.json')).body as {
      paths: Record<string, Record<string, { 'x-kiln-scope'?: string }>>;
    };
    expect(doc.paths['/api/v1/devices/{id}/config']?.put?.['x-kiln-scope']).toBe('operate');
    const pre = await api(t.gw, t.ca, 'OPTIONS', '/api/v1/devices/cfg-strict/config', {
      headers: { origin: originOf(t.gw), 'access-control-request-method': 'PUT' },
    });
    expect(pre.status).toBe(204);
    expect(String(pre.headers['access-control-allow-methods'])).toContain('PUT');
  });
});
