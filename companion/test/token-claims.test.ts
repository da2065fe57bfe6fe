/**
 * Device-token claims in the database (token-claims.ts): a jti is accepted once per device
 * while its token is valid, an expired claim is taken over, and expired claims are purged,
 * by the writer thread on its own too (the table is bounded by time like the in-memory cache).
 */
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { DB_FILE, type Store } from '../src/store/index.ts';
import { TelemetryWriter } from '../src/store/telemetry-writer.ts';
import { TokenClaims } from '../src/store/token-claims.ts';
import { type Cleanups, runCleanups, tempStore } from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

const store = () => tempStore(cleanups);

const rows = (s: Store) => (s.db.prepare('SELECT count(*) AS n FROM device_token_claims').get() as { n: number }).n;

it('accepts a jti once per device while it is valid, takes over an expired claim, and purges only expired ones', () => {
  const { store: s } = store();
  const claims = new TokenClaims(s.db);
  const now = 1_000_000;
  expect(claims.claim('dev-a', 'jti-1', now + 330_000, now)).toBe(true);
  expect(claims.claim('dev-a', 'jti-1', now + 330_000, now + 1000)).toBe(false);
  // The same jti from another device is another token.
  expect(claims.claim('dev-b', 'jti-1', now + 330_000, now)).toBe(true);
  // Past its expiry a claim no longer blocks (that token fails the time checks anyway).
  expect(claims.claim('dev-a', 'jti-1', now + 700_000, now + 330_000)).toBe(true);
  expect(claims.claim('dev-a', 'jti-1', now + 700_000, now + 400_000)).toBe(false);
  expect(claims.claim('dev-c', 'jti-2', now + 10_000, now)).toBe(true);

  expect(claims.purge(now + 5000)).toBe(0);
  expect(claims.purge(now + 400_000)).toBe(2); // dev-b's and dev-c's
  expect(rows(s)).toBe(1);
  // Bounded work per call.
  for (let i = 0; i < 30; i++) claims.claim(`dev-${i}`, 'old', now, now - 1);
  expect(claims.purge(now + 1, 10)).toBe(10);
  expect(rows(s)).toBe(21);
});

it('claims through the writer thread, and the thread purges expired claims by itself', async () => {
  const { dir, store: s } = store();
  const writer = await TelemetryWriter.start(join(dir, DB_FILE));
  cleanups.push(() => writer.close());
  const now = Date.now();
  expect(await writer.claimToken('dev-w', 'jti-w', now + 300)).toBe(true);
  expect(await writer.claimToken('dev-w', 'jti-w', now + 300)).toBe(false);
  expect(await writer.claimToken('dev-w', 'jti-live', now + 600_000)).toBe(true);
  expect(rows(s)).toBe(2);
  // Its maintenance tick purges every 5 s.
  await expect.poll(() => rows(s), { timeout: 8000, interval: 200 }).toBe(1);
});

it('answers claims that arrive together each for itself, a replay among them refused, and commits those waiting at close', async () => {
  // The thread commits the claims of one turn together (one fsync for a storm's handshakes,
  // not one each); the benchmark's reconnect storm shows what that is worth.
  const { dir, store: s } = store();
  const writer = await TelemetryWriter.start(join(dir, DB_FILE));
  const now = Date.now();
  const answers = await Promise.all([
    ...Array.from({ length: 200 }, (_, i) => writer.claimToken(`dev-${i}`, 'jti-s', now + 60_000)),
    writer.claimToken('dev-7', 'jti-s', now + 60_000),
  ]);
  expect(answers.filter(Boolean)).toHaveLength(200);
  expect([answers[7], answers[200]]).toEqual([true, false]); // the first use wins, the replay does not
  expect(rows(s)).toBe(200);
  const late = writer.claimToken('dev-late', 'jti-late', now + 60_000);
  await writer.close();
  expect(await late).toBe(true);
  expect(rows(s)).toBe(201);
});
