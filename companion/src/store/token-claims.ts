/**
 * Device tokens already used (SPEC §1.2: a jti is accepted once while the token is valid),
 * kept in the database rather than only in the gateway's memory: a token replayed after a
 * restart, or to another instance sharing this database, is refused as well. A row lives
 * until the token could no longer pass the time checks, then the writer thread purges it.
 */
import type { Db } from './db.ts';

export class TokenClaims {
  readonly #claim;
  readonly #purge;

  constructor(db: Db) {
    // A row of the same token that has expired (it could only be a clock step back) is
    // taken over; a live one is a replay.
    this.#claim = db.prepare(
      `INSERT INTO device_token_claims (device_id, jti, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (device_id, jti) DO UPDATE SET expires_at = excluded.expires_at
       WHERE device_token_claims.expires_at <= ?`,
    );
    this.#purge = db.prepare(
      `DELETE FROM device_token_claims WHERE (device_id, jti) IN
         (SELECT device_id, jti FROM device_token_claims WHERE expires_at <= ? LIMIT ?)`,
    );
  }

  /** True when this is the token's first use (now recorded until `expiresAt`), false for a replay. */
  claim(deviceId: string, jti: string, expiresAt: number, now = Date.now()): boolean {
    return this.#claim.run(deviceId, jti, expiresAt, now).changes === 1;
  }

  /** Deletes up to `limit` expired claims; how many it deleted. */
  purge(now = Date.now(), limit = 5000): number {
    return this.#purge.run(now, limit).changes;
  }
}
