/**
 * What the RFC 2217 and raw TCP servers share: listening on an address (loopback
 * unless the caller allows a public bind), tracking connections so close() ends them,
 * and the URL a client uses.
 */
import { isIP, type Server, type Socket } from 'node:net';
import { ExitCode, KilnError, UsageError } from '@kiln/protocol';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface BoardServer {
  /** `rfc2217://127.0.0.1:40123` or `socket://127.0.0.1:40124`. */
  readonly url: string;
  readonly address: ListenAddress;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** Parses `127.0.0.1:0`, `[::1]:4000`, `:4000` (loopback) or `4000`. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text.trim()) ?? /^()()(\d+)$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  const host = m?.[1] || m?.[2] || '127.0.0.1';
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535 || (host !== 'localhost' && !isIP(host))) {
    throw new UsageError('BOARD_BAD_LISTEN', `'${text}' is not an address to listen on`, {
      hint: 'write HOST:PORT, for example 127.0.0.1:0 (port 0 picks a free port)',
    });
  }
  return { host, port };
}

export function checkBindAllowed(host: string, allowPublic: boolean): void {
  if (!isLoopback(host) && !allowPublic) {
    throw new UsageError(
      'BOARD_PUBLIC_BIND',
      `refusing to serve a board on ${host}, which is reachable from other machines`,
      {
        hint: 'listen on 127.0.0.1, or pass --public if other machines must reach the board',
      },
    );
  }
}

export async function listen(
  server: Server,
  scheme: 'rfc2217' | 'socket',
  address: ListenAddress,
): Promise<BoardServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(
        new KilnError('BOARD_LISTEN_FAILED', `cannot listen on ${address.host}:${address.port}: ${e.message}`, {
          hint: e.code === 'EADDRINUSE' ? 'choose another port, or 0 for a free one' : 'check the address',
          exitCode: ExitCode.PORT,
          cause: e,
        }),
      );
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    url: `${scheme}://${host}:${port}`,
    address: { host: address.host, port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
