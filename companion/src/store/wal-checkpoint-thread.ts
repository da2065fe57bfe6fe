/**
 * WAL checkpoints on a connection of their own, beside the telemetry writer's commits
 * instead of inside them. A checkpoint copies the WAL's pages into the database file and
 * fsyncs it; on the writer's thread that held every commit behind it (20–70 ms every few
 * seconds at 20,000 samples/s), and the acks with them. A PASSIVE checkpoint takes no lock
 * a writer needs, so here it runs while the writer commits. The writer keeps SQLite's own
 * checkpoint as a backstop at a larger WAL (telemetry-writer-thread.ts): by then most
 * frames are copied, and that last checkpoint lets the WAL start over from its beginning.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './db.ts';

export interface CheckpointOptions {
  file: string;
  everyMs: number;
}
export type CheckpointReply = { type: 'ready' } | { type: 'failed'; message: string };

const port = parentPort;
if (!port) throw new Error('wal-checkpoint-thread runs only as a worker thread');
const { file, everyMs } = workerData as CheckpointOptions;
const db = openDatabase(file, { integrity: 'skip' });
db.pragma('wal_autocheckpoint = 0');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (e) {
    port.postMessage({ type: 'failed', message: (e as Error).message } satisfies CheckpointReply);
  }
}, everyMs);
port.on('message', (m: unknown) => {
  if (m !== 'close') return;
  clearInterval(timer);
  db.close();
  port.close();
});
port.postMessage({ type: 'ready' } satisfies CheckpointReply);
