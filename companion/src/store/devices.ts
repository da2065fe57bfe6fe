/** The device registry: public keys, state, last seen, revocation. */
import type { JWK } from 'jose';
import type { Db } from './db.ts';

export type DeviceState = 'registered' | 'online' | 'offline' | 'revoked';

export interface DeviceRow {
  id: string;
  publicKeyJwk: JWK;
  state: DeviceState;
  createdAt: number;
  lastSeenAt: number | null;
  revokedAt: number | null;
  keyRotatedAt: number | null;
  chip: string | null;
  mac: string | null;
  firmware: { name: string; version: string } | null;
  bootId: string | null;
  /** Last RSSI the device reported in telemetry (metric `rssi` or `wifi_rssi`), and when. */
  rssi: number | null;
  rssiAt: number | null;
  /** Sessions (hellos) counted by the gateway; reconnects are the ones after the first. */
  sessions: number;
  /** The device's own intervals (PUT …/config); null: the gateway's default. */
  config: DeviceConfig;
}

/** Per-device intervals, as stored: null means the gateway's default applies. */
export interface DeviceConfig {
  telemetrySec: number | null;
  heartbeatSec: number | null;
}

interface RawDevice {
  id: string;
  public_key_jwk: string;
  state: DeviceState;
  created_at: number;
  last_seen_at: number | null;
  revoked_at: number | null;
  key_rotated_at: number | null;
  chip: string | null;
  mac: string | null;
  firmware_name: string | null;
  firmware_version: string | null;
  boot_id: string | null;
  rssi: number | null;
  rssi_at: number | null;
  sessions: number;
  telemetry_sec: number | null;
  heartbeat_sec: number | null;
}

const toRow = (r: RawDevice): DeviceRow => ({
  id: r.id,
  publicKeyJwk: JSON.parse(r.public_key_jwk) as JWK,
  state: r.state,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  revokedAt: r.revoked_at,
  keyRotatedAt: r.key_rotated_at,
  chip: r.chip,
  mac: r.mac,
  firmware: r.firmware_name === null ? null : { name: r.firmware_name, version: r.firmware_version ?? '' },
  bootId: r.boot_id,
  rssi: r.rssi,
  rssiAt: r.rssi_at,
  sessions: r.sessions,
  config: { telemetrySec: r.telemetry_sec, heartbeatSec: r.heartbeat_sec },
});

export interface DeviceFilter {
  state?: DeviceState;
  prefix?: string;
  /** Substring of the id, the MAC or the firmware name (case-insensitive for ASCII). */
  q?: string;
  chip?: string;
  /** Keyset paging: ids after this one. */
  after?: string;
  limit: number;
}

type PresenceInfo = { chip?: string; mac?: string; firmware?: { name: string; version: string }; bootId?: string };
interface PendingPresence {
  state: 'online' | 'offline';
  now: number;
  info: PresenceInfo;
  /** Sessions begun (hellos) since the last commit. */
  sessions: number;
}

/** `%`, `_` and the escape itself are literal in a search term. */
const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Presence (state, last seen, hello facts) is written behind: updates within
 * `presenceFlushMs` share one transaction. With synchronous=FULL every commit is an fsync
 * (~1.3 ms here), so one commit per hello, heartbeat and close made a 10,000-device
 * reconnect storm spend ~13 s of the event loop in fsync. Nothing is acknowledged on
 * presence, and reads through this repo see pending updates (get and list overlay them),
 * so only another process sharing the file sees them late.
 *
 * Those commits never wait for the write lock. The telemetry writer's thread holds it for
 * much of every second under load (telemetry-writer.ts), and SQLite's busy handler waits
 * by sleeping 1–100 ms at a time, here on the event loop that serves every device: at
 * 10,000 devices the heartbeats alone (one a minute each) bring a presence commit every
 * 50 ms. So a presence commit is tried without waiting, and when the lock is taken its
 * updates stay pending for the next try. It also skips the fsync (synchronous NORMAL):
 * the writer's next commit syncs the WAL, and these frames with it.
 */
