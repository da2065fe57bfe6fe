// Entry of Kiln's worker threads. A worker starts with none of its parent's module hooks
// in every runner (tsx's register() in bin/kiln.js, vitest), so this plain-JS file
// registers tsx itself, then loads the TypeScript module the parent named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
