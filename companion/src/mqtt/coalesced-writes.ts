import type { Socket } from 'node:net';

/**
 * One write per event-loop turn to an MQTT client instead of one per packet piece. aedes writes
 * each delivery from its own setImmediate, and mqtt-packet writes a publish in six pieces
 * (header, length, topic length, topic, id, payload): at 20,000 telemetry messages/s that was
 * 120,000 writes a second through the socket's stream machinery, then one writev of thousands
 * of pieces a turn, 11 % of the event loop's time (profiled, one subscriber). The pieces are
 * copied into one buffer instead, written once the turn ends, `maxBytes` are waiting, or the
 * socket is ended or destroyed.
 *
 * A client that reads slower than it is sent to is dropped once `maxWaiting` bytes wait for it
 * (`behind` is told first), as a slow consumer. write() never asks aedes to wait: aedes would
 * hold each delivery to that client until it drained, and with them the publishes they belong
 * to, so one frozen subscriber stalled every other one for its 10 s drain timeout.
 */
export function coalesceWrites(
  socket: Socket,
  opts: { maxBytes?: number; maxWaiting: number; behind: (waitingBytes: number) => void },
): void {
  const { maxBytes = 64 * 1024, maxWaiting, behind } = opts;
  const write = socket.write.bind(socket) as (chunk: Buffer, cb?: (err?: Error | null) => void) => boolean;
  let buf = Buffer.allocUnsafe(maxBytes);
  let used = 0;
  let scheduled = false;
  const flush = (cb?: (err?: Error | null) => void): void => {
    if (used === 0) {
      if (cb) process.nextTick(cb);
      return;
    }
    const out = buf.subarray(0, used);
    // The socket keeps the chunk until it is sent: the next ones go into a fresh buffer.
    buf = Buffer.allocUnsafe(maxBytes);
    used = 0;
    write(out, cb);
  };
  const dropIfBehind = () => {
    const waiting = socket.writableLength + used;
    if (waiting <= maxWaiting) return;
    behind(waiting);
    used = 0;
    socket.destroy();
  };
  const flushSoon = () => {
    scheduled = false;
    if (!socket.destroyed) flush();
  };
  socket.write = function (this: Socket, chunk: unknown, encoding?: unknown, cb?: unknown) {
    if (typeof encoding === 'function') cb = encoding;
    // Dropped (or closing): aedes learns it from 'close'; what it still writes goes nowhere.
    if (socket.destroyed) return true;
    const bytes =
      typeof chunk === 'string'
        ? typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8'
          ? Buffer.from(chunk, encoding as BufferEncoding)
          : chunk
        : (chunk as Uint8Array);
    // At most 3 bytes per UTF-16 unit: the room a string needs, without encoding it twice.
    const room = typeof bytes === 'string' ? bytes.length * 3 : bytes.byteLength;
    if (used + room > maxBytes) flush();
    if (room > maxBytes) {
      write(typeof bytes === 'string' ? Buffer.from(bytes) : (bytes as Buffer), cb as never);
      dropIfBehind();
      return true;
    }
    if (typeof bytes === 'string') used += buf.write(bytes, used);
    else {
      buf.set(bytes, used);
      used += room;
    }
    // A callback is called once its bytes are written: they go now.
    if (typeof cb === 'function' || used >= maxBytes) flush(cb as never);
    else if (!scheduled) {
      scheduled = true;
      // Not setImmediate: deliveries are written from immediates, and one queued from there
      // runs only after the next poll phase; a 0 ms timer runs as soon as this turn ends.
      setTimeout(flushSoon, 0);
    }
    dropIfBehind();
    return true;
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
