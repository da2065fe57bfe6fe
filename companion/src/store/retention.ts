/**
 * Retention and downsampling: raw samples older than rawDays are folded into hourly
 * (rollupBucketSec) min/max/sum/count rows per metric, then deleted; rollups older
 * than rollupDays are deleted. Runs in bounded chunks so it never stalls ingest long.
 */
import type { Db } from './db.ts';

export interface RetentionPolicy {
  rawDays: number;
  rollupBucketSec: number;
  rollupDays: number;
}

const DAY = 86_400_000;

export function runRetention(
  db: Db,
  p: RetentionPolicy,
  now = Date.now(),
  chunkRows = 50_000,
): { rolledUp: number; deleted: number; rollupsDeleted: number } {
  const cutoff = now - p.rawDays * DAY;
  const bucketMs = p.rollupBucketSec * 1000;
  const result = db.transaction(() => {
    // Fold whole rows up to the chunk, bounded by their ts order.
    // Both tables: a sample may still wait in telemetry_recent (telemetry-merge.ts).
    const old = db
      .prepare(
        `SELECT device_id, boot_id, seq, ts, metrics FROM telemetry WHERE ts < @cutoff
         UNION ALL SELECT device_id, boot_id, seq, ts, metrics FROM telemetry_recent WHERE ts < @cutoff
         ORDER BY ts LIMIT @limit`,
      )
      .all({ cutoff, limit: chunkRows }) as {
      device_id: string;
      boot_id: string;
      seq: number;
      ts: number;
      metrics: string;
    }[];
    const upsert = db.prepare(
      `INSERT INTO telemetry_rollup (device_id, metric, bucket_sec, bucket_start, count, min, max, sum)
       VALUES (?, ?, ?, ?, 1, ?, ?, ?)
       ON CONFLICT (device_id, metric, bucket_sec, bucket_start) DO UPDATE SET
         count = count + 1, min = min(min, excluded.min), max = max(max, excluded.max), sum = sum + excluded.sum`,
    );
    const del = db.prepare('DELETE FROM telemetry WHERE device_id = ? AND boot_id = ? AND seq = ?');
    const delRecent = db.prepare('DELETE FROM telemetry_recent WHERE device_id = ? AND boot_id = ? AND seq = ?');
    for (const r of old) {
      const bucket = Math.floor(r.ts / bucketMs) * bucketMs;
      for (const [metric, v] of Object.entries(JSON.parse(r.metrics) as Record<string, number>)) {
        upsert.run(r.device_id, metric, p.rollupBucketSec, bucket, v, v, v);
      }
      if (del.run(r.device_id, r.boot_id, r.seq).changes === 0) delRecent.run(r.device_id, r.boot_id, r.seq);
    }
    const rollupsDeleted = db
      .prepare('DELETE FROM telemetry_rollup WHERE bucket_start < ?')
      .run(now - p.rollupDays * DAY).changes;
    return { rolledUp: old.length, deleted: old.length, rollupsDeleted };
  })();
  return result;
}

export function queryRollup(db: Db, deviceId: string, metric: string, from: number, to: number): unknown[] {
  return db
    .prepare(
      `SELECT bucket_start AS t, bucket_sec AS bucketSec, count, min, max, sum / count AS avg FROM telemetry_rollup
       WHERE device_id = ? AND metric = ? AND bucket_start >= ? AND bucket_start < ? ORDER BY bucket_start`,
    )
    .all(deviceId, metric, from, to);
}
