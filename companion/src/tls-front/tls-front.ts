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
import { listenFailure } from '../util/listen.ts';
import { startTsThread } from '../util/ts-thread.ts';
import { type Batch, BatchBuilder, Op, readBatch } from './batch.ts';
import { FrontSocket } from './front-socket.ts';
import type { FrontCommand, FrontNotice, FrontThreadData } from './tls-front-thread.ts';

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
  /** Each thread once it listens: the first, and any started after one ended (`restart`). */
  onThread?: (thread: Worker, restart: boolean) => void;
}

export class TlsFront {
  readonly #sockets = new Map<number, FrontSocket>();
  #worker!: Worker;
  #out!: BatchBuilder;
  #port = 0;
  #closing = false;
  #exited!: Promise<void>;

  private constructor(
    private readonly opts: TlsFrontOptions,
    private readonly onConnection: (socket: FrontSocket) => void,
    private readonly log: Logger,
  ) {}

  /** Resolves once the thread listens; rejects as listenOn does when it cannot. */
  static async start(
    opts: TlsFrontOptions,
    onConnection: (socket: FrontSocket) => void,
    log: Logger,
  ): Promise<TlsFront> {
    const front = new TlsFront(opts, onConnection, log);
    await front.#spawn(opts.at.port, false);
    return front;
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
    this.#out.flush();
    this.#command({ cmd: 'exit' });
    const timer = setTimeout(() => void this.#worker.terminate(), 2000);
    await this.#exited;
    clearTimeout(timer);
  }

  #command(c: FrontCommand): void {
    this.#out.flush();
    this.#worker.postMessage(c);
  }

  #spawn(port: number, restart: boolean): Promise<void> {
    const data: FrontThreadData = { tls: this.opts.tls, host: this.opts.at.host, port, backlog: this.opts.backlog };
    const worker = startTsThread(MODULE, data, { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB });
    this.#worker = worker;
    this.#out = new BatchBuilder((b, transfer) => worker.postMessage(b, transfer), queueMicrotask, {
      ops: 1024,
      bytes: 1024 * 1024,
    });
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    return new Promise((resolve, reject) => {
      let listening = false;
      worker.on('message', (m: Batch | FrontNotice) => {
        if ('ops' in m) this.#receive(m);
        else if ('listening' in m) {
          listening = true;
          this.#port = m.listening;
          this.opts.onThread?.(worker, restart);
          resolve();
        } else if ('listenError' in m) {
          const e = Object.assign(new Error(m.listenError.message), { code: m.listenError.code });
          reject(listenFailure(e, this.opts.at, this.opts.flag));
          void worker.terminate();
        }
      });
      worker.on('error', (e) => {
        if (!listening) reject(e);
        else this.log.error({ err: e }, 'the TLS front thread failed');
      });
      worker.once('exit', () => {
        for (const s of [...this.#sockets.values()]) s.gone();
        if (!listening || this.#closing) return;
        this.log.error('the TLS front thread ended; its connections are closed and a new one listens');
        this.#spawn(this.#port, true).catch((e) => this.log.error({ err: e }, 'the TLS front could not listen again'));
      });
    });
  }

  #receive(batch: Batch): void {
    readBatch(batch, (op, id, n, payload, strs) => {
      if (op === Op.OPEN) {
        const socket = new FrontSocket(
          {
            add: (o, i, k, chunks) => this.#out.add(o, i, k, chunks),
            forget: (i) => this.#sockets.delete(i),
          },
          id,
          { address: strs[0] ?? '', port: n, family: strs[1] ?? '' },
          this.opts.at.host,
          this.#port,
        );
        this.#sockets.set(id, socket);
        this.onConnection(socket);
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
