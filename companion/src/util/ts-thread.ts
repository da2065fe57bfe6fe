/** Starts a worker thread on a TypeScript module, through ts-worker.js (which says why). */
import { Worker } from 'node:worker_threads';

const ENTRY = new URL('./ts-worker.js', import.meta.url);

/** `module`: the thread's file (`new URL('./x-thread.ts', import.meta.url)`); `data`: the rest of its workerData. */
export function startTsThread(module: URL, data: object): Worker {
  return new Worker(ENTRY, { workerData: { ...data, module: module.href } });
}
