/**
 * Retention and downsampling: raw samples older than rawDays are folded into hourly
 * (rollupBucketSec) min/max/sum/count rows per metric, then deleted; rollups older than
 * rollupDays are deleted.
 *
 * A round visits the devices in id order, each through the (device_id, ts) index, then the
 * expired rollups and audit entries through their time indexes, in steps of bounded work
 * (each sample or row deleted, and each device visited, counts one). No step scans a whole
 * table, and a round ends only when nothing expired is left, so a fleet that stores more
 * samples an hour than one step holds still keeps up. The telemetry writer's thread runs
 * the steps (telemetry-writer-thread.ts), between its commits and off the event loop.
 */
import type { Db } from './db.ts';

export interface RetentionPolicy {
  rawDays: number;
  rollupBucketSec: number;
  rollupDays: number;
  /** Audit entries are kept this long; forever without it. */
  auditDays?: number;
}

export interface RetentionCount {
  /** Samples folded into rollups and deleted (both tables). */
  rolledUp: number;
  /** Of those, how many were still in telemetry_recent. */
  recentDeleted: number;
  rollupsDeleted: number;
  auditDeleted: number;
}

export const noRetention = (): RetentionCount => ({
  rolledUp: 0,
  recentDeleted: 0,
  rollupsDeleted: 0,
  auditDeleted: 0,
});

const DAY = 86_400_000;

type Expired = { boot_id: string; seq: number; ts: number; metrics: string };

export class RetentionSweep {
  readonly #nextDevice;
  readonly #expired;
  readonly #expiredRecent;
  readonly #upsert;
  readonly #delete;
  readonly #deleteRecent;
  readonly #forgetBoots;
  readonly #deleteRollups;
  readonly #deleteAudit;
  /** What the round is at; undefined between rounds. */
  #phase: 'devices' | 'rollups' | 'audit' | undefined;
  /** The last device the round finished ('' before the first). */
  #cursor = '';
  #roundNow = 0;

