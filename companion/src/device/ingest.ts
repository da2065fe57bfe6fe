/**
 * Telemetry ingest: samples from all sessions are gathered for `flushMs` (or until
 * `maxBatchRows`) and committed in one transaction; only then is each sample acknowledged
 * to its device and published on MQTT (ack after commit, SPEC §1.3). The queue is bounded:
 * a session whose samples do not fit is closed with 1013 (overloaded, retry with backoff).
 */
import { CloseCode, LIMITS, type TelemetrySample } from '@kiln/protocol';
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Bridge } from '../mqtt/bridge.ts';
import type { SampleRow, Store } from '../store/index.ts';
import type { Session } from './session.ts';

export class Ingest {
  /** Samples waiting for the next commit, and the session each came from (same index). */
  #rows: SampleRow[] = [];
  #owners: Session[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly maxQueued: number;

  constructor(
    private readonly store: Store,
    private readonly bridge: Bridge,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly opts: { flushMs: number; maxBatchRows: number },
  ) {
    this.maxQueued = opts.maxBatchRows * 16;
  }

  get queued(): number {
    return this.#rows.length;
  }

  /** False when the ingest queue is full; the caller closes the session with 1013. */
  enqueue(session: Session, samples: readonly TelemetrySample[]): boolean {
    if (this.#rows.length + samples.length > this.maxQueued) {
      this.metrics.queueDrops.inc({ queue: 'ingest' });
      session.close(CloseCode.TRY_AGAIN_LATER, 'gateway overloaded');
      return false;
    }
    const bootId = session.bootId as string;
    for (const s of samples) {
      this.#rows.push({ deviceId: session.deviceId, bootId, seq: s.seq, ts: s.ts, metrics: s.metrics });
      this.#owners.push(session);
    }
    if (this.#rows.length >= this.opts.maxBatchRows) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.opts.flushMs);
    return true;
  }

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const rows = this.#rows;
    const owners = this.#owners;
    if (rows.length === 0) return;
    this.#rows = [];
    this.#owners = [];
    const stop = this.metrics.dbWrite.startTimer();
    let fresh: boolean[];
    try {
      fresh = this.store.telemetry.insertMany(rows);
    } catch (e) {
      // Nothing is acknowledged, so the devices resend; the sessions end so they do so soon.
      this.log.error({ err: e, rows: rows.length }, 'telemetry commit failed');
      for (const s of new Set(owners)) s.close(CloseCode.INTERNAL_ERROR, 'storage failure');
      return;
    } finally {
      stop();
    }
    const bySession = new Map<Session, number[]>();
    let stored = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as SampleRow;
      const session = owners[i] as Session;
      const seqs = bySession.get(session);
      if (seqs) seqs.push(row.seq);
      else bySession.set(session, [row.seq]);
      if (fresh[i]) {
        stored++;
        this.bridge.publishTelemetry(row);
      }
    }
    this.metrics.samplesStored.inc(stored);
    if (rows.length > stored) this.metrics.samplesDuplicate.inc(rows.length - stored);
    const most = LIMITS.acksPerMessage;
    for (const [session, seqs] of bySession) {
      // Duplicates are acknowledged too: they are stored, and the device must stop resending.
      if (seqs.length <= most) session.send({ type: 'ack', acked: seqs });
      else
        for (let i = 0; i < seqs.length && !session.closed; i += most)
          session.send({ type: 'ack', acked: seqs.slice(i, i + most) });
    }
  }

  close(): void {
    this.flush();
  }
}
