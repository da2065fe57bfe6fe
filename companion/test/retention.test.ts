/**
 * Retention and downsampling (store/retention.ts) on real SQLite files: a round folds every
 * expired sample into its hourly rollups and deletes it, however many there are and in
 * whichever table they wait; expired rollups, old audit entries and old finished commands go;
 * and the gateway's writer thread runs the rounds by itself.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE, type Store } from '../src/store/index.ts';
import type { RetentionCount } from '../src/store/retention.ts';
import { RetentionSweep, runRetention } from '../src/store/retention.ts';
import { TelemetryWriter } from '../src/store/telemetry-writer.ts';
import { type Cleanups, runCleanups, tempStore } from './helpers.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const NOW = 1000 * DAY;
const POLICY = { rawDays: 30, rollupBucketSec: 3600, rollupDays: 365 };
const KEY = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' };

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

function open() {
  const { store: s, dir } = tempStore(cleanups);
  return { s, dir };
}

/** `n` samples of one device, one a second from `from`, metric t = seq. */
function seed(s: Store, deviceId: string, n: number, from: number, firstSeq = 0) {
  if (!s.devices.get(deviceId)) s.devices.register(deviceId, KEY);
  const rows = Array.from({ length: n }, (_, i) => ({
    deviceId,
    bootId: 'b',
    seq: firstSeq + i,
    ts: from + i * 1000,
    metrics: { t: firstSeq + i },
  }));
  for (let i = 0; i < rows.length; i += 5000) s.telemetry.insertMany(rows.slice(i, i + 5000));
}

const counts = (s: Store) =>
  s.db
    .prepare(
      `SELECT (SELECT count(*) FROM telemetry) AS main, (SELECT count(*) FROM telemetry_recent) AS recent,
              (SELECT count(*) FROM telemetry_rollup) AS rollups`,
    )
    .get() as { main: number; recent: number; rollups: number };

