/**
 * Samples wait in telemetry_recent (folded there from telemetry_inbox: telemetry-inbox.test.ts)
 * and move to telemetry by device range (store/telemetry-merge.ts),
 * on a real SQLite file: every sample stays stored exactly once across both tables, reads see
 * both, and the moves cover every device however the rows fall.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/db.ts';
import { Store } from '../src/store/index.ts';
import { MIGRATIONS } from '../src/store/migrations.ts';
import { runRetention } from '../src/store/retention.ts';
import { type SampleRow, TelemetryRepo } from '../src/store/telemetry.ts';
import { ALL_SAMPLES_SQL, type Cleanups, runCleanups, telemetryTableCounts, tempDir, tempStore } from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

function open() {
  const { store: s, dir } = tempStore(cleanups);
  for (const id of ['m-a', 'm-b', 'm-c', 'm-d']) s.devices.register(id, { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' });
  return { s, file: `${dir}/gateway.db` };
}

const T0 = 1_700_000_000_000;
const rows = (deviceId: string, from: number, to: number, bootId = 'boot-1'): SampleRow[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    deviceId,
    bootId,
    seq: from + i,
    ts: T0 + (from + i) * 1000,
    metrics: { t: from + i },
  }));

const tableCounts = (s: Store) => telemetryTableCounts(s.db);
/** Stores, then folds the inbox into telemetry_recent (the writer's thread does so between commits). */
const put = (s: Store, r: SampleRow[]) => {
  const fresh = s.telemetry.insertMany(r);
  s.telemetry.foldAll();
  return fresh;
};

