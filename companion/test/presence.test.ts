/**
 * Presence (store/devices.ts) is written behind, and its commits never wait for SQLite's write
 * lock: under load the telemetry writer's thread holds it, and a wait there is the event loop
 * asleep in SQLite's busy handler. Here another connection on the same real file holds the
 * lock (as the writer's thread does); the store keeps a 5 s busy timeout, so any presence path
 * that waited would throw SQLITE_BUSY after 5 s and fail the test.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { type Cleanups, runCleanups, tempStore } from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

const jwk = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup() {
  const { store, dir } = tempStore(cleanups);
  store.devices.presenceFlushMs = 5;
  for (const id of ['p-1', 'p-2']) store.devices.register(id, jwk, 1000);
  const other = new Database(`${dir}/gateway.db`);
  cleanups.push(() => void other.close());
  const stored = (id: string) =>
    other.prepare('SELECT state, last_seen_at AS seen, sessions, boot_id AS boot FROM devices WHERE id = ?').get(id);
  return { store, other, stored };
}

describe('presence commits', () => {
  it('wait for no lock: while another connection writes, updates stay pending, reads see them, and they land after', async () => {
    const { store, other, stored } = setup();
    other.exec('BEGIN IMMEDIATE');
    store.devices.markSeen('p-1', 'online', { bootId: 'b1', chip: 'esp32' }, 2000);
    store.devices.markSeen('p-2', 'online', { bootId: 'b2' }, 2000);
    store.devices.markSeen('p-2', 'offline', {}, 2500);
    await sleep(60); // a dozen tries, each finding the lock taken
    // Not written: the other connection still sees the registered rows…
    expect(stored('p-1')).toEqual({ state: 'registered', seen: null, sessions: 0, boot: null });
    // …but reads through the store see the pending updates, without waiting for the lock either.
    expect(store.devices.get('p-1')).toMatchObject({ state: 'online', lastSeenAt: 2000, chip: 'esp32', sessions: 1 });
    expect(store.devices.list({ limit: 10 }).map((d) => [d.id, d.state, d.lastSeenAt, d.sessions])).toEqual([
      ['p-1', 'online', 2000, 1],
      ['p-2', 'offline', 2500, 1],
    ]);
    expect(store.devices.count()).toBe(2);
    other.exec('COMMIT');
    await sleep(60);
    // Landed once the lock was free, each update once (a retried commit does not count a session twice).
    expect(stored('p-1')).toEqual({ state: 'online', seen: 2000, sessions: 1, boot: 'b1' });
    expect(stored('p-2')).toEqual({ state: 'offline', seen: 2500, sessions: 1, boot: 'b2' });
    // A list now reads the committed rows, state filter included.
    expect(store.devices.list({ state: 'online', limit: 10 }).map((d) => d.id)).toEqual(['p-1']);
  });

  it('put the connection back as they found it: a 5 s busy timeout and fsync on every commit', () => {
    const { store, other, stored } = setup();
    store.devices.markSeen('p-1', 'online', { bootId: 'b1' }, 2000);
    other.exec('BEGIN IMMEDIATE');
    store.devices.list({ limit: 1 }); // a try that finds the lock taken
    other.exec('COMMIT');
    store.devices.list({ limit: 1 }); // a try that commits
    expect(stored('p-1')).toMatchObject({ state: 'online', sessions: 1 });
    expect(store.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2); // FULL
  });

  it('are part of a transaction the caller holds, and an operator action still commits them first', () => {
    const { store, stored } = setup();
    // The thousandth pending device triggers a commit: inside the caller's transaction, as part of it.
    store.db.transaction(() => {
      for (let i = 0; i < 1000; i++) {
        const id = i === 0 ? 'p-1' : `q-${i}`;
        if (i > 0) store.devices.register(id, jwk, 1000);
        store.devices.markSeen(id, 'online', { bootId: 'b1' }, 3000 + i);
      }
    })();
    expect(stored('p-1')).toMatchObject({ state: 'online', seen: 3000, sessions: 1 });
    expect(stored('q-999')).toMatchObject({ state: 'online', seen: 3999, sessions: 1 });
    store.devices.markSeen('p-2', 'online', { bootId: 'b2' }, 4000);
    expect(store.devices.revoke('p-1', 5000)).toBe(true);
    expect(stored('p-2')).toMatchObject({ state: 'online', seen: 4000, sessions: 1 });
  });
});
