/**
 * `socket://host:port`: raw bytes over TCP, as pyserial's socket:// handler (and
 * esptool's --port socket://) speak it. There are no modem lines and no baud rate:
 * the board cannot be reset from here, so it must already wait in download mode.
 */

import { TcpTransport } from './tcp.ts';
import type { SerialLines } from './types.ts';

export class SocketTransport extends TcpTransport {
  readonly kind = 'socket' as const;
  readonly canSetLines = false;
  readonly hasBaudRate = false;

  constructor(url: string) {
    super(url, 'socket');
  }

  async open(baudRate: number): Promise<void> {
    await this.connect();
    this.currentBaudRate = baudRate;
  }

  write(data: Uint8Array): Promise<void> {
    return this.send(data);
  }

  protected received(bytes: Buffer): void {
    this.events.emitData(new Uint8Array(bytes));
  }

  /** Tracked only: a raw socket carries no modem lines. */
  async setLines(lines: Partial<SerialLines>): Promise<void> {
    this.trackedLines = { ...this.trackedLines, ...lines };
  }

  async setBreak(): Promise<void> {}

  /** Tracked only: the far end's UART rate is not ours to set. */
  async setBaudRate(baudRate: number): Promise<void> {
    this.currentBaudRate = baudRate;
  }
}