export class DeviceRepo {
  readonly #get;
  readonly #credentials;
  readonly #insert;
  readonly #seen;
  readonly #config;
  readonly #pending = new Map<string, PendingPresence>();
  #timer: NodeJS.Timeout | undefined;
  readonly #flushTx;
  /** The connection's settings, put back after each presence commit. */
  readonly #busyTimeoutMs: number;
  readonly #synchronous: number;
  /** How long presence updates may wait for their commit (and between tries while the lock is taken). */
  presenceFlushMs = 50;
  constructor(private readonly db: Db) {
    this.#busyTimeoutMs = db.pragma('busy_timeout', { simple: true }) as number;
    this.#synchronous = db.pragma('synchronous', { simple: true }) as number;
    this.#get = db.prepare<[string], RawDevice>('SELECT * FROM devices WHERE id = ?');
    this.#credentials = db.prepare<[string], { state: DeviceState; public_key_jwk: string }>(
      'SELECT state, public_key_jwk FROM devices WHERE id = ?',
    );
    this.#insert = db.prepare('INSERT INTO devices (id, public_key_jwk, state, created_at) VALUES (?, ?, ?, ?)');
    this.#seen = db.prepare(
      `UPDATE devices SET state = ?, last_seen_at = ?, chip = coalesce(?, chip), mac = coalesce(?, mac),
       firmware_name = coalesce(?, firmware_name), firmware_version = coalesce(?, firmware_version),
       boot_id = coalesce(?, boot_id), sessions = sessions + ? WHERE id = ? AND state != 'revoked'`,
    );
    this.#config = db.prepare<[string], { telemetry_sec: number | null; heartbeat_sec: number | null }>(
      'SELECT telemetry_sec, heartbeat_sec FROM devices WHERE id = ?',
    );
    this.#flushTx = db.transaction((rows: [string, PendingPresence][]) => {
      for (const [id, p] of rows) this.#write(id, p);
    });
  }

  get(id: string): DeviceRow | undefined {
    const r = this.#get.get(id);
    return r && this.#withPending(toRow(r));
  }

  /**
   * What every handshake and every session's end ask for, without building the whole row:
   * the state (as its pending presence update will leave it) and the public key's JWK as
   * stored. At a fleet's restart that is once per device, twice.
   */
  credentials(id: string): { state: DeviceState; publicKeyJson: string } | undefined {
    const r = this.#credentials.get(id);
    if (!r) return undefined;
    const pending = r.state === 'revoked' ? undefined : this.#pending.get(id);
    return { state: pending?.state ?? r.state, publicKeyJson: r.public_key_jwk };
  }

  /** The row as its pending presence update will leave it. */
  #withPending(row: DeviceRow): DeviceRow {
    const p = this.#pending.get(row.id);
    if (p && row.state !== 'revoked') {
      row.state = p.state;
      row.lastSeenAt = p.now;
      if (p.info.chip !== undefined) row.chip = p.info.chip;
      if (p.info.mac !== undefined) row.mac = p.info.mac;
      if (p.info.firmware !== undefined) row.firmware = p.info.firmware;
      if (p.info.bootId !== undefined) row.bootId = p.info.bootId;
      row.sessions += p.sessions;
    }
    return row;
  }

  /** Commits the pending presence updates now (one transaction), waiting for the write lock if need be. */
  flushPresence(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0 || !this.db.open) return;
    this.#flushTx.immediate([...this.#pending]);
    this.#pending.clear();
  }

  /**
   * Commits the pending presence updates if the write lock is free, without waiting for it
   * or for fsync (see the class comment); when it is taken they stay pending and the next
   * try is scheduled. True when nothing is left pending.
   */
  #tryFlush(): boolean {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0 || !this.db.open) return true;
    if (this.db.inTransaction) {
      // Part of the caller's transaction, which holds the lock already.
      this.flushPresence();
      return true;
    }
    this.db.pragma('busy_timeout = 0');
    this.db.pragma('synchronous = NORMAL');
    try {
      this.#flushTx.immediate([...this.#pending]);
    } catch (e) {
      if (!String((e as { code?: unknown }).code).startsWith('SQLITE_BUSY')) throw e;
      this.#schedule();
      return false;
    } finally {
      this.db.pragma(`synchronous = ${this.#synchronous}`);
      this.db.pragma(`busy_timeout = ${this.#busyTimeoutMs}`);
    }
    this.#pending.clear();
    return true;
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      try {
        this.#tryFlush();
      } catch {
        // The store is closing or failing: the updates stay pending, and a hello re-establishes presence anyway.
      }
    }, this.presenceFlushMs);
  }

  register(id: string, jwk: JWK, now = Date.now()): DeviceRow {
    this.#insert.run(id, JSON.stringify(jwk), 'registered', now);
    return this.get(id) as DeviceRow;
  }

  /**
   * Devices matching the filter, pending presence included. Should the write lock be taken,
   * the state filter sees the last commit (at most `presenceFlushMs` behind, per try).
   */
  list(f: DeviceFilter): DeviceRow[] {
    const flushed = this.#tryFlush();
    const { where, args } = this.#where(f);
    if (f.after) {
      where.push('id > ?');
      args.push(f.after);
    }
    const sql = `SELECT * FROM devices ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    const rows = (this.db.prepare(sql).all(...args, f.limit) as RawDevice[]).map(toRow);
    return flushed ? rows : rows.map((r) => this.#withPending(r));
  }

  /** How many devices match the filter (paging aside); as of the last commit if the write lock is taken (see list). */
  count(f: Omit<DeviceFilter, 'after' | 'limit'> = {}): number {
    this.#tryFlush();
    const { where, args } = this.#where(f);
    const sql = `SELECT count(*) AS n FROM devices ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    return (this.db.prepare(sql).get(...args) as { n: number }).n;
  }

  #where(f: Omit<DeviceFilter, 'after' | 'limit'>): { where: string[]; args: (string | number)[] } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.state) {
      where.push('state = ?');
      args.push(f.state);
    }
    if (f.chip) {
      where.push('chip = ?');
      args.push(f.chip);
    }
    if (f.prefix) {
      where.push("id LIKE ? ESCAPE '\\'");
      args.push(`${likeEscape(f.prefix)}%`);
    }
    if (f.q) {
      const term = `%${likeEscape(f.q)}%`;
      where.push("(id LIKE ? ESCAPE '\\' OR mac LIKE ? ESCAPE '\\' OR firmware_name LIKE ? ESCAPE '\\')");
      args.push(term, term, term);
    }
    return { where, args };
  }

  /** Written behind (see the class comment); later updates of a device merge into its pending one. */
  markSeen(id: string, state: 'online' | 'offline', info: PresenceInfo = {}, now = Date.now()): void {
    const prev = this.#pending.get(id);
    // Only a hello carries the boot id, and a session has exactly one hello: that is a session begun.
    const begun = state === 'online' && info.bootId !== undefined ? 1 : 0;
    this.#pending.set(id, {
      state,
      now,
      info: prev ? { ...prev.info, ...info } : info,
      sessions: (prev?.sessions ?? 0) + begun,
    });
    if (this.#pending.size >= 1000) this.#tryFlush();
    else this.#schedule();
  }

  #write(id: string, { state, info, now, sessions }: PendingPresence): void {
    this.#seen.run(
      state,
      now,
      info.chip ?? null,
      info.mac ?? null,
      info.firmware?.name ?? null,
      info.firmware?.version ?? null,
      info.bootId ?? null,
      sessions,
      id,
    );
  }

  revoke(id: string, now = Date.now()): boolean {
    this.flushPresence();
    return (
      this.db
        .prepare("UPDATE devices SET state = 'revoked', revoked_at = ? WHERE id = ? AND state != 'revoked'")
        .run(now, id).changes === 1
    );
  }

  /** A new key also re-enables a revoked device (re-provisioning). */
  rotateKey(id: string, jwk: JWK, now = Date.now()): boolean {
    this.flushPresence();
    return (
      this.db
        .prepare(
          "UPDATE devices SET public_key_jwk = ?, key_rotated_at = ?, revoked_at = NULL, state = 'registered' WHERE id = ?",
        )
        .run(JSON.stringify(jwk), now, id).changes === 1
    );
  }

  delete(id: string): boolean {
    this.flushPresence();
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM telemetry WHERE device_id = ?').run(id);
      this.db.prepare('DELETE FROM telemetry_recent WHERE device_id = ?').run(id);
      this.db.prepare('DELETE FROM telemetry_inbox WHERE device_id = ?').run(id);
      this.db.prepare('DELETE FROM telemetry_high_seq WHERE device_id = ?').run(id);
      this.db.prepare('DELETE FROM telemetry_rollup WHERE device_id = ?').run(id);
      this.db.prepare('DELETE FROM commands WHERE device_id = ?').run(id);
      return this.db.prepare('DELETE FROM devices WHERE id = ?').run(id).changes === 1;
    })();
  }

  /** The device's own intervals (one indexed read: every hello asks), undefined for an unknown device. */
  configOf(id: string): DeviceConfig | undefined {
    const r = this.#config.get(id);
    return r && { telemetrySec: r.telemetry_sec, heartbeatSec: r.heartbeat_sec };
  }

  /** Sets the given intervals (null: back to the gateway's default; absent: unchanged). False for an unknown device. */
  setConfig(id: string, patch: Partial<DeviceConfig>): boolean {
    const sets: string[] = [];
    const args: (number | null)[] = [];
    if (patch.telemetrySec !== undefined) {
      sets.push('telemetry_sec = ?');
      args.push(patch.telemetrySec);
    }
    if (patch.heartbeatSec !== undefined) {
      sets.push('heartbeat_sec = ?');
      args.push(patch.heartbeatSec);
    }
    if (sets.length === 0) return this.#get.get(id) !== undefined;
    return this.db.prepare(`UPDATE devices SET ${sets.join(', ')} WHERE id = ?`).run(...args, id).changes === 1;
  }

  /** At start-up no session is live in this process. */
  resetOnline(): void {
    this.flushPresence();
    this.db.prepare("UPDATE devices SET state = 'offline' WHERE state = 'online'").run();
  }
}
