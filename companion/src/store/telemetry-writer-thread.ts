/**
 * The telemetry writer's thread: its own connection to the gateway database, and nothing
 * but telemetry transactions on it. A commit with synchronous=FULL waits for fsync; here
 * that wait no longer stalls the event loop that serves every device (telemetry-writer.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { KeptThread } from '../util/kept-thread.ts';
import { startTsThread } from '../util/ts-thread.ts';
import { openDatabase } from './db.ts';
import { addCount, noRetention, type RetentionCount, type RetentionPolicy, RetentionSweep } from './retention.ts';
import { type SampleColumns, TelemetryRepo } from './telemetry.ts';
import { TokenClaims } from './token-claims.ts';
import type { CheckpointOptions, CheckpointReply } from './wal-checkpoint-thread.ts';

/** What the thread is started with (TelemetryWriter.start). */
export interface WriterOptions {
  file: string;
  /** Retention rounds every `everyMs`, the first one at most 10 s after start; none without it. */
  retention?: RetentionPolicy & { everyMs: number };
  /** Samples move from telemetry_recent to telemetry past this many (100,000; tests use fewer). */
  recentRows?: number;
  /** Samples fold out of telemetry_inbox in chunks of this many (20,000; tests use fewer). */
  foldRows?: number;
  /** …and at least this often, however few (10,000 ms; tests use less). */
  foldAfterMs?: number;
}

export type WriterRequest =
  | { type: 'write'; id: number; samples: SampleColumns; now: number }
  | { type: 'claim'; id: number; deviceId: string; jti: string; expiresAt: number; now: number }
  | { type: 'close' };
export type WriterReply =
  | { type: 'ready' }
  | { type: 'written'; id: number; fresh: Uint8Array }
  | { type: 'claimed'; id: number; fresh: boolean }
  | { type: 'failed'; id: number; what: 'write' | 'claim'; message: string; code?: string }
  | ({ type: 'retention' } & RetentionCount)
  | { type: 'retention-failed'; message: string }
  | { type: 'maintenance-failed'; message: string }
  | { type: 'closed' };

