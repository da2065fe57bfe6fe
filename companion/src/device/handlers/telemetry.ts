/**
 * `telemetry` and `telemetry_batch`: queued for the next commit, acknowledged after it.
 * Per-boot sequence window: a sample more than SEQ_WINDOW behind the highest seq seen for
 * this boot is a replay of data long since stored (and perhaps already rolled up by
 * retention); it is acknowledged, so a confused device stops resending, but not stored.
 */
import type { Telemetry, TelemetryBatch, TelemetrySample } from '@kiln/protocol';
import type { HubContext } from '../context.ts';
import type { Session } from '../session.ts';

export const SEQ_WINDOW = 4096;

function admitSamples(ctx: HubContext, session: Session, samples: readonly TelemetrySample[]): void {
  // Copied only once a stale sample turns up (rare): this runs for every sample received.
  let fresh: TelemetrySample[] | undefined;
  let stale: number[] | undefined;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] as TelemetrySample;
    if (s.seq + SEQ_WINDOW < session.highestSeq) {
      fresh ??= samples.slice(0, i);
      stale ??= [];
      stale.push(s.seq);
    } else {
      fresh?.push(s);
      if (s.seq > session.highestSeq) session.highestSeq = s.seq;
    }
  }
  if (stale) {
    ctx.metrics.queueDrops.inc({ queue: 'seq-window' }, stale.length);
    session.send({ type: 'ack', acked: stale.slice(0, 256) });
  }
  const admitted = fresh ?? samples;
  if (admitted.length > 0) ctx.ingest.enqueue(session, admitted);
}

export function handleTelemetry(ctx: HubContext, session: Session, msg: Telemetry): void {
  admitSamples(ctx, session, [msg]);
}

export function handleTelemetryBatch(ctx: HubContext, session: Session, msg: TelemetryBatch): void {
  if (msg.samples.length > ctx.config.limits.maxBatch) {
    session.send({
      type: 'error',
      code: 'TOO_LARGE',
      message: `at most ${ctx.config.limits.maxBatch} samples per batch`,
      ref: msg.seq,
    });
    return;
  }
  admitSamples(ctx, session, msg.samples);
}
