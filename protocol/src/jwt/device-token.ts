/**
 * Device JWTs (SPEC.md §1.2): ES256, iss = sub = device id, aud, iat, exp <= iat + 300, jti.
 * `checkDeviceToken` applies the checks in the contract's order and answers the first
 * failure as a stable code, the same code the C twin (kiln_jwt.c) gives for the same token.
 */
import { randomBytes, type webcrypto } from 'node:crypto';
import { CompactSign, compactVerify, importJWK, type JWK, errors as joseErrors } from 'jose';
import { LIMITS } from '../limits.ts';

type CryptoKey = webcrypto.CryptoKey;

import { isDeviceId, isToken } from '../messages/formats.ts';

export type JwtErrorCode =
  | 'JWT_MALFORMED'
  | 'JWT_BAD_ALG'
  | 'JWT_BAD_SIGNATURE'
  | 'JWT_BAD_CLAIM'
  | 'JWT_BAD_SUBJECT'
  | 'JWT_BAD_AUDIENCE'
  | 'JWT_LIFETIME'
  | 'JWT_NOT_YET_VALID'
  | 'JWT_EXPIRED';

export interface DeviceClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
}

export type DeviceTokenResult = { ok: true; claims: DeviceClaims } | { ok: false; code: JwtErrorCode; detail: string };

/** What a verifier needs: the registered key, the audience, the time. */
export interface DeviceTokenCheck {
  /** The device's registered public key: a P-256 JWK or a CryptoKey imported from one. */
  key: JWK | CryptoKey;
  /** The audience the gateway accepts; several when it is reached under several origins. */
  audience: string | readonly string[];
  /** Seconds since the epoch; defaults to now. */
  now?: number;
  /** Allowed clock skew in seconds (SPEC default 30). */
  skew?: number;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Unverified claims (to find which device's key to check against). Never trust them before checkDeviceToken. */
export function peekIssuer(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !SEGMENT.test(parts[1] ?? '')) return undefined;
  const iss = decodeJsonObject(parts[1] as string)?.iss;
  return typeof iss === 'string' && isDeviceId(iss) ? iss : undefined;
}

const bad = (code: JwtErrorCode, detail: string): DeviceTokenResult => ({ ok: false, code, detail });

export async function checkDeviceToken(token: string, check: DeviceTokenCheck): Promise<DeviceTokenResult> {
  const parts = token.split('.');
  const canonical = (seg: string) => SEGMENT.test(seg) && Buffer.from(seg, 'base64url').toString('base64url') === seg;
  if (parts.length !== 3 || !parts.every(canonical)) {
    return bad('JWT_MALFORMED', 'a JWT is three non-empty base64url segments');
  }
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJsonObject(h);
  const payload = decodeJsonObject(p);
  if (!header || !payload) return bad('JWT_MALFORMED', 'the JWT header and payload must be JSON objects');
  if (Buffer.from(s, 'base64url').length !== 64) return bad('JWT_MALFORMED', 'an ES256 signature is 64 bytes');
  if ('crit' in header) return bad('JWT_MALFORMED', 'the JWT header has "crit" extensions Kiln does not know');
  if (header.alg !== 'ES256') return bad('JWT_BAD_ALG', `alg must be ES256, not ${JSON.stringify(header.alg)}`);

  try {
    const key = 'kty' in check.key ? await importJWK(check.key, 'ES256') : check.key;
    await compactVerify(token, key, { algorithms: ['ES256'] });
  } catch (e) {
    if (e instanceof joseErrors.JWSSignatureVerificationFailed)
      return bad('JWT_BAD_SIGNATURE', 'the signature does not match the registered key');
    if (e instanceof joseErrors.JOSEError) return bad('JWT_MALFORMED', `the JWS was refused (${e.code})`);
    throw e;
  }

  const { iss, sub, aud, iat, exp, jti } = payload;
  if (typeof iss !== 'string' || !isDeviceId(iss)) return bad('JWT_BAD_CLAIM', 'iss must be the device id');
  if (typeof sub !== 'string') return bad('JWT_BAD_CLAIM', 'sub must be a string');
  if (typeof aud !== 'string') return bad('JWT_BAD_CLAIM', 'aud must be a string');
  if (!Number.isSafeInteger(iat)) return bad('JWT_BAD_CLAIM', 'iat must be integer seconds');
  if (!Number.isSafeInteger(exp)) return bad('JWT_BAD_CLAIM', 'exp must be integer seconds');
  if (typeof jti !== 'string' || !isToken(jti, 16, 64))
    return bad('JWT_BAD_CLAIM', 'jti must be 16..64 token characters');
  if (sub !== iss) return bad('JWT_BAD_SUBJECT', 'sub must equal iss');
  const accepted = typeof check.audience === 'string' ? [check.audience] : check.audience;
  if (!accepted.includes(aud)) return bad('JWT_BAD_AUDIENCE', 'the token is for another audience');
  const issuedAt = iat as number;
  const expires = exp as number;
  if (expires <= issuedAt || expires - issuedAt > LIMITS.jwtMaxLifetimeSec) {
    return bad('JWT_LIFETIME', `exp must be after iat and at most ${LIMITS.jwtMaxLifetimeSec} s later`);
  }
  const now = check.now ?? Math.floor(Date.now() / 1000);
  const skew = check.skew ?? LIMITS.jwtSkewSec;
  if (now + skew < issuedAt) return bad('JWT_NOT_YET_VALID', 'iat is in the future (check the device clock)');
  if (now - skew >= expires) return bad('JWT_EXPIRED', 'the token has expired');
  return { ok: true, claims: { iss, sub, aud, iat: issuedAt, exp: expires, jti } };
}

/**
 * Signs a device token. Real devices sign on the chip (the key never leaves it); this is
 * for the host tools that act as a device: simulators, load generators, tests.
 */
export async function signDeviceToken(
  privateKey: JWK | CryptoKey,
  claims: { deviceId: string; audience: string; now?: number; lifetimeSec?: number; jti?: string },
): Promise<string> {
  const iat = claims.now ?? Math.floor(Date.now() / 1000);
  const payload = {
    iss: claims.deviceId,
    sub: claims.deviceId,
    aud: claims.audience,
    iat,
    exp: iat + (claims.lifetimeSec ?? LIMITS.jwtMaxLifetimeSec),
    jti: claims.jti ?? randomBytes(16).toString('base64url'),
  };
  const key = 'kty' in privateKey ? await importJWK(privateKey, 'ES256') : privateKey;
  return new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .sign(key);
}
