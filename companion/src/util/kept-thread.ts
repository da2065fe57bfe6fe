/**
 * A worker thread that is started again should it end, for a thread whose work can resume
 * from nothing (the WAL checkpoints, say). The first restart comes 1 s after the end, then
 * each one twice as late, up to 30 s, until the thread reports that it works (`healthy()`):
 * one that ends at start is not started in a busy loop.
 */
import type { Worker } from 'node:worker_threads';

export interface KeptThreadEvents {
  /** A thread is running: the first (`restart` false), or one started after an end. */
  started?(worker: Worker, restart: boolean): void;
  /** A thread ended with `code`, not asked to; the next starts in `retryInMs`. */
  ended?(code: number, retryInMs: number): void;
}

export class KeptThread {
  #worker: Worker | undefined;
  #retry: NodeJS.Timeout | undefined;
  #delay: number;
  #stopped = false;

  constructor(
    private readonly start: () => Worker,
    private readonly events: KeptThreadEvents = {},
    private readonly delays = { firstMs: 1000, maxMs: 30_000 },
  ) {
    this.#delay = delays.firstMs;
    this.#spawn(false);
  }

  /** The running thread; undefined between an end and the next start. */
  get worker(): Worker | undefined {
    return this.#worker;
  }

  /** The thread did its work: should it end later, the next starts after the first delay again. */
  healthy(): void {
    this.#delay = this.delays.firstMs;
  }

  #spawn(restart: boolean): void {
    this.#retry = undefined;
    const w = this.start();
    this.#worker = w;
    w.once('exit', (code: number) => {
      if (this.#worker === w) this.#worker = undefined;
      if (this.#stopped) return;
      const delay = this.#delay;
      this.#delay = Math.min(delay * 2, this.delays.maxMs);
      this.events.ended?.(code, delay);
      // Unreferenced: a process (or thread) with nothing else to do need not stay for it.
      this.#retry = setTimeout(() => this.#spawn(true), delay).unref();
    });
    this.events.started?.(w, restart);
  }

  /**
   * Ends the thread and starts no other. `ask` tells it to finish its work and exit; without
   * it the thread is terminated, and so is one that has not exited `giveUpMs` after it was
   * asked (a shutdown must not wait on a thread that does not answer). Resolves once it has exited.
   */
  async stop(ask?: (worker: Worker) => void, giveUpMs = 5000): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    const w = this.#worker;
    if (!w) return;
    const exited = new Promise((resolve) => w.once('exit', resolve));
    if (!ask) {
      await w.terminate();
      await exited;
      return;
    }
    ask(w);
    const timer = setTimeout(() => void w.terminate(), giveUpMs);
    await exited;
    clearTimeout(timer);
  }
}