describe('retention', () => {
  it('folds every expired sample in one round, however many the steps are, and keeps the fresh ones', () => {
    const { s } = open();
    const old = NOW - 40 * DAY;
    seed(s, 'r-a', 12_000, old); // 3 h 20 min of samples, 12 steps of 1,000
    s.telemetry.merge.all(5000); // r-a's samples now in telemetry …
    seed(s, 'r-b', 30, old); // … r-b's still wait in telemetry_recent
    seed(s, 'r-b', 5, NOW - 1000 * 60, 1000); // fresh
    seed(s, 'r-c', 5, NOW - 1000 * 60); // fresh only
    const r = runRetention(s.db, POLICY, NOW, 1000);
    expect(r).toEqual({ rolledUp: 12_030, recentDeleted: 30, rollupsDeleted: 0, auditDeleted: 0, commandsDeleted: 0 });
    expect(s.telemetry.count('r-a')).toBe(0);
    expect(s.telemetry.count('r-b')).toBe(5);
    expect(s.telemetry.count('r-c')).toBe(5);
    // r-a: hourly buckets of t = 0..11,999 (3,600 a bucket, the last one 1,200).
    const buckets = s.db
      .prepare(
        `SELECT bucket_start AS start, count, min, max, sum FROM telemetry_rollup
         WHERE device_id = 'r-a' AND metric = 't' ORDER BY bucket_start`,
      )
      .all() as { start: number; count: number; min: number; max: number; sum: number }[];
    const first = Math.floor(old / HOUR) * HOUR;
    const offset = (old - first) / 1000; // samples of the first hour before `old`
    expect(buckets.map((b) => b.count).reduce((a, x) => a + x, 0)).toBe(12_000);
    expect(buckets[0]).toMatchObject({ start: first, count: 3600 - offset, min: 0, max: 3599 - offset });
    for (const b of buckets) expect(b.sum).toBe(((b.min + b.max) * b.count) / 2);
    expect(s.db.prepare("SELECT count FROM telemetry_rollup WHERE device_id = 'r-b'").get()).toEqual({ count: 30 });
  });

  it('deletes rollups older than rollupDays and keeps the rest', () => {
    const { s } = open();
    s.devices.register('r-d', KEY);
    const insert = s.db.prepare(
      `INSERT INTO telemetry_rollup (device_id, metric, bucket_sec, bucket_start, count, min, max, sum)
       VALUES ('r-d', ?, 3600, ?, 1, 1, 1, 1)`,
    );
    for (let h = 0; h < 500; h++) {
      insert.run('t', NOW - 366 * DAY - h * HOUR); // expired
      insert.run('rssi', NOW - 366 * DAY - h * HOUR); // expired
    }
    for (let h = 0; h < 10; h++) insert.run('t', NOW - 10 * DAY - h * HOUR);
    const r = runRetention(s.db, POLICY, NOW, 300);
    expect(r.rollupsDeleted).toBe(1000);
    expect(counts(s)).toEqual({ main: 0, recent: 0, rollups: 10 });
  });

  it('deletes audit entries older than auditDays, and keeps them all without it', () => {
    const { s } = open();
    for (let d = 0; d < 700; d++)
      s.audit.record({ actor: 'key:k', action: 'apikey.create', target: `t${d}` }, NOW - d * DAY);
    expect(runRetention(s.db, POLICY, NOW, 100).auditDeleted).toBe(0); // no auditDays: kept
    expect(runRetention(s.db, { ...POLICY, auditDays: 365 }, NOW, 100).auditDeleted).toBe(700 - 366);
    const left = s.db.prepare('SELECT min(at) AS oldest, count(*) AS n FROM audit').get();
    expect(left).toEqual({ oldest: NOW - 365 * DAY, n: 366 });
  });

  it('deletes commands finished more than commandDays ago, never an open one, and keeps them all without it', () => {
    const { s } = open();
    s.devices.register('r-cmd', KEY);
    for (let d = 0; d < 200; d++) {
      const id = `c${d}`;
      s.commands.insert({ id, deviceId: 'r-cmd', name: 'reboot', expiresAt: NOW + DAY }, NOW - d * DAY - 60_000);
      s.commands.complete(id, d % 2 ? 'ok' : 'timeout', undefined, undefined, NOW - d * DAY);
    }
    // Sent 500 days ago and still waiting for its device: open, so it stays whatever its age.
    s.commands.insert({ id: 'open', deviceId: 'r-cmd', name: 'reboot', expiresAt: NOW + DAY }, NOW - 500 * DAY);
    expect(runRetention(s.db, POLICY, NOW, 50).commandsDeleted).toBe(0); // no commandDays: kept
    expect(runRetention(s.db, { ...POLICY, commandDays: 90 }, NOW, 50).commandsDeleted).toBe(200 - 91);
    const left = s.db
      .prepare('SELECT min(completed_at) AS oldest, count(*) AS n FROM commands WHERE completed_at IS NOT NULL')
      .get();
    expect(left).toEqual({ oldest: NOW - 90 * DAY, n: 91 });
    expect(s.commands.get('open')?.status).toBe('pending');
  });

  it('goes step by step: each step holds at most its samples, and a round ends once nothing is left', () => {
    const { s } = open();
    seed(s, 'r-e', 2500, NOW - 40 * DAY);
    seed(s, 'r-f', 700, NOW - 40 * DAY);
    const sweep = new RetentionSweep(s.db, POLICY);
    expect(sweep.running).toBe(false);
    expect(sweep.step(1000).rolledUp).toBe(0); // no round started
    sweep.start(NOW);
    const steps: number[] = [];
    while (sweep.running) steps.push(sweep.step(1000).rolledUp);
    // r-e's 2,500 over three steps, the third finishing it (its visit counts one) and
    // starting r-f; then the rest.
    expect(steps).toEqual([1000, 1000, 999, 201]);
    expect(counts(s).main + counts(s).recent).toBe(0);
  });

  it('visits a fleet with nothing expired in several steps, not one long write transaction', () => {
    const { s } = open();
    for (let i = 0; i < 40; i++) seed(s, `r-h${String(i).padStart(2, '0')}`, 1, NOW - 60_000);
    const sweep = new RetentionSweep(s.db, POLICY);
    sweep.start(NOW);
    let steps = 0;
    while (sweep.running) {
      expect(sweep.step(10).rolledUp).toBe(0);
      steps++;
    }
    expect(steps).toBe(5); // 40 visits of one each, 10 a step, then the step that finds the end
    expect(s.telemetry.count()).toBe(40);
  });

  it("runs on the writer's thread by itself, and says what a round did", async () => {
    const { s, dir } = open();
    seed(s, 'r-g', 3000, Date.now() - 40 * DAY);
    seed(s, 'r-g', 10, Date.now() - 60_000, 5000);
    s.audit.record({ actor: 'key:old', action: 'device.revoke', target: 'r-g' }, Date.now() - 400 * DAY);
    s.audit.record({ actor: 'key:new', action: 'device.revoke', target: 'r-g' });
    for (const [id, at] of [
      ['old', Date.now() - 100 * DAY],
      ['new', Date.now()],
    ] as const) {
      s.commands.insert({ id, deviceId: 'r-g', name: 'reboot', expiresAt: at + DAY }, at);
      s.commands.complete(id, 'ok', {}, undefined, at);
    }
    const done = new Promise<RetentionCount>((resolve) => {
      void TelemetryWriter.start(
        join(dir, DB_FILE),
        { retention: { ...POLICY, auditDays: 365, commandDays: 90, everyMs: 1000 } },
        { retention: resolve, retentionFailed: (m) => resolve(Promise.reject(new Error(m))) },
      ).then((w) => cleanups.push(() => w.close()));
    });
    const r = await done;
    expect(r).toEqual({ rolledUp: 3000, recentDeleted: 3000, rollupsDeleted: 0, auditDeleted: 1, commandsDeleted: 1 });
    expect(s.telemetry.count('r-g')).toBe(10);
    expect(s.audit.list(10).map((e) => e.actor)).toEqual(['key:new']);
    expect(s.commands.listForDevice('r-g', 10).map((c) => c.id)).toEqual(['new']);
  });
});
