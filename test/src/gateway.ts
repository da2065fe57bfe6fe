/**
 * The gateway a bench talks to, with the helpers suites need: the REST view of a
 * device (`waitForOnline`, `revoke`, stored telemetry, metrics), telemetry and device
 * status as MQTT subscribers see them (`waitForTelemetry`, `waitForStatus`), commands
 * over MQTT (`sendCommand`) and, for the embedded gateway, `restart()`. Embedded by
 * default: an in-process gateway on 127.0.0.1 (port 0), development TLS, embedded MQTT
 * broker, a throwaway data dir.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Gateway, type GatewayConfig, resolveConfig, startGateway } from '@kiln/companion';
import { ExitCode, KilnError, topics, UsageError } from '@kiln/protocol';
import { GatewayApi, restBaseOf } from '@kiln/provisioning';
import { connectAsync, type MqttClient } from 'mqtt';
import type { GatewaySpec } from './bench-file.ts';
import { type DeviceView, GatewayRest, type StoredSample } from './gateway-rest.ts';

export interface TelemetryMessage {
  deviceId: string;
  bootId: string;
  seq: number;
  ts: number;
  metrics: Record<string, unknown>;
  [key: string]: unknown;
}

export interface CommandResult {
  id: string;
  status: string;
  result?: unknown;
  error?: string;
  [key: string]: unknown;
}

/** The retained `kiln/v1/<id>/status` message. */
export interface DeviceStatus {
  state: 'online' | 'offline' | 'revoked';
  since: number;
  lastSeen: number | null;
  instance: string;
}

type Listener = (topic: string, body: Record<string, unknown>) => void;

/** What the harness subscribes to, once for all devices (waiters filter). */
const TOPICS = ['kiln/v1/+/telemetry', 'kiln/v1/+/status', 'kiln/v1/+/cmd/+/result'];

/** The in-process gateway and what restarting it needs. */
interface Embedded {
  gateway: Gateway;
  dir: string;
  log: ReturnType<typeof createLogger>;
}

function embeddedConfig(dir: string, port: number, mqttPort: number): GatewayConfig {
  return resolveConfig({
    dataDir: dir,
    listen: { host: '127.0.0.1', port },
    mqtt: { listen: { host: '127.0.0.1', port: mqttPort } },
    instanceId: `hil-${process.pid}`,
    limits: {
      // Telemetry every second, so suites see several samples quickly.
      telemetrySec: 1,
      // Every DUT's provisioning and every helper polls from 127.0.0.1: the production
      // per-IP limits (600 and 300 a minute) would throttle a 4-DUT bench.
      restRequestsPerMinPerIp: 60_000,
      restRequestsPerMinPerRoute: 60_000,
    },
  });
}

export class BenchGateway {
  readonly rest: GatewayApi;
  /** The operator REST calls (revoke, list, stored telemetry, /metrics). */
  readonly admin: GatewayRest;
  private mqtt: Promise<MqttClient> | undefined;
  private readonly listeners = new Set<Listener>();
  /** Every telemetry message seen on MQTT since the first subscription, per device. */
  readonly telemetry = new Map<string, TelemetryMessage[]>();
  /** The newest status seen on MQTT (by `since`), per device; retained ones arrive on subscribing. */
  readonly statuses = new Map<string, DeviceStatus>();

  private constructor(
    /** wss://…/v1/device, what devices are given. */
    readonly deviceUrl: string,
    readonly caPem: string | undefined,
    /** An API key that may enrol, read and operate (admin on the embedded gateway). */
    readonly apiKey: string,
    readonly mqttUrl: string | undefined,
    private inProcess: Embedded | undefined,
  ) {
    this.rest = new GatewayApi(restBaseOf(deviceUrl), apiKey, caPem);
    this.admin = new GatewayRest(restBaseOf(deviceUrl), apiKey, caPem);
  }

  /** The in-process gateway, when embedded (a new object after each restart). */
  get embedded(): Gateway | undefined {
    return this.inProcess?.gateway;
  }

