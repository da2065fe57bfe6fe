/**
 * Telemetry commits on the writer's thread (store/telemetry-writer.ts), on real SQLite files:
 * the answer comes only after the commit, duplicates are told apart, a failed commit is
 * acknowledged to nobody, and a gateway shutting down acknowledges what it received first.
 */
import { copyFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../src/errors.ts';
import { DB_FILE } from '../src/store/index.ts';
import { emptyColumns, pushSample, TelemetryRepo } from '../src/store/telemetry.ts';
import { TelemetryWriter, type WriterEvents } from '../src/store/telemetry-writer.ts';
import {
  type Cleanups,
  registerDevice,
  runCleanups,
  startTestGateway,
  TestDevice,
  telemetryTableCounts,
  tempStore,
} from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

async function writerOnNewStore(
  events: WriterEvents = {},
  opts: { recentRows?: number; foldRows?: number; foldAfterMs?: number } = {},
) {
  const { store, dir } = tempStore(cleanups);
  store.devices.register('w-1', { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' });
  const writer = await TelemetryWriter.start(join(dir, DB_FILE), opts, events);
  cleanups.push(() => writer.close());
  return { store, writer, file: join(dir, DB_FILE) };
}

const samples = (seqs: number[], bootId = 'boot-a') => {
  const c = emptyColumns();
  for (const seq of seqs)
    pushSample(c, { deviceId: 'w-1', bootId, seq, ts: 1_700_000_000_000 + seq, metrics: { t: seq } });
  return c;
};

describe('telemetry writer thread', () => {
  it('answers after the commit: the rows are visible to the gateway connection, duplicates flagged 0', async () => {
    const { store, writer } = await writerOnNewStore();
    expect(Array.from(await writer.write(samples([1, 2, 3])))).toEqual([1, 1, 1]);
    // Read on another connection right after the answer: committed, not merely queued.
    expect(store.telemetry.count('w-1')).toBe(3);
    expect(Array.from(await writer.write(samples([3, 4, 2])))).toEqual([0, 1, 0]);
    expect(Array.from(await writer.write(samples([3], 'boot-b'))).at(0)).toBe(1);
    expect(store.telemetry.count('w-1')).toBe(5);
    expect(store.telemetry.query({ deviceId: 'w-1', from: 0, to: Date.now(), limit: 10 })).toContainEqual({
      bootId: 'boot-a',
      seq: 4,
      ts: 1_700_000_000_004,
      metrics: { t: 4 },
    });
  });

  it('has its WAL copied into the database file by a checkpoint thread of its own, beside the commits', async () => {
    const { writer, file } = await writerOnNewStore();
    for (let b = 0; b < 10; b++) await writer.write(samples(Array.from({ length: 100 }, (_, i) => b * 100 + i + 1)));
    // The commits' own checkpoint waits for a WAL of 32,000 pages, far beyond these: samples
    // in the database file alone (a copy without its WAL) were put there by the other thread.
    const inFileAlone = () => {
      const copy = join(dirname(file), `alone-${Math.random().toString(36).slice(2)}.db`);
      copyFileSync(file, copy);
      try {
        const db = new Database(copy, { readonly: true });
        try {
          return (db.prepare('SELECT count(*) AS n FROM telemetry_inbox').get() as { n: number }).n;
        } finally {
          db.close();
        }
      } catch {
        return -1; // copied halfway through a page write: look again
      } finally {
        rmSync(copy, { force: true });
      }
    };
    await expect.poll(inFileAlone, { timeout: 5000, interval: 100 }).toBe(1000);
  });

  it('starts its WAL over while commits keep coming, long before SQLite’s own checkpoint would', {
    timeout: 30_000,
  }, async () => {
    const { store, writer, file } = await writerOnNewStore();
    const devices = Array.from({ length: 400 }, (_, i) => `w-${i + 2}`);
    store.db.transaction(() => {
      for (const id of devices) store.devices.register(id, { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' });
    })();
    // SQLite's WAL header: page size at 8, the checkpoint sequence number at 12, which goes up
    // each time the WAL starts over from its beginning.
    const wal = `${file}-wal`;
    const header = () => {
      const b = readFileSync(wal).subarray(0, 32);
      return { pageSize: b.readUInt32BE(8), restarts: b.readUInt32BE(12) };
    };
    await writer.write(samples([1]));
    const first = header();
    let biggest = 0;
    // ~1 KB samples from 400 devices, 200 a commit, one every 20 ms: about 70 pages a commit,
    // ~20,000 pages in all over ~6 s (a dozen passes of the checkpoint thread). That is under
    // the 32,000 pages of SQLite's own checkpoint, so only the writer's rewind starts it over.
    const BATCHES = 300;
    const wide = Object.fromEntries(Array.from({ length: 60 }, (_, k) => [`metric_${k}`, 1234.5678 + k]));
    for (let b = 0; b < BATCHES; b++) {
      const c = emptyColumns();
      for (let i = 0; i < 200; i++) {
        const d = (b * 200 + i) % devices.length;
        pushSample(c, {
          deviceId: devices[d] as string,
          bootId: 'boot-a',
          seq: Math.floor((b * 200 + i) / devices.length) + 1,
          ts: 1_700_000_000_000 + b,
          metrics: wide,
        });
      }
      await writer.write(c);
      biggest = Math.max(biggest, statSync(wal).size);
      await new Promise((r) => setTimeout(r, 20));
    }
    const last = header();
    expect(store.telemetry.count()).toBe(1 + BATCHES * 200);
    expect(last.restarts).toBeGreaterThan(first.restarts);
    // Started over soon after 8,000 pages each time, never by the backstop at 32,000.
    expect(biggest / (last.pageSize + 24)).toBeLessThan(24_000);
  });

  it('outlives a maintenance write that times out on a locked database, and commits after it', {
    timeout: 20_000,
  }, async () => {
    const failed: string[] = [];
    let stopped = 0;
    const { store, writer, file } = await writerOnNewStore({
      maintenanceFailed: (m) => failed.push(m),
      stopped: () => stopped++,
    });
    // An RSSI value the thread holds back (at most one write each 2 s), then flushes on its own.
    const c = emptyColumns();
    pushSample(c, { deviceId: 'w-1', bootId: 'boot-a', seq: 1, ts: 1_700_000_000_001, metrics: { rssi: -61 } });
    await writer.write(c);
    // Another process holds the write lock past the busy timeout (5 s) when that flush comes.
    const other = new Database(file);
    other.exec('BEGIN EXCLUSIVE');
    try {
      await expect.poll(() => failed.length, { timeout: 12_000, interval: 100 }).toBeGreaterThan(0);
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    expect(failed[0]).toMatch(/locked|busy/i);
    expect(stopped).toBe(0);
    expect(Array.from(await writer.write(samples([2])))).toEqual([1]);
    expect(store.telemetry.count('w-1')).toBe(2);
  });

  it('folds and moves samples on to telemetry between commits once past their limits', async () => {
    const { store, writer } = await writerOnNewStore({}, { recentRows: 1000, foldRows: 500 });
    const seqs = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
    const counts = () => telemetryTableCounts(store.db);
    await writer.write(samples(seqs(1, 600)));
    await writer.write(samples(seqs(601, 600)));
    // 1,200 committed, past the fold's chunk and under three times it: the commits folded
    // none. With no commit to follow, the thread folds them into telemetry_recent, which is
    // then over its limit and moves on (w-1 whole, all its rows), long before the idle move
    // after 5 s.
    await expect.poll(counts, { timeout: 3000, interval: 50 }).toEqual({ main: 1200, recent: 0, inbox: 0 });
    expect(Array.from(await writer.write(samples([1, 1200, 1201])))).toEqual([0, 0, 1]);
    expect(counts()).toEqual({ main: 1200, recent: 0, inbox: 1 });
  });

  it('folds a few samples that fill no chunk once they have waited foldAfterMs, while commits go on', async () => {
    const { store, writer } = await writerOnNewStore({}, { foldAfterMs: 1500 });
    const counts = () => telemetryTableCounts(store.db);
    await writer.write(samples([1, 2, 3]));
    expect(counts()).toEqual({ main: 0, recent: 0, inbox: 3 });
    // A sample every 200 ms: never idle for the 5 s of the idle move, yet folded.
    let seq = 4;
    const trickle = setInterval(() => void writer.write(samples([seq++])).catch(() => undefined), 200);
    cleanups.push(() => clearInterval(trickle));
    await expect.poll(() => counts().recent, { timeout: 4000, interval: 100 }).toBeGreaterThanOrEqual(3);
    clearInterval(trickle);
    expect(counts().main).toBe(0);
  });

  it('keeps commits in order when several are queued at once', async () => {
    const { store, writer } = await writerOnNewStore();
    const answers = await Promise.all([writer.write(samples([1, 2])), writer.write(samples([2, 3]))]);
    expect(answers.map((a) => Array.from(a))).toEqual([
      [1, 1],
      [0, 1],
    ]);
    expect(store.telemetry.count('w-1')).toBe(3);
  });

  it('rejects a commit that fails with a coded error, and keeps working afterwards', async () => {
    const { writer, file } = await writerOnNewStore();
    // A fractional time in the STRICT INTEGER column: SQLite refuses the transaction (the
    // protocol never lets one through; this stands for any failing commit, a full disk say).
    const bad = samples([1, 2]);
    bad.ts[1] = 1.5;
    const err = await writer.write(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'STORE_WRITE' });
    expect(String((err as Error).message)).toMatch(/telemetry commit failed: .*REAL.*\(SQLITE_CONSTRAINT_DATATYPE\)/);
    expect(Array.from(await writer.write(samples([9])))).toEqual([1]);
    // Nothing of the failed transaction was kept, seq 1 included.
    const db = new Database(file, { readonly: true });
    cleanups.push(() => {
      db.close();
    });
    expect(db.prepare('SELECT seq FROM telemetry_waiting ORDER BY seq').all()).toEqual([{ seq: 9 }]);
  });

  it('outlives its thread: what was in flight fails, the next write starts a new one, nothing is stored twice', async () => {
    const threads: Worker[] = [];
    const restarts: boolean[] = [];
    const stopped: StoreError[] = [];
    const { store, writer, file } = await writerOnNewStore({
      started: (t, restart) => {
        threads.push(t);
        restarts.push(restart);
      },
      stopped: (e) => stopped.push(e),
    });
    expect(Array.from(await writer.write(samples([1, 2])))).toEqual([1, 1]);
    // The thread ends in the middle of a commit, as an out-of-memory or a native fault would
    // end it: seen from here, the database's write lock is taken when it goes.
    const big = Array.from({ length: 30_000 }, (_, i) => i + 3);
    const inFlight = writer.write(samples(big));
    const probe = new Database(file);
    cleanups.push(() => {
      probe.close();
    });
    probe.pragma('busy_timeout = 0');
    const lockTaken = () => {
      try {
        probe.exec('BEGIN IMMEDIATE; ROLLBACK');
        return false;
      } catch {
        return true;
      }
    };
    const until = Date.now() + 10_000;
    while (!lockTaken()) {
      if (Date.now() > until) throw new Error('the commit never took the write lock');
      await new Promise((r) => setTimeout(r, 1));
    }
    await threads[0]?.terminate();
    const err = await inFlight.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(String((err as Error).message)).toMatch(/telemetry writer thread stopped/);
    expect(stopped).toHaveLength(1);
    expect(writer.inflight).toBe(0);
    // Acknowledged to nobody, and none of it kept: the dead thread's transaction is gone, and
    // so is its hold on the write lock, which the next thread's commit needs.
    expect(store.telemetry.count('w-1')).toBe(2);
    expect(lockTaken()).toBe(false);
    // The devices resend what was not acknowledged; each sample is stored once.
    const again = Array.from(await writer.write(samples([...big.slice(0, 2), 2])));
    expect(restarts).toEqual([false, true]);
    expect(again).toEqual([1, 1, 0]);
    expect(store.telemetry.count('w-1')).toBe(4);
  });

  it('writes held-back RSSI values when it closes, and refuses writes after', async () => {
    const { store, writer } = await writerOnNewStore();
    const c = emptyColumns();
    pushSample(c, { deviceId: 'w-1', bootId: 'b', seq: 1, ts: 10, metrics: { rssi: -70 } });
    await writer.write(c);
    const c2 = emptyColumns();
    pushSample(c2, { deviceId: 'w-1', bootId: 'b', seq: 2, ts: 20, metrics: { rssi: -55 } });
    await writer.write(c2);
    await writer.close();
    expect(store.devices.get('w-1')).toMatchObject({ rssi: -55, rssiAt: 20 });
    await expect(writer.write(samples([5]))).rejects.toMatchObject({ code: 'STORE_WRITE' });
  });

  it('writes held RSSI values oldest first, at most as many per commit as it has samples (64 or more)', () => {
    const { store } = tempStore(cleanups);
    const ids = Array.from({ length: 200 }, (_, i) => `r-${String(i).padStart(3, '0')}`);
    for (const id of ids) store.devices.register(id, { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' });
    const repo = new TelemetryRepo(store.db, { rssiEveryMs: 2000 });
    const one = (id: string, seq: number, rssi: number) => {
      const c = emptyColumns();
      pushSample(c, { deviceId: id, bootId: 'b', seq, ts: seq, metrics: { rssi } });
      return c;
    };
    const T = 1_700_000_000_000;
    for (const id of ids) repo.insertColumns(one(id, 1, -70), T);
    repo.insertColumns(one('r-000', 2, -50), T + 100); // a newer value for the oldest: written in its place
    const written = () => ids.filter((id) => store.devices.get(id)?.rssi !== null);
    expect(written()).toEqual([]); // held for 2 s
    repo.insertColumns(one('r-199', 3, -60), T + 2500);
    expect(written()).toEqual(ids.slice(0, 64));
    expect(store.devices.get('r-000')).toMatchObject({ rssi: -50, rssiAt: 2 });
    repo.flushRssi();
    expect(written()).toEqual(ids);
    expect(store.devices.get('r-199')).toMatchObject({ rssi: -60, rssiAt: 3 });
  });

  it('a gateway shutting down acknowledges the samples it received before telling devices to go', async () => {
    const t = await startTestGateway({ ingest: { flushMs: 200, maxBatchRows: 2000 } });
    let stopped = false;
    cleanups.push(() => (stopped ? undefined : t.stop()));
    const keys = await registerDevice(t.gw, 'w-shut');
    const d = await TestDevice.connect(t.gw, t.ca, 'w-shut', keys.priv);
    cleanups.push(() => d.close());
    d.hello('w-shut');
    await d.next('welcome');
    for (let i = 1; i <= 20; i++) d.send({ type: 'telemetry', ts: Date.now(), metrics: { t: i } });
    // Received, waiting for the 200 ms commit window when the shutdown begins.
    await expect.poll(() => t.gw.ingest.queued, { timeout: 2000, interval: 5 }).toBe(20);
    const closing = t.stop();
    stopped = true;
    const acked: number[] = [];
    while (acked.length < 20) acked.push(...(await d.next('ack')).acked);
    expect(acked.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await d.closed()).toBe(1001);
    await closing;
  });
});
