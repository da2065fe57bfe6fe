/**
 * Moves samples from telemetry_recent into telemetry, a range of devices at a time.
 *
 * Why two tables: telemetry has two B-trees keyed by device (the exactly-once key and the
 * (device, ts) index). A commit holding one sample from each of 1,000 devices dirties about
 * 2,000 pages, and SQLite writes every dirty page whole to the WAL: at 20,000 single-sample
 * messages a second that was ~30 µs of the writer's time per sample, growing with the table.
 * New samples go into telemetry_recent instead (one B-tree, small, so its hot pages stay few),
 * and move over here sorted by device, tens of samples per page, in bounded steps.
 * Exactly-once holds across both: a sample enters telemetry_recent only if telemetry does not
 * have it, and leaves it in the same transaction that puts it into telemetry.
 *
 * Asking telemetry "do you have it?" for every new sample was a seek into a tree that
 * outgrows SQLite's cache, so its cost grew with the database (the inserts' time doubled
 * over 150 s at 20,000 samples/s). The move therefore also raises telemetry_high_seq, per
 * device and boot, to the highest seq it moved, in the same transaction: a sample above
 * that cannot be in telemetry, and only one at or below it (out of order, or resent) is
 * looked up there. The bound lives in the database, not in this writer's memory, so it
 * stays true whichever instance sharing the file moved the rows.
 */
import type { Db } from './db.ts';

/** Above every device id (lowercase letters, digits, - and _: isDeviceId), as an exclusive upper bound. */
export const END = '\uffff';

export class TelemetryMerge {
  readonly #boundary;
  readonly #move;
  readonly #raise;
  readonly #remove;
  /** Rows in telemetry_recent, kept by the writer (counted once at start). */
  recentRows: number;
  /** Where the next step starts: the device ranges rotate through the id space. */
  #cursor = '';

  constructor(private readonly db: Db) {
    this.#boundary = db.prepare<[string, number], { id: string }>(
      'SELECT device_id AS id FROM telemetry_recent WHERE device_id >= ? ORDER BY device_id, boot_id, seq LIMIT 1 OFFSET ?',
    );
    this.#move = db.prepare(
      `INSERT OR IGNORE INTO telemetry (device_id, boot_id, seq, ts, received_at, metrics)
       SELECT device_id, boot_id, seq, ts, received_at, metrics FROM telemetry_recent
       WHERE device_id >= ? AND device_id < ? ORDER BY device_id, boot_id, seq`,
    );
    this.#raise = db.prepare(
      `INSERT INTO telemetry_high_seq (device_id, boot_id, seq)
       SELECT device_id, boot_id, max(seq) FROM telemetry_recent WHERE device_id >= ? AND device_id < ?
       GROUP BY device_id, boot_id
       ON CONFLICT (device_id, boot_id) DO UPDATE SET seq = max(seq, excluded.seq)`,
    );
    this.#remove = db.prepare('DELETE FROM telemetry_recent WHERE device_id >= ? AND device_id < ?');
    this.recentRows = (db.prepare('SELECT count(*) AS n FROM telemetry_recent').get() as { n: number }).n;
  }

  /**
   * Moves the whole devices among the next `maxRows` rows after the cursor (at least one
   * device, however many rows it has). Call inside a transaction. Answers the rows moved.
   */
  step(maxRows: number): number {
    if (this.recentRows === 0) return 0;
    let from = this.#cursor;
    let next = this.#boundary.get(from, maxRows)?.id;
    if (next === undefined && from !== '' && this.#boundary.get(from, 0) === undefined) {
      // Nothing at or after the cursor: start again from the lowest id.
      from = '';
      next = this.#boundary.get(from, maxRows)?.id;
    }
    const first = this.#boundary.get(from, 0)?.id;
    if (first === undefined) {
      this.recentRows = 0; // emptied by another connection (retention, a deleted device)
      return 0;
    }
    // One device holds maxRows or more: take it alone (`\u0001` sorts below any id character).
    let to = next ?? END;
    if (to === first) to = `${first}\u0001`;
    this.#move.run(first, to);
    this.#raise.run(first, to);
    const moved = this.#remove.run(first, to).changes;
    this.recentRows = Math.max(0, this.recentRows - moved);
    this.#cursor = to === END ? '' : to;
    return moved;
  }

  /**
   * Moves everything, in steps of `maxRows`, each its own transaction (for an idle writer).
   * BEGIN IMMEDIATE: a step reads before it writes, and a deferred transaction whose snapshot
   * another connection has written past cannot become a writer (SQLITE_BUSY at once, without
   * the busy timeout).
   */
  all(maxRows: number): number {
    let moved = 0;
    const step = this.db.transaction(() => this.step(maxRows)).immediate;
    for (let n = step(); n > 0; n = step()) moved += n;
    return moved;
  }
}
