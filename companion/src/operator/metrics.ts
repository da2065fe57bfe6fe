/**
 * Metrics of the operator side (browser sessions, streams), registered on the gateway's own
 * registry so /metrics shows them beside the device series.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export class OperatorMetrics {
  readonly sessions: Gauge;
  readonly streamConnections: Gauge;
  readonly streamQueued: Gauge;
  readonly streamRefused: Counter<'reason'>;
  readonly streamFrames: Counter<'type'>;
  readonly streamDropped: Counter;
  readonly streamOverflows: Counter;
  readonly streamCloses: Counter<'code'>;

  constructor(registry: Registry, sessionCount: () => number, queuedBytes: () => number) {
    const registers = [registry];
    this.sessions = new Gauge({
      name: 'kiln_operator_sessions',
      help: 'Browser sessions signed in',
      registers,
      collect() {
        this.set(sessionCount());
      },
    });
    this.streamConnections = new Gauge({
      name: 'kiln_operator_stream_connections',
      help: 'Live operator stream WebSocket connections',
      registers,
    });
    this.streamQueued = new Gauge({
      name: 'kiln_operator_stream_queued_bytes',
      help: 'Telemetry waiting in operator streams for slow readers (each bounded by limits.streamTelemetryCutoffBytes)',
      registers,
      collect() {
        this.set(queuedBytes());
      },
    });
    this.streamRefused = new Counter({
      name: 'kiln_operator_stream_refused_total',
      help: 'Operator stream handshakes refused, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.streamFrames = new Counter({
      name: 'kiln_operator_stream_frames_total',
      help: 'Frames sent on operator streams, by type',
      labelNames: ['type'],
      registers,
    });
    this.streamDropped = new Counter({
      name: 'kiln_operator_stream_dropped_total',
      help: 'Telemetry frames dropped because an operator stream could not keep up',
      registers,
    });
    this.streamOverflows = new Counter({
      name: 'kiln_operator_stream_overflows_total',
      help: 'Operator streams closed (1013) because even status/command frames could not be queued',
      registers,
    });
    this.streamCloses = new Counter({
      name: 'kiln_operator_stream_closes_total',
      help: 'Operator streams closed, by close code (dead-peer for missed pongs)',
      labelNames: ['code'],
      registers,
    });
  }
}
