/**
 * A Transport dressed as a Web Serial `SerialPort`, which is what esptool-js's
 * `Transport` drives (flashing.md §1): `open({baudRate})`, `readable`/`writable`
 * WHATWG streams (a fresh pair per open, null while closed so its read loop ends),
 * `setSignals()` whose omitted fields mean "unchanged", `setBaudRate()` in place
 * (esptool-js 0.7.0 uses it instead of closing and reopening), `getInfo()` with the
 * USB VID/PID (0x303A/0x1001 selects the USB-Serial/JTAG reset), and `close()`.
 */
import type { PortUsbInfo, Transport } from './types.ts';

export interface WebSerialOpenOptions {
  baudRate: number;
}

export interface WebSerialSignals {
  dataTerminalReady?: boolean;
  requestToSend?: boolean;
  break?: boolean;
}

export class WebSerialPort {
  readonly transport: Transport;
  readable: ReadableStream<Uint8Array> | null = null;
  writable: WritableStream<Uint8Array> | null = null;
  #unsubscribe: (() => void)[] = [];

  constructor(transport: Transport) {
    this.transport = transport;
  }

  getInfo(): PortUsbInfo {
    return { ...this.transport.usb };
  }

  async open(options: WebSerialOpenOptions): Promise<void> {
    const transport = this.transport;
    await transport.open(options.baudRate);
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    const readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          controller = c;
        },
        cancel: () => {
          controller = undefined;
        },
      },
      // Unbounded: the reader (esptool-js's readLoop) drains it into its own buffer.
      { highWaterMark: Number.POSITIVE_INFINITY },
    );
    this.#unsubscribe = [
      transport.onData((data) => controller?.enqueue(data)),
      transport.onClose((error) => {
        const c = controller;
        controller = undefined;
        if (!c) return;
        if (error) c.error(error);
        else c.close();
      }),
    ];
    this.readable = readable;
    this.writable = new WritableStream<Uint8Array>({ write: (chunk) => transport.write(chunk) });
  }

  async setSignals(signals: WebSerialSignals): Promise<void> {
    const lines: { dtr?: boolean; rts?: boolean } = {};
    if (signals.dataTerminalReady !== undefined) lines.dtr = signals.dataTerminalReady;
    if (signals.requestToSend !== undefined) lines.rts = signals.requestToSend;
    if (lines.dtr !== undefined || lines.rts !== undefined) await this.transport.setLines(lines);
    if (signals.break !== undefined) await this.transport.setBreak(signals.break);
  }

  async setBaudRate(baudRate: number): Promise<void> {
    await this.transport.setBaudRate(baudRate);
  }

  async close(): Promise<void> {
    for (const u of this.#unsubscribe) u();
    this.#unsubscribe = [];
    this.readable = null;
    this.writable = null;
    await this.transport.close();
  }
}
