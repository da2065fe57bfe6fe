/**
 * Telemetry ingest: samples from all sessions are gathered for `flushMs` (or until
 * `maxBatchRows`) and committed in one transaction on the telemetry writer's thread; only
 * then is each sample acknowledged to its device and published on MQTT (ack after commit,
 * SPEC §1.3). One commit is in flight at a time: what arrives meanwhile goes into the next
 * one as soon as it returns (group commit), so a slower disk means larger commits, not
 * more of them. The next one starts before the returned one's acks and publishes go out, so
 * the writer's thread commits while the event loop acknowledges. The queue is bounded,
 * committing rows included: a session whose samples do not fit is closed with 1013
 * (overloaded, retry with backoff).
 */
import { CloseCode, LIMITS, type TelemetrySample } from '@kiln/protocol';
import type { Logger } from '../log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Bridge } from '../mqtt/bridge.ts';
import { emptyColumns, pushSample, type SampleColumns, takeColumns } from '../store/telemetry.ts';
import type { TelemetryWriter } from '../store/telemetry-writer.ts';
import type { Session } from './session.ts';

export class Ingest {
  /** Samples waiting for the next commit, and the session each came from (same index). */
  #rows: SampleColumns = emptyColumns();
  #owners: Session[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** The commit in flight, and how many rows it holds. */
  #committing: Promise<void> | undefined;
  #committingRows = 0;
  readonly maxQueued: number;

  constructor(
    private readonly writer: TelemetryWriter,
    private readonly bridge: Bridge,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
    private readonly opts: { flushMs: number; maxBatchRows: number },
  ) {
    this.maxQueued = opts.maxBatchRows * 16;
  }

  /** Samples received and not yet acknowledged (waiting, or in the commit in flight). */
  get queued(): number {
    return this.#owners.length + this.#committingRows;
  }

  /** False when the ingest queue is full; the session is then closed with 1013. */
  enqueue(session: Session, samples: readonly TelemetrySample[]): boolean {
    if (this.queued + samples.length > this.maxQueued) {
      this.metrics.queueDrops.inc({ queue: 'ingest' });
      session.close(CloseCode.TRY_AGAIN_LATER, 'gateway overloaded');
      return false;
    }
    const bootId = session.bootId as string;
    for (const s of samples) {
      pushSample(this.#rows, { deviceId: session.deviceId, bootId, seq: s.seq, ts: s.ts, metrics: s.metrics });
      this.#owners.push(session);
    }
    if (this.#committing) return true; // taken when the commit in flight returns
    if (this.#owners.length >= this.opts.maxBatchRows) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.opts.flushMs);
    return true;
  }

  /** Starts a commit of what is waiting, unless one is in flight (its return starts the next). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#committing || this.#owners.length === 0) return;
    let rows = this.#rows;
    let owners = this.#owners;
    if (owners.length > this.opts.maxBatchRows) {
      rows = takeColumns(this.#rows, this.opts.maxBatchRows);
      owners = this.#owners.splice(0, this.opts.maxBatchRows);
    } else {
      this.#rows = emptyColumns();
      this.#owners = [];
    }
    this.#committingRows = owners.length;
    this.#committing = this.#commit(rows, owners);
  }

  /** Resolves once every sample received before the call is committed and acknowledged. */
  async drain(): Promise<void> {
    // Commits are first in, first out: what waits now is in at most this many more commits,
    // so a drain under continuing load ends too.
    let commits = Math.ceil(this.#owners.length / this.opts.maxBatchRows) + 1;
    while (commits-- > 0 && this.queued > 0) {
      this.flush();
      await this.#committing;
    }
  }

  async #commit(rows: SampleColumns, owners: Session[]): Promise<void> {
    const stop = this.metrics.dbWrite.startTimer();
    let fresh: Uint8Array;
    try {
      fresh = await this.writer.write(rows);
    } catch (e) {
      // Nothing is acknowledged, so the devices resend; the sessions end so they do so soon.
      this.log.error({ err: e, rows: owners.length }, 'telemetry commit failed');
      for (const s of new Set(owners)) s.close(CloseCode.INTERNAL_ERROR, 'storage failure');
      return;
    } finally {
      stop();
      this.#committing = undefined;
      this.#committingRows = 0;
      // Whatever arrived during the commit has waited long enough: it goes to the writer now,
      // and is committed while this commit's samples are acknowledged and published below.
      if (this.#owners.length > 0) this.flush();
    }
    const bySession = new Map<Session, number[]>();
    let stored = 0;
    const { deviceIds, bootIds, seqs, ts, metricsJson } = rows;
    for (let i = 0; i < owners.length; i++) {
      const session = owners[i] as Session;
      const seq = seqs[i] as number;
      const acks = bySession.get(session);
      if (acks) acks.push(seq);
      else bySession.set(session, [seq]);
      if (fresh[i] === 1) {
        stored++;
        this.bridge.publishTelemetryJson(
          deviceIds[i] as string,
          bootIds[i] as string,
          seq,
          ts[i] as number,
          metricsJson[i] as string,
        );
      }
    }
    this.metrics.samplesStored.inc(stored);
    if (owners.length > stored) this.metrics.samplesDuplicate.inc(owners.length - stored);
    const most = LIMITS.acksPerMessage;
    for (const [session, seqs] of bySession) {
      // Duplicates are acknowledged too: they are stored, and the device must stop resending.
      if (seqs.length <= most) session.sendAck(seqs);
      else for (let i = 0; i < seqs.length && !session.closed; i += most) session.sendAck(seqs.slice(i, i + most));
    }
  }

  async close(): Promise<void> {
    await this.drain();
  }
}
