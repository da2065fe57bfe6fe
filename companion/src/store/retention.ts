/**
 * Retention and downsampling: raw samples older than rawDays are folded into hourly
 * (rollupBucketSec) min/max/sum/count rows per metric, then deleted; rollups older than
 * rollupDays are deleted, and so are audit entries older than auditDays and commands that
 * finished more than commandDays ago (an open command is never deleted: it expires first).
 *
 * A round visits the devices in id order, each through the (device_id, ts) index, then the
 * expired rollups and audit entries through their time indexes, in steps of bounded work
 * (each sample or row deleted, and each device visited, counts one). No step scans a whole
 * table, and a round ends only when nothing expired is left, so a fleet that stores more
 * samples an hour than one step holds still keeps up. The telemetry writer's thread runs
 * the steps (telemetry-writer-thread.ts), between its commits and off the event loop.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.ts';

export interface RetentionPolicy {
  rawDays: number;
  rollupBucketSec: number;
  rollupDays: number;
  /** Audit entries are kept this long; forever without it. */
  auditDays?: number;
  /** Finished commands (ok, error, unsupported, expired, timeout) are kept this long; forever without it. */
  commandDays?: number;
}

export interface RetentionCount {
  /** Samples folded into rollups and deleted (both tables). */
  rolledUp: number;
  /** Of those, how many were still in telemetry_recent. */
  recentDeleted: number;
  rollupsDeleted: number;
  auditDeleted: number;
  commandsDeleted: number;
}

export const noRetention = (): RetentionCount => ({
  rolledUp: 0,
  recentDeleted: 0,
  rollupsDeleted: 0,
  auditDeleted: 0,
  commandsDeleted: 0,
});

const DAY = 86_400_000;

/** After the devices' samples, the tables whose rows go by age alone, in the order a round visits them. */
type AgedPhase = 'rollups' | 'audit' | 'commands';
const AGED_PHASES: readonly AgedPhase[] = ['rollups', 'audit', 'commands'];

type Expired = { boot_id: string; seq: number; ts: number; metrics: string };

export class RetentionSweep {
  readonly #nextDevice;
  readonly #expired;
  readonly #expiredRecent;
  readonly #upsert;
  readonly #delete;
  readonly #deleteRecent;
  readonly #forgetBoots;
  readonly #aged: Record<
    AgedPhase,
    {
      statement: Statement<{ cutoff: number; limit: number }>;
      days: number | undefined;
      counted: keyof RetentionCount;
    }
  >;
  /** What the round is at; undefined between rounds. */
  #phase: 'devices' | AgedPhase | undefined;
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
    const olderThan = (sql: string) => db.prepare<{ cutoff: number; limit: number }>(sql);
    this.#aged = {
      rollups: {
        statement: olderThan(
          `DELETE FROM telemetry_rollup WHERE (device_id, metric, bucket_sec, bucket_start) IN (
             SELECT device_id, metric, bucket_sec, bucket_start FROM telemetry_rollup INDEXED BY telemetry_rollup_start
             WHERE bucket_start < @cutoff ORDER BY bucket_start LIMIT @limit)`,
        ),
        days: policy.rollupDays,
        counted: 'rollupsDeleted',
      },
      audit: {
        statement: olderThan(
          `DELETE FROM audit WHERE id IN (
             SELECT id FROM audit INDEXED BY audit_at WHERE at < @cutoff ORDER BY at LIMIT @limit)`,
        ),
        days: policy.auditDays,
        counted: 'auditDeleted',
      },
      commands: {
        statement: olderThan(
          `DELETE FROM commands WHERE id IN (
             SELECT id FROM commands INDEXED BY commands_completed
             WHERE completed_at < @cutoff ORDER BY completed_at LIMIT @limit)`,
        ),
        days: policy.commandDays,
        counted: 'commandsDeleted',
      },
    };
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
   * one): expired samples folded and deleted, then expired rollups, then old audit entries,
   * then old finished commands. The round ends (running turns false) once the last of them
   * is done.
   */
  step(maxWork: number): RetentionCount {
    const count = noRetention();
    const { rawDays } = this.policy;
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
        while (left > 0 && this.#phase !== undefined && this.#phase !== 'devices') {
          const phase = this.#phase;
          const { statement, days, counted } = this.#aged[phase];
          const n = days ? statement.run({ cutoff: this.#roundNow - days * DAY, limit: left }).changes : 0;
          count[counted] = n;
          left -= n;
          // Fewer than the step could take: nothing that old is left in this table.
          if (left > 0) this.#phase = AGED_PHASES[AGED_PHASES.indexOf(phase) + 1];
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
  total.commandsDeleted += c.commandsDeleted;
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
