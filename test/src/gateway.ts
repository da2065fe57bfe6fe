/**
 * The gateway a bench talks to, with the helpers suites need: the REST view of a
 * device (`waitForOnline`), telemetry as MQTT subscribers see it (`waitForTelemetry`)
 * and commands over MQTT (`sendCommand`). Embedded by default: an in-process gateway
 * on 127.0.0.1 (port 0), development TLS, embedded MQTT broker, a throwaway data dir.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Gateway, resolveConfig, startGateway } from '@kiln/companion';
import { ExitCode, KilnError, topics, UsageError } from '@kiln/protocol';
import { GatewayApi, type GatewayDevice, restBaseOf } from '@kiln/provisioning';
import { connectAsync, type MqttClient } from 'mqtt';
import type { GatewaySpec } from './bench-file.ts';

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

type Listener = (topic: string, body: Record<string, unknown>) => void;

export class BenchGateway {
  readonly rest: GatewayApi;
  private mqtt: Promise<MqttClient> | undefined;
  private readonly listeners = new Set<Listener>();
  /** Every telemetry message seen on MQTT since the first subscription, per device. */
  readonly telemetry = new Map<string, TelemetryMessage[]>();

  private constructor(
    /** wss://…/v1/device, what devices are given. */
    readonly deviceUrl: string,
    readonly caPem: string | undefined,
    /** An API key that may enrol, read and operate (admin on the embedded gateway). */
    readonly apiKey: string,
    readonly mqttUrl: string | undefined,
    private readonly stop: () => Promise<void>,
    /** The in-process gateway, when embedded. */
    readonly embedded: Gateway | undefined,
  ) {
    this.rest = new GatewayApi(restBaseOf(deviceUrl), apiKey, caPem);
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
      return new BenchGateway(spec.url, ca, key, spec.mqttUrl, async () => {}, undefined);
    }
    const dir = mkdtempSync(join(tmpdir(), 'kiln-hil-gw-'));
    let gw: Gateway;
    try {
      gw = await startGateway(
        resolveConfig({
          dataDir: dir,
          listen: { host: '127.0.0.1', port: 0 },
          mqtt: { listen: { host: '127.0.0.1', port: 0 } },
          instanceId: `hil-${process.pid}`,
          // Telemetry every second, so suites see several samples quickly.
          limits: { telemetrySec: 1 },
        }),
        { log: createLogger({ level: env.KILN_HIL_GATEWAY_LOG ?? 'silent' }) },
      );
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    const { key } = gw.store.apiKeys.create('hil', 'admin');
    const ca = gw.caPath ? readFileSync(gw.caPath, 'utf8') : undefined;
    const stop = async () => {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    };
    return new BenchGateway(gw.deviceUrl, ca, key, gw.mqttUrl, stop, gw);
  }

  /** Polls the REST API until the gateway reports the device online. */
  waitForOnline(deviceId: string, options: { timeout?: number } = {}): Promise<GatewayDevice> {
    return this.rest.waitOnline(deviceId, options.timeout ?? 30_000);
  }

  /** The device as the REST API shows it (undefined if unknown). */
  device(deviceId: string): Promise<GatewayDevice | undefined> {
    return this.rest.get(deviceId);
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
      const m = /^kiln\/v1\/([^/]+)\/telemetry$/.exec(topic);
      if (m?.[1]) {
        const list = this.telemetry.get(m[1]) ?? [];
        list.push(body as TelemetryMessage);
        this.telemetry.set(m[1], list);
      }
      for (const l of this.listeners) l(topic, body);
    });
    try {
      // Every device's telemetry and command results, once: waiters filter.
      await c.subscribeAsync(['kiln/v1/+/telemetry', 'kiln/v1/+/cmd/+/result'], { qos: 1 });
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
   * arriving) that satisfies the predicate.
   */
  async waitForTelemetry(
    deviceId: string,
    predicate: (m: TelemetryMessage) => boolean = () => true,
    options: { timeout?: number } = {},
  ): Promise<TelemetryMessage> {
    await this.client();
    const seen = this.telemetry.get(deviceId)?.find(predicate);
    if (seen) return seen;
    const topic = topics.telemetry(deviceId);
    return this.waitMqtt(`telemetry from ${deviceId} matching the predicate`, options.timeout ?? 30_000, (t, body) =>
      t === topic && predicate(body as TelemetryMessage) ? (body as TelemetryMessage) : undefined,
    );
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
    await this.stop();
  }
}
