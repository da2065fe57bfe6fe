/**
 * The TLS front, event-loop side: starts the thread that listens and terminates TLS
 * (tls-front-thread.ts), and hands each connection to `onConnection` as a FrontSocket, which
 * the gateway gives its plain HTTP server as it would a socket. If the thread ends while the
 * gateway runs (it is never expected to), its connections are gone: they are closed here
 * and a new thread listens on the same port.
 */
import type { TlsOptions } from 'node:tls';
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../log.ts';
import { listenFailure, SPARE_DESCRIPTORS } from '../util/listen.ts';
import { startTsThread } from '../util/ts-thread.ts';
import { type Batch, BatchBuilder, Op, readBatch } from './batch.ts';
import { type FrontLink, FrontSocket } from './front-socket.ts';
import type { FrontCommand, FrontNotice } from './tls-front-thread.ts';

const MODULE = new URL('./tls-front-thread.ts', import.meta.url);
/**
 * The thread's young generation, in MiB. The gateway's V8 flags give every isolate 64 MiB
 * semi-spaces, for the event loop's sake (util/relaunch.ts); the thread keeps little from
 * one read to the next, and with those its heap grew to 76 MiB under overload.
 */
const THREAD_YOUNG_GENERATION_MB = 16;

export interface TlsFrontOptions {
  tls: TlsOptions;
  at: { host: string; port: number };
  /** The flag that sets `at`, for the error when it cannot be listened on. */
  flag: string;
  backlog: number;
}

/** Each thread once it listens: the first, and any started after one ended (`restart`). */
export type OnThread = (thread: Worker, restart: boolean) => void;

