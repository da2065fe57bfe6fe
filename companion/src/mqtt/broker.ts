/**
 * The embedded MQTT broker (aedes), loopback by default. No anonymous clients: the
 * password is an operator API key (any username). ACL by scope:
 *   read    — subscribe to kiln/v1/…;
 *   operate — also publish commands on kiln/v1/<device>/cmd;
 *   admin   — the same (device-side topics are the gateway's alone).
 * Telemetry, status and results are published only by the gateway itself (client null).
 */
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { parseTopic } from '@kiln/protocol';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../log.ts';
import { type ApiKeyRepo, type ApiKeyRow, type Scope, scopeAllows } from '../store/api-keys.ts';
import { listenOn } from '../util/listen.ts';
import { FixedWindowLimiter } from '../util/rate-limit.ts';
import { coalesceWrites } from './coalesced-writes.ts';
import { boundPackets } from './packet-bound.ts';

export interface EmbeddedBroker {
  broker: Aedes;
  server: Server | undefined;
  port: number | undefined;
  close(): Promise<void>;
}

/**
 * The largest MQTT packet a client may send: a command (64 KiB of JSON at most, SPEC
 * limits) with room to spare. Logins, subscriptions and acks are far smaller.
 */
export const MAX_PACKET_BYTES = 256 * 1024;

/**
 * MQTT connections held at once, from one address, and topic filters per client: an embedded
 * broker serves a few consumers (dashboards, bridges, scripts), and each connection holds up
 * to MAX_PACKET_BYTES and MAX_WAITING_PER_CLIENT; a larger audience belongs on an external
 * broker. The per-address share keeps one host from taking every place with connections that
 * never log in (each is held for the connect timeout).
 */
export const MAX_CLIENTS = 1000;
export const MAX_CLIENTS_PER_IP = 100;
export const MAX_SUBSCRIPTIONS_PER_CLIENT = 256;

/**
 * Bytes that may wait for one MQTT client before it is dropped as a slow consumer: about 2 s
 * of every telemetry message at 20,000 messages/s (coalesced-writes.ts).
 */
export const MAX_WAITING_PER_CLIENT = 8 * 1024 * 1024;

/** Deliveries aedes runs at once (its `concurrency`); the bridge keeps its window below it. */
export const BROKER_CONCURRENCY = 10_000;

const scopes = new WeakMap<Client, Scope>();

/**
 * mqtt-packet, as aedes loads it (its own resolution, so that this is the copy aedes writes
 * with even if another one is installed beside it).
 */
const aedesMqttPacket = createRequire(import.meta.resolve('aedes'))('mqtt-packet') as {
  writeToStream: { cacheNumbers: boolean };
};

/**
 * mqtt-packet's number cache off (its README's switch, before the first write): on by default,
 * it is 65,536 two-byte Buffers made at the first packet written and alive for good. At 10,000
 * devices that was one in twenty of the objects every major collection of the gateway's heap
 * marks; without it a packet's length and id fields cost two small short-lived Buffers.
 */
aedesMqttPacket.writeToStream.cacheNumbers = false;

