/** TCP plumbing shared by rfc2217:// and socket://: URL parsing and a connect with a deadline. */
import { connect, type Socket } from 'node:net';
import { networkError, UsageError } from '../errors.ts';

export interface TcpAddress {
  host: string;
  port: number;
  /** Query parameters (rfc2217://host:port?ign_set_control). */
  params: URLSearchParams;
}

/** Parses `scheme://host:port[?options]`; IPv6 hosts in brackets. */
export function parseTcpUrl(url: string, scheme: 'rfc2217' | 'socket'): TcpAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError('PORT_URL_INVALID', `${url} is not a valid ${scheme}:// URL`, {
      hint: `write it as ${scheme}://HOST:PORT, e.g. ${scheme}://127.0.0.1:4000`,
    });
  }
  const port = Number(parsed.port);
  if (parsed.protocol !== `${scheme}:` || !parsed.hostname || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError('PORT_URL_INVALID', `${url} needs a host and a port`, {
      hint: `write it as ${scheme}://HOST:PORT, e.g. ${scheme}://127.0.0.1:4000`,
    });
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port, params: parsed.searchParams };
}

/** Connects with TCP_NODELAY (one SLIP frame per write matters for latency); fails after timeoutMs. */
export function connectTcp(url: string, address: TcpAddress, timeoutMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(networkError(url, Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      socket.destroy();
      reject(networkError(url, e));
    });
  });
}
