/**
 * Gateway configuration: defaults < file (YAML or JSON) < environment (KILN_GATEWAY_*)
 * < flags, validated once at start-up. A public bind needs allowPublicBind; plain ws
 * needs insecureDev, which production mode refuses (no dev path in production).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULTS, LIMITS } from '@kiln/protocol';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.ts';

export interface HostPort {
  host: string;
  port: number;
}

export interface GatewayConfig {
  mode: 'production' | 'development';
  listen: HostPort;
  allowPublicBind: boolean;
  insecureDev: boolean;
  dataDir: string;
  /**
   * An extra JWT `aud` to accept. Devices present the origin of the URL they were provisioned
   * with (SPEC §1.2), and the gateway always accepts the origins of the URLs it announces.
   */
  audience: string | undefined;
  /** Names this process on the MQTT bus (status messages, supersede across instances). */
  instanceId: string;
  tls: { certFile?: string; keyFile?: string };
  mqtt: { url?: string; listen?: HostPort; qos: 0 | 1 };
  /** Origins a browser may open the device endpoint from (all others are refused). */
  wsAllowedOrigins: string[];
  corsOrigins: string[];
  limits: {
    maxPayloadBytes: number;
    messagesPerSecPerDevice: number;
    bytesPerSecPerDevice: number;
    sendQueueBytes: number;
    helloTimeoutMs: number;
    authTimeoutMs: number;
    pingSec: number;
    heartbeatSec: number;
    telemetrySec: number;
    maxBatch: number;
    outstandingCommandsPerDevice: number;
    maxConnections: number;
    jwtSkewSec: number;
    jtiCacheEntries: number;
    authFailuresPerMinPerIp: number;
    restBodyBytes: number;
    restRequestsPerMinPerIp: number;
    restRequestsPerMinPerRoute: number;
    /** Browser sessions (operator sign-in): how many in all, and per API key (its oldest ends first). */
    operatorSessions: number;
    operatorSessionsPerKey: number;
    /** A session ends after this long unused, and this long after sign-in whatever its use. */
    sessionIdleSec: number;
    sessionMaxSec: number;
    /** Operator streams (/api/v1/stream): in all, and per API key or session. */
    streamConnections: number;
    streamConnectionsPerPrincipal: number;
    /** Past this much unsent data a stream drops telemetry frames; past streamSendQueueBytes it closes (1013). */
    streamTelemetryCutoffBytes: number;
    streamSendQueueBytes: number;
  };
  commands: { defaultTimeoutMs: number };
  retention: {
    rawDays: number;
    rollupBucketSec: number;
    rollupDays: number;
    auditDays: number;
    commandDays: number;
    everyMs: number;
  };
  ingest: { flushMs: number; maxBatchRows: number };
  logLevel: string;
}

export function defaultConfig(): GatewayConfig {
  return {
    mode: 'development',
    listen: { host: '127.0.0.1', port: 8443 },
    allowPublicBind: false,
    insecureDev: false,
    dataDir: join(homedir(), '.kiln', 'gateway'),
    audience: undefined,
    instanceId: `gw-${process.pid}`,
    // Optional keys are present (undefined) so that the layers may set them.
    tls: { certFile: undefined, keyFile: undefined },
    mqtt: { url: undefined, listen: { host: '127.0.0.1', port: 1883 }, qos: 1 },
    wsAllowedOrigins: [],
    corsOrigins: [],
    limits: {
      maxPayloadBytes: LIMITS.messageBytes,
      messagesPerSecPerDevice: DEFAULTS.messagesPerSecondPerDevice,
      bytesPerSecPerDevice: DEFAULTS.bytesPerSecondPerDevice,
      sendQueueBytes: DEFAULTS.sendQueueBytes,
      helloTimeoutMs: DEFAULTS.helloTimeoutMs,
      authTimeoutMs: 5_000,
      pingSec: DEFAULTS.wsPingSec,
      heartbeatSec: DEFAULTS.heartbeatSec,
      telemetrySec: DEFAULTS.telemetrySec,
      maxBatch: LIMITS.samplesPerBatch,
      outstandingCommandsPerDevice: DEFAULTS.outstandingCommandsPerDevice,
      maxConnections: 20_000,
      jwtSkewSec: LIMITS.jwtSkewSec,
      jtiCacheEntries: 200_000,
      authFailuresPerMinPerIp: 120,
      restBodyBytes: 64 * 1024,
      restRequestsPerMinPerIp: 600,
      restRequestsPerMinPerRoute: 300,
      operatorSessions: 10_000,
      operatorSessionsPerKey: 32,
      sessionIdleSec: 1800,
      sessionMaxSec: 43_200,
      streamConnections: 1000,
      streamConnectionsPerPrincipal: 8,
      streamTelemetryCutoffBytes: 256 * 1024,
      streamSendQueueBytes: 1024 * 1024,
    },
    commands: { defaultTimeoutMs: 60_000 },
    retention: {
      rawDays: 30,
      rollupBucketSec: 3600,
      rollupDays: 365,
      auditDays: 365,
      commandDays: 90,
      everyMs: 3_600_000,
    },
    ingest: { flushMs: 4, maxBatchRows: 2_000 },
    logLevel: 'info',
  };
}

