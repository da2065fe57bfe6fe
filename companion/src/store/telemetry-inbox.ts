/**
 * telemetry_inbox: where a commit puts new samples, appended in arrival order, and from where
 * they fold into telemetry_recent by device range between commits.
 *
 * Why: SQLite writes every page a commit dirties whole to the WAL. telemetry_recent is keyed
 * by device, so a commit of 200 samples from 200 of 10,000 devices in no order dirtied about
 * 195 of its pages: measured alone, 18 µs of the writer's CPU per sample and commits of 3 ms
 * (p99 16 ms). Appended in arrival order the same commit dirties a few pages at the table's
 * end (2 µs a sample). The fold then takes a chunk of the inbox (the writer's `foldRows`, 20,000:
 * about a second at 20,000 samples/s) into telemetry_recent sorted by device, in steps by device
 * range so that commits go in between; a chunk holds tens of samples per page of
 * telemetry_recent, as the moves on to telemetry do (telemetry-merge.ts). With the fold the
 * writer spent 8.7 µs a sample, and commits took 0.9 ms (p99 1.4 ms).
 *
 * The exactly-once check cannot ask the inbox (it has no device-keyed index: that index
 * would be dirtied as telemetry_recent was), so this class keeps the key of every row still in
 * the inbox in memory. It reads the rows other connections appended (another instance sharing
 * the file) at the start of each write, inside the transaction, where nothing can be appended
 * unseen. Rows can leave unseen (a device deleted on the event loop's connection): a key found
 * in memory is confirmed by reading its row by n.
 *
 * A chunk's rows stay in the inbox until the chunk's last step deletes them all at once (a
 * delete per step would dirty every page of the chunk each time). Meanwhile telemetry_fold
 * says which are folded already (`n <= upto AND device_id < below`), and readers read the
 * others through the view telemetry_waiting: no sample is seen twice or missed.
 */
import type { Db } from './db.ts';
import { END } from './telemetry-merge.ts';

/** Devices and boots whose bound is kept (about 100 bytes each); the others are read again when asked. */
const BOUNDS = 100_000;
/** One row in this many is looked at to cut a chunk into steps. */
const ENDS_STRIDE = 8;

interface FoldState {
  upto: number;
  below: string;
}

export class TelemetryInbox {
  readonly #append;
  readonly #after;
  readonly #first;
  readonly #top;
  readonly #state;
  readonly #setState;
  readonly #newest;
  readonly #fold;
  readonly #clear;
  readonly #exists;
  /**
   * Key (device, boot, seq) → n of the rows in the inbox; their rows' n, keys and devices in
   * n order from #head. A row can go unseen (its device deleted, on any connection), so a key
   * found here is confirmed by its n (`has`).
   */
  readonly #keys = new Map<string, number>();
  #ns: number[] = [];
  #order: string[] = [];
  #devices: string[] = [];
  #head = 0;
  /**
   * Per device and boot (BOUNDS of them at most, the oldest dropped): a seq at or above every one stored
   * for it outside the inbox. A new sample above it is stored nowhere, and skips the
   * look-ups. Every sample reaches telemetry_recent and telemetry through an inbox, so each
   * row this connection appends or reads in catchUp raises it; too high only costs a look-up.
   */
  readonly #bounds = new Map<string, number>();
  /**
   * Per device and boot: at or above the highest seq among its rows in the inbox. Rows that
   * left keep theirs (too high is safe) until the map holds BOUNDS, then it is rebuilt.
   */
  #inboxHigh = new Map<string, number>();
  /** Metrics bytes appended since this connection last began a chunk. */
  #bytesSinceChunk = 0;
  /** When this connection last began a chunk (or started). */
  chunkBegunAt = Date.now();
  /** The highest n read or appended: rows above it are other connections'. */
  #last = 0;
  /** Where this transaction's appends began (undo on rollback), and whether it forgot rows. */
  #mark: { length: number; last: number; forgot: boolean } | undefined;
  /** The current chunk's step ends (exclusive device-id bounds), computed once per chunk. */
  #chunk: { upto: number; ends: string[] } | undefined;

