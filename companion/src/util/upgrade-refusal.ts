/**
 * What every WebSocket endpoint (device and operator stream) does with an upgrade's socket
 * before it is accepted: ends it on a socket error, and refuses it the same way: a plain
 * HTTP answer with a JSON `{code}` body and an optional Retry-After, then the socket is
 * closed, and at most 1 s later destroyed. (Callers log the request as `req`: the logger's
 * serializer drops its query and redacts secret headers.)
 */
import type { Duplex } from 'node:stream';

export interface UpgradeRefusal {
  status: number;
  reason: string;
  retryAfterSec?: number;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

function destroySelf(this: Duplex): void {
  this.destroy();
}

/**
 * A socket error during the handshake ends the socket. The listener is a plain function, not
 * a closure made in the upgrade handler: it stays for the connection's life, and such a
 * closure would hold the handler's scope with it, the request included (its headers carry
 * the token): about 1 KB and a credential kept per connection, for hours.
 */
export function destroyOnError(socket: Duplex): void {
  socket.on('error', destroySelf);
}

export function answerRefusal(socket: Duplex, r: UpgradeRefusal): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ code: r.reason });
  socket.end(
    `HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `${r.retryAfterSec ? `Retry-After: ${r.retryAfterSec}\r\n` : ''}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}
