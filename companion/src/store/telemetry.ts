/**
 * Telemetry storage: INSERT OR IGNORE on (device, boot, seq) gives exactly-once storage
 * of at-least-once input. Writes go through insertColumns, one transaction per batch, into
 * telemetry_recent, from where they move to telemetry in bulk (telemetry-merge.ts); every
 * read here sees both tables. Each
 * device's last reported RSSI (the operator's table) is written by the same transactions,
 * never an extra commit: at most once per `rssiEveryMs` (0: in every batch). Each UPDATE
 * dirties a page of the devices table, which the commit then writes whole to the WAL; at
 * 20,000 samples/s from as many devices that was one more page per sample.
 */
import type { Metrics } from '@kiln/protocol';
import type { Db } from './db.ts';
import { TelemetryMerge } from './telemetry-merge.ts';

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
  readonly #insertColumns;
  readonly #highest;
  readonly #moveStep: (maxRows: number) => number;
  readonly #rssi;
  /** Last RSSI per device not yet written, and when they last were. */
  readonly #rssiPending = new Map<string, { v: number; ts: number; since: number }>();

  readonly merge: TelemetryMerge;

  /**
   * `rssiEveryMs`: see above. `recentRows`: with it, samples move on to telemetry once
   * telemetry_recent holds more than that many (the writer's thread sets it; other
   * connections leave the moving to it): by moveOn between commits, and inside a commit only
   * past twice that many (see there).
   */
  constructor(
    private readonly db: Db,
    private readonly opts: { rssiEveryMs?: number; recentRows?: number } = {},
  ) {
    // Telemetry is asked only for a sample at or below the highest seq moved there for its
    // device and boot (telemetry-merge.ts); OR stops at its first true side.
    this.#insert = db.prepare(
      `INSERT OR IGNORE INTO telemetry_recent (device_id, boot_id, seq, ts, received_at, metrics)
       SELECT ?, ?, ?, ?, ?, ?
       WHERE NOT EXISTS (SELECT 1 FROM telemetry_high_seq WHERE device_id = ? AND boot_id = ? AND seq >= ?)
          OR NOT EXISTS (SELECT 1 FROM telemetry WHERE device_id = ? AND boot_id = ? AND seq = ?)`,
    );
    this.#highest = db.prepare<[string, string, string, string], { m: number | null }>(
      `SELECT max(m) AS m FROM (SELECT max(seq) AS m FROM telemetry WHERE device_id = ? AND boot_id = ?
       UNION ALL SELECT max(seq) FROM telemetry_recent WHERE device_id = ? AND boot_id = ?)`,
    );
    this.merge = new TelemetryMerge(db);
    this.#rssi = db.prepare(
      'UPDATE devices SET rssi = ?, rssi_at = ? WHERE id = ? AND (rssi_at IS NULL OR rssi_at <= ?)',
    );
    this.#insertColumns = db.transaction((c: SampleColumns, now: number) => {
      const n = c.seqs.length;
      const fresh = new Uint8Array(n);
      const lastRssi = this.#rssiPending;
      for (let i = 0; i < n; i++) {
        const deviceId = c.deviceIds[i] as string;
        const bootId = c.bootIds[i] as string;
        const seq = c.seqs[i] as number;
        const ts = c.ts[i] as number;
        const m = c.metricsJson[i];
        if (
          this.#insert.run(deviceId, bootId, seq, ts, now, m, deviceId, bootId, seq, deviceId, bootId, seq).changes !==
          1
        )
          continue;
        fresh[i] = 1;
        this.merge.recentRows++;
        const v = c.rssi[i] as number;
        if (Number.isNaN(v)) continue;
        const prev = lastRssi.get(deviceId);
        if (!prev) lastRssi.set(deviceId, { v, ts, since: now });
        else if (prev.ts <= ts) {
          prev.v = v;
          prev.ts = ts;
        }
      }
      // The values held longest first, as many as this commit has samples (at least 64): at
      // 10,000 devices, all of them every 2 s in one commit held that commit for ~50 ms.
      this.#writeRssi(now - (this.opts.rssiEveryMs ?? 0), Math.max(64, n));
      // Moves are moveOn's, between commits. Only a writer that never has a moment between
      // commits leaves them undone; past twice the limit the commit moves at least twice what
      // came in, so telemetry_recent stays bounded whatever the load.
      const limit = this.opts.recentRows;
      if (limit !== undefined && this.merge.recentRows > 2 * limit) this.merge.step(Math.max(1000, 2 * n));
      return fresh;
    });
    this.#moveStep = db.transaction((maxRows: number) => this.merge.step(maxRows)).immediate;
  }

  /** Whether telemetry_recent holds more than `recentRows` (moveOn has work). */
  get mustMove(): boolean {
    const limit = this.opts.recentRows;
    return limit !== undefined && this.merge.recentRows > limit;
  }

  /**
   * One step of moves (the whole devices among the next `maxRows` rows), in a transaction of
   * its own, when mustMove. Answers the rows moved.
   *
   * Why apart from the commits: inside one, a step made that commit two to three times
   * slower (at 10,000 devices the rows of a step are about 10 per device, so it dirties
   * about a page per device in each of telemetry's two trees). The acks of a commit wait for
   * it, the next batch grows meanwhile, and the event loop then acknowledges it in one burst.
   * Between commits a step costs a commit at most the step's few milliseconds.
   *
   * Without fsync (synchronous=NORMAL for this transaction): a move adds nothing a device was
   * promised, and the next commit's fsync covers its frames too, since the WAL is one file
   * written in order. Lost in a power cut before then, it is undone whole (the samples are
   * still in telemetry_recent), never half done.
   */
  moveOn(maxRows: number): number {
    if (!this.mustMove) return 0;
    const was = this.db.pragma('synchronous', { simple: true }) as number;
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.#moveStep(maxRows);
    } finally {
      this.db.pragma(`synchronous = ${was}`);
    }
  }

  /** Writes up to `most` held values that have waited since `heldSince` or before (Map order: oldest first). */
  #writeRssi(heldSince: number, most = Number.POSITIVE_INFINITY): void {
    let written = 0;
    for (const [id, x] of this.#rssiPending) {
      if (x.since > heldSince || written >= most) break;
      this.#rssi.run(x.v, x.ts, id, x.ts);
      this.#rssiPending.delete(id);
      written++;
    }
  }

  /** Writes the RSSI values held back by `rssiEveryMs` since `heldSince` or before (all: before the connection closes). */
  flushRssi(heldSince = Number.POSITIVE_INFINITY, most = Number.POSITIVE_INFINITY): void {
    const [first] = this.#rssiPending.values();
    if (first && first.since <= heldSince) this.db.transaction(() => this.#writeRssi(heldSince, most))();
  }

  /** One transaction; answers, per row, whether it was new (false: a duplicate, ignored). */
  insertMany(rows: readonly SampleRow[], now = Date.now()): boolean[] {
    const c = emptyColumns();
    for (const r of rows) pushSample(c, r);
    return Array.from(this.insertColumns(c, now), (x) => x === 1);
  }

  /** insertMany by column: 1 per new sample, 0 per duplicate. */
  insertColumns(c: SampleColumns, now = Date.now()): Uint8Array {
    return this.#insertColumns(c, now) as Uint8Array;
  }

  highestSeq(deviceId: string, bootId: string): number {
    return this.#highest.get(deviceId, bootId, deviceId, bootId)?.m ?? -1;
  }

  count(deviceId?: string): number {
    const r = (
      deviceId === undefined
        ? this.db
            .prepare('SELECT (SELECT count(*) FROM telemetry) + (SELECT count(*) FROM telemetry_recent) AS n')
            .get()
        : this.db
            .prepare(
              `SELECT (SELECT count(*) FROM telemetry WHERE device_id = @id)
                    + (SELECT count(*) FROM telemetry_recent WHERE device_id = @id) AS n`,
            )
            .get({ id: deviceId })
    ) as { n: number };
    return r.n;
  }

  query(q: TelemetryQuery): unknown[] {
    if (q.bucketMs !== undefined) {
      if (q.metric === undefined) throw new Error('downsampling needs a metric');
      return this.db
        .prepare(
          `SELECT (ts / CAST(@bucket AS INTEGER)) * CAST(@bucket AS INTEGER) AS t, count(*) AS count, min(v) AS min, max(v) AS max, avg(v) AS avg
           FROM (SELECT ts, json_extract(metrics, @path) AS v FROM telemetry
                 WHERE device_id = @device AND ts >= @from AND ts < @to
                 UNION ALL SELECT ts, json_extract(metrics, @path) FROM telemetry_recent
                 WHERE device_id = @device AND ts >= @from AND ts < @to) WHERE v IS NOT NULL
           GROUP BY t ORDER BY t LIMIT @limit`,
        )
        .all({
          bucket: q.bucketMs,
          path: `$."${q.metric}"`,
          device: q.deviceId,
          from: q.from,
          to: q.to,
          limit: q.limit,
        });
    }
    const rows = this.db
      .prepare(
        `SELECT boot_id AS bootId, seq, ts, metrics FROM telemetry WHERE device_id = @device AND ts >= @from AND ts < @to
         UNION ALL SELECT boot_id, seq, ts, metrics FROM telemetry_recent WHERE device_id = @device AND ts >= @from AND ts < @to
         ORDER BY ts, bootId, seq LIMIT @limit`,
      )
      .all({ device: q.deviceId, from: q.from, to: q.to, limit: q.limit }) as {
      bootId: string;
      seq: number;
      ts: number;
      metrics: string;
    }[];
    return rows.map((r) => {
      const metrics = JSON.parse(r.metrics) as Metrics;
      if (q.metric === undefined) return { ...r, metrics };
      return { bootId: r.bootId, seq: r.seq, ts: r.ts, value: metrics[q.metric] ?? null };
    });
  }
}
