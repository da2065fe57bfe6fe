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

interface Pending {
  session: Session;
  row: SampleRow;
}

export class Ingest {
  #pending: Pending[] = [];
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
    return this.#pending.length;
  }

  /** False when the ingest queue is full; the caller closes the session with 1013. */
  enqueue(session: Session, samples: readonly TelemetrySample[]): boolean {
    if (this.#pending.length + samples.length > this.maxQueued) {
      this.metrics.queueDrops.inc({ queue: 'ingest' });
      session.close(CloseCode.TRY_AGAIN_LATER, 'gateway overloaded');
      return false;
    }
    const bootId = session.bootId as string;
    for (const s of samples) {
      this.#pending.push({
        session,
        row: { deviceId: session.deviceId, bootId, seq: s.seq, ts: s.ts, metrics: s.metrics },
      });
    }
    if (this.#pending.length >= this.opts.maxBatchRows) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.opts.flushMs);
    return true;
  }

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const stop = this.metrics.dbWrite.startTimer();
    let fresh: boolean[];
    try {
      fresh = this.store.telemetry.insertMany(batch.map((p) => p.row));
    } catch (e) {
      // Nothing is acknowledged, so the devices resend; the sessions end so they do so soon.
      this.log.error({ err: e, rows: batch.length }, 'telemetry commit failed');
      for (const s of new Set(batch.map((p) => p.session))) s.close(CloseCode.INTERNAL_ERROR, 'storage failure');
      return;
    } finally {
      stop();
    }
    const bySession = new Map<Session, number[]>();
    let stored = 0;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as Pending;
      let seqs = bySession.get(p.session);
      if (!seqs) {
        seqs = [];
        bySession.set(p.session, seqs);
      }
      seqs.push(p.row.seq);
      if (fresh[i]) {
        stored++;
        this.bridge.publishTelemetry(p.row);
      }
    }
    this.metrics.samplesStored.inc(stored);
    if (batch.length > stored) this.metrics.samplesDuplicate.inc(batch.length - stored);
    for (const [session, seqs] of bySession) {
      // Duplicates are acknowledged too: they are stored, and the device must stop resending.
      for (let i = 0; i < seqs.length && !session.closed; i += LIMITS.acksPerMessage) {
        session.send({ type: 'ack', acked: seqs.slice(i, i + LIMITS.acksPerMessage) });
      }
    }
  }

  close(): void {
    this.flush();
  }
}
