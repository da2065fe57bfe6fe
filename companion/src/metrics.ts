/**
 * Prometheus metrics. One Registry per gateway (not prom-client's global one), so two
 * gateways in one process (tests) do not mix their counts.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** A counter's child for one label value, looked up once: `inc({type})` hashes the labels on every call. */
function perLabel(counter: Counter<string>, label: string): (value: string) => void {
  const children = new Map<string, { inc(): void }>();
  return (value) => {
    let child = children.get(value);
    if (!child) {
      child = counter.labels({ [label]: value });
      children.set(value, child);
    }
    child.inc();
  };
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({
    name: 'kiln_device_connections',
    help: 'Live device WebSocket sessions',
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'kiln_device_auth_failures_total',
    help: 'Device handshakes refused, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly messagesIn = new Counter({
    name: 'kiln_messages_in_total',
    help: 'kiln.v1 messages received',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly messagesOut = new Counter({
    name: 'kiln_messages_out_total',
    help: 'kiln.v1 messages sent',
    labelNames: ['type'],
    registers: [this.registry],
  });
  /** Counts one message in (or out) by type; the types are the protocol's, a bounded set. */
  readonly messageIn = perLabel(this.messagesIn, 'type');
  readonly messageOut = perLabel(this.messagesOut, 'type');
  readonly queueDrops = new Counter({
    name: 'kiln_queue_drops_total',
    help: 'Messages dropped or sessions closed because a bounded queue was full, by queue',
    labelNames: ['queue'],
    registers: [this.registry],
  });
  readonly closes = new Counter({
    name: 'kiln_session_closes_total',
    help: 'Sessions closed, by close code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly samplesStored = new Counter({
    name: 'kiln_telemetry_samples_stored_total',
    help: 'New telemetry samples committed',
    registers: [this.registry],
  });
  readonly samplesDuplicate = new Counter({
    name: 'kiln_telemetry_samples_duplicate_total',
    help: 'Resent samples already stored',
    registers: [this.registry],
  });
  readonly dbWrite = new Histogram({
    name: 'kiln_db_write_seconds',
    help: 'Telemetry batch transaction latency',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  /** Set once: the integrity check this start ran. A `full` one means the last run did not stop cleanly. */
  readonly startCheck = new Gauge({
    name: 'kiln_db_start_check_seconds',
    help: 'The integrity check at start: full (after an unclean stop, a copy or a restore) or tables, and how long it took',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly mqttPublish = new Histogram({
    name: 'kiln_mqtt_publish_seconds',
    help: 'MQTT publish latency (until the broker accepted it)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  /** Pre-bound (as perLabel's): observed once per telemetry sample, and observe() makes a closure per call. */
  readonly observeMqttPublish = this.mqttPublish.labels().observe;
  readonly restRequests = new Counter({
    name: 'kiln_rest_requests_total',
    help: 'REST requests, by status',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'kiln_rate_limited_total',
    help: 'Requests refused by a rate limit, by limit',
    labelNames: ['limit'],
    registers: [this.registry],
  });

  constructor() {
    // Includes nodejs_eventloop_lag_seconds (and its percentiles), RSS and heap.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }
}
