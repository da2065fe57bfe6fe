/**
 * `startGateway`: wires storage, the MQTT bus, the device endpoint and the REST API onto
 * one HTTP(S) server, in this order, and takes them down in reverse on close().
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CloseCode, DEVICE_PATH } from '@kiln/protocol';
import type { GatewayConfig } from './config.ts';
import { DeviceAuthenticator } from './device/auth.ts';
import { CommandService } from './device/commands.ts';
import type { HubContext } from './device/context.ts';
import { DeviceEndpoint } from './device/endpoint.ts';
import { Ingest } from './device/ingest.ts';
import { SessionRegistry } from './device/sessions.ts';
import { createLogger, type Logger, redactDsn } from './log.ts';
import { GatewayMetrics } from './metrics.ts';
import { Bridge } from './mqtt/bridge.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from './mqtt/broker.ts';
import { AedesBus, type Bus, ClientBus } from './mqtt/bus.ts';
import { createRestApp } from './rest/app.ts';
import { loadMasterKey, SecretBox } from './secrets.ts';
import { Store } from './store/index.ts';
import { runRetention } from './store/retention.ts';
import { ensureDevTls, ensureTicketKeys, loadGivenTls, type TlsMaterial } from './tls.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

export interface Gateway {
  config: GatewayConfig;
  /** https://host:port (or http:// with insecureDev) */
  baseUrl: string;
  /** wss://host:port/v1/device */
  deviceUrl: string;
  /** JWT audiences accepted: the configured one, then the origins devices may have been given. */
  audiences: readonly string[];
  port: number;
  /** The dev CA certificate devices must trust (undefined with given certificates or insecure-dev). */
  caPath: string | undefined;
  mqttUrl: string;
  store: Store;
  metrics: GatewayMetrics;
  sessions: SessionRegistry;
  ingest: Ingest;
  log: Logger;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, opts: { log?: Logger } = {}): Promise<Gateway> {
  const log = opts.log ?? createLogger({ level: config.logLevel });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const box = new SecretBox(loadMasterKey(config.dataDir));
  const store = Store.open(config.dataDir);
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
  const undo = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    store.devices.resetOnline();
    const metrics = new GatewayMetrics();

    let bus: Bus;
    let broker: EmbeddedBroker | undefined;
    let mqttUrl: string;
    if (config.mqtt.url) {
      bus = await ClientBus.connect(config.mqtt.url, { clientId: `kiln-${config.instanceId}`, clean: true });
      mqttUrl = redactDsn(config.mqtt.url);
      log.info({ dsn: config.mqtt.url }, 'connected to the external MQTT broker');
    } else {
      broker = await startEmbeddedBroker({
        apiKeys: store.apiKeys,
        log,
        ...(config.mqtt.listen ? { listen: config.mqtt.listen } : {}),
        authFailuresPerMinPerIp: config.limits.authFailuresPerMinPerIp,
      });
      cleanups.push(() => broker?.close());
      bus = new AedesBus(broker.broker);
      mqttUrl = config.mqtt.listen ? `mqtt://${config.mqtt.listen.host}:${broker.port}` : '(embedded, no listener)';
    }
    cleanups.push(() => bus.close());

    const bridge = new Bridge(bus, metrics, log, { qos: config.mqtt.qos, instanceId: config.instanceId });
    const sessions = new SessionRegistry(metrics, config.limits.pingSec);
    cleanups.push(() => sessions.stop());
    const ingest = new Ingest(store, bridge, metrics, log, config.ingest);
    cleanups.push(() => ingest.close());
    const commands = new CommandService(store, bridge, sessions, log, {
      defaultTimeoutMs: config.commands.defaultTimeoutMs,
      outstandingPerDevice: config.limits.outstandingCommandsPerDevice,
    });
    cleanups.push(() => commands.close());
    // Filled in once the port is known: the origins of the device URL (SPEC §1.2).
    const audiences: string[] = config.audience === undefined ? [] : [config.audience];
    const deviceAuth = new DeviceAuthenticator(store, {
      audiences,
      skewSec: config.limits.jwtSkewSec,
      jtiCacheEntries: config.limits.jtiCacheEntries,
    });
    cleanups.push(() => deviceAuth.close());
    const ctx: HubContext = { config, store, metrics, log, sessions, ingest, commands, bridge };
    const endpoint = new DeviceEndpoint(ctx, deviceAuth);
    cleanups.push(() => endpoint.close());

    await bridge.listen({
      command: (deviceId, payload) => commands.onBusCommand(deviceId, payload),
      status: (deviceId, status) => {
        // Another instance took this device over (or it was revoked there): end ours.
        if (status.instance === config.instanceId) return;
        const s = sessions.get(deviceId);
        if (!s) return;
        if (status.state === 'revoked') s.close(CloseCode.REVOKED, 'device revoked');
        else if (status.state === 'online' && status.since > s.startedAt)
          s.close(CloseCode.SUPERSEDED, 'superseded by a newer session');
      },
    });

    let tls: TlsMaterial | undefined;
    if (!config.insecureDev) {
      tls =
        config.tls.certFile && config.tls.keyFile
          ? loadGivenTls(config.tls.certFile, config.tls.keyFile)
          : ensureDevTls(config.dataDir, box);
    } else {
      log.warn(
        'INSECURE: --insecure-dev serves plain ws:// and http://; device tokens cross the network in clear. Never use this outside a test bench.',
      );
    }

    const rest = createRestApp(
      { config, store, metrics, log, sessions, commands, deviceAuth, bridge },
      {
        tls: tls !== undefined,
        version: VERSION,
        health: () => {
          const dbOk = store.db.open;
          const mqttOk = bus.connected();
          return {
            ok: dbOk && mqttOk,
            detail: { db: dbOk ? 'ok' : 'closed', mqtt: mqttOk ? 'ok' : 'disconnected', sessions: sessions.size },
          };
        },
      },
    );
    cleanups.push(() => rest.limits.close());

    const server: Server = tls
      ? createHttpsServer(
          { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ticketKeys: ensureTicketKeys(config.dataDir, box) },
          rest.app,
        )
      : createHttpServer(rest.app);
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    server.on('upgrade', (req, socket, head) => endpoint.handleUpgrade(req, socket, head));
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, () => resolve());
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          // Upgraded sockets are not the server's any more; do not wait on a straggler forever.
          const timer = setTimeout(resolve, 2000);
          server.close(() => {
            clearTimeout(timer);
            resolve();
          });
          server.closeAllConnections();
        }),
    );

    const retention = setInterval(() => {
      try {
        runRetention(store.db, config.retention);
      } catch (err) {
        log.error({ err }, 'retention job failed');
      }
    }, config.retention.everyMs);
    retention.unref();
    cleanups.push(() => clearInterval(retention));

    const port = (server.address() as AddressInfo).port;
    const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
    const scheme = tls ? 'https' : 'http';
    audiences.push(...announcedOrigins(tls ? 'wss' : 'ws', host, port));
    let closing: Promise<void> | undefined;
    return {
      config,
      baseUrl: `${scheme}://${host}:${port}`,
      deviceUrl: `${tls ? 'wss' : 'ws'}://${host}:${port}${DEVICE_PATH}`,
      audiences,
      port,
      caPath: tls?.caPath,
      mqttUrl,
      store,
      metrics,
      sessions,
      ingest,
      log,
      close() {
        closing ??= (async () => {
          ingest.flush();
          sessions.closeAll(CloseCode.GOING_AWAY, 'gateway shutdown');
          // Let the close frames (1001) go out before the sockets are cut.
          for (let waited = 0; sessions.size > 0 && waited < 1000; waited += 20)
            await new Promise((r) => setTimeout(r, 20));
          await undo();
        })();
        return closing;
      },
    };
  } catch (e) {
    await undo();
    throw e;
  }
}

/**
 * The origins a device may have been provisioned with for this listener: its own, and on
 * loopback the other loopback spellings (a device told wss://localhost:PORT signs that).
 */
export function announcedOrigins(scheme: 'ws' | 'wss', host: string, port: number): string[] {
  const loopback = ['127.0.0.1', 'localhost', '[::1]'];
  const hosts = loopback.includes(host) ? loopback : [host];
  return hosts.map((h) => `${scheme}://${h}:${port}`);
}