describe('telemetry_recent → telemetry', () => {
  it('keeps a sample once when it is resent after it moved, and reads both tables alike', () => {
    const { s } = open();
    expect(put(s, rows('m-a', 1, 5))).toEqual([true, true, true, true, true]);
    expect(tableCounts(s)).toEqual({ main: 0, recent: 5, inbox: 0 });
    const before = s.telemetry.query({ deviceId: 'm-a', from: 0, to: T0 * 2, limit: 100 });
    expect(s.telemetry.merge.all(1000)).toBe(5);
    expect(tableCounts(s)).toEqual({ main: 5, recent: 0, inbox: 0 });
    // The same answers from the other table.
    expect(s.telemetry.query({ deviceId: 'm-a', from: 0, to: T0 * 2, limit: 100 })).toEqual(before);
    // Resent after the move: duplicates, not stored again; new ones land in telemetry_recent.
    expect(put(s, rows('m-a', 4, 7))).toEqual([false, false, true, true]);
    expect(tableCounts(s)).toEqual({ main: 5, recent: 2, inbox: 0 });
    expect(s.telemetry.count('m-a')).toBe(7);
    expect(s.telemetry.count()).toBe(7);
    expect(s.telemetry.highestSeq('m-a', 'boot-1')).toBe(7);
    // A time range across both tables, in time order, with downsampling too.
    const got = s.telemetry.query({ deviceId: 'm-a', from: T0 + 3000, to: T0 + 7000, limit: 100 }) as { seq: number }[];
    expect(got.map((r) => r.seq)).toEqual([3, 4, 5, 6]);
    expect(
      s.telemetry.query({ deviceId: 'm-a', from: T0, to: T0 + 10_000, metric: 't', bucketMs: 10_000, limit: 10 }),
    ).toEqual([{ t: T0, count: 7, min: 1, max: 7, avg: 4 }]);
  });

  it('moves whole devices a step at a time, round the id space, each sample exactly once', () => {
    const { s, file } = open();
    put(s, [...rows('m-a', 1, 3), ...rows('m-b', 1, 50), ...rows('m-c', 1, 3), ...rows('m-d', 1, 3)]);
    const merge = s.telemetry.merge;
    const step = (n: number) => s.db.transaction(() => merge.step(n))();
    expect(step(2)).toBe(3); // m-a's 3 rows: whole devices, at least one
    expect(step(2)).toBe(50); // m-b alone holds more than 2: it moves by itself
    expect(step(4)).toBe(3); // m-c (m-d would take it past 4)
    expect(merge.recentRows).toBe(3);
    put(s, rows('m-a', 4, 4)); // arrives behind the cursor
    expect(step(100)).toBe(3); // m-d to the end of the id space…
    expect(step(100)).toBe(1); // …then round to m-a again
    expect(step(100)).toBe(0);
    expect(tableCounts(s)).toEqual({ main: 60, recent: 0, inbox: 0 });
    const raw = new Database(file, { readonly: true });
    cleanups.push(() => void raw.close());
    const dup = raw
      .prepare(`SELECT device_id, boot_id, seq, count(*) AS n FROM (${ALL_SAMPLES_SQL}) GROUP BY 1, 2, 3 HAVING n > 1`)
      .all();
    expect(dup).toEqual([]);
  });

  it('with a limit, moves between commits (moveOn), and inside a commit only past twice the limit', () => {
    const { s, file } = open();
    const db = openDatabase(file, { integrity: 'skip' });
    cleanups.push(() => void db.close());
    const repo = new TelemetryRepo(db, { recentRows: 10, foldRows: 1 }); // folds inside each commit here
    repo.insertMany([...rows('m-a', 1, 8), ...rows('m-b', 1, 8)]);
    // Over the limit, under twice it: the commit left the moves to moveOn.
    expect(tableCounts(s)).toEqual({ main: 0, recent: 16, inbox: 0 });
    expect(repo.mustMove).toBe(true);
    expect(repo.moveOn(5)).toBe(8); // m-a, whole
    expect(repo.mustMove).toBe(false);
    expect(repo.moveOn(5)).toBe(0); // at or under the limit: nothing to do
    expect(tableCounts(s)).toEqual({ main: 8, recent: 8, inbox: 0 });
    // The step ran without fsync; the connection's commits have it again.
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    // Past twice the limit (a writer that never got to moveOn), the commit moves on itself.
    repo.insertMany(rows('m-c', 1, 13));
    expect(tableCounts(s)).toEqual({ main: 29, recent: 0, inbox: 0 });
    expect(repo.insertMany([...rows('m-a', 8, 9), ...rows('m-c', 13, 13)])).toEqual([false, true, false]);
    expect(s.telemetry.count()).toBe(30);
  });

  it('lets retention fold samples still waiting in telemetry_recent, and a deleted device leaves neither table', () => {
    const { s } = open();
    const now = T0 + 40 * 86_400_000;
    put(s, rows('m-a', 1, 4));
    s.telemetry.merge.all(2); // m-a moves; m-b's samples stay behind
    put(s, rows('m-b', 1, 2));
    const r = runRetention(s.db, { rawDays: 30, rollupBucketSec: 3600, rollupDays: 365 }, now);
    expect(r.rolledUp).toBe(6);
    expect(tableCounts(s)).toEqual({ main: 0, recent: 0, inbox: 0 });
    put(s, [...rows('m-c', 10, 11), ...rows('m-c', 1, 1, 'boot-2')]);
    s.telemetry.merge.all(1);
    put(s, rows('m-c', 12, 12));
    expect(s.devices.delete('m-c')).toBe(true);
    expect(tableCounts(s)).toEqual({ main: 0, recent: 0, inbox: 0 });
  });

  describe('the bound that spares new samples the look-up in telemetry (telemetry_high_seq)', () => {
    const bounds = (s: Store) =>
      s.db.prepare('SELECT device_id, boot_id, seq FROM telemetry_high_seq ORDER BY 1, 2').all() as {
        device_id: string;
        boot_id: string;
        seq: number;
      }[];

    it('is raised by each move, per device and boot, and still stores late samples below it exactly once', () => {
      const { s } = open();
      put(s, [...rows('m-a', 1, 5), ...rows('m-a', 8, 8), ...rows('m-a', 1, 2, 'boot-2')]);
      s.telemetry.merge.all(1000);
      expect(bounds(s)).toEqual([
        { device_id: 'm-a', boot_id: 'boot-1', seq: 8 },
        { device_id: 'm-a', boot_id: 'boot-2', seq: 2 },
      ]);
      // 6 and 7 arrive late, below the bound, and were never stored: stored now. 5 and 8 were: not again.
      expect(put(s, [...rows('m-a', 5, 8), ...rows('m-a', 2, 3, 'boot-2')])).toEqual([
        false,
        true,
        true,
        false,
        false,
        true,
      ]);
      // A move never lowers it (only 6 and 7 of boot-1 move now).
      s.telemetry.merge.all(1000);
      expect(bounds(s)).toEqual([
        { device_id: 'm-a', boot_id: 'boot-1', seq: 8 },
        { device_id: 'm-a', boot_id: 'boot-2', seq: 3 },
      ]);
      expect(put(s, rows('m-a', 1, 9))).toEqual([...Array(8).fill(false), true]);
      expect(s.telemetry.count('m-a')).toBe(12);
    });

    it('holds for a writer on another connection (another instance sharing the database)', () => {
      const { s, file } = open();
      const other = openDatabase(file, { integrity: 'skip' });
      cleanups.push(() => void other.close());
      const theirs = new TelemetryRepo(other);
      // This writer stores and moves; the other, which knew nothing of those samples, gets them resent.
      put(s, rows('m-b', 1, 10));
      s.telemetry.merge.all(1000);
      expect(theirs.insertMany(rows('m-b', 9, 12))).toEqual([false, false, true, true]);
      // …and the other way round.
      theirs.settleAll(1000);
      expect(put(s, rows('m-b', 11, 13))).toEqual([false, false, true]);
      expect(s.telemetry.count('m-b')).toBe(13);
    });

    it('is forgotten with the samples: a boot whose samples all expired, and a deleted device', () => {
      const { s } = open();
      put(s, [...rows('m-c', 1, 3), ...rows('m-c', 1, 1, 'boot-2'), ...rows('m-d', 1, 2)]);
      s.telemetry.merge.all(1000);
      // boot-2's one sample is recent; boot-1's three expire.
      s.db.prepare(`UPDATE telemetry SET ts = ? WHERE boot_id = 'boot-2'`).run(T0 + 39 * 86_400_000);
      runRetention(s.db, { rawDays: 30, rollupBucketSec: 3600, rollupDays: 365 }, T0 + 40 * 86_400_000);
      expect(bounds(s)).toEqual([{ device_id: 'm-c', boot_id: 'boot-2', seq: 1 }]);
      put(s, rows('m-d', 3, 3));
      s.telemetry.merge.all(1000);
      expect(s.devices.delete('m-c')).toBe(true);
      expect(bounds(s)).toEqual([{ device_id: 'm-d', boot_id: 'boot-1', seq: 3 }]);
    });

    it('is filled from what telemetry already holds when a database from before it is opened', () => {
      const old = tempDir();
      cleanups.push(() => old.remove());
      const v7 = new Database(join(old.dir, 'gateway.db'));
      for (const m of MIGRATIONS.slice(0, 7)) v7.exec(m);
      v7.pragma('user_version = 7');
      const insert = v7.prepare(
        `INSERT INTO telemetry (device_id, boot_id, seq, ts, received_at, metrics) VALUES (?, ?, ?, ?, ?, '{}')`,
      );
      for (const seq of [1, 2, 3]) insert.run('m-a', 'boot-1', seq, T0 + seq, T0);
      insert.run('m-a', 'boot-2', 7, T0, T0);
      v7.close();
      const s = Store.open(old.dir);
      cleanups.push(() => s.close());
      expect(bounds(s)).toEqual([
        { device_id: 'm-a', boot_id: 'boot-1', seq: 3 },
        { device_id: 'm-a', boot_id: 'boot-2', seq: 7 },
      ]);
      expect(put(s, [...rows('m-a', 3, 4), ...rows('m-a', 7, 7, 'boot-2')])).toEqual([false, true, false]);
    });
  });
});
