/**
 * Device authentication in the HTTP upgrade (SPEC §1.1–1.2): the registered key, then the
 * contract's checks (checkDeviceToken: jose ES256, the contract's order and codes), then
 * gateway state: revocation and jti replay (in memory, then in the database, which every
 * instance shares and a restart keeps: token-claims.ts). Keys are imported once per device
 * and cached as CryptoKeys (importing per handshake halves ES256 throughput); the cache and
 * the jti set are bounded, expiring maps.
 */
import { webcrypto } from 'node:crypto';
import { checkDeviceToken, type JwtErrorCode, peekIssuer } from '@kiln/protocol';
import type { JWK } from 'jose';
import type { Store } from '../store/index.ts';
import { TtlMap } from '../util/ttl-map.ts';

type CryptoKey = webcrypto.CryptoKey;

const ES256_IMPORT = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const COORD = /^[A-Za-z0-9_-]{43}$/;

/**
 * 0x04 ‖ x ‖ y, or undefined unless x and y are base64url of exactly 32 bytes each and the
 * JWK's own restrictions (alg, use, key_ops), which a JWK import would enforce, allow ES256.
 */
function rawP256Point(jwk: JWK): Uint8Array | undefined {
  if (jwk.alg !== undefined && jwk.alg !== 'ES256') return undefined;
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return undefined;
  if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string' || !COORD.test(jwk.x) || !COORD.test(jwk.y))
    return undefined;
  const x = Buffer.from(jwk.x, 'base64url');
  const y = Buffer.from(jwk.y, 'base64url');
  if (x.length !== 32 || y.length !== 32) return undefined;
  return Buffer.concat([Buffer.from([4]), x, y]);
}

/**
 * How long an imported key is kept after its import. Long enough for a device's reconnects
 * after a network blip (its backoff tops out at 60 s) and for a fleet reconnecting after its
 * access network came back; a device connected for longer has its key imported again at its
 * next handshake (~40 µs of a ~1 ms handshake). An hour kept every connected device's key
 * alive: ~15 heap objects each, a tenth of what each major collection marks at 10,000 devices.
 * A gateway restart starts with none cached either way.
 */
export const KEY_CACHE_TTL_MS = 5 * 60_000;

export type AuthFailure = JwtErrorCode | 'UNKNOWN_DEVICE' | 'DEVICE_REVOKED' | 'JWT_REPLAYED' | 'REPLAY_CACHE_FULL';

export type AuthResult =
  | { ok: true; deviceId: string; exp: number }
  | { ok: false; reason: AuthFailure; status: 401 | 403 | 503 };

interface CachedKey {
  jwkJson: string;
  key: CryptoKey;
}

export class DeviceAuthenticator {
  readonly keys: TtlMap<string, CachedKey>;
  /** `<device>:<jti>` → seen, until the token's exp (+ skew) has passed. */
  readonly jtis: TtlMap<string, true>;

  constructor(
    private readonly store: Store,
    private readonly opts: {
      audiences: readonly string[];
      skewSec: number;
      jtiCacheEntries: number;
      now?: () => number;
      /**
       * Records a token's first use where every instance sharing the database, and this one
       * after a restart, sees it (TelemetryWriter.claimToken): false for a replay. Without it
       * only this process's memory remembers.
       */
      claimToken?: (deviceId: string, jti: string, expiresAt: number) => Promise<boolean>;
    },
  ) {
    this.keys = new TtlMap(50_000, KEY_CACHE_TTL_MS, opts.now);
    this.jtis = new TtlMap(opts.jtiCacheEntries, 300_000);
  }

  async authenticate(token: string): Promise<AuthResult> {
    const deviceId = peekIssuer(token);
    if (deviceId === undefined) {
      const r = await checkDeviceToken(token, { key: { kty: 'EC' } as JWK, audience: this.opts.audiences }).catch(
        () => undefined,
      );
      return {
        ok: false,
        reason: r && !r.ok && r.code !== 'JWT_BAD_SIGNATURE' ? r.code : 'JWT_MALFORMED',
        status: 401,
      };
    }
    const device = this.store.devices.credentials(deviceId);
    if (!device) return { ok: false, reason: 'UNKNOWN_DEVICE', status: 401 };
    if (device.state === 'revoked') return { ok: false, reason: 'DEVICE_REVOKED', status: 403 };
    const key = await this.keyFor(deviceId, device.publicKeyJson);
    if (!key) return { ok: false, reason: 'JWT_BAD_SIGNATURE', status: 401 };
    const nowMs = (this.opts.now ?? Date.now)();
    const r = await checkDeviceToken(token, {
      key,
      audience: this.opts.audiences,
      now: Math.floor(nowMs / 1000),
      skew: this.opts.skewSec,
    });
    if (!r.ok) return { ok: false, reason: r.code, status: 401 };
    const jtiKey = `${deviceId}:${r.claims.jti}`;
    if (this.jtis.has(jtiKey)) return { ok: false, reason: 'JWT_REPLAYED', status: 401 };
    // Remember it while the token could still pass the time checks.
    const ttl = Math.max(1000, (r.claims.exp + this.opts.skewSec) * 1000 - nowMs);
    // A full cache fails closed: a replay could not be detected, so nobody gets in (503, retry).
    if (!this.jtis.set(jtiKey, true, ttl)) return { ok: false, reason: 'REPLAY_CACHE_FULL', status: 503 };
    // Set above first, so that the same token twice at once here is one claim, not two.
    if (this.opts.claimToken && !(await this.opts.claimToken(deviceId, r.claims.jti, nowMs + ttl)))
      return { ok: false, reason: 'JWT_REPLAYED', status: 401 };
    return { ok: true, deviceId, exp: r.claims.exp };
  }

  /** `jwkJson` as stored: a cached key stands while the stored text is the same (a rotation changes it). */
  private async keyFor(deviceId: string, jwkJson: string): Promise<CryptoKey | undefined> {
    const cached = this.keys.get(deviceId);
    if (cached && cached.jwkJson === jwkJson) return cached.key;
    const jwk = JSON.parse(jwkJson) as JWK;
    // Only public P-256 keys: a registered key of another kind can never verify.
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || 'd' in jwk) return undefined;
    const point = rawP256Point(jwk);
    if (!point) return undefined;
    try {
      // The uncompressed point, not the JWK: WebCrypto's raw import checks the point the same
      // way at half the cost (~40 µs against ~85 µs), which counts when a restart empties the
      // cache and the whole fleet reconnects at once. jose then verifies with this CryptoKey.
      const key = await webcrypto.subtle.importKey('raw', point, ES256_IMPORT, false, ['verify']);
      this.keys.set(deviceId, { jwkJson, key });
      return key;
    } catch {
      return undefined;
    }
  }

  /** After a key rotation or revocation. */
  forget(deviceId: string): void {
    this.keys.delete(deviceId);
  }

  close(): void {
    this.keys.close();
    this.jtis.close();
  }
}
