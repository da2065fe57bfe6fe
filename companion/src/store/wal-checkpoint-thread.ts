/**
 * WAL checkpoints on a connection of their own, beside the telemetry writer's commits
 * instead of inside them. A checkpoint copies the WAL's pages into the database file; on
 * the writer's thread that held every commit behind it (20–70 ms every few seconds at
 * 20,000 samples/s), and the acks with them. A PASSIVE checkpoint takes no lock a writer
 * needs, so here it runs while the writer commits.
 *
 * Each pass ends with an fdatasync of the database file, here. SQLite syncs it only when a
 * checkpoint reaches the end of the WAL, which with commits coming back to back this thread
 * never does: the writer's checkpoint that did then had to write back all that was copied
 * since, 10–26 ms inside a commit. After each pass the writer hears how far it got, and lets
 * the WAL start over (telemetry-writer-thread.ts).
 */
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './db.ts';

export interface CheckpointOptions {
  file: string;
  everyMs: number;
}
/**
 * `passed`: a checkpoint went through the WAL as it was when it began: `frames` in the WAL,
 * all of them now in the database file when `complete`.
 */
export type CheckpointReply =
  | { type: 'ready' }
  | { type: 'passed'; frames: number; complete: boolean }
  | { type: 'failed'; message: string };

const port = parentPort;
if (!port) throw new Error('wal-checkpoint-thread runs only as a worker thread');
const { file, everyMs } = workerData as CheckpointOptions;
const db = openDatabase(file, { integrity: 'skip' });
db.pragma('wal_autocheckpoint = 0');
const dbFd = openSync(file, 'r');
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    // `checkpointed`: the frames in the database file so far (none: nothing to write back).
    if (r && r.checkpointed > 0) fdatasyncSync(dbFd);
    if (r && r.log > 0)
      port.postMessage({ type: 'passed', frames: r.log, complete: r.checkpointed === r.log } satisfies CheckpointReply);
  } catch (e) {
    port.postMessage({ type: 'failed', message: (e as Error).message } satisfies CheckpointReply);
  }
}, everyMs);
port.on('message', (m: unknown) => {
  if (m !== 'close') return;
  clearInterval(timer);
  closeSync(dbFd);
  db.close();
  port.close();
});
port.postMessage({ type: 'ready' } satisfies CheckpointReply);
