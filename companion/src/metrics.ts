/**
 * Prometheus metrics. One Registry per gateway (not prom-client's global one), so two
 * gateways in one process (tests) do not mix their counts.
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What tells a thread's event-loop utilization: `performance` here, `worker.performance` for a worker. */
export interface LoopUtilizationSource {
  eventLoopUtilization(a?: EventLoopUtilization, b?: EventLoopUtilization): EventLoopUtilization;
}

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

  /** The threads watched, by name; a restarted thread replaces its predecessor. */
  readonly #threads = new Map<string, { source: LoopUtilizationSource; last: EventLoopUtilization }>();
  /**
   * The gateway's work runs on three threads (docs/GATEWAY.md, Capacity): this one, the TLS
   * front's and the telemetry writer's. nodejs_eventloop_lag_seconds sees only this one; a
   * thread near 1 here is the one that holds the others back.
   */
  readonly threadUtilization = new Gauge({
    name: 'kiln_thread_event_loop_utilization',
    help: "Share of the time each of the gateway's threads was busy since the last scrape (0-1), by thread: event-loop, tls-front, telemetry-writer",
    labelNames: ['thread'],
    registers: [this.registry],
    collect: () => {
      for (const [thread, t] of this.#threads) {
        const now = t.source.eventLoopUtilization();
        const d = t.source.eventLoopUtilization(now, t.last);
        t.last = now;
        // An ended thread reads zeros, its time running backwards from here: no figure until
        // its successor is watched.
        if (d.idle + d.active > 0) this.threadUtilization.set({ thread }, d.utilization);
      }
    },
  });

  /** Watches a thread's event loop from now on, under `name` (kiln_thread_event_loop_utilization). */
  watchThread(name: string, source: LoopUtilizationSource): void {
    this.#threads.set(name, { source, last: source.eventLoopUtilization() });
  }

  constructor() {
    // Includes nodejs_eventloop_lag_seconds (and its percentiles), RSS and heap.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }
}
