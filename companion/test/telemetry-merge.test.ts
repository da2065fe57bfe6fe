/**
 * Samples wait in telemetry_recent and move to telemetry by device range (store/telemetry-merge.ts),
 * on a real SQLite file: every sample stays stored exactly once across both tables, reads see
 * both, and the moves cover every device however the rows fall.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/store/index.ts';
import { runRetention } from '../src/store/retention.ts';
import type { SampleRow } from '../src/store/telemetry.ts';
import { type Cleanups, runCleanups, tempStore } from './helpers.ts';

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

const tableCounts = (s: Store) =>
  s.db
    .prepare('SELECT (SELECT count(*) FROM telemetry) AS main, (SELECT count(*) FROM telemetry_recent) AS recent')
    .get() as { main: number; recent: number };

describe('telemetry_recent → telemetry', () => {
  it('keeps a sample once when it is resent after it moved, and reads both tables alike', () => {
    const { s } = open();
    expect(s.telemetry.insertMany(rows('m-a', 1, 5))).toEqual([true, true, true, true, true]);
    expect(tableCounts(s)).toEqual({ main: 0, recent: 5 });
    const before = s.telemetry.query({ deviceId: 'm-a', from: 0, to: T0 * 2, limit: 100 });
    expect(s.telemetry.merge.all(1000)).toBe(5);
    expect(tableCounts(s)).toEqual({ main: 5, recent: 0 });
    // The same answers from the other table.
    expect(s.telemetry.query({ deviceId: 'm-a', from: 0, to: T0 * 2, limit: 100 })).toEqual(before);
    // Resent after the move: duplicates, not stored again; new ones land in telemetry_recent.
    expect(s.telemetry.insertMany(rows('m-a', 4, 7))).toEqual([false, false, true, true]);
    expect(tableCounts(s)).toEqual({ main: 5, recent: 2 });
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
    s.telemetry.insertMany([...rows('m-a', 1, 3), ...rows('m-b', 1, 50), ...rows('m-c', 1, 3), ...rows('m-d', 1, 3)]);
    const merge = s.telemetry.merge;
    const step = (n: number) => s.db.transaction(() => merge.step(n))();
    expect(step(2)).toBe(3); // m-a's 3 rows: whole devices, at least one
    expect(step(2)).toBe(50); // m-b alone holds more than 2: it moves by itself
    expect(step(4)).toBe(3); // m-c (m-d would take it past 4)
    expect(merge.recentRows).toBe(3);
    s.telemetry.insertMany(rows('m-a', 4, 4)); // arrives behind the cursor
    expect(step(100)).toBe(3); // m-d to the end of the id space…
    expect(step(100)).toBe(1); // …then round to m-a again
    expect(step(100)).toBe(0);
    expect(tableCounts(s)).toEqual({ main: 60, recent: 0 });
    const raw = new Database(file, { readonly: true });
    cleanups.push(() => void raw.close());
    const dup = raw
      .prepare(
        `SELECT device_id, boot_id, seq, count(*) AS n FROM (SELECT device_id, boot_id, seq FROM telemetry
         UNION ALL SELECT device_id, boot_id, seq FROM telemetry_recent) GROUP BY 1, 2, 3 HAVING n > 1`,
      )
      .all();
    expect(dup).toEqual([]);
  });

  it('lets retention fold samples still waiting in telemetry_recent, and a deleted device leaves neither table', () => {
    const { s } = open();
    const now = T0 + 40 * 86_400_000;
    s.telemetry.insertMany(rows('m-a', 1, 4));
    s.telemetry.merge.all(2); // m-a moves; m-b's samples stay behind
    s.telemetry.insertMany(rows('m-b', 1, 2));
    const r = runRetention(s.db, { rawDays: 30, rollupBucketSec: 3600, rollupDays: 365 }, now);
    expect(r.rolledUp).toBe(6);
    expect(tableCounts(s)).toEqual({ main: 0, recent: 0 });
    s.telemetry.insertMany([...rows('m-c', 10, 11), ...rows('m-c', 1, 1, 'boot-2')]);
    s.telemetry.merge.all(1);
    s.telemetry.insertMany(rows('m-c', 12, 12));
    expect(s.devices.delete('m-c')).toBe(true);
    expect(tableCounts(s)).toEqual({ main: 0, recent: 0 });
  });
});