export type ConfigInput = DeepPartial<GatewayConfig>;
type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K];
};

export function parseHostPort(text: string, what: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new ConfigError('CONFIG_INVALID', `${what} "${text}" is not host:port`, 'e.g. 127.0.0.1:8443');
  return { host: (m[1] ?? m[2]) as string, port };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(base: Record<string, unknown>, over: Record<string, unknown>, path = ''): void {
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    const at = path ? `${path}.${k}` : k;
    if (!(k in base)) throw new ConfigError('CONFIG_UNKNOWN_KEY', `unknown configuration key "${at}"`);
    const cur = base[k];
    if (isPlainObject(cur) && isPlainObject(v)) merge(cur, v, at);
    else base[k] = v;
  }
}

export function readConfigFile(file: string): ConfigInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('CONFIG_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e) {
    throw new ConfigError('CONFIG_INVALID', `${file} is not YAML or JSON: ${(e as Error).message}`);
  }
  if (value == null) return {};
  if (!isPlainObject(value)) throw new ConfigError('CONFIG_INVALID', `${file} must hold a mapping`);
  return value as ConfigInput;
}

/** KILN_GATEWAY_* variables, as documented in `kiln gateway --help`. */
export function configFromEnv(env: NodeJS.ProcessEnv): ConfigInput {
  const out: ConfigInput = {};
  const v = (name: string) => {
    const x = env[`KILN_GATEWAY_${name}`];
    return x === undefined || x === '' ? undefined : x;
  };
  if (v('MODE')) out.mode = v('MODE') as GatewayConfig['mode'];
  else if (env.NODE_ENV === 'production') out.mode = 'production';
  if (v('LISTEN')) out.listen = parseHostPort(v('LISTEN') as string, 'KILN_GATEWAY_LISTEN');
  if (v('DATA_DIR')) out.dataDir = v('DATA_DIR');
  if (v('AUDIENCE')) out.audience = v('AUDIENCE');
  if (v('INSTANCE_ID')) out.instanceId = v('INSTANCE_ID');
  if (v('MQTT_URL')) out.mqtt = { ...out.mqtt, url: v('MQTT_URL') };
  if (v('TLS_CERT')) out.tls = { ...out.tls, certFile: v('TLS_CERT') };
  if (v('TLS_KEY')) out.tls = { ...out.tls, keyFile: v('TLS_KEY') };
  if (v('LOG_LEVEL')) out.logLevel = v('LOG_LEVEL');
  return out;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function positiveInt(v: unknown, at: string, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(v) || (v as number) <= 0 || (v as number) > max)
    throw new ConfigError('CONFIG_INVALID', `${at} must be an integer 1..${max}, not ${JSON.stringify(v)}`);
}

export function resolveConfig(...layers: ConfigInput[]): GatewayConfig {
  const cfg = defaultConfig();
  for (const layer of layers) merge(cfg as unknown as Record<string, unknown>, layer as Record<string, unknown>);
  validateConfig(cfg);
  cfg.dataDir = resolve(cfg.dataDir);
  return cfg;
}

