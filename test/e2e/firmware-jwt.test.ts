/**
 * Cross-language JWT test: the firmware core (C, kiln_jwt_create with the host port's
 * OpenSSL ECDSA) signs a device token; @kiln/protocol's checkDeviceToken (jose) verifies it.
 * The other direction (jose-made tokens checked in C) is protocol/vectors/jwt.json in ctest.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { checkDeviceToken } from '@kiln/protocol';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { ensureDeviceBuilt } from './helpers/device.ts';

function sign(deviceId: string, audience: string, iat: number, lifetime: number): { jwk: JWK; token: string } {
  const bin = join(ensureDeviceBuilt(), '..', 'kiln-jwt-sign');
  const out = execFileSync(bin, [deviceId, audience, String(iat), String(lifetime)], {
    encoding: 'utf8',
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' },
  });
  const [jwk, token] = out.trim().split('\n');
  return { jwk: JSON.parse(jwk as string) as JWK, token: token as string };
}

describe('device JWT made in C, checked by jose', () => {
  const now = Math.floor(Date.now() / 1000);

  it('verifies, with the claims SPEC §1.2 requires', async () => {
    const { jwk, token } = sign('dev-c-1', 'wss://gw.example:8443', now, 120);
    const r = await checkDeviceToken(token, { key: jwk, audience: 'wss://gw.example:8443', now });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.claims).toMatchObject({ iss: 'dev-c-1', sub: 'dev-c-1', aud: 'wss://gw.example:8443', iat: now });
    expect(r.claims.exp).toBe(now + 120);
    expect(r.claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const header = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString('utf8'));
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT' });
  });

  it('fails the checks a wrong audience, another key and expiry must fail', async () => {
    const a = sign('dev-c-2', 'aud-a', now, 300);
    const b = sign('dev-c-2', 'aud-a', now, 300);
    expect(await checkDeviceToken(a.token, { key: a.jwk, audience: 'aud-b', now })).toMatchObject({
      ok: false,
      code: 'JWT_BAD_AUDIENCE',
    });
    expect(await checkDeviceToken(a.token, { key: b.jwk, audience: 'aud-a', now })).toMatchObject({
      ok: false,
      code: 'JWT_BAD_SIGNATURE',
    });
    expect(await checkDeviceToken(a.token, { key: a.jwk, audience: 'aud-a', now: now + 400 })).toMatchObject({
      ok: false,
      code: 'JWT_EXPIRED',
    });
  });

  it('gives every token a fresh jti', () => {
    const jti = (t: string) => JSON.parse(Buffer.from(t.split('.')[1] as string, 'base64url').toString('utf8')).jti;
    expect(jti(sign('dev-c-3', 'a', now, 60).token)).not.toBe(jti(sign('dev-c-3', 'a', now, 60).token));
  });
});
