/**
 * Telemetry storage: INSERT OR IGNORE on (device, boot, seq) gives exactly-once storage
 * of at-least-once input. Writes go through insertMany, one transaction per batch. Each
 * device's last reported RSSI (the operator's table) is written by the same transactions,
 * never an extra commit: at most once per `rssiEveryMs` (0: in every batch). Each UPDATE
 * dirties a page of the devices table, which the commit then writes whole to the WAL; at
 * 20,000 samples/s from as many devices that was one more page per sample.
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

/**
 * Samples by column: the form they cross to the writer's thread in (arrays of strings and
 * numbers are cheap to copy between threads; an object per sample is not), with the
 * metrics already JSON (the text stored, and the one MQTT carries) and the RSSI picked out
 * (NaN: none).
 */
export interface SampleColumns {
  deviceIds: string[];
  bootIds: string[];
  seqs: number[];
  ts: number[];
  metricsJson: string[];
  rssi: number[];
}

export function emptyColumns(): SampleColumns {
  return { deviceIds: [], bootIds: [], seqs: [], ts: [], metricsJson: [], rssi: [] };
}

export function pushSample(c: SampleColumns, r: SampleRow): void {
  c.deviceIds.push(r.deviceId);
  c.bootIds.push(r.bootId);
  c.seqs.push(r.seq);
  c.ts.push(r.ts);
  c.metricsJson.push(JSON.stringify(r.metrics));
  c.rssi.push(rssiOf(r.metrics) ?? Number.NaN);
}

/** Removes the first `n` samples from `c` and answers them. */
export function takeColumns(c: SampleColumns, n: number): SampleColumns {
  return {
    deviceIds: c.deviceIds.splice(0, n),
    bootIds: c.bootIds.splice(0, n),
    seqs: c.seqs.splice(0, n),
    ts: c.ts.splice(0, n),
    metricsJson: c.metricsJson.splice(0, n),
    rssi: c.rssi.splice(0, n),
  };
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
  /** Last RSSI per device not yet written, and when they last were. */
  readonly #rssiPending = new Map<string, { v: number; ts: number }>();
  #rssiWrittenAt = 0;

  constructor(
    private readonly db: Db,
    private readonly opts: { rssiEveryMs?: number } = {},
  ) {
    this.#insert = db.prepare(
      'INSERT OR IGNORE INTO telemetry (device_id, boot_id, seq, ts, received_at, metrics) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#highest = db.prepare<[string, string], { m: number | null }>(
      'SELECT max(seq) AS m FROM telemetry WHERE device_id = ? AND boot_id = ?',
    );
    this.#rssi = db.prepare(
      'UPDATE devices SET rssi = ?, rssi_at = ? WHERE id = ? AND (rssi_at IS NULL OR rssi_at <= ?)',
    );
    this.#insertMany = db.transaction((c: SampleColumns, now: number) => {
      const n = c.seqs.length;
      const fresh = new Uint8Array(n);
      const lastRssi = this.#rssiPending;
      for (let i = 0; i < n; i++) {
        const deviceId = c.deviceIds[i] as string;
        const ts = c.ts[i] as number;
        if (this.#insert.run(deviceId, c.bootIds[i], c.seqs[i], ts, now, c.metricsJson[i] as string).changes !== 1)
          continue;
        fresh[i] = 1;
        const v = c.rssi[i] as number;
        if (Number.isNaN(v)) continue;
        const prev = lastRssi.get(deviceId);
        if (!prev || prev.ts <= ts) lastRssi.set(deviceId, { v, ts });
      }
      if (now - this.#rssiWrittenAt >= (this.opts.rssiEveryMs ?? 0)) this.#writeRssi(now);
      return fresh;
    });
  }

  #writeRssi(now: number): void {
    for (const [id, x] of this.#rssiPending) this.#rssi.run(x.v, x.ts, id, x.ts);
    this.#rssiPending.clear();
    this.#rssiWrittenAt = now;
  }

  /** Writes the RSSI values held back by `rssiEveryMs` (before the connection closes). */
  flushRssi(now = Date.now()): void {
    if (this.#rssiPending.size > 0) this.db.transaction(() => this.#writeRssi(now))();
  }

  /** One transaction; answers, per row, whether it was new (false: a duplicate, ignored). */
  insertMany(rows: readonly SampleRow[], now = Date.now()): boolean[] {
    const c = emptyColumns();
    for (const r of rows) pushSample(c, r);
    return Array.from(this.insertColumns(c, now), (x) => x === 1);
  }

  /** insertMany by column: 1 per new sample, 0 per duplicate. */
  insertColumns(c: SampleColumns, now = Date.now()): Uint8Array {
    return this.#insertMany(c, now) as Uint8Array;
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