export function validateConfig(cfg: GatewayConfig): void {
  if (cfg.mode !== 'production' && cfg.mode !== 'development')
    throw new ConfigError('CONFIG_INVALID', `mode must be production or development, not "${cfg.mode}"`);
  const { host, port } = cfg.listen;
  if (typeof host !== 'string' || (isIP(host) === 0 && host !== 'localhost'))
    throw new ConfigError('CONFIG_INVALID', `listen host "${host}" must be an IP address or localhost`);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError('CONFIG_INVALID', `listen port ${port} must be 0..65535`);
  if (!isLoopback(host) && !cfg.allowPublicBind)
    throw new ConfigError(
      'PUBLIC_BIND_REFUSED',
      `refusing to listen on ${host}: the gateway binds to loopback unless told otherwise`,
      'pass --allow-public-bind (and real TLS: --tls-cert/--tls-key) to accept devices from the network',
    );
  if (cfg.mqtt.listen && !isLoopback(cfg.mqtt.listen.host) && !cfg.allowPublicBind)
    throw new ConfigError(
      'PUBLIC_BIND_REFUSED',
      `refusing to run the MQTT broker on ${cfg.mqtt.listen.host}`,
      'pass --allow-public-bind',
    );
  if (cfg.insecureDev && cfg.mode === 'production')
    throw new ConfigError(
      'INSECURE_IN_PRODUCTION',
      'plain ws:// (--insecure-dev) is refused in production mode',
      'drop --insecure-dev, or run with KILN_GATEWAY_MODE=development on a test bench',
    );
  if (cfg.mode === 'production' && (!cfg.tls.certFile || !cfg.tls.keyFile))
    throw new ConfigError(
      'TLS_REQUIRED',
      'production mode needs a certificate and key',
      'pass --tls-cert FILE --tls-key FILE',
    );
  if (Boolean(cfg.tls.certFile) !== Boolean(cfg.tls.keyFile))
    throw new ConfigError('CONFIG_INVALID', 'give both --tls-cert and --tls-key, or neither');
  if (cfg.mqtt.url !== undefined) {
    let u: URL;
    try {
      u = new URL(cfg.mqtt.url);
    } catch {
      throw new ConfigError('CONFIG_INVALID', 'mqtt.url is not a URL', 'e.g. mqtt://user:pass@broker:1883');
    }
    if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(u.protocol))
      throw new ConfigError('CONFIG_INVALID', `mqtt.url scheme ${u.protocol} is not mqtt:, mqtts:, ws: or wss:`);
  }
  if (cfg.mqtt.qos !== 0 && cfg.mqtt.qos !== 1) throw new ConfigError('CONFIG_INVALID', 'mqtt.qos must be 0 or 1');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(cfg.instanceId))
    throw new ConfigError('CONFIG_INVALID', 'instanceId must be 1..64 of A-Z a-z 0-9 _ . -');
  if (
    cfg.audience !== undefined &&
    (typeof cfg.audience !== 'string' || cfg.audience.length === 0 || cfg.audience.length > 256)
  )
    throw new ConfigError('CONFIG_INVALID', 'audience must be a non-empty string');
  for (const [k, v] of Object.entries(cfg.limits)) positiveInt(v, `limits.${k}`);
  if (cfg.limits.maxPayloadBytes > LIMITS.messageBytes)
    throw new ConfigError(
      'CONFIG_INVALID',
      `limits.maxPayloadBytes may not exceed the contract's ${LIMITS.messageBytes}`,
    );
  if (cfg.limits.maxBatch > LIMITS.samplesPerBatch)
    throw new ConfigError('CONFIG_INVALID', `limits.maxBatch may not exceed ${LIMITS.samplesPerBatch}`);
  if (cfg.limits.heartbeatSec < 5 || cfg.limits.heartbeatSec > 3600)
    throw new ConfigError('CONFIG_INVALID', 'limits.heartbeatSec must be 5..3600');
  if (cfg.limits.jwtSkewSec > 300) throw new ConfigError('CONFIG_INVALID', 'limits.jwtSkewSec must be at most 300');
  if (cfg.limits.streamTelemetryCutoffBytes >= cfg.limits.streamSendQueueBytes)
    throw new ConfigError(
      'CONFIG_INVALID',
      'limits.streamTelemetryCutoffBytes must be below limits.streamSendQueueBytes',
    );
  positiveInt(cfg.commands.defaultTimeoutMs, 'commands.defaultTimeoutMs');
  for (const [k, v] of Object.entries(cfg.retention)) positiveInt(v, `retention.${k}`);
  positiveInt(cfg.ingest.flushMs, 'ingest.flushMs', 1000);
  positiveInt(cfg.ingest.maxBatchRows, 'ingest.maxBatchRows', 100_000);
  for (const list of [cfg.wsAllowedOrigins, cfg.corsOrigins]) {
    if (!Array.isArray(list) || list.some((o) => typeof o !== 'string'))
      throw new ConfigError('CONFIG_INVALID', 'origin allowlists must be lists of strings');
  }
}
