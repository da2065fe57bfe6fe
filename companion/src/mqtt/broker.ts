/**
 * The embedded MQTT broker (aedes), loopback by default. No anonymous clients: the
 * password is an operator API key (any username). ACL by scope:
 *   read    — subscribe to kiln/v1/…;
 *   operate — also publish commands on kiln/v1/<device>/cmd;
 *   admin   — the same (device-side topics are the gateway's alone).
 * Telemetry, status and results are published only by the gateway itself (client null).
 */
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import { parseTopic } from '@kiln/protocol';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from '../log.ts';
import { type ApiKeyRepo, type ApiKeyRow, type Scope, scopeAllows } from '../store/api-keys.ts';
import { listenOn } from '../util/listen.ts';
import { FixedWindowLimiter } from '../util/rate-limit.ts';

export interface EmbeddedBroker {
  broker: Aedes;
  server: Server | undefined;
  port: number | undefined;
  close(): Promise<void>;
}

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

/**
 * One write per event-loop turn to an MQTT client instead of one per packet piece. aedes writes
 * each delivery from its own setImmediate, and mqtt-packet writes a publish in six pieces
 * (header, length, topic length, topic, id, payload): at 20,000 telemetry messages/s that was
 * 120,000 writes a second through the socket's stream machinery, then one writev of thousands
 * of pieces a turn, 11 % of the event loop's time (profiled, one subscriber). The pieces are
 * copied into one buffer instead, written once the turn ends, 64 KiB are waiting, or the
 * socket is ended or destroyed. What aedes sees is unchanged: write's return value (false
 * while the socket needs to drain) and 'drain'.
 */
function coalesceWrites(socket: Socket, maxBytes = 64 * 1024): void {
  const write = socket.write.bind(socket) as (chunk: Buffer, cb?: (err?: Error | null) => void) => boolean;
  let buf = Buffer.allocUnsafe(maxBytes);
  let used = 0;
  let scheduled = false;
  const flush = (cb?: (err?: Error | null) => void): boolean => {
    if (used === 0) {
      if (cb) process.nextTick(cb);
      return !socket.writableNeedDrain;
    }
    const out = buf.subarray(0, used);
    // The socket keeps the chunk until it is sent: the next ones go into a fresh buffer.
    buf = Buffer.allocUnsafe(maxBytes);
    used = 0;
    return write(out, cb);
  };
  const flushSoon = () => {
    scheduled = false;
    if (!socket.destroyed) flush();
  };
  socket.write = function (this: Socket, chunk: unknown, encoding?: unknown, cb?: unknown) {
    if (typeof encoding === 'function') cb = encoding;
    const bytes =
      typeof chunk === 'string'
        ? typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8'
          ? Buffer.from(chunk, encoding as BufferEncoding)
          : chunk
        : (chunk as Uint8Array);
    // At most 3 bytes per UTF-16 unit: the room a string needs, without encoding it twice.
    const room = typeof bytes === 'string' ? bytes.length * 3 : bytes.byteLength;
    if (used + room > maxBytes) flush();
    if (room > maxBytes) return write(typeof bytes === 'string' ? Buffer.from(bytes) : (bytes as Buffer), cb as never);
    if (typeof bytes === 'string') used += buf.write(bytes, used);
    else {
      buf.set(bytes, used);
      used += room;
    }
    // A callback is called once its bytes are written: they go now.
    if (typeof cb === 'function' || used >= maxBytes) return flush(cb as never);
    if (!scheduled) {
      scheduled = true;
      // Not setImmediate: deliveries are written from immediates, and one queued from there
      // runs only after the next poll phase; a 0 ms timer runs as soon as this turn ends.
      setTimeout(flushSoon, 0);
    }
    return !socket.writableNeedDrain;
  } as typeof socket.write;
  // aedes destroys the socket right after writing a refusal (CONNACK with an error code);
  // what is still waiting must go out first, as it would have without this.
  for (const name of ['destroy', 'end'] as const) {
    const original = socket[name] as (...a: unknown[]) => Socket;
    socket[name] = function (this: Socket, ...args: unknown[]) {
      if (!socket.destroyed && socket.writable) flush();
      return original.apply(this, args);
    } as never;
  }
}

function authError(message: string, returnCode: 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export async function startEmbeddedBroker(opts: {
  apiKeys: ApiKeyRepo;
  log: Logger;
  listen?: { host: string; port: number };
  authFailuresPerMinPerIp: number;
}): Promise<EmbeddedBroker> {
  const failures = new FixedWindowLimiter(opts.authFailuresPerMinPerIp, 60_000, 50_000);
  const broker = await Aedes.createBroker({
    // A frozen subscriber may stall at most this many deliveries (aedes docs); above the
    // bridge's window of publishes in flight (bridge.ts), which must stay below it …
    concurrency: BROKER_CONCURRENCY,
    // … and is dropped after 10 s of not draining, instead of aedes' 60 s.
    drainTimeout: 10_000,
    connectTimeout: 10_000,
    maxTopicLevels: 16,
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
      if (scope && (sub.topic === 'kiln/v1/#' || sub.topic.startsWith('kiln/v1/'))) return done(null, sub);
      done(null, null);
    },
  });
  let server: Server | undefined;
  let port: number | undefined;
  if (opts.listen) {
    server = createServer((socket) => {
      coalesceWrites(socket);
      // Writes are batched per turn above; Nagle on top held each batch back until the
      // subscriber's ACK (p50 12 ms, p99 24 ms instead of 1 and 4 ms at 20,000 messages/s).
      socket.setNoDelay(true);
      broker.handle(socket);
    });
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
