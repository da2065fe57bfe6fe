/**
 * What rfc2217:// and socket:// share: URL parsing, a connect with a deadline, and
 * TcpTransport, the open/close lifecycle of one TCP connection used as a serial port.
 */
import { connect, type Socket } from 'node:net';
import { networkError, PortError, UsageError } from '../errors.ts';
import { type PortUsbInfo, type SerialLines, type Transport, TransportEvents } from './types.ts';

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

/**
 * A serial port reached over one TCP connection. Subclasses say what the bytes mean
 * (`received`, `write`) and what opening involves; this class owns the socket, the
 * listeners, and the difference between a port closed by us and one lost.
 */
export abstract class TcpTransport implements Transport {
  abstract readonly kind: 'rfc2217' | 'socket';
  abstract readonly canSetLines: boolean;
  abstract readonly hasBaudRate: boolean;
  readonly port: string;
  readonly usb: PortUsbInfo = {};
  protected readonly address: TcpAddress;
  protected readonly events = new TransportEvents();
  /** DTR/RTS as last set; the `lines` getter hands out copies. */
  protected trackedLines: SerialLines = { dtr: false, rts: false };
  protected currentBaudRate = 0;
  #socket: Socket | undefined;
  /** Set by close() and abort(): the coming 'close' is ours, not a lost port. */
  #closing = false;

  constructor(url: string, scheme: 'rfc2217' | 'socket') {
    this.port = url;
    this.address = parseTcpUrl(url, scheme);
  }

  get isOpen(): boolean {
    return this.#socket !== undefined;
  }

  get lines(): SerialLines {
    return { ...this.trackedLines };
  }

  get baudRate(): number {
    return this.currentBaudRate;
  }

  abstract open(baudRate: number): Promise<void>;
  abstract write(data: Uint8Array): Promise<void>;
  abstract setLines(lines: Partial<SerialLines>): Promise<void>;
  abstract setBreak(on: boolean): Promise<void>;
  abstract setBaudRate(baudRate: number): Promise<void>;

  /** Every chunk the far end sends, as it arrives. */
  protected abstract received(bytes: Buffer): void;

  /** The connection has ended (closed, lost or aborted), before onClose listeners hear of it. */
  protected disconnected(): void {}

  onData(listener: (data: Uint8Array) => void): () => void {
    return this.events.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.events.onClose(listener);
  }

  async close(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    this.#closing = true;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 500).unref();
    });
    this.#socket = undefined;
  }

  /** The first step of open(): connects and starts delivering to `received`. */
  protected async connect(): Promise<Socket> {
    if (this.#socket) throw new PortError('PORT_ALREADY_OPEN', `${this.port} is already open`);
    const socket = await connectTcp(this.port, this.address);
    this.#socket = socket;
    this.#closing = false;
    socket.on('data', (bytes: Buffer) => this.received(bytes));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#socket = undefined;
      this.disconnected();
      this.events.emitClose(
        this.#closing ? undefined : new PortError('PORT_LOST', `the connection to ${this.port} was closed`),
      );
    });
    return socket;
  }

  /** Drops the connection when open() fails after connect(); not reported as lost. */
  protected abort(): void {
    this.#closing = true;
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  protected requireSocket(): Socket {
    if (!this.#socket) throw new PortError('PORT_CLOSED', `${this.port} is not open`);
    return this.#socket;
  }

  /** Writes bytes as they are, resolving once the socket has taken them. */
  protected async send(bytes: Uint8Array): Promise<void> {
    const socket = this.requireSocket();
    await new Promise<void>((resolve, reject) => {
      socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }
}
