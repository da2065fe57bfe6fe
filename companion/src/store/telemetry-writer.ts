/**
 * Telemetry commits on a worker thread (telemetry-writer-thread.ts). With synchronous=FULL
 * every commit waits for fsync; on the event loop that serves every device that wait, plus
 * the inserts, was a fifth of the gateway's time at 20,000 samples/s, and every ack, MQTT
 * publish and read waited behind it. The thread has its own connection to the same WAL
 * database (SQLite serialises the writers; the main connection writes rarely and its
 * readers never wait). Each write answers, per row, whether it was new, only after its
 * transaction has committed, so "ack after commit" (SPEC §1.3) holds unchanged. Device-token
 * claims (token-claims.ts) go through the same thread, for the same reason: a write on the
 * event loop's connection would wait there for the lock while a commit holds it.
 */
import type { Worker } from 'node:worker_threads';
import { StoreError } from '../errors.ts';
import { startTsThread } from '../util/ts-thread.ts';
import type { RetentionCount } from './retention.ts';
import type { SampleColumns } from './telemetry.ts';
import type { WriterOptions, WriterReply, WriterRequest } from './telemetry-writer-thread.ts';

/** What the thread reports besides commits (the gateway logs it). */
export interface WriterEvents {
  retention?(count: RetentionCount): void;
  retentionFailed?(message: string): void;
  /** An RSSI flush, a merge or a checkpoint failed; the thread tries again on its next tick. */
  maintenanceFailed?(message: string): void;
  /** The thread ended (it is never expected to): its commits in flight fail, and the next write starts another. */
  stopped?(error: StoreError): void;
  /** A thread is ready: the first, or one started after `stopped` (`restart` true). */
  started?(thread: Worker, restart: boolean): void;
}

const MODULE = new URL('./telemetry-writer-thread.ts', import.meta.url);

type Pending = { resolve: (answer: never) => void; reject: (e: Error) => void };

export class TelemetryWriter {
  #worker: Worker | undefined;
  #starting: Promise<Worker> | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;
  #threads = 0;

  private constructor(
    private readonly opts: WriterOptions,
    private readonly events: WriterEvents,
  ) {}

  /** Starts the thread and waits until its connection is open, so a bad file fails start-up. */
  static async start(
    file: string,
    opts: Omit<WriterOptions, 'file'> = {},
    events: WriterEvents = {},
  ): Promise<TelemetryWriter> {
    const w = new TelemetryWriter({ ...opts, file }, events);
    await w.#spawn();
    return w;
  }

  /** Requests (commits, token claims) waiting for the thread's answer. */
  get inflight(): number {
    return this.#pending.size;
  }

  /** One transaction; resolves, per row, 1 if it was new and 0 for a duplicate, once committed. */
  async write(samples: SampleColumns, now = Date.now()): Promise<Uint8Array> {
    return this.#ask<Uint8Array>((id) => ({ type: 'write', id, samples, now }));
  }

  /**
   * Records a device token's first use until `expiresAt` (token-claims.ts): true the first
   * time, false for a replay, whichever instance sharing the database saw it first.
   */
  async claimToken(deviceId: string, jti: string, expiresAt: number, now = Date.now()): Promise<boolean> {
    return this.#ask<boolean>((id) => ({ type: 'claim', id, deviceId, jti, expiresAt, now }));
  }

  async #ask<T>(request: (id: number) => WriterRequest): Promise<T> {
    if (this.#closed) throw new StoreError('STORE_WRITE', 'the telemetry writer is closed');
    // A thread that died (it is never expected to) is replaced on the next request.
    const worker = this.#worker ?? (await this.#spawn());
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (answer: never) => void, reject });
      worker.postMessage(request(id));
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#worker ?? (await this.#starting?.catch(() => undefined));
    if (!worker) return;
    // Queued writes are answered first: the thread handles messages in order.
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage({ type: 'close' } satisfies WriterRequest);
    });
  }

  #spawn(): Promise<Worker> {
    this.#starting ??= new Promise<Worker>((resolve, reject) => {
      const worker = startTsThread(MODULE, this.opts);
      let ready = false;
      worker.on('message', (m: WriterReply) => {
        if (m.type === 'ready') {
          ready = true;
          this.#worker = worker;
          resolve(worker);
          this.events.started?.(worker, ++this.#threads > 1);
        } else if (m.type === 'written' || m.type === 'claimed') {
          const p = this.#pending.get(m.id);
          this.#pending.delete(m.id);
          p?.resolve(m.fresh as never);
        } else if (m.type === 'failed') {
          const p = this.#pending.get(m.id);
          this.#pending.delete(m.id);
          p?.reject(
            new StoreError(
              'STORE_WRITE',
              `${m.what === 'claim' ? 'device token claim' : 'telemetry commit'} failed: ${m.message}${m.code ? ` (${m.code})` : ''}`,
            ),
          );
        } else if (m.type === 'retention') {
          const { type: _, ...count } = m;
          this.events.retention?.(count);
        } else if (m.type === 'retention-failed') {
          this.events.retentionFailed?.(m.message);
        } else if (m.type === 'maintenance-failed') {
          this.events.maintenanceFailed?.(m.message);
        } else if (m.type === 'closed') {
          void worker.terminate();
        }
      });
      let failure: Error | undefined;
      worker.on('error', (e) => {
        failure = e;
      });
      worker.on('exit', (code) => {
        this.#worker = undefined;
        this.#starting = undefined;
        const err = new StoreError(
          'STORE_WRITE',
          `the telemetry writer thread ${ready ? 'stopped' : 'did not start'} (exit ${code}${failure ? `: ${failure.message}` : ''})`,
          'check the data directory (disk full, permissions) and the gateway log',
        );
        if (!ready) reject(err);
        else if (!this.#closed) this.events.stopped?.(err);
        // Nothing in flight is acknowledged: its devices resend, and the next write starts a new thread.
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
      });
    });
    return this.#starting;
  }
}
