/**
 * New samples are appended to telemetry_inbox in arrival order and fold into telemetry_recent
 * by device range (store/telemetry-inbox.ts), on a real SQLite file: exactly once at every
 * stage, readers see each sample once while a chunk is half folded, and the inbox's memory
 * stays true across connections and failed commits.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/store/db.ts';
import { emptyColumns, pushSample, type SampleRow, TelemetryRepo } from '../src/store/telemetry.ts';
import { ALL_SAMPLES_SQL, type Cleanups, runCleanups, telemetryTableCounts, tempStore } from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

const DEVICES = ['i-a', 'i-b', 'i-c', 'i-d'];
const T0 = 1_700_000_000_000;

/** A store, and `n` writers on connections of their own (instances sharing the file) that fold only when told. */
function open(writers = 1) {
  const { store, dir } = tempStore(cleanups);
  for (const id of DEVICES) store.devices.register(id, { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' });
  const file = `${dir}/gateway.db`;
  const repos = Array.from({ length: writers }, () => {
    const db = openDatabase(file, { integrity: 'skip' });
    cleanups.push(() => void db.close());
    return { db, repo: new TelemetryRepo(db, { foldRows: 1_000_000, recentRows: 1_000_000 }) };
  });
  const raw = new Database(file, { readonly: true });
  cleanups.push(() => void raw.close());
  return { store, repos, raw };
}

/** Samples `from`..`to` of every device, interleaved as they arrive from a fleet. */
const fleet = (from: number, to: number): SampleRow[] =>
  Array.from({ length: to - from + 1 }, (_, i) =>
    DEVICES.map((deviceId) => ({
      deviceId,
      bootId: 'boot-1',
      seq: from + i,
      ts: T0 + (from + i) * 1000,
      metrics: { t: i },
    })),
  ).flat();

const one = (deviceId: string, seq: number): SampleRow => ({
  deviceId,
  bootId: 'boot-1',
  seq,
  ts: T0 + seq * 1000,
  metrics: { t: seq },
});

function foldStep(db: Database.Database, repo: TelemetryRepo, maxRows: number) {
  return db
    .transaction(() => {
      repo.inbox.catchUp();
      return repo.inbox.foldStep(maxRows);
    })
    .immediate();
}

/** Every sample readers can see, per device, and any seen twice. */
function seen(raw: Database.Database) {
  const dup = raw
    .prepare(`SELECT device_id, boot_id, seq, count(*) AS n FROM (${ALL_SAMPLES_SQL}) GROUP BY 1, 2, 3 HAVING n > 1`)
    .all();
  const total = (raw.prepare(`SELECT count(*) AS n FROM (${ALL_SAMPLES_SQL})`).get() as { n: number }).n;
  return { total, dup };
}

describe('telemetry_inbox', () => {
  it('takes samples in arrival order, and folds them by device range with each seen exactly once at every step', () => {
    const { store, repos, raw } = open();
    const { db, repo } = repos[0] as (typeof repos)[number];
    repo.insertMany(fleet(1, 20));
    expect(telemetryTableCounts(raw)).toEqual({ main: 0, recent: 0, inbox: 80 });
    const order = raw.prepare('SELECT device_id AS d, seq FROM telemetry_inbox ORDER BY n').all() as {
      d: string;
      seq: number;
    }[];
    expect(order.slice(0, 5)).toEqual([
      { d: 'i-a', seq: 1 },
      { d: 'i-b', seq: 1 },
      { d: 'i-c', seq: 1 },
      { d: 'i-d', seq: 1 },
      { d: 'i-a', seq: 2 },
    ]);
    const before = store.telemetry.query({ deviceId: 'i-c', from: 0, to: T0 * 2, limit: 100 });
    expect(before).toHaveLength(20);
    // Steps of about 20 rows: whole devices, one range at a time, and samples arriving
    // meanwhile wait for the next chunk.
    const steps: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = foldStep(db, repo, 20);
      steps.push(r.folded);
      if (i === 0) repo.insertMany([one('i-a', 21)]);
      expect(seen(raw)).toEqual({ total: 81, dup: [] });
      expect(store.telemetry.count()).toBe(81);
      expect(store.telemetry.query({ deviceId: 'i-c', from: 0, to: T0 * 2, limit: 100 })).toEqual(before);
      if (r.done) break;
    }
    expect(steps.length).toBeGreaterThan(1);
    expect(steps.every((n) => n % 20 === 0)).toBe(true);
    expect(steps.reduce((a, b) => a + b, 0)).toBe(80);
    expect(telemetryTableCounts(raw)).toEqual({ main: 0, recent: 80, inbox: 1 });
    expect(raw.prepare('SELECT upto, below FROM telemetry_fold').get()).toEqual({ upto: 0, below: '' });
    expect(raw.prepare('SELECT count(*) AS n FROM telemetry_inbox').get()).toEqual({ n: 1 });
  });

  it('stores a resent sample once, whether it waits, is half folded or has moved on', () => {
    const { repos, raw } = open();
    const { db, repo } = repos[0] as (typeof repos)[number];
    expect(repo.insertMany(fleet(1, 10))).toEqual(Array(40).fill(true));
    // Twice in one commit, and again while waiting.
    expect(repo.insertMany([one('i-a', 11), one('i-a', 11), one('i-b', 3)])).toEqual([true, false, false]);
    foldStep(db, repo, 10); // part of the chunk folded, the rest still waiting
    expect(repo.insertMany([...fleet(1, 11), one('i-c', 12)]).filter(Boolean)).toHaveLength(4);
    repo.settleAll(1000); // all folded, then all moved on to telemetry
    expect(telemetryTableCounts(raw)).toEqual({ main: 45, recent: 0, inbox: 0 });
    // Of these, seq 12 of three devices and i-d's 13 are new.
    expect(repo.insertMany([...fleet(1, 12), one('i-d', 13)]).filter(Boolean)).toHaveLength(4);
    expect(seen(raw)).toEqual({ total: 49, dup: [] });
  });

  it('sees what another connection appended, and finishes a chunk another connection began', () => {
    const { repos, raw, store } = open(2);
    const [a, b] = repos as [(typeof repos)[number], (typeof repos)[number]];
    expect(a.repo.insertMany([one('i-a', 1), one('i-a', 2), one('i-a', 3)])).toEqual([true, true, true]);
    expect(b.repo.insertMany([one('i-a', 2), one('i-a', 3), one('i-a', 4)])).toEqual([false, false, true]);
    expect(a.repo.insertMany([one('i-a', 4), one('i-a', 5)])).toEqual([false, true]);
    a.repo.insertMany(fleet(6, 30));
    expect(foldStep(a.db, a.repo, 16).done).toBe(false);
    // b carries on from where telemetry_fold says a stopped.
    b.repo.foldAll();
    expect(telemetryTableCounts(raw)).toEqual({ main: 0, recent: 105, inbox: 0 });
    expect(seen(raw)).toEqual({ total: 105, dup: [] });
    // a learns that its chunk is gone, and still refuses what b folded.
    expect(a.repo.insertMany([one('i-a', 5), one('i-b', 30), one('i-b', 31)])).toEqual([false, false, true]);
    expect(store.telemetry.count('i-b')).toBe(26);
  });

  it('forgets the appends of a commit that failed: the device resends and is stored', () => {
    const { repos, raw } = open();
    const { repo } = repos[0] as (typeof repos)[number];
    repo.insertMany([one('i-b', 1)]);
    const c = emptyColumns();
    for (const s of [one('i-a', 1), one('i-a', 2), one('i-a', 3)]) pushSample(c, s);
    c.ts[2] = 1.5; // refused by the STRICT table: the whole transaction is undone
    expect(() => repo.insertColumns(c)).toThrow(/REAL/);
    expect(telemetryTableCounts(raw)).toEqual({ main: 0, recent: 0, inbox: 1 });
    expect(repo.insertMany([one('i-a', 1), one('i-a', 2), one('i-a', 3)])).toEqual([true, true, true]);
    expect(seen(raw)).toEqual({ total: 4, dup: [] });
  });

  it('folds between commits (moveOn) once a chunk is there, and inside a commit only past three chunks', () => {
    const { store } = open();
    const db = openDatabase(`${store.db.name}`, { integrity: 'skip' });
    cleanups.push(() => void db.close());
    const repo = new TelemetryRepo(db, { foldRows: 40, recentRows: 1_000_000 });
    repo.insertMany(fleet(1, 15)); // 60: one chunk, under three
    expect(telemetryTableCounts(db)).toEqual({ main: 0, recent: 0, inbox: 60 });
    expect(repo.mustMove).toBe(true);
    expect(repo.moveOn(500)).toBe(60);
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // the step ran without fsync, the commits have it again
    expect(repo.mustMove).toBe(false);
    expect(telemetryTableCounts(db)).toEqual({ main: 0, recent: 60, inbox: 0 });
    repo.insertMany(fleet(16, 46)); // 124: past three chunks, the commit folds itself
    expect(telemetryTableCounts(db)).toEqual({ main: 0, recent: 184, inbox: 0 });
  });

  describe('the bound per device and boot that spares an in-order sample the look-ups', () => {
    it('covers, when first asked, the rows still waiting that will fold later', () => {
      const { repos, raw } = open(2);
      const [a, b] = repos as [(typeof repos)[number], (typeof repos)[number]];
      expect(a.repo.insertMany([one('i-a', 1), one('i-a', 2), one('i-a', 3), one('i-a', 5)])).toEqual(
        Array(4).fill(true),
      );
      // b first hears of i-a with 4, below what waits: its bound must be 5, not 4.
      expect(b.repo.insertMany([one('i-a', 4)])).toEqual([true]);
      b.repo.foldAll(); // the inbox is empty again; its keys are forgotten
      expect(b.repo.insertMany([one('i-a', 5), one('i-a', 6)])).toEqual([false, true]);
      expect(seen(raw)).toEqual({ total: 6, dup: [] });
    });

    it('is read again when another connection appended and folded rows this one never saw', () => {
      const { repos, raw, store } = open();
      const { repo } = repos[0] as (typeof repos)[number];
      expect(repo.insertMany([one('i-a', 1), one('i-a', 2)])).toEqual([true, true]);
      // The store's own connection folds in each commit: its rows come and go between two of
      // the writer's transactions (as another instance's whole chunk may).
      expect(store.telemetry.insertMany([one('i-a', 3), one('i-a', 4)])).toEqual([true, true]);
      expect(telemetryTableCounts(raw)).toEqual({ main: 0, recent: 4, inbox: 0 });
      expect(repo.insertMany([one('i-a', 4), one('i-a', 5)])).toEqual([false, true]);
      expect(seen(raw)).toEqual({ total: 5, dup: [] });
    });

    it('stores late samples below it exactly once', () => {
      const { repos, raw } = open();
      const { repo } = repos[0] as (typeof repos)[number];
      repo.insertMany([one('i-a', 1), one('i-a', 4)]);
      repo.settleAll(1000);
      expect(repo.insertMany([one('i-a', 2), one('i-a', 3), one('i-a', 4), one('i-a', 5)])).toEqual([
        true,
        true,
        false,
        true,
      ]);
      expect(seen(raw)).toEqual({ total: 5, dup: [] });
    });
  });

  it('a deleted device leaves nothing waiting, and registered again it is stored afresh', () => {
    const { store, repos, raw } = open();
    const { repo } = repos[0] as (typeof repos)[number];
    repo.insertMany(fleet(1, 3));
    // Deleted on the event loop's connection: the writer's memory still holds i-b's keys.
    expect(store.devices.delete('i-b')).toBe(true);
    expect(telemetryTableCounts(raw)).toEqual({ main: 0, recent: 0, inbox: 9 });
    expect(store.telemetry.count('i-b')).toBe(0);
    // Registered again under the same id, it resends what it had sent (an ack lost with the
    // old session): new samples for the store, not duplicates of rows that are gone.
    store.devices.register('i-b', { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' });
    expect(repo.insertMany([one('i-b', 2), one('i-b', 3), one('i-a', 3)])).toEqual([true, true, false]);
    expect(repo.insertMany([one('i-b', 2)])).toEqual([false]);
    repo.foldAll();
    expect(store.telemetry.count('i-b')).toBe(2);
    expect(seen(raw)).toEqual({ total: 11, dup: [] });
  });

  it('keeps the key of a sample appended again after its first row went, when the chunk of that row ends', () => {
    const { store, repos, raw } = open();
    const { db, repo } = repos[0] as (typeof repos)[number];
    repo.insertMany(fleet(1, 3));
    expect(foldStep(db, repo, 1).done).toBe(false); // a chunk of those 12 rows is under way
    store.devices.delete('i-b');
    store.devices.register('i-b', { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' });
    expect(repo.insertMany([one('i-b', 2)])).toEqual([true]); // after the chunk: it stays
    while (!foldStep(db, repo, 1).done);
    expect(telemetryTableCounts(raw)).toEqual({ main: 0, recent: 9, inbox: 1 });
    // The chunk's end forgot the old row's key; the same key's new row still waits.
    expect(repo.insertMany([one('i-b', 2)])).toEqual([false]);
    repo.foldAll();
    expect(store.telemetry.count('i-b')).toBe(1);
    expect(seen(raw)).toEqual({ total: 10, dup: [] });
  });
});