  constructor(db: Db) {
    this.#append = db.prepare(
      'INSERT INTO telemetry_inbox (device_id, boot_id, seq, ts, received_at, metrics) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#after = db.prepare<[number], { n: number; d: string; b: string; s: number; m: number }>(
      'SELECT n, device_id AS d, boot_id AS b, seq AS s, length(metrics) AS m FROM telemetry_inbox WHERE n > ? ORDER BY n',
    );
    this.#first = db.prepare<[], { n: number | null }>('SELECT min(n) AS n FROM telemetry_inbox');
    // AUTOINCREMENT's record of the highest n ever given: rows are never numbered again.
    this.#top = db.prepare<[], number>(`SELECT seq FROM sqlite_sequence WHERE name = 'telemetry_inbox'`).pluck();
    this.#newest = db.prepare<[], { n: number | null }>('SELECT max(n) AS n FROM telemetry_inbox');
    this.#state = db.prepare<[], FoldState>('SELECT upto, below FROM telemetry_fold WHERE one = 1');
    this.#setState = db.prepare('UPDATE telemetry_fold SET upto = ?, below = ? WHERE one = 1');
    this.#fold = db.prepare(
      `INSERT OR IGNORE INTO telemetry_recent (device_id, boot_id, seq, ts, received_at, metrics)
       SELECT device_id, boot_id, seq, ts, received_at, metrics FROM telemetry_inbox
       WHERE n <= ? AND device_id >= ? AND device_id < ? ORDER BY device_id, boot_id, seq`,
    );
    this.#clear = db.prepare('DELETE FROM telemetry_inbox WHERE n <= ?');
    this.#exists = db
      .prepare<[number, string, string, number], number>(
        'SELECT 1 FROM telemetry_inbox WHERE n = ? AND device_id = ? AND boot_id = ? AND seq = ?',
      )
      .pluck();
    // Nothing is read yet: a connection that never writes samples (the event loop's) keeps no
    // copy of the keys. The first catchUp reads them all.
  }

  /** Rows in the inbox, as far as this connection has seen (folded ones included until their chunk is done). */
  get rows(): number {
    return this.#ns.length - this.#head;
  }

  /**
   * Reads what other connections appended and forgets what they folded away. Call at the
   * start of every write transaction, before `has`.
   */
  catchUp(): void {
    for (const r of this.#after.iterate(this.#last)) this.#remember(r.n, r.d, r.b, r.s, r.m);
    const top = this.#top.get() ?? 0;
    if (top > this.#last) {
      // Rows came and went unseen (another connection appended and folded them between two of
      // this one's writes): a bound may be below them, so all are read again when asked.
      this.#bounds.clear();
      this.#last = top;
    }
    const first = this.#first.get()?.n ?? this.#last + 1;
    this.#forgetBelow(first);
  }

  /**
   * Whether the inbox holds this sample. Nearly every new sample is not in memory and costs no
   * read; a resend that is costs one, by n. Without it, a device deleted and registered again
   * meanwhile (its rows gone with it), resending the same boot and seq, would be taken for a
   * duplicate: acknowledged and stored nowhere.
   */
  has(deviceId: string, bootId: string, seq: number): boolean {
    const n = this.#keys.get(key(deviceId, bootId, seq));
    return n !== undefined && this.#exists.get(n, deviceId, bootId, seq) !== undefined;
  }

  /** The bound above (undefined: not known here yet; `establish` it). */
  bound(deviceId: string, bootId: string): number | undefined {
    return this.#bounds.get(pair(deviceId, bootId));
  }

  /**
   * Sets the bound from the highest seq telemetry_recent and telemetry hold (`storedMax`, read
   * in this write transaction, after catchUp) and the rows waiting here, which may fold there
   * later. Answers it.
   */
  establish(deviceId: string, bootId: string, storedMax: number): number {
    const p = pair(deviceId, bootId);
    const bound = Math.max(storedMax, this.#inboxHigh.get(p) ?? -1);
    if (this.#bounds.size >= BOUNDS) this.#bounds.delete(this.#bounds.keys().next().value as string);
    this.#bounds.set(p, bound);
    return bound;
  }

  /** Appends a sample (inside a transaction opened with `begin`). */
  append(deviceId: string, bootId: string, seq: number, ts: number, receivedAt: number, metrics: string): void {
    const n = Number(this.#append.run(deviceId, bootId, seq, ts, receivedAt, metrics).lastInsertRowid);
    this.#remember(n, deviceId, bootId, seq, metrics.length);
  }

  /** Marks where this transaction's appends start, so that `rollback` can forget them. */
  begin(): void {
    this.#mark = { length: this.#ns.length, last: this.#last, forgot: false };
  }

  /** The transaction failed: its appends are not in the inbox. */
  rollback(): void {
    const m = this.#mark;
    this.#mark = undefined;
    if (!m) return;
    if (m.forgot) {
      // A chunk's delete was undone too: its rows are back, so all is read again (rare).
      this.#keys.clear();
      this.#inboxHigh = new Map();
      this.#ns = [];
      this.#order = [];
      this.#devices = [];
      this.#head = 0;
      this.#last = 0;
      this.catchUp();
      return;
    }
    for (let i = m.length; i < this.#ns.length; i++) this.#forgetKey(i);
    this.#ns.length = m.length;
    this.#order.length = m.length;
    this.#devices.length = m.length;
    this.#last = m.last;
  }

  commit(): void {
    this.#mark = undefined;
  }

  /**
   * Whether there is a chunk of at least `minRows` rows or `minBytes` of metrics to fold, or one
   * begun. The bytes bound what a chunk writes to the WAL in one go when samples are large.
   */
  mustFold(minRows: number, minBytes: number): boolean {
    return this.holds(minRows, minBytes) || (this.#chunk !== undefined && this.rows > 0);
  }

  /** Whether the inbox holds `rows` rows, or `bytes` of metrics appended since a chunk began here. */
  holds(rows: number, bytes: number): boolean {
    return this.rows >= rows || this.#bytesSinceChunk >= bytes;
  }

  /**
   * Folds the next device range of the current chunk (about `maxRows` rows, whole devices),
   * beginning a chunk of every row in the inbox when none is under way. Call inside a
   * transaction (BEGIN IMMEDIATE: it reads telemetry_fold before it writes). Answers the
   * rows put into telemetry_recent, and whether the chunk is done.
   */
  foldStep(maxRows: number): { folded: number; done: boolean } {
    let state = this.#state.get() as FoldState;
    if (state.upto === 0) {
      const newest = this.#newest.get()?.n;
      if (newest === null || newest === undefined) {
        this.#chunk = undefined;
        return { folded: 0, done: true };
      }
      state = { upto: newest, below: '' };
      this.#bytesSinceChunk = 0;
      this.chunkBegunAt = Date.now();
    }
    // Another connection may have begun or advanced this chunk: where it stands comes from the database.
    if (this.#chunk?.upto !== state.upto) this.#chunk = { upto: state.upto, ends: this.#ends(state, maxRows) };
    const ends = this.#chunk.ends;
    while (ends.length > 0 && (ends[0] as string) <= state.below) ends.shift();
    const to = ends.shift() ?? END;
    const folded = this.#fold.run(state.upto, state.below, to).changes;
    if (to !== END) {
      this.#setState.run(state.upto, to);
      return { folded, done: false };
    }
    this.#clear.run(state.upto);
    this.#setState.run(0, '');
    this.#chunk = undefined;
    this.#forgetBelow(state.upto + 1);
    return { folded, done: true };
  }

  /**
   * Step ends from `below` on, about `maxRows` rows apart: device ids from every ENDS_STRIDE-th
   * row of the chunk, sorted. Counted exactly (GROUP BY device over the chunk) they took
   * 15–20 ms of a step; a step takes whole devices either way.
   */
  #ends(state: FoldState, maxRows: number): string[] {
    const seen: string[] = [];
    for (let i = this.#head; i < this.#ns.length && (this.#ns[i] as number) <= state.upto; i += ENDS_STRIDE) {
      const d = this.#devices[i] as string;
      if (d >= state.below) seen.push(d);
    }
    seen.sort();
    const ends: string[] = [];
    const apart = Math.max(1, Math.floor(maxRows / ENDS_STRIDE));
    for (let i = apart; i < seen.length; i += apart) {
      const d = seen[i] as string;
      if (d > (ends.at(-1) ?? state.below)) ends.push(d);
    }
    return ends;
  }

  #remember(n: number, deviceId: string, bootId: string, seq: number, metricsLength: number): void {
    this.#bytesSinceChunk += metricsLength;
    const p = pair(deviceId, bootId);
    const high = this.#inboxHigh.get(p);
    if (high === undefined || seq > high) this.#inboxHigh.set(p, seq);
    const bound = this.#bounds.get(p);
    if (bound !== undefined && seq > bound) this.#bounds.set(p, seq);
    const k = `${p}\u0000${seq}`;
    this.#keys.set(k, n);
    this.#ns.push(n);
    this.#order.push(k);
    this.#devices.push(deviceId);
    if (n > this.#last) this.#last = n;
  }

  /** Forgets the key of the row at `i`, unless the same sample was appended again since (its row gone unseen). */
  #forgetKey(i: number): void {
    const k = this.#order[i] as string;
    if (this.#keys.get(k) === this.#ns[i]) this.#keys.delete(k);
  }

  /** Forgets the rows below n `first` (deleted by a chunk's end, here or on another connection). */
  #forgetBelow(first: number): void {
    if (this.#mark && this.#head < this.#ns.length && (this.#ns[this.#head] as number) < first)
      this.#mark.forgot = true;
    const from = this.#head;
    while (this.#head < this.#ns.length && (this.#ns[this.#head] as number) < first) {
      this.#forgetKey(this.#head);
      this.#head++;
    }
    if (this.#head > from && this.#inboxHigh.size >= BOUNDS) {
      // The highest seq per device and boot among the rows left (a chunk's worth at most).
      this.#inboxHigh = new Map();
      for (let i = this.#head; i < this.#order.length; i++) {
        const k = this.#order[i] as string;
        const cut = k.lastIndexOf('\u0000');
        const p = k.slice(0, cut);
        const seq = Number(k.slice(cut + 1));
        const high = this.#inboxHigh.get(p);
        if (high === undefined || seq > high) this.#inboxHigh.set(p, seq);
      }
    }
    if (!this.#mark && this.#head > 4096 && this.#head * 2 > this.#ns.length) {
      this.#ns = this.#ns.slice(this.#head);
      this.#order = this.#order.slice(this.#head);
      this.#devices = this.#devices.slice(this.#head);
      this.#head = 0;
    }
  }
}

function pair(deviceId: string, bootId: string): string {
  return `${deviceId}\u0000${bootId}`;
}

function key(deviceId: string, bootId: string, seq: number): string {
  return `${pair(deviceId, bootId)}\u0000${seq}`;
}
