/**
 * Listening where the operator said: a port another process holds, or an address this host
 * or user cannot bind, is theirs to change (exit 2, naming the flag), not a bug in Kiln.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { ConfigError } from '../errors.ts';

/**
 * The accept queue a listener asks for. The kernel takes the smaller of this and
 * net.core.somaxconn, so asking for the most lets an operator size it with sysctl alone.
 */
export const LISTEN_BACKLOG = 65_535;

/** net.core.somaxconn, where the host has one to read (Linux); undefined elsewhere. */
export function readSomaxconn(file = '/proc/sys/net/core/somaxconn'): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What to tell an operator whose accept queue is shorter than the fleet it serves: devices
 * coming back at once after a restart overflow it, and each one dropped waits out TCP's own
 * retransmits (1 s, 3 s, 7 s) while the gateway may idle (docs/ARCHITECTURE.md, "A restart").
 */
export function listenQueueAdvice(somaxconn: number | undefined, maxConnections: number): string | undefined {
  if (somaxconn === undefined || somaxconn >= Math.min(maxConnections, LISTEN_BACKLOG)) return undefined;
  return `the listen queue holds ${somaxconn} connections (net.core.somaxconn) for up to ${maxConnections} devices: after a restart, devices past it wait out TCP retransmits; raise it with sysctl -w net.core.somaxconn=${Math.min(maxConnections, LISTEN_BACKLOG)}`;
}

/** Descriptors a gateway holds besides its connections: database files, threads, brokers. */
export const SPARE_DESCRIPTORS = 256;

/** The soft limit on open files (RLIMIT_NOFILE) where the host says it (Linux); undefined elsewhere. */
export function readOpenFilesLimit(file = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return Number.POSITIVE_INFINITY;
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What to tell an operator whose open-files limit is below the fleet: each device connection
 * is a descriptor, and past the limit the devices are turned away (tls-front/descriptors.ts
 * says when that happens). Node raises the soft limit to the hard one at start, so this is
 * the hard one.
 */
export function openFilesAdvice(limit: number | undefined, maxConnections: number): string | undefined {
  const needed = maxConnections + SPARE_DESCRIPTORS;
  if (limit === undefined || limit >= needed) return undefined;
  return `open files are limited to ${limit} (RLIMIT_NOFILE) for up to ${maxConnections} devices: past it, connections are refused; raise it to at least ${needed} (ulimit -n, or LimitNOFILE= in a systemd unit)`;
}

const THEIRS = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL']);

/** Why a listen failed, as the operator should read it: theirs (exit 2, naming the flag) or not. */
export function listenFailure(e: NodeJS.ErrnoException, at: { host: string; port: number }, flag: string): Error {
  if (!THEIRS.has(e.code ?? '')) return e;
  const inUse = e.code === 'EADDRINUSE';
  return new ConfigError(
    'LISTEN_FAILED',
    `cannot listen on ${at.host}:${at.port}: ${inUse ? 'the port is in use' : e.message}`,
    inUse
      ? `another process holds it (another kiln gateway?): stop it, or choose another with ${flag} (port 0: any free one)`
      : `check the address given with ${flag}`,
  );
}

export function listenOn(
  server: Server,
  at: { host: string; port: number },
  flag: string,
  opts: { backlog?: number } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException) => reject(listenFailure(e, at, flag));
    server.once('error', failed);
    server.listen({ host: at.host, port: at.port, ...opts }, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