export class TlsFront {
  readonly #sockets = new Map<number, FrontSocket>();
  #worker!: Worker;
  #out!: BatchBuilder;
  #exited!: Promise<void>;
  #opts: TlsFrontOptions | undefined;
  #onConnection: (socket: FrontSocket) => void = (s) => s.destroy();
  #pending: { resolve(): void; reject(e: Error): void } | undefined;
  /** Why the thread cannot listen (it failed, or ended, before it did). */
  #failed: Error | undefined;
  #port = 0;
  /** It has listened once: from then on a lost listener is got back (#recover). */
  #serving = false;
  #recovering = false;
  #closing = false;
  /** What every FrontSocket calls back into; `#out` is the current thread's. */
  readonly #link: FrontLink = {
    add: (op, id, n, chunks) => this.#out.add(op, id, n, chunks),
    forget: (id) => this.#sockets.delete(id),
  };

  private constructor(
    private readonly log: Logger,
    private readonly onThread?: OnThread,
  ) {}

  /**
   * Starts the thread now, to listen later: loading its code takes 0.4–1.4 s, which then
   * passes while the gateway opens its store and starts its other threads.
   */
  static prepare(log: Logger, onThread?: OnThread): TlsFront {
    const front = new TlsFront(log, onThread);
    front.#spawn();
    return front;
  }

  /** prepare() and listen() at once. */
  static async start(
    opts: TlsFrontOptions,
    onConnection: (socket: FrontSocket) => void,
    log: Logger,
    onThread?: OnThread,
  ): Promise<TlsFront> {
    const front = TlsFront.prepare(log, onThread);
    try {
      await front.listen(opts, onConnection);
    } catch (e) {
      await front.close();
      throw e;
    }
    return front;
  }

  /** Resolves once the thread listens; rejects as listenOn does when it cannot. */
  listen(opts: TlsFrontOptions, onConnection: (socket: FrontSocket) => void): Promise<void> {
    this.#opts = opts;
    this.#onConnection = onConnection;
    return this.#listenAt(opts.at.port);
  }

  /** The port listened on (the one the system chose, for port 0). */
  get port(): number {
    return this.#port;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** New connections are refused from now on; those open stay. */
  stopAccepting(): void {
    this.#closing = true;
    this.#command({ cmd: 'stop-accepting' });
  }

  /** Closes every connection and ends the thread. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const s of [...this.#sockets.values()]) s.destroy();
    this.#command({ cmd: 'exit' });
    const timer = setTimeout(() => void this.#worker.terminate(), 2000);
    await this.#exited;
    clearTimeout(timer);
  }

  #command(c: FrontCommand): void {
    this.#out.flush();
    this.#worker.postMessage(c);
  }

  #listenAt(port: number): Promise<void> {
    const opts = this.#opts as TlsFrontOptions;
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#command({ cmd: 'listen', tls: opts.tls, host: opts.at.host, port, backlog: opts.backlog });
    });
  }

  #settle(e?: Error): void {
    const p = this.#pending;
    this.#pending = undefined;
    if (e) p?.reject(e);
    else p?.resolve();
  }

  #spawn(restart = false): void {
    const worker = startTsThread(MODULE, {}, { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB });
    this.#worker = worker;
    this.#failed = undefined;
    this.#out = new BatchBuilder((b, transfer) => worker.postMessage(b, transfer), queueMicrotask, {
      ops: 1024,
      bytes: 1024 * 1024,
    });
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: Batch | FrontNotice) => {
      if ('ops' in m) this.#receive(m);
      else if ('listening' in m) {
        this.#serving = true;
        this.#port = m.listening;
        this.onThread?.(worker, restart);
        this.#settle();
      } else if ('acceptError' in m) {
        this.log.warn(m.acceptError, 'the TLS front could not accept connections');
      } else if ('openFilesFull' in m) {
        this.log.warn(
          m.openFilesFull,
          `open files at the limit (${m.openFilesFull.limit}, ${m.openFilesFull.connections} of them connections on the device port): new connections are closed as they arrive; raise RLIMIT_NOFILE above limits.maxConnections + ${SPARE_DESCRIPTORS} (ulimit -n, or LimitNOFILE= in a systemd unit)`,
        );
      } else {
        const opts = this.#opts as TlsFrontOptions;
        const e = Object.assign(new Error(m.listenError.message), { code: m.listenError.code });
        this.#settle(listenFailure(e, opts.at, opts.flag));
      }
    });
    worker.on('error', (e) => {
      if (this.#serving) this.log.error({ err: e }, 'the TLS front thread failed');
      this.#failed = e;
      this.#settle(e);
    });
    worker.once('exit', () => {
      for (const s of [...this.#sockets.values()]) s.gone();
      // A listen asked of it later fails at once, not never.
      this.#failed ??= new Error('the TLS front thread ended');
      this.#settle(this.#failed);
      if (!this.#serving || this.#closing || this.#recovering) return;
      this.log.error('the TLS front thread ended; its connections are closed and a new one listens');
      this.#recover(0);
    });
  }

  /**
   * Listens again on the same port, with a new thread if the last one ended; on failure (the
   * port taken meanwhile, a thread that cannot start) tries again, 1 s later, then up to 30 s
   * apart, for as long as the gateway runs.
   */
  #recover(delayMs: number): void {
    this.#recovering = true;
    setTimeout(() => {
      if (this.#closing) return;
      if (this.#failed) this.#spawn(true);
      this.#listenAt(this.#port).then(
        () => {
          this.#recovering = false;
          this.log.warn({ port: this.#port }, 'the TLS front listens again');
        },
        (e) => {
          const next = Math.min(Math.max(delayMs * 2, 1000), 30_000);
          this.log.error({ err: e, retryInMs: next }, 'the TLS front could not listen again');
          this.#recover(next);
        },
      );
    }, delayMs).unref();
  }

  #receive(batch: Batch): void {
    readBatch(batch, (op, id, n, payload, strs) => {
      if (op === Op.OPEN) {
        const socket = new FrontSocket(
          this.#link,
          id,
          { address: strs[0] ?? '', port: n, family: strs[1] ?? '' },
          (this.#opts as TlsFrontOptions).at.host,
          this.#port,
        );
        this.#sockets.set(id, socket);
        this.#onConnection(socket);
        return;
      }
      const s = this.#sockets.get(id);
      if (!s) return;
      if (op === Op.DATA && payload) s.received(payload);
      else if (op === Op.BLOCKED) s.blocked(true);
      else if (op === Op.DRAINED) s.blocked(false);
      else if (op === Op.END) s.peerEnded();
      else if (op === Op.CLOSE) s.gone();
    });
    this.#out.add(Op.TAKEN, 0, 1);
  }
}
