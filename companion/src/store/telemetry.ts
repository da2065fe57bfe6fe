/**
 * Telemetry storage: exactly-once storage of at-least-once input, on (device, boot, seq).
 * Writes go through insertColumns, one transaction per batch, appending to telemetry_inbox
 * in arrival order; from there samples fold into telemetry_recent by device range
 * (telemetry-inbox.ts) and move on to telemetry in bulk (telemetry-merge.ts). A sample is
 * appended only if none of the three holds it; every read here sees all three. Each
 * device's last reported RSSI (the operator's table) is written by the same transactions,
 * never an extra commit: at most once per `rssiEveryMs` (0: in every batch). Each UPDATE
 * dirties a page of the devices table, which the commit then writes whole to the WAL; at
 * 20,000 samples/s from as many devices that was one more page per sample.
 */
import type { Metrics } from '@kiln/protocol';
import type { Db } from './db.ts';
import { TelemetryInbox } from './telemetry-inbox.ts';
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

/**
 * Rows a fold step takes at least: each step scans the chunk (the inbox has no device index),
 * so steps of a few hundred rows would scan it a hundred times.
 */
const FOLD_STEP_ROWS = 2000;
/** A chunk also begins at this many bytes of metrics: a chunk of 20,000 wide samples (60 metrics) put 20 MB into the WAL at once. */
const FOLD_BYTES = 4 * 1024 * 1024;

export class TelemetryRepo {
  readonly #stored;
  readonly #insertColumns;
  readonly #highest;
  readonly #moveStep: (maxRows: number) => number;
  readonly #rssi;
  /** Last RSSI per device not yet written, and when they last were. */
  readonly #rssiPending = new Map<string, { v: number; ts: number; since: number }>();

  readonly merge: TelemetryMerge;
  readonly inbox: TelemetryInbox;

