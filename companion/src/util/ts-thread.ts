/** Starts a worker thread on a TypeScript module, through ts-worker.js (which says why). */
import { type ResourceLimits, Worker } from 'node:worker_threads';

const ENTRY = new URL('./ts-worker.js', import.meta.url);

/**
 * `module`: the thread's file (`new URL('./x-thread.ts', import.meta.url)`); `data`: the rest
 * of its workerData; `resourceLimits`: its heap's, where the process-wide V8 flags do not fit.
 */
export function startTsThread(module: URL, data: object, resourceLimits?: ResourceLimits): Worker {
  return new Worker(ENTRY, {
    workerData: { ...data, module: module.href },
    ...(resourceLimits ? { resourceLimits } : {}),
  });
}