function authError(message: string, returnCode: 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export async function startEmbeddedBroker(opts: {
  apiKeys: ApiKeyRepo;
  log: Logger;
  listen?: { host: string; port: number };
  authFailuresPerMinPerIp: number;
  /** Connections the listener holds at once (MAX_CLIENTS), and from one address (MAX_CLIENTS_PER_IP); more are closed as they arrive. */
  maxClients?: number;
  maxClientsPerIp?: number;
}): Promise<EmbeddedBroker> {
  const failures = new FixedWindowLimiter(opts.authFailuresPerMinPerIp, 60_000, 50_000);
  const broker = await Aedes.createBroker({
    // Deliveries in flight at once (aedes docs); above the bridge's window of publishes in
    // flight (bridge.ts), which must stay below it.
    concurrency: BROKER_CONCURRENCY,
    // A client's socket never asks aedes to wait (a slow one is dropped instead, see
    // coalesceWrites below); should one ever, 10 s rather than aedes' 60 s.
    drainTimeout: 10_000,
    connectTimeout: 10_000,
    maxTopicLevels: 16,
    // A client that asks for a persistent session (clean session off) gets a clean one, and
    // its CONNACK says no session was present, as after a session the server discarded. aedes
    // keeps a persistent session's QoS 1 messages in memory while it is away, without bound:
    // a read key and one disconnect could fill the gateway's memory. The store is the record;
    // what a client missed is read back over REST.
    preConnect(_client, packet, done) {
      if (packet.clean === false) {
        packet.clean = true;
        opts.log.info({ clientId: packet.clientId }, 'MQTT client asked for a persistent session; it gets a clean one');
      }
      done(null, true);
    },
    authenticate(client, _username, password, done) {
      const ip = (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress ?? 'unknown';
      if (!failures.hit(ip, 0).allowed) return done(authError('too many failed logins', 5), false);
      const key: ApiKeyRow | undefined = password ? opts.apiKeys.verify(password.toString('utf8')) : undefined;
      if (!key) {
        failures.hit(ip);
        opts.log.warn({ clientId: client.id, ip }, 'MQTT login refused');
        return done(authError('an API key is required as the MQTT password', 4), false);
      }
      scopes.set(client, key.scope);
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      if (client === null) return done(null); // the gateway itself
      const scope = scopes.get(client);
      const t = parseTopic(packet.topic);
      if (scope && scopeAllows(scope, 'operate') && t?.kind === 'command' && !packet.retain) return done(null);
      done(new Error(`not allowed to publish on ${packet.topic}`));
    },
    authorizeSubscribe(client, sub, done) {
      const scope = scopes.get(client);
      // Only Kiln's subtree; `#` alone would include $SYS and anything else on the broker.
      if (!scope || !(sub.topic === 'kiln/v1/#' || sub.topic.startsWith('kiln/v1/'))) return done(null, null);
      // Each filter is kept in the broker's tree: a client may hold this many (a refused one
      // gets 0x80 in its SUBACK). Counted as aedes holds them, so one the client has already
      // is no more. aedes adds each filter before it asks about the next of the same SUBSCRIBE
      // (this answer is synchronous), so a packet of many filters is held to the bound too.
      const held = (client as Client & { subscriptions: Record<string, unknown> }).subscriptions;
      if (!Object.hasOwn(held, sub.topic) && Object.keys(held).length >= MAX_SUBSCRIPTIONS_PER_CLIENT) {
        return done(null, null);
      }
      done(null, sub);
    },
  });
  let server: Server | undefined;
  let port: number | undefined;
  if (opts.listen) {
    const perIp = new Map<string, number>();
    const maxPerIp = opts.maxClientsPerIp ?? MAX_CLIENTS_PER_IP;
    server = createServer((socket) => {
      // Past its address's share (MAX_CLIENTS_PER_IP) a connection is closed at once.
      const ip = socket.remoteAddress ?? 'unknown';
      const held = perIp.get(ip) ?? 0;
      if (held >= maxPerIp) {
        socket.destroy();
        return;
      }
      perIp.set(ip, held + 1);
      socket.once('close', () => {
        const n = (perIp.get(ip) ?? 1) - 1;
        if (n > 0) perIp.set(ip, n);
        else perIp.delete(ip);
      });
      boundPackets(socket, MAX_PACKET_BYTES, () =>
        opts.log.warn(
          { ip: socket.remoteAddress, maxBytes: MAX_PACKET_BYTES },
          'MQTT connection closed: it sent a packet larger than the gateway takes',
        ),
      );
      coalesceWrites(socket, {
        maxWaiting: MAX_WAITING_PER_CLIENT,
        behind: (waitingBytes) =>
          opts.log.warn(
            { ip: socket.remoteAddress, waitingBytes },
            'MQTT client dropped: it reads slower than it is sent to (a slow consumer); it may reconnect',
          ),
      });
      // Writes are batched per turn above; Nagle on top held each batch back until the
      // subscriber's ACK (p50 12 ms, p99 24 ms instead of 1 and 4 ms at 20,000 messages/s).
      socket.setNoDelay(true);
      broker.handle(socket);
    });
    // Past it, Node closes each new connection at once (net.Server maxConnections).
    server.maxConnections = opts.maxClients ?? MAX_CLIENTS;
    try {
      await listenOn(server, opts.listen, '--mqtt-listen');
    } catch (e) {
      // Its timers would keep a gateway that failed to start from exiting.
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      throw e;
    }
    const addr = server.address();
    port = typeof addr === 'object' && addr ? addr.port : undefined;
  }
  return {
    broker,
    server,
    port,
    async close() {
      failures.close();
      // The broker first: it disconnects its clients, without which server.close() would wait forever.
      await new Promise<void>((r) => broker.close(() => r()));
      if (server) await new Promise<void>((r) => server?.close(() => r()));
    },
  };
}