  static async start(spec: GatewaySpec, env: NodeJS.ProcessEnv = process.env): Promise<BenchGateway> {
    if (spec.kind === 'external') {
      const key = env[spec.apiKeyEnv];
      if (!key) {
        throw new UsageError('GATEWAY_API_KEY', `the bench's gateway needs an API key in ${spec.apiKeyEnv}`, {
          hint: 'create one with: kiln gateway api-key create --scope admin --name hil',
        });
      }
      const ca = spec.ca ? readFileSync(spec.ca, 'utf8') : undefined;
      return new BenchGateway(spec.url, ca, key, spec.mqttUrl, undefined);
    }
    const dir = mkdtempSync(join(tmpdir(), 'kiln-hil-gw-'));
    const log = createLogger({ level: env.KILN_HIL_GATEWAY_LOG ?? 'silent' });
    let gw: Gateway;
    try {
      gw = await startGateway(embeddedConfig(dir, 0, 0), { log });
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const { key } = gw.store.apiKeys.create('hil', 'admin');
    const ca = gw.caPath ? readFileSync(gw.caPath, 'utf8') : undefined;
    return new BenchGateway(gw.deviceUrl, ca, key, gw.mqttUrl, { gateway: gw, dir, log });
  }

  /**
   * Stops the embedded gateway as `kiln gateway` stops on SIGTERM (sessions closed with
   * 1001, pending telemetry committed), waits `downMs`, and starts it again on the same
   * data dir and ports, so devices reconnect to the URL they were given and the store,
   * the dev CA and the API key are the ones from before. Resolves once the gateway
   * listens and the harness's MQTT client (if any) is subscribed again.
   * Throws: GATEWAY_NOT_OURS for an external gateway (the harness did not start it).
   */
  async restart(options: { downMs?: number } = {}): Promise<void> {
    const e = this.inProcess;
    if (!e) {
      throw new UsageError(
        'GATEWAY_NOT_OURS',
        `the bench's gateway (${this.deviceUrl}) is external: the harness cannot restart it`,
        {
          hint: "use gateway: embedded in the bench file, or leave the gateway restart suite out: --grep '^(?!gateway restart)'",
        },
      );
    }
    const port = e.gateway.port;
    const mqttPort = Number(new URL(e.gateway.mqttUrl).port);
    await e.gateway.close();
    await sleep(options.downMs ?? 0);
    const config = embeddedConfig(e.dir, port, mqttPort);
    // The ports were just released: a socket still closing may hold one for a moment.
    for (let attempt = 1; ; attempt++) {
      try {
        e.gateway = await startGateway(config, { log: e.log });
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= 20) throw err;
        await sleep(250);
      }
    }
    if (this.mqtt) await this.resubscribe(await this.mqtt);
  }

