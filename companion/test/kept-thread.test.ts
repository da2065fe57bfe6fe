/**
 * KeptThread (util/kept-thread.ts), on real worker threads: one that ends is started again,
 * later each time until it says it works, and one that is stopped stays stopped. The WAL
 * checkpoint thread relies on it (store/telemetry-writer-thread.ts).
 */
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { KeptThread } from '../src/util/kept-thread.ts';

const kept: KeptThread[] = [];
afterEach(async () => {
  await Promise.all(kept.splice(0).map((k) => k.stop()));
});

/** A thread that ends with `code` at once, or, when `code` is undefined, runs until told 'close'. */
const thread = (code?: number) =>
  new Worker(
    code === undefined
      ? `const { parentPort } = require('node:worker_threads');
         parentPort.on('message', (m) => { if (m === 'close') { parentPort.postMessage('closing'); parentPort.close(); } });`
      : `process.exit(${code})`,
    { eval: true },
  );

describe('KeptThread', () => {
  it('starts a thread that ended again, each time later up to the limit, and sooner once it works', async () => {
    const ends: { code: number; retryInMs: number; at: number }[] = [];
    const starts: boolean[] = [];
    let codes = [3, 4, 5, 6];
    const k = new KeptThread(
      () => thread(codes.shift()),
      {
        started: (_w, restart) => starts.push(restart),
        ended: (code, retryInMs) => ends.push({ code, retryInMs, at: Date.now() }),
      },
      { firstMs: 50, maxMs: 150 },
    );
    kept.push(k);
    await expect.poll(() => ends.length, { timeout: 5000 }).toBe(4);
    expect(ends.map((e) => [e.code, e.retryInMs])).toEqual([
      [3, 50],
      [4, 100],
      [5, 150],
      [6, 150],
    ]);
    // Each end waited its delay before the next thread began (and ended at once).
    for (let i = 1; i < ends.length; i++) {
      expect((ends[i] as { at: number }).at - (ends[i - 1] as { at: number }).at).toBeGreaterThanOrEqual(
        (ends[i - 1] as { retryInMs: number }).retryInMs - 5,
      );
    }
    // The fifth runs; it works, so its end is retried after the first delay again.
    await expect.poll(() => starts.length, { timeout: 5000 }).toBe(5);
    expect(starts).toEqual([false, true, true, true, true]);
    k.healthy();
    codes = [7];
    await k.worker?.terminate();
    await expect.poll(() => ends.length, { timeout: 5000 }).toBe(5);
    // (Its exit code is 1, or 0 when it was terminated before its script began.)
    expect(ends[4]?.retryInMs).toBe(50);
    await expect.poll(() => ends.length, { timeout: 5000 }).toBe(6);
    expect(ends[5]).toMatchObject({ code: 7, retryInMs: 100 });
  });

  it('stops: the thread is asked to finish, and none starts after it', async () => {
    const ends: number[] = [];
    let told = '';
    const k = new KeptThread(() => thread(), { ended: (code) => ends.push(code) }, { firstMs: 10, maxMs: 10 });
    const w = k.worker as Worker;
    w.on('message', (m: string) => {
      told = m;
    });
    await k.stop((t) => t.postMessage('close'));
    expect(told).toBe('closing');
    expect(k.worker).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    expect(ends).toEqual([]);
    expect(k.worker).toBeUndefined();
  });

  it('stops a thread that does not answer when asked: it is ended after giveUpMs', async () => {
    // Busy for good: it never reads its messages.
    const k = new KeptThread(() => new Worker('for (;;) {}', { eval: true }), {}, { firstMs: 10, maxMs: 10 });
    const w = k.worker as Worker;
    await new Promise((r) => w.once('online', r));
    const started = Date.now();
    let exitCode: number | undefined;
    w.once('exit', (code) => {
      exitCode = code;
    });
    await k.stop((t) => t.postMessage('close'), 200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(exitCode).toBe(1);
    expect(k.worker).toBeUndefined();
  });

  it('stops between an end and the next start: none starts', async () => {
    const starts: boolean[] = [];
    const k = new KeptThread(
      () => thread(2),
      { started: (_w, restart) => starts.push(restart) },
      { firstMs: 100, maxMs: 100 },
    );
    await expect.poll(() => k.worker, { timeout: 5000 }).toBeUndefined();
    await k.stop();
    await new Promise((r) => setTimeout(r, 200));
    expect(starts).toEqual([false]);
  });
});
