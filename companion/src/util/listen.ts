/**
 * Listening where the operator said: a port another process holds, or an address this host
 * or user cannot bind, is theirs to change (exit 2, naming the flag), not a bug in Kiln.
 */
import type { Server } from 'node:net';
import { ConfigError } from '../errors.ts';

const THEIRS = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL']);

export function listenOn(
  server: Server,
  at: { host: string; port: number },
  flag: string,
  opts: { backlog?: number } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => {
      if (!THEIRS.has(e.code ?? '')) return reject(e);
      const inUse = e.code === 'EADDRINUSE';
      reject(
        new ConfigError(
          'LISTEN_FAILED',
          `cannot listen on ${at.host}:${at.port}: ${inUse ? 'the port is in use' : e.message}`,
          inUse
            ? `another process holds it (another kiln gateway?): stop it, or choose another with ${flag} (port 0: any free one)`
            : `check the address given with ${flag}`,
        ),
      );
    };
    server.once('error', failed);
    server.listen({ host: at.host, port: at.port, ...opts }, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