  /** Waits until the MQTT client has reconnected, then subscribes again (acknowledged, unlike the automatic resubscribe). */
  private async resubscribe(c: MqttClient): Promise<void> {
    if (!c.connected) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          c.off('connect', done);
          reject(
            new KilnError('MQTT_RECONNECT', 'the MQTT client did not reconnect within 15 s of the gateway restart'),
          );
        }, 15_000);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        c.once('connect', done);
      });
    }
    await c.subscribeAsync(TOPICS, { qos: 1 });
  }

  /** Polls the REST API until the gateway reports the device online. */
  waitForOnline(deviceId: string, options: { timeout?: number } = {}): Promise<DeviceView> {
    return this.waitForDevice(deviceId, (d) => d.online, { ...options, what: 'online' });
  }

  /**
   * Polls the REST API (every 250 ms) until the device satisfies the predicate, e.g.
   * online with a new boot id. Throws: DEVICE_WAIT_TIMEOUT with what the gateway last showed.
   */
  async waitForDevice(
    deviceId: string,
    predicate: (d: DeviceView) => boolean,
    options: { timeout?: number; what?: string } = {},
  ): Promise<DeviceView> {
    const ms = options.timeout ?? 30_000;
    const until = Date.now() + ms;
    for (;;) {
      const d = await this.device(deviceId);
      if (d && predicate(d)) return d;
      if (Date.now() >= until) {
        const seen = d ? `state ${d.state}, ${d.online ? 'online' : 'offline'}, boot ${d.bootId}` : 'no such device';
        throw new KilnError(
          'DEVICE_WAIT_TIMEOUT',
          `device ${deviceId} was not ${options.what ?? 'as expected'} at the gateway within ${ms / 1000} s (last: ${seen})`,
          {
            hint: 'the DUT log shows why (TLS, audience, clock, revocation); the gateway log: KILN_HIL_GATEWAY_LOG=info',
            exitCode: ExitCode.TESTS_FAILED,
          },
        );
      }
      await sleep(250);
    }
  }

  /** The device as the REST API shows it (undefined if unknown). */
  async device(deviceId: string): Promise<DeviceView | undefined> {
    return (await this.rest.get(deviceId)) as DeviceView | undefined;
  }

  /** Every device the gateway knows. */
  devices(): Promise<DeviceView[]> {
    return this.admin.devices();
  }

  /** Revokes the device (REST, admin): its session is closed with 4003 and it may not connect again. */
  revoke(deviceId: string): Promise<DeviceView> {
    return this.admin.revoke(deviceId);
  }

  /** What the gateway stored for the device (REST), oldest first. */
  storedTelemetry(deviceId: string, options: { from?: number; limit?: number } = {}): Promise<StoredSample[]> {
    return this.admin.telemetry(deviceId, options);
  }

  /** A counter or gauge from the gateway's /metrics, summed over the series matching `labels`. */
  metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return this.admin.metric(name, labels);
  }

  /** One MQTT client for the whole run, connected on first use (concurrent callers share it). */
  private client(): Promise<MqttClient> {
    this.mqtt ??= this.connect();
    return this.mqtt;
  }

  private async connect(): Promise<MqttClient> {
    if (!this.mqttUrl) {
      throw new UsageError('GATEWAY_NO_MQTT', 'the bench gateway has no MQTT URL', {
        hint: 'add gateway.mqtt_url to the bench file',
      });
    }
    const c = await connectAsync(this.mqttUrl, {
      username: 'hil',
      password: this.apiKey,
      clientId: `kiln-hil-${randomUUID().slice(0, 8)}`,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(this.caPem ? { ca: this.caPem } : {}),
    });
    c.on('message', (topic, payload) => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
      } catch {
        return;
      }
      const m = /^kiln\/v1\/([^/]+)\/(telemetry|status)$/.exec(topic);
      if (m?.[1] && m[2] === 'telemetry') {
        const list = this.telemetry.get(m[1]) ?? [];
        list.push(body as TelemetryMessage);
        this.telemetry.set(m[1], list);
      } else if (m?.[1]) {
        // A retained status may arrive after a newer live one (aedes streams retained
        // messages after the SUBACK): keep the newest by `since`, as gateway instances do.
        const prev = this.statuses.get(m[1]);
        const since = (body as { since?: unknown }).since;
        if (!prev || typeof since !== 'number' || since >= prev.since)
          this.statuses.set(m[1], body as unknown as DeviceStatus);
      }
      for (const l of this.listeners) l(topic, body);
    });
    try {
      await c.subscribeAsync(TOPICS, { qos: 1 });
    } catch (e) {
      await c.endAsync(true);
      throw e;
    }
    return c;
  }

  /** Subscribes now, so later waits see everything from this point. */
  async watch(): Promise<void> {
    await this.client();
  }

  private waitMqtt<T>(
    what: string,
    ms: number,
    match: (topic: string, body: Record<string, unknown>) => T | undefined,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const listener: Listener = (topic, body) => {
        const v = match(topic, body);
        if (v === undefined) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(
          new KilnError('MQTT_TIMEOUT', `no ${what} on MQTT within ${ms / 1000} s`, {
            exitCode: ExitCode.TESTS_FAILED,
          }),
        );
      }, ms);
      this.listeners.add(listener);
    });
  }

  /**
   * The first telemetry message of the device on MQTT (already seen since watch(), or
   * arriving) that satisfies the predicate; with `fresh`, only one arriving after this call.
   */
  async waitForTelemetry(
    deviceId: string,
    predicate: (m: TelemetryMessage) => boolean = () => true,
    options: { timeout?: number; fresh?: boolean } = {},
  ): Promise<TelemetryMessage> {
    await this.client();
    const seen = options.fresh ? undefined : this.telemetry.get(deviceId)?.find(predicate);
    if (seen) return seen;
    const topic = topics.telemetry(deviceId);
    return this.waitMqtt(`telemetry from ${deviceId} matching the predicate`, options.timeout ?? 30_000, (t, body) =>
      t === topic && predicate(body as TelemetryMessage) ? (body as TelemetryMessage) : undefined,
    );
  }

  /**
   * The device's status on MQTT (`kiln/v1/<id>/status`, retained) once it satisfies the
   * predicate: the newest one seen, or a newer one arriving (older ones arriving late are ignored).
   */
  async waitForStatus(
    deviceId: string,
    predicate: (s: DeviceStatus) => boolean,
    options: { timeout?: number } = {},
  ): Promise<DeviceStatus> {
    await this.client();
    const last = this.statuses.get(deviceId);
    if (last && predicate(last)) return last;
    const topic = topics.status(deviceId);
    return this.waitMqtt(`status of ${deviceId} matching the predicate`, options.timeout ?? 30_000, (t, body) => {
      const status = body as unknown as DeviceStatus;
      // Only a message that became the newest status counts (the handler ran first).
      return t === topic && this.statuses.get(deviceId) === status && predicate(status) ? status : undefined;
    });
  }

  /** Publishes a command on MQTT and waits for its result (MQTT → gateway → device → result). */
  async sendCommand(
    deviceId: string,
    name: string,
    args: Record<string, unknown> = {},
    options: { timeout?: number } = {},
  ): Promise<CommandResult> {
    const c = await this.client();
    const id = `hil-${randomUUID().slice(0, 12)}`;
    const resultTopic = topics.commandResult(deviceId, id);
    const result = this.waitMqtt(
      `result of command ${name} (${id}) from ${deviceId}`,
      options.timeout ?? 30_000,
      (t, body) => (t === resultTopic ? (body as CommandResult) : undefined),
    );
    await c.publishAsync(topics.command(deviceId), JSON.stringify({ id, name, args }), { qos: 1 });
    return result;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const c = await this.mqtt?.catch(() => undefined);
    await c?.endAsync(true).catch(() => {});
    const e = this.inProcess;
    this.inProcess = undefined;
    if (e) {
      await e.gateway.close().catch(() => {});
      rmSync(e.dir, { recursive: true, force: true });
    }
  }
}
