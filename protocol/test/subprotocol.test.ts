import { generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  checkDeviceToken,
  deviceSubprotocols,
  parseOfferedSubprotocols,
  peekIssuer,
  redactSubprotocolHeader,
  signDeviceToken,
} from '../src/index.ts';

describe('kiln.v1 subprotocol offer', () => {
  const token = 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJraWxuLWExIn0.c2ln';
  it('offers kiln.v1 and the token', () => {
    expect(deviceSubprotocols(token)).toEqual(['kiln.v1', `kiln.jwt.${token}`]);
  });
  it('reads the token from an offer in any order', () => {
    expect(parseOfferedSubprotocols([`kiln.jwt.${token}`, 'kiln.v1'])).toEqual({ ok: true, token });
  });
  it.each([
    [['kiln.jwt.a.b.c'], 'NO_KILN_V1'],
    [['kiln.v1'], 'NO_TOKEN'],
    [['kiln.v1', `kiln.jwt.${token}`, `kiln.jwt.${token}`], 'MANY_TOKENS'],
    [['kiln.v1', 'kiln.jwt.not a token'], 'BAD_TOKEN'],
    [['kiln.v1', 'kiln.jwt.a.b'], 'BAD_TOKEN'],
  ])('refuses %j as %s', (offer, reason) => {
    expect(parseOfferedSubprotocols(offer)).toEqual({ ok: false, reason });
  });
  it('redacts the token from a header value before logging', () => {
    const redacted = redactSubprotocolHeader(`kiln.v1, kiln.jwt.${token}`);
    expect(redacted).toBe('kiln.v1, kiln.jwt.[redacted]');
    expect(redacted).not.toContain('eyJ');
  });
});

describe('device tokens', () => {
  it('a signed token checks out, and peekIssuer finds whose key to use', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const now = 1_800_000_000;
    const t = await signDeviceToken(privateKey, { deviceId: 'kiln-a1', audience: 'gw', now });
    expect(peekIssuer(t)).toBe('kiln-a1');
    const r = await checkDeviceToken(t, { key: publicKey, audience: 'gw', now: now + 5 });
    expect(r.ok && r.claims.sub).toBe('kiln-a1');
    expect(r.ok && r.claims.exp - r.claims.iat).toBe(300);
  });
  it('two tokens never share a jti', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const a = await signDeviceToken(privateKey, { deviceId: 'kiln-a1', audience: 'gw' });
    const b = await signDeviceToken(privateKey, { deviceId: 'kiln-a1', audience: 'gw' });
    const jti = (t: string) => JSON.parse(Buffer.from(t.split('.')[1] as string, 'base64url').toString()).jti;
    expect(jti(a)).not.toBe(jti(b));
  });
  it('peekIssuer gives nothing for garbage', () => {
    expect(peekIssuer('x')).toBeUndefined();
    expect(peekIssuer('a.b.c')).toBeUndefined();
  });
});
