/**
 * Browser sign-in as the dashboard does it, over real HTTPS: the session cookie and its flags,
 * CSRF refusals and acceptance, sign-out, expiry, death on API-key revocation, rate limits,
 * audit entries, and the bounded session table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperatorSessions } from '../src/operator/sessions.ts';
import type { ApiKeyRow } from '../src/store/api-keys.ts';
import { api, registerDevice, startTestGateway } from './helpers.ts';
import { originOf, signIn } from './operator-helpers.ts';

let t: Awaited<ReturnType<typeof startTestGateway>>;
let admin: string;

beforeAll(async () => {
  t = await startTestGateway({
    corsOrigins: ['https://console.example'],
    limits: { restRequestsPerMinPerRoute: 1000, authFailuresPerMinPerIp: 1000 },
  });
  admin = t.gw.store.apiKeys.create('admin', 'admin').key;
});
afterAll(async () => t?.stop());

const call = (method: string, path: string, opts: Parameters<typeof api>[4] = {}) =>
  api(t.gw, t.ca, method, path, opts);

describe('operator session: sign-in', () => {
  it('sets an HttpOnly, SameSite=Strict, Secure session cookie and answers the scope and a CSRF token', async () => {
    const s = await signIn(t.gw, t.ca, admin);
    expect(s.setCookie).toMatch(/^kiln_session=[A-Za-z0-9_-]{43}; /);
    for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/', 'Secure']) expect(s.setCookie).toContain(flag);
    expect(s.body).toMatchObject({ scope: 'admin', idleTimeoutSec: 1800, keyName: 'admin' });
    expect(s.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const expiresAt = s.body.expiresAt as number;
    expect(expiresAt - Date.now()).toBeGreaterThan(11.9 * 3600_000);
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(12 * 3600_000);
    // The cookie is a random name for a server-side session, not the key.
    expect(s.cookie).not.toContain(admin);
    // A reloaded page reads the same session (and its token) back with the cookie alone.
    const again = await call('GET', '/api/v1/session', { headers: { cookie: s.cookie } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ scope: 'admin', csrfToken: s.csrfToken });
    // The cookie reads data as the key would.
    expect((await call('GET', '/api/v1/devices', { headers: { cookie: s.cookie } })).status).toBe(200);
  });

  it('refuses a wrong key (401), an enroll key (403), and answers 401 to a page without a session', async () => {
    const wrong = await call('POST', '/api/v1/session', { body: { apiKey: 'kiln_not-a-key' } });
    expect(wrong).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const enroll = t.gw.store.apiKeys.create('station', 'enroll').key;
    expect(await call('POST', '/api/v1/session', { body: { apiKey: enroll } })).toMatchObject({
      status: 403,
      body: { error: { code: 'FORBIDDEN' } },
    });
    expect((await call('GET', '/api/v1/session')).status).toBe(401);
    expect(
      (await call('GET', '/api/v1/session', { headers: { cookie: `kiln_session=${'A'.repeat(43)}` } })).status,
    ).toBe(401);
    expect((await call('POST', '/api/v1/session', { body: { apiKey: admin, admin: true } })).status).toBe(400);
  });

  it('keeps scopes: a read session may look but not act', async () => {
    const reader = t.gw.store.apiKeys.create('viewer', 'read').key;
    await registerDevice(t.gw, 'os-scope');
    const s = await signIn(t.gw, t.ca, reader);
    const headers = { cookie: s.cookie, 'x-csrf-token': s.csrfToken, origin: originOf(t.gw) };
    expect((await call('GET', '/api/v1/devices/os-scope', { headers })).status).toBe(200);
    expect(
      await call('POST', '/api/v1/devices/os-scope/commands', { headers, body: { name: 'reboot' } }),
    ).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
  });
});

describe('operator session: CSRF', () => {
  it('refuses a state change with the cookie but a missing or wrong token, or no Origin; accepts token + own Origin', async () => {
    await registerDevice(t.gw, 'os-csrf');
    const s = await signIn(t.gw, t.ca, admin);
    const origin = originOf(t.gw);
    const send = (headers: Record<string, string>) =>
      call('POST', '/api/v1/devices/os-csrf/commands', {
        headers: { cookie: s.cookie, ...headers },
        body: { name: 'ping' },
      });
    for (const [what, headers] of [
      ['no token', { origin }],
      ['wrong token', { origin, 'x-csrf-token': `${s.csrfToken.slice(0, -1)}x` }],
      ['token of another session', { origin, 'x-csrf-token': (await signIn(t.gw, t.ca, admin)).csrfToken }],
      ['no Origin', { 'x-csrf-token': s.csrfToken }],
    ] as const) {
      const r = await send(headers);
      expect([r.status, (r.body as { error: { code: string } }).error.code], what).toEqual([403, 'CSRF']);
    }
    // A foreign page is refused before anything else, whatever it sends.
    const foreign = await send({ origin: 'https://evil.example', 'x-csrf-token': s.csrfToken });
    expect(foreign).toMatchObject({ status: 403, body: { error: { code: 'ORIGIN_NOT_ALLOWED' } } });
    expect(t.gw.store.commands.listForDevice('os-csrf', 10)).toEqual([]);
    // Every loopback spelling of the gateway's own origin is its own.
    const ok = await send({ origin, 'x-csrf-token': s.csrfToken });
    expect(ok.status, ok.text).toBe(202);
    const alt = await send({ origin: origin.replace('127.0.0.1', 'localhost'), 'x-csrf-token': s.csrfToken });
    expect(alt.status, alt.text).toBe(202);
    // An allowlisted origin is accepted too.
    expect((await send({ origin: 'https://console.example', 'x-csrf-token': s.csrfToken })).status).toBe(202);
    // GET needs no token; a bearer key needs none either (no cookie, no CSRF).
    expect((await call('GET', '/api/v1/devices/os-csrf/commands', { headers: { cookie: s.cookie } })).status).toBe(200);
    expect(
      (await call('POST', '/api/v1/devices/os-csrf/commands', { key: admin, body: { name: 'ping' } })).status,
    ).toBe(202);
  });
});

describe('operator session: sign-out, revocation, expiry', () => {
  it('signs out with the CSRF token: 204, the cookie cleared, the session gone; both audited', async () => {
    const s = await signIn(t.gw, t.ca, admin);
    const headers = { cookie: s.cookie, origin: originOf(t.gw) };
    expect(await call('DELETE', '/api/v1/session', { headers })).toMatchObject({
      status: 403,
      body: { error: { code: 'CSRF' } },
    });
    const out = await call('DELETE', '/api/v1/session', { headers: { ...headers, 'x-csrf-token': s.csrfToken } });
    expect(out.status).toBe(204);
    const cleared = String((out.headers['set-cookie'] as string[])[0]);
    expect(cleared).toMatch(/^kiln_session=; /);
    expect(cleared).toContain('Max-Age=0');
    expect((await call('GET', '/api/v1/devices', { headers: { cookie: s.cookie } })).status).toBe(401);
    expect((await call('GET', '/api/v1/session', { headers: { cookie: s.cookie } })).status).toBe(401);
    const audit = (await call('GET', '/api/v1/audit?limit=50', { key: admin })).body as {
      entries: { action: string; actor: string; target: string; ip: string }[];
    };
    const keyId = s.body.keyId as string;
    const mine = audit.entries.filter((e) => e.actor === keyId && e.action.startsWith('session.'));
    expect(mine.map((e) => e.action)).toEqual(expect.arrayContaining(['session.create', 'session.delete']));
    // The audit names the session by a hash prefix, never by the cookie.
    for (const e of mine) {
      expect(e.target).toMatch(/^[0-9a-f]{12}$/);
      expect(s.cookie).not.toContain(e.target);
    }
  });

  it('ends every session of an API key when the key is revoked (REST, or directly in the store)', async () => {
    const made = await call('POST', '/api/v1/api-keys', { key: admin, body: { name: 'temp', scope: 'operate' } });
    const { id, key } = made.body as { id: string; key: string };
    const a = await signIn(t.gw, t.ca, key);
    const b = await signIn(t.gw, t.ca, key);
    expect((await call('GET', '/api/v1/devices', { headers: { cookie: a.cookie } })).status).toBe(200);
    expect((await call('DELETE', `/api/v1/api-keys/${id}`, { key: admin })).status).toBe(204);
    for (const s of [a, b])
      expect((await call('GET', '/api/v1/devices', { headers: { cookie: s.cookie } })).status).toBe(401);
    // A revocation made by another process (kiln gateway api-key revoke) is seen at the next use.
    const other = t.gw.store.apiKeys.create('other', 'read');
    const c = await signIn(t.gw, t.ca, other.key);
    t.gw.store.apiKeys.revoke(other.row.id);
    expect((await call('GET', '/api/v1/devices', { headers: { cookie: c.cookie } })).status).toBe(401);
    expect((await call('GET', '/api/v1/session', { headers: { cookie: c.cookie } })).status).toBe(401);
  });

  it('expires an idle session (idle timeout) on a real gateway', async () => {
    const short = await startTestGateway({ limits: { sessionIdleSec: 1, sessionMaxSec: 60 } });
    try {
      const key = short.gw.store.apiKeys.create('k', 'read').key;
      const s = await signIn(short.gw, short.ca, key);
      expect((await api(short.gw, short.ca, 'GET', '/api/v1/devices', { headers: { cookie: s.cookie } })).status).toBe(
        200,
      );
      await new Promise((r) => setTimeout(r, 1300));
      expect((await api(short.gw, short.ca, 'GET', '/api/v1/devices', { headers: { cookie: s.cookie } })).status).toBe(
        401,
      );
      expect(short.gw.operator.sessions.size).toBe(0);
    } finally {
      await short.stop();
    }
  });
});

describe('operator session: documented', () => {
  it('lists the session and stream routes and the cookie scheme in the OpenAPI document', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(Object.keys(doc.paths['/api/v1/session'] ?? {}).sort()).toEqual(['delete', 'get', 'post']);
    expect(doc.paths['/api/v1/stream']?.get).toBeDefined();
    expect(doc.components.securitySchemes.session).toEqual({ type: 'apiKey', in: 'cookie', name: 'kiln_session' });
    const list = doc.paths['/api/v1/devices']?.get as { parameters: { name: string }[] };
    expect(list.parameters.map((p) => p.name)).toEqual(
      expect.arrayContaining(['q', 'state', 'chip', 'after', 'limit']),
    );
  });
});

describe('operator session: limits', () => {
  it('rate-limits failed sign-ins per address (429 with Retry-After), then refuses even the right key', async () => {
    const lim = await startTestGateway({ limits: { authFailuresPerMinPerIp: 3 } });
    try {
      const key = lim.gw.store.apiKeys.create('k', 'admin').key;
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push(
          (await api(lim.gw, lim.ca, 'POST', '/api/v1/session', { body: { apiKey: `kiln_guess${i}` } })).status,
        );
      // The shared auth-failure window: once it is past its limit, every attempt is refused.
      expect(statuses).toEqual([401, 401, 401, 401, 429]);
      const right = await api(lim.gw, lim.ca, 'POST', '/api/v1/session', { body: { apiKey: key } });
      expect(right.status).toBe(429);
      expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await lim.stop();
    }
  });

  it('bounds the session table: per key the oldest goes, in all the newest is refused; idle and absolute expiry', () => {
    let now = 1_000_000;
    const sessions = new OperatorSessions({ maxSessions: 3, perKey: 2, idleMs: 1000, maxMs: 5000 }, () => now);
    const key = (id: string): ApiKeyRow => ({
      id,
      name: id,
      scope: 'read',
      createdAt: 0,
      lastUsedAt: null,
      revokedAt: null,
    });
    const ended: string[] = [];
    sessions.onEnded((s, reason) => ended.push(`${s.keyId}:${reason}`));
    try {
      const a1 = sessions.create(key('a'));
      const a2 = sessions.create(key('a'));
      const a3 = sessions.create(key('a'));
      expect(sessions.lookup(a1?.cookieValue as string)).toBeUndefined();
      expect(sessions.lookup(a2?.cookieValue as string)).toBeDefined();
      expect(ended).toEqual(['a:evicted']);
      expect(sessions.create(key('b'))).toBeDefined();
      expect(sessions.create(key('c'))).toBeUndefined(); // full of live sessions: refused, nobody evicted
      expect(sessions.size).toBe(3);
      // Idle: a2 is used, a3 is not.
      now += 600;
      sessions.touch(sessions.lookup(a2?.cookieValue as string) as never);
      now += 600;
      expect(sessions.lookup(a3?.cookieValue as string)).toBeUndefined();
      expect(sessions.lookup(a2?.cookieValue as string)).toBeDefined();
      // Absolute: however busy, gone after maxMs.
      for (let i = 0; i < 5; i++) {
        now += 900;
        const s = sessions.lookup(a2?.cookieValue as string);
        if (s) sessions.touch(s);
      }
      expect(sessions.lookup(a2?.cookieValue as string)).toBeUndefined();
      expect(sessions.sweep()).toBe(1); // b, idle all along
      expect(sessions.size).toBe(0);
      // A value that is not a session cookie is not even hashed and looked up.
      expect(sessions.lookup('x')).toBeUndefined();
    } finally {
      sessions.close();
    }
  });
});