  /**
   * `rssiEveryMs`: see above. `foldRows` and `recentRows` (the writer's thread sets them;
   * other connections leave the moving to it): with them, samples fold out of the inbox once
   * it holds `foldRows`, and move on to telemetry once telemetry_recent holds more than
   * `recentRows`. Both by moveOn between commits, and inside a commit only past three and two
   * times those (see there). `foldAfterMs`: fewer than `foldRows` fold too once the last chunk
   * began that long ago (a small fleet fills no chunk for hours).
   */
  constructor(
    private readonly db: Db,
    private readonly opts: { rssiEveryMs?: number; recentRows?: number; foldRows?: number; foldAfterMs?: number } = {},
  ) {
    // Reads only, for a sample at or below the inbox's bound for its device and boot: the
    // inbox is asked in memory (telemetry-inbox.ts). Telemetry is asked only
    // for a sample at or below the highest seq moved there for its device and boot
    // (telemetry-merge.ts); AND and OR stop at their first deciding side.
    this.#stored = db
      .prepare(
        `SELECT EXISTS (SELECT 1 FROM telemetry_recent WHERE device_id = ? AND boot_id = ? AND seq = ?)
             OR (EXISTS (SELECT 1 FROM telemetry_high_seq WHERE device_id = ? AND boot_id = ? AND seq >= ?)
                 AND EXISTS (SELECT 1 FROM telemetry WHERE device_id = ? AND boot_id = ? AND seq = ?))`,
      )
      .pluck();
    this.#highest = db.prepare<[string, string, string, string], { m: number | null }>(
      `SELECT max(m) AS m FROM (SELECT max(seq) AS m FROM telemetry WHERE device_id = ? AND boot_id = ?
       UNION ALL SELECT max(seq) FROM telemetry_recent WHERE device_id = ? AND boot_id = ?)`,
    );
    this.merge = new TelemetryMerge(db);
    this.inbox = new TelemetryInbox(db);
    this.#rssi = db.prepare(
      'UPDATE devices SET rssi = ?, rssi_at = ? WHERE id = ? AND (rssi_at IS NULL OR rssi_at <= ?)',
    );
    const inbox = this.inbox;
    this.#insertColumns = db.transaction((c: SampleColumns, now: number) => {
      const n = c.seqs.length;
      const fresh = new Uint8Array(n);
      const lastRssi = this.#rssiPending;
      inbox.catchUp();
      inbox.begin();
      for (let i = 0; i < n; i++) {
        const deviceId = c.deviceIds[i] as string;
        const bootId = c.bootIds[i] as string;
        const seq = c.seqs[i] as number;
        const ts = c.ts[i] as number;
        if (inbox.has(deviceId, bootId, seq)) continue;
        // A sample above the bound is stored nowhere: in order, that is nearly every one.
        const bound =
          inbox.bound(deviceId, bootId) ??
          inbox.establish(deviceId, bootId, this.#highest.get(deviceId, bootId, deviceId, bootId)?.m ?? -1);
        if (seq <= bound && this.#stored.get(deviceId, bootId, seq, deviceId, bootId, seq, deviceId, bootId, seq) === 1)
          continue;
        inbox.append(deviceId, bootId, seq, ts, now, c.metricsJson[i] as string);
        fresh[i] = 1;
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
      // Folds and moves are moveOn's, between commits. Only a writer that never has a moment
      // between commits leaves them undone; past three (two) times their limits the commit
      // folds (moves) at least twice what came in, so both tables stay bounded whatever the load.
      // Without foldRows (a connection other than the writer thread's: tests, tools) the
      // commit folds what it appended itself.
      const { foldRows, recentRows } = this.opts;
      if (foldRows === undefined) {
        // The rest of a chunk another connection began, then one of all the rest (three at
        // most, should rows keep coming in between).
        for (let i = 0, done = false; !done && i < 3; i++) {
          const r = inbox.foldStep(Number.MAX_SAFE_INTEGER);
          this.merge.recentRows += r.folded;
          done = r.done && inbox.rows === 0;
        }
      } else if (inbox.holds(3 * foldRows, 3 * FOLD_BYTES)) this.#fold(Math.max(FOLD_STEP_ROWS, 2 * n));
      if (recentRows !== undefined && this.merge.recentRows > 2 * recentRows) this.merge.step(Math.max(1000, 2 * n));
      return fresh;
    });
    this.#moveStep = db.transaction((maxRows: number) => {
      inbox.catchUp();
      inbox.begin();
      return this.#mustFold ? this.#fold(Math.max(FOLD_STEP_ROWS, maxRows)) : this.merge.step(maxRows);
    }).immediate;
  }

  #fold(maxRows: number): number {
    const { folded } = this.inbox.foldStep(maxRows);
    this.merge.recentRows += folded;
    return folded;
  }

  get #mustFold(): boolean {
    const { foldRows, foldAfterMs } = this.opts;
    if (foldRows === undefined) return false;
    const due = foldAfterMs !== undefined && Date.now() - this.inbox.chunkBegunAt >= foldAfterMs;
    return this.inbox.mustFold(due ? 1 : foldRows, due ? 1 : FOLD_BYTES);
  }

  /** Whether the inbox has a chunk to fold, or telemetry_recent holds more than `recentRows` (moveOn has work). */
  get mustMove(): boolean {
    const limit = this.opts.recentRows;
    return this.#mustFold || (limit !== undefined && this.merge.recentRows > limit);
  }

  /** Folds all of the inbox into telemetry_recent, a step (a transaction) at a time. Answers the rows folded. */
  foldAll(): number {
    const fold = this.db.transaction(() => {
      this.inbox.catchUp();
      this.inbox.begin();
      return this.inbox.foldStep(FOLD_STEP_ROWS);
    }).immediate;
    let folded = 0;
    // A chunk ends with the rows it began with: those appended since make one more.
    for (let chunks = 0; chunks < 2; ) {
      const r = this.#guarded(fold);
      this.merge.recentRows += r.folded;
      folded += r.folded;
      if (!r.done) continue;
      chunks++;
      if (this.inbox.rows === 0) break;
    }
    return folded;
  }

  /** Folds all of the inbox, then moves all of telemetry_recent on in steps of `maxRows` (an idle writer). */
  settleAll(maxRows: number): void {
    this.foldAll();
    this.merge.all(maxRows);
  }

  /** Runs a transaction that may append or fold, keeping the inbox's memory true if it fails. */
  #guarded<T>(tx: () => T): T {
    try {
      const r = tx();
      this.inbox.commit();
      return r;
    } catch (e) {
      this.inbox.rollback();
      throw e;
    }
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
      return this.#guarded(() => this.#moveStep(maxRows));
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
    // BEGIN IMMEDIATE: the inbox's catch-up must see every row appended before this one's,
    // and a deferred transaction that reads first cannot become a writer once another
    // connection has written (SQLITE_BUSY at once, without the busy timeout).
    return this.#guarded(() => this.#insertColumns.immediate(c, now) as Uint8Array);
  }

  /**
   * The highest seq stored for this device and boot, but for samples still waiting in the
   * inbox: asking it by device is a scan (every hello asks; a reconnect storm would scan it
   * 10,000 times). Its one caller anchors the sequence window (4,096 wide) with it, and what
   * waits in the inbox is at most seconds of a device's samples.
   */
  highestSeq(deviceId: string, bootId: string): number {
    return this.#highest.get(deviceId, bootId, deviceId, bootId)?.m ?? -1;
  }

  count(deviceId?: string): number {
    const r = (
      deviceId === undefined
        ? this.db
            .prepare(
              `SELECT (SELECT count(*) FROM telemetry) + (SELECT count(*) FROM telemetry_recent)
                    + (SELECT count(*) FROM telemetry_waiting) AS n`,
            )
            .get()
        : this.db
            .prepare(
              `SELECT (SELECT count(*) FROM telemetry WHERE device_id = @id)
                    + (SELECT count(*) FROM telemetry_recent WHERE device_id = @id)
                    + (SELECT count(*) FROM telemetry_waiting WHERE device_id = @id) AS n`,
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
                 WHERE device_id = @device AND ts >= @from AND ts < @to
                 UNION ALL SELECT ts, json_extract(metrics, @path) FROM telemetry_waiting
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
         UNION ALL SELECT boot_id, seq, ts, metrics FROM telemetry_waiting WHERE device_id = @device AND ts >= @from AND ts < @to
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
