/** Storage on real SQLite files: migrations, WAL, dedupe, commands, retention, integrity, backup. */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../src/errors.ts';
import { schemaVersion } from '../src/store/db.ts';
import { Store } from '../src/store/index.ts';
import { MIGRATIONS } from '../src/store/migrations.ts';
import { runRetention } from '../src/store/retention.ts';
import { tempDir } from './helpers.ts';

const dirs: { remove(): void }[] = [];
const stores: Store[] = [];
function open() {
  const t = tempDir();
  dirs.push(t);
  const s = Store.open(t.dir);
  stores.push(s);
  return { s, dir: t.dir };
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) d.remove();
});

const jwk = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' };

describe('store', () => {
  it('migrates a new file to the latest schema in WAL mode, and again is a no-op', () => {
    const { s, dir } = open();
    expect(schemaVersion(s.db)).toBe(MIGRATIONS.length);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    s.close();
    const again = Store.open(dir);
    stores.push(again);
    expect(schemaVersion(again.db)).toBe(MIGRATIONS.length);
  });

  it('upgrades a version-1 database: API keys survive and the enroll scope becomes valid', () => {
    const t = tempDir();
    dirs.push(t);
    const v1 = new Database(join(t.dir, 'gateway.db'));
    v1.exec(MIGRATIONS[0] as string);
    v1.pragma('user_version = 1');
    v1.prepare(
      `INSERT INTO api_keys (id, name, scope, hash, created_at) VALUES ('k1', 'ops', 'admin', 'h1:ab', 1)`,
    ).run();
    expect(() =>
      v1
        .prepare(`INSERT INTO api_keys (id, name, scope, hash, created_at) VALUES ('k2', 'x', 'enroll', 'h1:cd', 1)`)
        .run(),
    ).toThrow(/CHECK/);
    v1.close();
    const s = Store.open(t.dir);
    stores.push(s);
    expect(schemaVersion(s.db)).toBe(MIGRATIONS.length);
    expect(s.db.prepare('SELECT id, scope, hash FROM api_keys').all()).toEqual([
      { id: 'k1', scope: 'admin', hash: 'h1:ab' },
    ]);
    expect(s.apiKeys.create('station', 'enroll').row.scope).toBe('enroll');
  });

  it('refuses a database from a newer gateway', () => {
    const { s, dir } = open();
    s.db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    s.close();
    expect(() => Store.open(dir)).toThrow(StoreError);
  });

  it('stores a resent sample exactly once (device, boot, seq)', () => {
    const { s } = open();
    s.devices.register('d-1', jwk);
    const row = { deviceId: 'd-1', bootId: 'b1', seq: 7, ts: 1, metrics: { t: 1 } };
    expect(s.telemetry.insertMany([row, { ...row, seq: 8 }])).toEqual([true, true]);
    expect(s.telemetry.insertMany([row, { ...row, bootId: 'b2' }])).toEqual([false, true]);
    expect(s.telemetry.count('d-1')).toBe(3);
    expect(s.telemetry.highestSeq('d-1', 'b1')).toBe(8);
  });

  it('moves commands through their states and expires the open ones', () => {
    const { s } = open();
    s.devices.register('d-2', jwk);
    s.commands.insert({ id: 'c1', deviceId: 'd-2', name: 'reboot', expiresAt: 1000 }, 0);
    s.commands.insert({ id: 'c2', deviceId: 'd-2', name: 'reboot', expiresAt: 1000 }, 0);
    expect(s.commands.insert({ id: 'c1', deviceId: 'd-2', name: 'x', expiresAt: 5 }, 0)).toBe(false);
    expect(s.commands.markSent('c1', 10)).toBe(true);
    expect(s.commands.markSent('c1', 11)).toBe(false);
    const due = s.commands.expireDue(2000);
    expect(due.map((c) => c.id).sort()).toEqual(['c1', 'c2']);
    expect(s.commands.get('c1')?.status).toBe('timeout');
    expect(s.commands.get('c2')?.status).toBe('expired');
    expect(s.commands.complete('c1', 'ok')).toBe(false);
  });

  it('rolls old samples up into hourly buckets and deletes them (retention and downsampling)', () => {
    const { s } = open();
    const day = 86_400_000;
    const now = 100 * day;
    const old = now - 40 * day;
    s.telemetry.insertMany(
      [0, 1, 2].map((i) => ({ deviceId: 'd-3', bootId: 'b', seq: i, ts: old + i * 1000, metrics: { t: i * 10 } })),
    );
    s.telemetry.insertMany([{ deviceId: 'd-3', bootId: 'b', seq: 9, ts: now - 1000, metrics: { t: 5 } }]);
    const r = runRetention(s.db, { rawDays: 30, rollupBucketSec: 3600, rollupDays: 365 }, now);
    expect(r.rolledUp).toBe(3);
    expect(s.telemetry.count('d-3')).toBe(1);
    const roll = s.db.prepare('SELECT count, min, max, sum FROM telemetry_rollup').all();
    expect(roll).toEqual([{ count: 3, min: 0, max: 20, sum: 30 }]);
  });

  it('passes the integrity check, and refuses to start on a corrupt file', () => {
    const { s, dir } = open();
    expect(s.integrity()).toEqual(['ok']);
    s.close();
    const file = join(dir, 'gateway.db');
    const db = new Database(file);
    db.pragma('journal_mode = DELETE');
    db.close();
    const bytes = Buffer.alloc(4096, 0xab);
    const fd = openSync(file, 'r+');
    writeSync(fd, bytes, 0, bytes.length, 4096 * 2);
    closeSync(fd);
    expect(() => Store.open(dir)).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
  });

  it('backs up online to a consistent copy', async () => {
    const { s, dir } = open();
    s.devices.register('d-4', jwk);
    s.telemetry.insertMany([{ deviceId: 'd-4', bootId: 'b', seq: 1, ts: 1, metrics: { t: 1 } }]);
    const out = join(dir, 'backup', 'copy.db');
    await s.backup(out);
    const copy = new Database(out, { readonly: true });
    expect(
      copy.prepare('SELECT (SELECT count(*) FROM telemetry) + (SELECT count(*) FROM telemetry_recent) AS n').get(),
    ).toEqual({ n: 1 });
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    copy.close();
    writeFileSync(join(dir, 'unused'), '');
  });
});
