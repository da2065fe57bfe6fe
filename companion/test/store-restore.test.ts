/**
 * `kiln gateway restore` (store/restore.ts): a backup replaces the database only when it is
 * sound and nothing has the database open; the database replaced moves aside with its WAL,
 * whose commits stay readable there; the restored file holds exactly the backup's data, and
 * the next start checks only the small tables.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE, Store } from '../src/store/index.ts';
import { MIGRATIONS } from '../src/store/migrations.ts';
import { restoreDatabase } from '../src/store/restore.ts';
import { damageTable, tempDir } from './helpers.ts';

const COMPANION = fileURLToPath(new URL('..', import.meta.url));
const jwk = (i: number) => ({ kty: 'EC', crv: 'P-256', x: `x${i}`, y: 'y' });
const dirs: { remove(): void }[] = [];
const open: { close(): void }[] = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
  for (const d of dirs.splice(0)) d.remove();
});
function dataDir(): string {
  const t = tempDir();
  dirs.push(t);
  return t.dir;
}

/** A data dir with `devices` devices, and an online backup of it in another dir. */
async function withBackup(devices: number): Promise<{ dir: string; backup: string }> {
  const dir = dataDir();
  const s = Store.open(dir);
  for (let i = 0; i < devices; i++) s.devices.register(`d-${i}`, jwk(i));
  s.telemetry.insertMany([{ deviceId: 'd-0', bootId: 'b', seq: 1, ts: 1, metrics: { v: 1 } }]);
  const backup = join(dataDir(), DB_FILE); // so that damageTable finds it
  await s.backup(backup);
  s.close();
  return { dir, backup };
}

/** Another process commits `sql` to the WAL of `file` (no checkpoint) and is killed with SIGKILL. */
async function commitThenDie(file: string, sql: string): Promise<void> {
  const code = `const db = new (require('better-sqlite3'))(${JSON.stringify(file)});
    db.pragma('wal_autocheckpoint = 0'); db.exec(${JSON.stringify(sql)});
    process.stdout.write('committed\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code], { cwd: COMPANION, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => String(d).includes('committed') && resolve());
      child.once('exit', (c) => reject(new Error(`writer exited ${c}`)));
    });
  } finally {
    child.kill('SIGKILL');
  }
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
}

const deviceIds = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT id FROM devices ORDER BY id').pluck().all() as string[]).join(',');
  } finally {
    db.close();
  }
};

describe('kiln gateway restore', () => {
  it('puts the backup in place, moves the old database aside with its WAL, and nothing is lost', async () => {
    const { dir, backup } = await withBackup(3);
    // After the backup: one more device, committed to a WAL that a killed process left behind.
    await commitThenDie(
      join(dir, DB_FILE),
      "INSERT INTO devices (id, public_key_jwk, created_at) VALUES ('late', '{}', 1)",
    );
    expect(existsSync(join(dir, `${DB_FILE}-wal`))).toBe(true);

    const r = await restoreDatabase(dir, backup, new Date('2026-11-23T10:00:00Z'));
    expect(r.file).toBe(join(dir, DB_FILE));
    expect(r.replacedTo).toBe(join(dir, `${DB_FILE}.replaced-2026-11-23T10-00-00.000Z`));
    expect(existsSync(join(dir, `${DB_FILE}-wal`))).toBe(false); // the old WAL went with its file
    expect(existsSync(`${r.replacedTo}-wal`)).toBe(true);
    expect(deviceIds(r.file)).toBe('d-0,d-1,d-2');
    expect(deviceIds(r.replacedTo as string)).toBe('d-0,d-1,d-2,late'); // read through its WAL

    const s = Store.open(dir);
    open.push(s);
    expect(s.check).toMatchObject({ kind: 'tables' }); // checked in full by the restore
    expect(s.telemetry.count('d-0')).toBe(1);
  });

  it('refuses while the database is open, and changes nothing', async () => {
    const { dir, backup } = await withBackup(2);
    const running = Store.open(dir);
    open.push(running);
    running.devices.register('after-backup', jwk(9));
    await expect(restoreDatabase(dir, backup)).rejects.toMatchObject({
      code: 'DATABASE_IN_USE',
      message: expect.stringContaining(`process ${process.pid} has ${join(dir, DB_FILE)} open`),
    });
    expect(readdirSync(dir).filter((f) => f.includes('replaced') || f.includes('restoring'))).toEqual([]);
    expect(running.devices.count()).toBe(3);
  });

  it('names a process that opened the database while the restore ran: it holds the replaced file', async () => {
    const { dir, backup } = await withBackup(1);
    const restoring = restoreDatabase(dir, backup); // checks that nothing has the file open, then copies
    const late = Store.open(dir); // meanwhile: a gateway started too early
    open.push(late);
    const r = await restoring;
    expect(r.stillOnReplaced).toEqual([process.pid]);
    late.devices.register('lost', jwk(7));
    expect(deviceIds(r.replacedTo as string)).toContain('lost');
    expect(deviceIds(r.file)).toBe('d-0');
  });

  it('refuses a damaged backup before anything changes', async () => {
    const { dir, backup } = await withBackup(200);
    damageTable(dirname(backup), 'devices');
    await expect(restoreDatabase(dir, backup)).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
    expect(readdirSync(dir).filter((f) => f.includes('replaced') || f.includes('restoring'))).toEqual([]);
    expect(deviceIds(join(dir, DB_FILE)).split(',')).toHaveLength(200);
  });

  it('refuses a backup from a newer kiln, and a file that is not there', async () => {
    const { dir, backup } = await withBackup(1);
    const b = new Database(backup);
    b.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    b.close();
    await expect(restoreDatabase(dir, backup)).rejects.toMatchObject({ code: 'STORE_MIGRATION' });
    await expect(restoreDatabase(dir, join(dir, 'nope.db'))).rejects.toMatchObject({
      code: 'NO_BACKUP',
      message: expect.stringContaining(join(dir, 'nope.db')),
    });
    expect(deviceIds(join(dir, DB_FILE))).toBe('d-0');
  });

  it('restores into a data dir that does not exist yet, made private as the gateway makes it', async () => {
    const { backup } = await withBackup(2);
    const fresh = join(dataDir(), 'new', 'gateway');
    const r = await restoreDatabase(fresh, backup);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    expect(r.replacedTo).toBeUndefined();
    expect(deviceIds(r.file)).toBe('d-0,d-1');
    expect(r.stillOnReplaced).toEqual([]);
  });
});
