/**
 * `startGateway`: wires storage, the MQTT bus, the device endpoint, the REST API and the
 * operator stream onto one HTTP server, in this order, and takes them down in reverse on
 * close(). With TLS, the TLS front's thread listens and hands it each connection as
 * plaintext (tls-front/). Upgrades are routed by path: /api/v1/stream to the operator
 * stream, every other one to the device endpoint (which answers 404 to paths not its own).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CloseCode, DEVICE_PATH } from '@kiln/protocol';
import { type GatewayConfig, isLoopback } from './config.ts';
import { DeviceAuthenticator } from './device/auth.ts';
import { CommandService } from './device/commands.ts';
import type { HubContext } from './device/context.ts';
import { effectiveConfig, sendConfig } from './device/device-config.ts';
import { DeviceEndpoint } from './device/endpoint.ts';
import { Ingest } from './device/ingest.ts';
import { SessionRegistry } from './device/sessions.ts';
import { createLogger, type Logger, redactDsn } from './log.ts';
import { GatewayMetrics } from './metrics.ts';
import { Bridge } from './mqtt/bridge.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from './mqtt/broker.ts';
import { AedesBus, type Bus, ClientBus } from './mqtt/bus.ts';
import { OperatorAuth } from './operator/auth.ts';
import { OperatorFeed } from './operator/feed.ts';
import { OperatorMetrics } from './operator/metrics.ts';
import { OperatorSessions } from './operator/sessions.ts';
import { isStreamUpgrade, OperatorStream } from './operator/stream.ts';
import { createRestApp } from './rest/app.ts';
import { loadMasterKey, SecretBox } from './secrets.ts';
import { DB_FILE, Store } from './store/index.ts';
import { TelemetryWriter } from './store/telemetry-writer.ts';
import { ensureDevTls, ensureTicketKeys, loadGivenTls, type TlsMaterial } from './tls.ts';
import { TlsFront } from './tls-front/tls-front.ts';
import { allocatorAdvice, allocatorState } from './util/allocator.ts';
import {
  LISTEN_BACKLOG,
  listenOn,
  listenQueueAdvice,
  openFilesAdvice,
  readOpenFilesLimit,
  readSomaxconn,
} from './util/listen.ts';

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
  bridge: Bridge;
  /** The operator side: sign-in sessions and auth, the live stream. */
  operator: { auth: OperatorAuth; sessions: OperatorSessions; stream: OperatorStream };
  log: Logger;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, opts: { log?: Logger } = {}): Promise<Gateway> {
  const log = opts.log ?? createLogger({ level: config.logLevel });
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const box = new SecretBox(loadMasterKey(config.dataDir));
  const store = Store.open(config.dataDir);
  const { check } = store;
  if (check.reason) log.warn({ integrity: check }, `full integrity check at start: ${check.reason}`);
  else log.info({ integrity: check }, 'integrity check at start');
  const cleanups: (() => Promise<void> | void)[] = [() => store.close()];
  const undo = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const metrics = new GatewayMetrics();
    metrics.watchThread('event-loop', performance);
    // The TLS front's thread loads its code while the rest starts; it listens further down.
    const front = config.insecureDev
      ? undefined
      : TlsFront.prepare(log, (thread) => metrics.watchThread('tls-front', thread.performance));
    if (front) cleanups.push(() => front.close());
    store.devices.resetOnline();
    const advice = allocatorAdvice(store.devices.count(), allocatorState());
    if (advice) log.warn(advice);
    metrics.startCheck.set({ kind: check.kind }, check.ms / 1000);

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
    const writer = await TelemetryWriter.start(
      join(config.dataDir, DB_FILE),
      { retention: config.retention },
      {
        retention: (c) =>
          c.rolledUp + c.rollupsDeleted + c.auditDeleted + c.commandsDeleted > 0 && log.info(c, 'retention round done'),
        retentionFailed: (message) =>
          log.error({ message }, 'retention round failed; the next one starts in retention.everyMs'),
        maintenanceFailed: (message) =>
          log.warn({ message }, 'telemetry writer maintenance failed; it runs again on its own'),
        stopped: (err) => log.error({ err }, 'the telemetry writer thread stopped; the next commit starts a new one'),
        started: (thread, restart) => {
          metrics.watchThread('telemetry-writer', thread.performance);
          if (restart) log.warn({ threadId: thread.threadId }, 'telemetry writer thread started again');
        },
      },
    );
    cleanups.push(() => writer.close());
    // The writer's thread checkpoints the WAL; here a commit would otherwise copy thousands
    // of pages into the database file on the event loop now and then.
    store.db.pragma('wal_autocheckpoint = 0');
    const ingest = new Ingest(writer, bridge, metrics, log, config.ingest);
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
      claimToken: (deviceId, jti, expiresAt) => writer.claimToken(deviceId, jti, expiresAt),
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
      // Changed on another instance; the session, if any, is here. The store has the values.
      config: (deviceId) => {
        sendConfig(sessions, deviceId, effectiveConfig(store.devices.configOf(deviceId), config.limits));
      },
      // Rotated or deleted on another instance: a session opened here with the old key ends, as it would there.
      keyChanged: (deviceId, change, at) => {
        deviceAuth.forget(deviceId);
        const s = sessions.get(deviceId);
        if (s && s.startedAt <= at)
          s.close(CloseCode.REVOKED, change === 'deleted' ? 'device deleted' : 'device key rotated');
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

    const { limits } = config;
    const operatorSessions = new OperatorSessions({
      maxSessions: limits.operatorSessions,
      perKey: limits.operatorSessionsPerKey,
      idleMs: limits.sessionIdleSec * 1000,
      maxMs: limits.sessionMaxSec * 1000,
    });
    cleanups.push(() => operatorSessions.close());
    // Own origins are added once the port is known (below).
    const operator = new OperatorAuth(store.apiKeys, operatorSessions, config.corsOrigins, tls !== undefined);
    const operatorMetrics = new OperatorMetrics(
      metrics.registry,
      () => operatorSessions.size,
      // Read at scrape time, when the stream exists.
      (): number => stream.queuedBytes,
    );

    const rest = createRestApp(
      { config, store, metrics, log, sessions, commands, deviceAuth, bridge, operator },
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

    const stream: OperatorStream = new OperatorStream({
      auth: operator,
      metrics: operatorMetrics,
      log,
      limits,
      authFailures: rest.limits.authFailures,
    });
    const feed = new OperatorFeed(bus, log, (e) => stream.dispatch(e));
    await feed.start();
    stream.attach(feed);
    cleanups.push(() => feed.stop());

    // With TLS, the TLS front's thread listens and terminates TLS, and this server, which
    // never listens itself, is given its connections as plaintext (tls-front/).
    const server: Server = createHttpServer(rest.app);
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    server.on('upgrade', (req, socket, head) =>
      isStreamUpgrade(req) ? stream.handleUpgrade(req, socket, head) : endpoint.handleUpgrade(req, socket, head),
    );
    server.on('clientError', (_err, socket) => socket.destroy());
    // A fleet reconnecting after a restart arrives at once; past the accept backlog (Node's
    // default 511) SYNs are dropped and those devices wait out 1 s, 3 s TCP retransmits.
    // The kernel caps it at net.core.somaxconn, which a host for a large fleet should raise.
    if (front && tls) {
      await front.listen(
        {
          tls: {
            cert: tls.cert,
            key: tls.key,
            minVersion: 'TLSv1.2',
            ticketKeys: ensureTicketKeys(config.dataDir, box),
          },
          at: config.listen,
          flag: '--listen',
          backlog: LISTEN_BACKLOG,
        },
        (socket) => server.emit('connection', socket),
      );
      // Node's http server starts tracking its connections (headersTimeout, requestTimeout,
      // closeAllConnections) when it is told it listens.
      server.emit('listening');
    } else await listenOn(server, config.listen, '--listen', { backlog: LISTEN_BACKLOG });
    for (const advice of [
      listenQueueAdvice(readSomaxconn(), config.limits.maxConnections),
      openFilesAdvice(readOpenFilesLimit(), config.limits.maxConnections),
    ]) {
      if (!advice) continue;
      // On loopback it is a development gateway, not a fleet's: only in the debug log.
      if (isLoopback(config.listen.host)) log.debug(advice);
      else log.warn(advice);
    }
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
    // Runs before the server closes (cleanups run in reverse): streams get their 1001 first.
    cleanups.push(() => stream.close());

    const port = front ? front.port : (server.address() as AddressInfo).port;
    const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
    const scheme = tls ? 'https' : 'http';
    audiences.push(...announcedOrigins(tls ? 'wss' : 'ws', host, port));
    // The dashboard's own origins: the same spellings, over https (http with insecure-dev).
    operator.addOwnOrigins(announcedOrigins(tls ? 'wss' : 'ws', host, port).map((o) => o.replace(/^ws/, 'http')));
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
      bridge,
      operator: { auth: operator, sessions: operatorSessions, stream },
      log,
      close() {
        closing ??= (async () => {
          // Stop accepting first: a device this instance tells to go away must not be welcomed
          // again by it while it shuts down (it would be cut a moment later). The cleanup below
          // still waits for the server's connections.
          if (front) {
            front.stopAccepting();
            server.closeIdleConnections();
          } else server.close();
          // What devices sent before this is acknowledged before they are told to go away.
          await ingest.drain();
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
