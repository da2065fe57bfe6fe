/**
 * The TLS front's thread: it owns the listening socket and every TLS connection, and the
 * event loop sees only plaintext, in batches (batch.ts). Why: with 10,000 devices at 20,000
 * messages a second, half of the event loop's time was the TLS record and the loopback send
 * of each ack, one per message and socket, and Node completes every TLS write on the next
 * turn of the loop, so a device's next ack waited behind a whole poll phase (docs/
 * ARCHITECTURE.md, "The TLS front"). Here those sends and reads run on a second core.
 */
import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket, type TlsOptions } from 'node:tls';
import { parentPort } from 'node:worker_threads';
import { readOpenFilesLimit } from '../util/listen.ts';
import { type Batch, BatchBuilder, Op, readBatch } from './batch.ts';
import { DescriptorWatch } from './descriptors.ts';

/** Messages besides batches: thread → loop. */
export type FrontNotice =
  | { listening: number }
  | { listenError: { code: string | undefined; message: string } }
  /** Accepting failed `count` times since the last notice; one a second at most. */
  | { acceptError: { message: string; count: number } }
  /** No descriptor is left of `limit`, with `connections` held here: connections are turned away (descriptors.ts). */
  | { openFilesFull: { connections: number; limit: number } };

/** Messages besides batches: loop → thread. */
export type FrontCommand =
  | { cmd: 'listen'; tls: TlsOptions; host: string; port: number; backlog: number }
  | { cmd: 'stop-accepting' }
  | { cmd: 'exit' };

if (!parentPort) throw new Error('tls-front-thread.ts runs as a worker thread');
const port = parentPort;

const sockets = new Map<number, TLSSocket>();
let nextId = 1;
/**
 * Batches the loop has not taken yet. Past AHEAD, a connection that delivers is paused until
 * the loop catches up, so what waits for the loop is bounded (the rest waits in the kernel,
 * and TCP slows the peers), as it was when the loop read its own sockets.
 */
let untaken = 0;
const AHEAD = 4;
const heldBack = new Set<number>();
/** Connections the loop paused (its reader is full): only the loop resumes them. */
const pausedByLoop = new Set<number>();
const out = new BatchBuilder(
  (b, transfer) => {
    untaken++;
    port.postMessage(b, transfer);
  },
  setImmediate,
  { ops: 256, bytes: 256 * 1024 },
);

function taken(n: number): void {
  untaken -= n;
  if (untaken >= AHEAD) return;
  for (const id of heldBack) if (!pausedByLoop.has(id)) sockets.get(id)?.resume();
  heldBack.clear();
}

function accepted(s: TLSSocket): void {
  const id = nextId++;
  sockets.set(id, s);
  // As Node's http server does by default (noDelay): an ack is not held for the next one.
  s.setNoDelay(true);
  out.add(Op.OPEN, id, s.remotePort ?? 0, undefined, s.remoteAddress ?? '', s.remoteFamily ?? '');
  s.on('data', (d: Buffer) => {
    out.add(Op.DATA, id, 0, d);
    if (untaken < AHEAD) return;
    s.pause();
    heldBack.add(id);
  });
  s.on('end', () => out.add(Op.END, id));
  // The close that follows says it; an error here (a reset peer) needs no other handling.
  s.on('error', () => {});
  s.on('close', () => {
    sockets.delete(id);
    blocked.delete(id);
    heldBack.delete(id);
    pausedByLoop.delete(id);
    out.add(Op.CLOSE, id);
  });
}

/** Connections whose peer is not taking what is written; the loop holds further writes. */
const blocked = new Set<number>();

function write(s: TLSSocket, id: number, payload: Buffer): void {
  if (s.write(payload) || blocked.has(id)) return;
  blocked.add(id);
  out.add(Op.BLOCKED, id);
  s.once('drain', () => {
    blocked.delete(id);
    out.add(Op.DRAINED, id);
  });
}

port.on('message', (m: Batch | FrontCommand) => {
  if ('cmd' in m) {
    if (m.cmd === 'listen') listen(m);
    else if (m.cmd === 'stop-accepting') server?.close();
    else {
      server?.close();
      for (const s of sockets.values()) s.destroy();
      out.flush();
      port.close();
    }
    return;
  }
  readBatch(m, (op, id, n, payload) => {
    if (op === Op.TAKEN) return taken(n);
    const s = sockets.get(id);
    if (!s) return;
    switch (op) {
      case Op.WRITE:
        if (payload) write(s, id, payload);
        break;
      case Op.SHUT:
        s.end();
        break;
      case Op.DESTROY:
        s.destroy();
        break;
      case Op.PAUSE:
        pausedByLoop.add(id);
        s.pause();
        break;
      case Op.RESUME:
        pausedByLoop.delete(id);
        if (untaken < AHEAD) s.resume();
        else heldBack.add(id);
        break;
    }
  });
});

let server: Server | undefined;
let listening = false;
let acceptErrors = 0;
let acceptNoticeAt = 0;

/** Counts the connections the server holds, from the TCP accept (a handshake holds one too). */
function watchDescriptors(srv: Server): void {
  const limit = readOpenFilesLimit();
  if (limit === undefined || !Number.isFinite(limit)) return;
  const watch = new DescriptorWatch(limit, (connections, max) =>
    port.postMessage({ openFilesFull: { connections, limit: max } } satisfies FrontNotice),
  );
  srv.on('connection', (raw: Socket) => {
    watch.opened();
    raw.once('close', () => watch.closed());
  });
  const timer = setInterval(() => watch.check(), 5000);
  timer.unref();
  srv.once('close', () => clearInterval(timer));
}

/** The thread is started before the gateway knows its TLS material; it listens when told. */
function listen(c: Extract<FrontCommand, { cmd: 'listen' }>): void {
  const srv = createServer(c.tls, accepted);
  server = srv;
  // A handshake that fails is the peer's problem; Node has already destroyed its socket.
  srv.on('tlsClientError', () => {});
  watchDescriptors(srv);
  srv.on('error', (e: NodeJS.ErrnoException) => {
    if (!listening) {
      port.postMessage({ listenError: { code: e.code, message: e.message } } satisfies FrontNotice);
      return;
    }
    // The server goes on listening (libuv keeps its listen socket), so this is said, not
    // fatal, and at most once a second however many there are. (Out of descriptors is not
    // among them: libuv hides that, and DescriptorWatch says it.)
    acceptErrors++;
    if (Date.now() - acceptNoticeAt < 1000) return;
    acceptNoticeAt = Date.now();
    port.postMessage({ acceptError: { message: e.message, count: acceptErrors } } satisfies FrontNotice);
    acceptErrors = 0;
  });
  srv.listen({ host: c.host, port: c.port, backlog: c.backlog }, () => {
    listening = true;
    const addr = srv.address();
    port.postMessage({ listening: typeof addr === 'object' && addr ? addr.port : c.port } satisfies FrontNotice);
  });
}
