/**
 * The device authenticator imports a registered key from its P-256 point (auth.ts), not as a
 * JWK; it must still refuse keys the JWK restricts to other uses (use, key_ops) or another
 * algorithm (alg), and coordinates that are not a point of the curve.
 */
import { randomBytes, webcrypto } from 'node:crypto';
import { signDeviceToken } from '@kiln/protocol';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DeviceAuthenticator, KEY_CACHE_TTL_MS } from '../src/device/auth.ts';
import { Store } from '../src/store/index.ts';
import { deviceKeys, tempDir } from './helpers.ts';

const AUDIENCE = 'wss://127.0.0.1:8443';
let dir: ReturnType<typeof tempDir>;
let store: Store;
let auth: DeviceAuthenticator;
let keys: { priv: JWK; pub: JWK };

beforeAll(async () => {
  dir = tempDir();
  store = Store.open(dir.dir);
  auth = new DeviceAuthenticator(store, { audiences: [AUDIENCE], skewSec: 60, jtiCacheEntries: 1000 });
  keys = await deviceKeys();
});
afterAll(() => {
  auth?.close();
  store?.close();
  dir?.remove();
});

async function authenticateWith(id: string, registered: JWK) {
  store.devices.register(id, registered);
  return auth.authenticate(await signDeviceToken(keys.priv, { deviceId: id, audience: AUDIENCE }));
}

describe('device key import', () => {
  it('accepts a token signed by the registered key, with or without alg/use/key_ops that allow it', async () => {
    expect(await authenticateWith('ka-plain', keys.pub)).toMatchObject({ ok: true, deviceId: 'ka-plain' });
    const restricted = { ...keys.pub, alg: 'ES256', use: 'sig', key_ops: ['verify'] };
    expect(await authenticateWith('ka-restricted', restricted)).toMatchObject({ ok: true });
  });

  it.each([
    ['another algorithm', { alg: 'ES384' }],
    ['encryption use', { use: 'enc' }],
    ['key_ops without verify', { key_ops: ['sign'] }],
  ])('refuses a key registered for %s', async (_what, extra) => {
    const r = await authenticateWith(`ka-${randomBytes(4).toString('hex')}`, { ...keys.pub, ...extra } as JWK);
    expect(r).toEqual({ ok: false, reason: 'JWT_BAD_SIGNATURE', status: 401 });
  });

  it('refuses coordinates of the wrong length and points off the curve', async () => {
    const short = { ...keys.pub, x: randomBytes(31).toString('base64url') };
    const long = { ...keys.pub, y: randomBytes(33).toString('base64url') };
    const offCurve = {
      ...keys.pub,
      x: randomBytes(32).toString('base64url'),
      y: randomBytes(32).toString('base64url'),
    };
    for (const [i, jwk] of [short, long, offCurve].entries()) {
      const r = await authenticateWith(`ka-bad-${i}`, jwk as JWK);
      expect(r).toEqual({ ok: false, reason: 'JWT_BAD_SIGNATURE', status: 401 });
    }
  });
});

describe('key cache', () => {
  it('imports a device key once, reuses it for KEY_CACHE_TTL_MS, then lets it go and imports it again at the next handshake', async () => {
    let nowMs = Date.now();
    const a = new DeviceAuthenticator(store, {
      audiences: [AUDIENCE],
      skewSec: 60,
      jtiCacheEntries: 1000,
      now: () => nowMs,
    });
    const importKey = vi.spyOn(webcrypto.subtle, 'importKey');
    // The authenticator's imports (raw points); signing a token imports the private JWK too.
    const imports = () => importKey.mock.calls.filter((c) => c[0] === 'raw').length;
    try {
      store.devices.register('kc-dev', keys.pub);
      const login = async () =>
        a.authenticate(
          await signDeviceToken(keys.priv, { deviceId: 'kc-dev', audience: AUDIENCE, now: Math.floor(nowMs / 1000) }),
        );
      expect(await login()).toMatchObject({ ok: true });
      nowMs += KEY_CACHE_TTL_MS - 1000;
      expect(await login()).toMatchObject({ ok: true });
      expect(imports()).toBe(1);
      expect(a.keys.size).toBe(1);
      // Past the TTL the sweep (every 10 s) drops it: a long-connected device's key is not kept.
      nowMs += 2000;
      expect(a.keys.sweep()).toBe(1);
      expect(a.keys.size).toBe(0);
      expect(await login()).toMatchObject({ ok: true });
      expect(imports()).toBe(2);
    } finally {
      importKey.mockRestore();
      a.close();
    }
  });

  it('drops a cached key the moment the device key is rotated: the old key is refused, the new one let in', async () => {
    const next = await deviceKeys();
    store.devices.register('kc-rot', keys.pub);
    const login = async (priv: JWK) =>
      auth.authenticate(await signDeviceToken(priv, { deviceId: 'kc-rot', audience: AUDIENCE }));
    expect(await login(keys.priv)).toMatchObject({ ok: true }); // now cached
    expect(store.devices.rotateKey('kc-rot', next.pub)).toBe(true);
    expect(await login(keys.priv)).toEqual({ ok: false, reason: 'JWT_BAD_SIGNATURE', status: 401 });
    expect(await login(next.priv)).toMatchObject({ ok: true, deviceId: 'kc-rot' });
    store.devices.revoke('kc-rot');
    expect(await login(next.priv)).toEqual({ ok: false, reason: 'DEVICE_REVOKED', status: 403 });
  });
});