const port = parentPort;
if (!port) throw new Error('telemetry-writer-thread runs only as a worker thread');
const post = (m: WriterReply, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

// The parent opened the file first: integrity checked and migrations run there.
const opts = workerData as WriterOptions;
const db = openDatabase(opts.file, { integrity: 'skip' });
// Checkpoints run on a thread of their own, beside the commits (wal-checkpoint-thread.ts),
// every CHECKPOINT_EVERY_MS. But only a checkpoint here, between two commits, lets the WAL
// start over: SQLite rewinds it when a transaction begins with every frame already in the
// database file, and the other thread never catches up with commits that come back to back.
// So once the WAL passes WAL_REWIND_FRAMES and that thread has just copied all it found,
// this one copies what was committed meanwhile (2–10 ms), and the next commit writes from
// the WAL's start. Before, the WAL grew to SQLite's own checkpoint after a commit, kept as the
// backstop at 32,000 pages (128 MB), which copied up to 500 ms of pages inside a commit:
// 40–100 ms every second or two, the acks waiting. A long WAL also slows every page read
// (its index is searched in pieces of 4,096 frames). The gateway turns SQLite's checkpoints
// off on the event loop's connection.
db.pragma('wal_autocheckpoint = 32000');
const CHECKPOINT_EVERY_MS = 500;
const WAL_REWIND_FRAMES = 8000;
// Should the thread end, another is started (KeptThread); meanwhile the backstop above
// bounds the WAL.
const checkpointer = new KeptThread(
  () => {
    const w = startTsThread(new URL('./wal-checkpoint-thread.ts', import.meta.url), {
      file: opts.file,
      everyMs: CHECKPOINT_EVERY_MS,
    } satisfies CheckpointOptions);
    w.on('message', checkpointed);
    w.on('error', (e) => post({ type: 'maintenance-failed', message: `WAL checkpoint thread: ${e.message}` }));
    return w;
  },
  {
    ended: (code, retryInMs) =>
      post({
        type: 'maintenance-failed',
        message: `WAL checkpoint thread ended (exit code ${code}); another starts in ${retryInMs / 1000} s`,
      }),
  },
);
function checkpointed(m: CheckpointReply): void {
  if (m.type === 'failed') post({ type: 'maintenance-failed', message: `WAL checkpoint: ${m.message}` });
  if (m.type !== 'passed') return;
  checkpointer.healthy();
  if (!m.complete || m.frames < WAL_REWIND_FRAMES) return;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (e) {
    post({ type: 'maintenance-failed', message: `WAL checkpoint: ${(e as Error).message}` });
  }
}
// The devices table's RSSI column is for people: a value up to 2 s old is as good, and
// writing it at most that often saves a page per sample (telemetry.ts). Samples fold from
// telemetry_inbox into telemetry_recent in chunks of 20,000 (about a second at 20,000
// samples/s: telemetry-inbox.ts), and move from there to telemetry once it holds 100,000
// (about 10 MB; tens of samples per device at a thousand devices, which is what makes the
// move cheap: telemetry-merge.ts).
const RSSI_EVERY_MS = 2000;
const telemetry = new TelemetryRepo(db, {
  rssiEveryMs: RSSI_EVERY_MS,
  recentRows: opts.recentRows ?? 100_000,
  foldRows: opts.foldRows ?? 20_000,
  // A small fleet fills no chunk for hours: its samples fold at least every 10 s, so that the
  // inbox readers scan stays small and highestSeq (read at each hello) recent.
  foldAfterMs: opts.foldAfterMs ?? 10_000,
});
// What waits in the inbox from before a restart is known from the start (the idle fold below).
telemetry.inbox.catchUp();
// Device-token claims are written here too: this thread is the database's one busy writer,
// and a handshake then never waits on the event loop for SQLite's write lock.
const claims = new TokenClaims(db);
let lastWrite = 0;
// Every second: RSSI values held 2 s are written even when no commit comes to carry them;
// every 5 s, when no sample came meanwhile, what waits in telemetry_inbox and
// telemetry_recent moves on, so an idle gateway leaves nothing there for long.
let ticks = 0;
const maintenance = setInterval(() => {
  retentionTick();
  // A throw here (the database locked past the busy timeout, the disk full) would end the
  // thread, and every commit in flight with it; the next tick tries again instead.
  try {
    telemetry.flushRssi(Date.now() - RSSI_EVERY_MS, 2000);
    // Work no commit came to start: a chunk due by age (foldAfterMs, above), or steps left off.
    if (telemetry.mustMove) moving ??= setImmediate(moveOn);
    if (++ticks % 5 !== 0) return;
    claims.purge();
    if (Date.now() - lastWrite >= 5000 && (telemetry.inbox.rows > 0 || telemetry.merge.recentRows > 0))
      telemetry.settleAll(5000);
  } catch (e) {
    post({ type: 'maintenance-failed', message: (e as Error).message });
  }
}, 1000);
maintenance.unref();

// Retention runs here, between commits: each second, steps of RETENTION_STEP (a few ms
// each), one per turn of this thread's event loop so that commits go in between, for at
// most RETENTION_BUDGET_MS, until the round is done.
const RETENTION_STEP = 500;
const RETENTION_BUDGET_MS = 100;
const retention = opts.retention;
let sweep = retention && new RetentionSweep(db, retention);
let nextRound = retention ? Date.now() + Math.min(retention.everyMs, 10_000) : Number.POSITIVE_INFINITY;
let round = noRetention();
let budgetUntil = 0;
let nextStep: NodeJS.Immediate | undefined;
function retentionTick(): void {
  if (!retention || !sweep || nextStep) return;
  if (!sweep.running) {
    if (Date.now() < nextRound) return;
    nextRound = Date.now() + retention.everyMs;
    sweep.start();
  }
  budgetUntil = performance.now() + RETENTION_BUDGET_MS;
  retentionStep();
}
function retentionStep(): void {
  nextStep = undefined;
  if (!retention || !sweep) return;
  try {
    const c = sweep.step(RETENTION_STEP);
    addCount(round, c);
    telemetry.merge.recentRows = Math.max(0, telemetry.merge.recentRows - c.recentDeleted);
    if (!sweep.running) {
      post({ type: 'retention', ...round });
      round = noRetention();
    } else if (performance.now() < budgetUntil) nextStep = setImmediate(retentionStep);
  } catch (e) {
    // The round is given up; the next one starts after everyMs, from the first device.
    sweep = new RetentionSweep(db, retention);
    round = noRetention();
    post({ type: 'retention-failed', message: (e as Error).message });
  }
}

// Samples fold out of telemetry_inbox and move from telemetry_recent on to telemetry between
// commits (TelemetryRepo.moveOn): a step each turn of this thread's event loop while there is
// work, so a commit that arrives meanwhile waits for one step at most (a move of 500 rows:
// about 1 ms measured alone at 10,000 devices; a fold step of 2,000: 5 ms, p99 9 ms).
const MOVE_STEP_ROWS = 500;
let moving: NodeJS.Immediate | undefined;
function moveOn(): void {
  moving = undefined;
  try {
    if (telemetry.moveOn(MOVE_STEP_ROWS) > 0 && telemetry.mustMove) moving = setImmediate(moveOn);
  } catch (e) {
    // Locked past the busy timeout by another instance, say: the next commit tries again.
    post({ type: 'maintenance-failed', message: `moving telemetry on: ${(e as Error).message}` });
  }
}

// Token claims that arrived together commit together: one transaction, one fsync. With one
// commit each (synchronous=FULL), a reconnect storm's 10,000 handshakes waited on 10,000
// fsyncs in a row.
type Claim = Extract<WriterRequest, { type: 'claim' }>;
let claimsWaiting: Claim[] = [];
let claimsFlush: NodeJS.Immediate | undefined;
function commitClaims(): void {
  claimsFlush = undefined;
  const batch = claimsWaiting;
  claimsWaiting = [];
  let fresh: boolean[];
  try {
    fresh = db.transaction(() => batch.map((m) => claims.claim(m.deviceId, m.jti, m.expiresAt, m.now)))();
  } catch (e) {
    const err = e as Error & { code?: string };
    for (const m of batch)
      post({ type: 'failed', id: m.id, what: 'claim', message: err.message, ...(err.code ? { code: err.code } : {}) });
    return;
  }
  for (let i = 0; i < batch.length; i++)
    post({ type: 'claimed', id: (batch[i] as Claim).id, fresh: fresh[i] as boolean });
}

port.on('message', (m: WriterRequest) => {
  if (m.type === 'claim') {
    // Committed once this turn's messages are read, so all that came meanwhile go in too.
    claimsWaiting.push(m);
    claimsFlush ??= setImmediate(commitClaims);
    return;
  }
  if (m.type === 'close') {
    if (claimsFlush) {
      clearImmediate(claimsFlush);
      commitClaims();
    }
    clearInterval(maintenance);
    if (nextStep) clearImmediate(nextStep);
    if (moving) clearImmediate(moving);
    telemetry.flushRssi();
    const done = () => {
      db.close();
      post({ type: 'closed' });
      port.close();
    };
    void checkpointer.stop((w) => w.postMessage('close')).then(done);
    return;
  }
  try {
    lastWrite = Date.now();
    const fresh = telemetry.insertColumns(m.samples, m.now);
    post({ type: 'written', id: m.id, fresh }, [fresh.buffer as ArrayBuffer]);
    if (telemetry.mustMove) moving ??= setImmediate(moveOn);
  } catch (e) {
    const err = e as Error & { code?: string };
    post({ type: 'failed', id: m.id, what: 'write', message: err.message, ...(err.code ? { code: err.code } : {}) });
  }
});
post({ type: 'ready' });
