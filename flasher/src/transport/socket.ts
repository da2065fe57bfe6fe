/**
 * `socket://host:port`: raw bytes over TCP, as pyserial's socket:// handler (and
 * esptool's --port socket://) speak it. There are no modem lines and no baud rate:
 * the board cannot be reset from here, so it must already wait in download mode.
 */
import type { Socket } from 'node:net';
import { PortError } from '../errors.ts';
import { connectTcp, parseTcpUrl, type TcpAddress } from './tcp.ts';
import { type PortUsbInfo, type SerialLines, type Transport, TransportEvents } from './types.ts';

export class SocketTransport implements Transport {
  readonly kind = 'socket' as const;
  readonly canSetLines = false;
  readonly hasBaudRate = false;
  readonly port: string;
  readonly usb: PortUsbInfo = {};
  readonly #address: TcpAddress;
  readonly #events = new TransportEvents();
  #socket: Socket | undefined;
  #lines: SerialLines = { dtr: false, rts: false };
  #baudRate = 0;
  #closing = false;

  constructor(url: string) {
    this.port = url;
    this.#address = parseTcpUrl(url, 'socket');
  }

  get isOpen(): boolean {
    return this.#socket !== undefined;
  }

  get lines(): SerialLines {
    return { ...this.#lines };
  }

  get baudRate(): number {
    return this.#baudRate;
  }

  async open(baudRate: number): Promise<void> {
    if (this.#socket) throw new PortError('PORT_ALREADY_OPEN', `${this.port} is already open`);
    const socket = await connectTcp(this.port, this.#address);
    this.#socket = socket;
    this.#baudRate = baudRate;
    this.#closing = false;
    socket.on('data', (data: Buffer) => this.#events.emitData(new Uint8Array(data)));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#socket = undefined;
      this.#events.emitClose(
        this.#closing ? undefined : new PortError('PORT_LOST', `the connection to ${this.port} was closed`),
      );
    });
  }

  async write(data: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (!socket) throw new PortError('PORT_CLOSED', `${this.port} is not open`);
    await new Promise<void>((resolve, reject) => {
      socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  onData(listener: (data: Uint8Array) => void): () => void {
    return this.#events.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.#events.onClose(listener);
  }

  /** Tracked only: a raw socket carries no modem lines. */
  async setLines(lines: Partial<SerialLines>): Promise<void> {
    this.#lines = { ...this.#lines, ...lines };
  }

  async setBreak(): Promise<void> {}

  /** Tracked only: the far end's UART rate is not ours to set. */
  async setBaudRate(baudRate: number): Promise<void> {
    this.#baudRate = baudRate;
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
}