  constructor(
    private readonly db: Db,
    private readonly policy: RetentionPolicy,
  ) {
    // The next device after the cursor with samples; each side is an index seek.
    this.#nextDevice = db.prepare<{ after: string }, { id: string | null }>(
      `SELECT min(id) AS id FROM (
         SELECT min(device_id) AS id FROM telemetry WHERE device_id > @after
         UNION ALL SELECT min(device_id) FROM telemetry_recent WHERE device_id > @after)`,
    );
    this.#expired = db.prepare<{ id: string; cutoff: number; limit: number }, Expired>(
      `SELECT boot_id, seq, ts, metrics FROM telemetry INDEXED BY telemetry_device_ts
       WHERE device_id = @id AND ts < @cutoff ORDER BY ts LIMIT @limit`,
    );
    this.#expiredRecent = db.prepare<{ id: string; cutoff: number; limit: number }, Expired>(
      'SELECT boot_id, seq, ts, metrics FROM telemetry_recent WHERE device_id = @id AND ts < @cutoff LIMIT @limit',
    );
    this.#upsert = db.prepare(
      `INSERT INTO telemetry_rollup (device_id, metric, bucket_sec, bucket_start, count, min, max, sum)
       VALUES (?, ?, ?, ?, 1, ?, ?, ?)
       ON CONFLICT (device_id, metric, bucket_sec, bucket_start) DO UPDATE SET
         count = count + 1, min = min(min, excluded.min), max = max(max, excluded.max), sum = sum + excluded.sum`,
    );
    this.#delete = db.prepare('DELETE FROM telemetry WHERE device_id = ? AND boot_id = ? AND seq = ?');
    // A boot whose last sample in telemetry expired needs no bound there any more (telemetry-merge.ts).
    this.#forgetBoots = db.prepare(
      `DELETE FROM telemetry_high_seq AS h WHERE h.device_id = ?
         AND NOT EXISTS (SELECT 1 FROM telemetry t WHERE t.device_id = h.device_id AND t.boot_id = h.boot_id)`,
    );
    this.#deleteRecent = db.prepare('DELETE FROM telemetry_recent WHERE device_id = ? AND boot_id = ? AND seq = ?');
    this.#deleteRollups = db.prepare<{ cutoff: number; limit: number }>(
      `DELETE FROM telemetry_rollup WHERE (device_id, metric, bucket_sec, bucket_start) IN (
         SELECT device_id, metric, bucket_sec, bucket_start FROM telemetry_rollup INDEXED BY telemetry_rollup_start
         WHERE bucket_start < @cutoff ORDER BY bucket_start LIMIT @limit)`,
    );
    this.#deleteAudit = db.prepare<{ cutoff: number; limit: number }>(
      `DELETE FROM audit WHERE id IN (
         SELECT id FROM audit INDEXED BY audit_at WHERE at < @cutoff ORDER BY at LIMIT @limit)`,
    );
  }

  /** True between start() and the step that finds nothing left. */
  get running(): boolean {
    return this.#phase !== undefined;
  }

  /** Begins a round (unless one is running); `now` sets the cutoffs for all of it. */
  start(now = Date.now()): void {
    if (this.#phase) return;
    this.#phase = 'devices';
    this.#cursor = '';
    this.#roundNow = now;
  }

  /**
   * Up to `maxWork` in one transaction (a sample or row deleted, or a device visited, is
   * one): expired samples folded and deleted, then expired rollups, then old audit entries.
   * The round ends (running turns false) once the last of them is done.
   */
  step(maxWork: number): RetentionCount {
    const count = noRetention();
    const { rawDays, rollupDays, auditDays } = this.policy;
    // IMMEDIATE: the step reads before it writes (telemetry-merge.ts says why that matters).
    this.db
      .transaction(() => {
        let left = maxWork;
        while (left > 0 && this.#phase === 'devices') {
          const id = this.#nextDevice.get({ after: this.#cursor })?.id ?? null;
          if (id === null) {
            this.#phase = 'rollups';
            break;
          }
          const cutoff = this.#roundNow - rawDays * DAY;
          const main = this.#fold(id, this.#expired.all({ id, cutoff, limit: left }), false);
          if (main > 0) this.#forgetBoots.run(id);
          const recent = this.#fold(id, this.#expiredRecent.all({ id, cutoff, limit: left - main }), true);
          count.rolledUp += main + recent;
          count.recentDeleted += recent;
          // A device with more than the step holds is finished by the next step. The visit
          // counts too: a round over thousands of devices with nothing expired is many steps,
          // not one long write transaction that holds telemetry commits back.
          left -= main + recent;
          if (left > 0) this.#cursor = id;
          left -= 1;
        }
        if (left > 0 && this.#phase === 'rollups') {
          count.rollupsDeleted = this.#deleteRollups.run({
            cutoff: this.#roundNow - rollupDays * DAY,
            limit: left,
          }).changes;
          left -= count.rollupsDeleted;
          if (left > 0) this.#phase = auditDays ? 'audit' : undefined;
        }
        if (left > 0 && this.#phase === 'audit' && auditDays) {
          count.auditDeleted = this.#deleteAudit.run({ cutoff: this.#roundNow - auditDays * DAY, limit: left }).changes;
          if (count.auditDeleted < left) this.#phase = undefined;
        }
      })
      .immediate();
    return count;
  }

  /** Adds each sample to its rollup buckets and deletes it; answers how many. */
  #fold(id: string, rows: Expired[], recent: boolean): number {
    const bucketMs = this.policy.rollupBucketSec * 1000;
    const del = recent ? this.#deleteRecent : this.#delete;
    for (const r of rows) {
      const bucket = Math.floor(r.ts / bucketMs) * bucketMs;
      for (const [metric, v] of Object.entries(JSON.parse(r.metrics) as Record<string, number>))
        this.#upsert.run(id, metric, this.policy.rollupBucketSec, bucket, v, v, v);
      del.run(id, r.boot_id, r.seq);
    }
    return rows.length;
  }
}

/** Adds `c` into `total`. */
export function addCount(total: RetentionCount, c: RetentionCount): void {
  total.rolledUp += c.rolledUp;
  total.recentDeleted += c.recentDeleted;
  total.rollupsDeleted += c.rollupsDeleted;
  total.auditDeleted += c.auditDeleted;
}

/** A whole round at once (tests, and a gateway's data dir opened by hand). */
export function runRetention(db: Db, p: RetentionPolicy, now = Date.now(), stepRows = 5_000): RetentionCount {
  const sweep = new RetentionSweep(db, p);
  sweep.start(now);
  const total = noRetention();
  while (sweep.running) addCount(total, sweep.step(stepRows));
  return total;
}

export function queryRollup(db: Db, deviceId: string, metric: string, from: number, to: number): unknown[] {
  return db
    .prepare(
      `SELECT bucket_start AS t, bucket_sec AS bucketSec, count, min, max, sum / count AS avg FROM telemetry_rollup
       WHERE device_id = ? AND metric = ? AND bucket_start >= ? AND bucket_start < ? ORDER BY bucket_start`,
    )
    .all(deviceId, metric, from, to);
}
