/**
 * Telemetry storage: INSERT OR IGNORE on (device, boot, seq) gives exactly-once storage
 * of at-least-once input. Writes go through insertMany, one transaction per batch; the
 * same transaction keeps each device's last reported RSSI for the operator's table (one
 * UPDATE per device per batch, never an extra commit).
 */
import type { Metrics } from '@kiln/protocol';
import type { Db } from './db.ts';

export interface SampleRow {
  deviceId: string;
  bootId: string;
  seq: number;
  ts: number;
  metrics: Metrics;
}

export interface TelemetryQuery {
  deviceId: string;
  from: number;
  to: number;
  metric?: string;
  /** Downsampling bucket in ms; when given, answers min/max/avg/count per bucket. */
  bucketMs?: number;
  limit: number;
}

/** Metric names that carry the Wi-Fi RSSI: the generic one and the Kiln firmware's. */
export const RSSI_METRICS = ['rssi', 'wifi_rssi'] as const;

function rssiOf(m: Metrics): number | undefined {
  const v = m.rssi ?? m.wifi_rssi;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export class TelemetryRepo {
  readonly #insert;
  readonly #insertMany;
  readonly #highest;
  readonly #rssi;

  constructor(private readonly db: Db) {
    this.#insert = db.prepare(
      'INSERT OR IGNORE INTO telemetry (device_id, boot_id, seq, ts, received_at, metrics) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#highest = db.prepare<[string, string], { m: number | null }>(
      'SELECT max(seq) AS m FROM telemetry WHERE device_id = ? AND boot_id = ?',
    );
    this.#rssi = db.prepare(
      'UPDATE devices SET rssi = ?, rssi_at = ? WHERE id = ? AND (rssi_at IS NULL OR rssi_at <= ?)',
    );
    this.#insertMany = db.transaction((rows: readonly SampleRow[], now: number) => {
      const fresh: boolean[] = new Array(rows.length);
      let lastRssi: Map<string, { v: number; ts: number }> | undefined;
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i] as SampleRow;
        fresh[i] = this.#insert.run(r.deviceId, r.bootId, r.seq, r.ts, now, JSON.stringify(r.metrics)).changes === 1;
        const v = fresh[i] ? rssiOf(r.metrics) : undefined;
        if (v === undefined) continue;
        lastRssi ??= new Map();
        const prev = lastRssi.get(r.deviceId);
        if (!prev || prev.ts <= r.ts) lastRssi.set(r.deviceId, { v, ts: r.ts });
      }
      if (lastRssi) for (const [id, x] of lastRssi) this.#rssi.run(x.v, x.ts, id, x.ts);
      return fresh;
    });
  }

  /** One transaction; answers, per row, whether it was new (false: a duplicate, ignored). */
  insertMany(rows: readonly SampleRow[], now = Date.now()): boolean[] {
    return this.#insertMany(rows, now) as boolean[];
  }

  highestSeq(deviceId: string, bootId: string): number {
    return this.#highest.get(deviceId, bootId)?.m ?? -1;
  }

  count(deviceId?: string): number {
    const r = (
      deviceId === undefined
        ? this.db.prepare('SELECT count(*) AS n FROM telemetry').get()
        : this.db.prepare('SELECT count(*) AS n FROM telemetry WHERE device_id = ?').get(deviceId)
    ) as { n: number };
    return r.n;
  }

  query(q: TelemetryQuery): unknown[] {
    if (q.bucketMs !== undefined) {
      if (q.metric === undefined) throw new Error('downsampling needs a metric');
      return this.db
        .prepare(
          `SELECT (ts / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS t, count(*) AS count, min(v) AS min, max(v) AS max, avg(v) AS avg
           FROM (SELECT ts, json_extract(metrics, ?) AS v FROM telemetry
                 WHERE device_id = ? AND ts >= ? AND ts < ?) WHERE v IS NOT NULL
           GROUP BY t ORDER BY t LIMIT ?`,
        )
        .all(q.bucketMs, q.bucketMs, `$."${q.metric}"`, q.deviceId, q.from, q.to, q.limit);
    }
    const rows = this.db
      .prepare(
        `SELECT boot_id AS bootId, seq, ts, metrics FROM telemetry
         WHERE device_id = ? AND ts >= ? AND ts < ? ORDER BY ts, boot_id, seq LIMIT ?`,
      )
      .all(q.deviceId, q.from, q.to, q.limit) as { bootId: string; seq: number; ts: number; metrics: string }[];
    return rows.map((r) => {
      const metrics = JSON.parse(r.metrics) as Metrics;
      if (q.metric === undefined) return { ...r, metrics };
      return { bootId: r.bootId, seq: r.seq, ts: r.ts, value: metrics[q.metric] ?? null };
    });
  }
}
