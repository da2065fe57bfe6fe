/**
 * A local serial port through node-serialport (`serialport@13`, native bindings).
 *
 * serialport's `set()` fills in defaults for the flags it is not given
 * (`dtr: true, rts: true`, @serialport/stream defaultSetFlags), so asserting one
 * line would silently assert the other: this transport tracks both and always
 * sends both (one atomic TIOCMSET on Unix). The baud rate changes with `update()`,
 * in place: closing and reopening can toggle DTR/RTS (hupcl) and reboot the board.
 */
import { SerialPortStream } from '@serialport/stream';
import { SerialPort } from 'serialport';
import { PortError, portOpenError } from '../errors.ts';
import { type PortUsbInfo, type SerialLines, type Transport, TransportEvents } from './types.ts';

/** A serialport binding (@serialport/bindings-interface has no types under NodeNext resolution). */
export type SerialBinding = ConstructorParameters<typeof SerialPortStream>[0]['binding'];

export interface SerialTransportOptions {
  /** The serialport binding; default the native one. Tests pass @serialport/binding-mock. */
  binding?: SerialBinding;
  /** USB identity, when known from a port listing. */
  usb?: PortUsbInfo;
}

export class SerialTransport implements Transport {
  readonly kind = 'serial' as const;
  readonly canSetLines = true;
  readonly hasBaudRate = true;
  readonly port: string;
  readonly usb: PortUsbInfo;
  readonly #binding: SerialBinding;
  readonly #events = new TransportEvents();
  #stream: SerialPortStream | undefined;
  #lines: SerialLines = { dtr: false, rts: false };
  #baudRate = 0;
  #closing = false;

  constructor(path: string, options: SerialTransportOptions = {}) {
    this.port = path;
    this.usb = options.usb ?? {};
    this.#binding = options.binding ?? (SerialPort.binding as SerialBinding);
  }

  get isOpen(): boolean {
    return this.#stream?.isOpen ?? false;
  }

  get lines(): SerialLines {
    return { ...this.#lines };
  }

  get baudRate(): number {
    return this.#baudRate;
  }

  async open(baudRate: number): Promise<void> {
    if (this.#stream) throw new PortError('PORT_ALREADY_OPEN', `${this.port} is already open`);
    const stream = new SerialPortStream({
      binding: this.#binding,
      path: this.port,
      baudRate,
      autoOpen: false,
      // Keep the lines as they are when the port closes, as pyserial leaves them.
      hupcl: false,
    });
    await new Promise<void>((resolve, reject) => {
      stream.open((err) => (err ? reject(portOpenError(this.port, err)) : resolve()));
    });
    this.#stream = stream;
    this.#baudRate = baudRate;
    this.#closing = false;
    stream.on('data', (data: Buffer) => this.#events.emitData(new Uint8Array(data)));
    stream.on('error', () => {}); // reported through 'close'
    stream.on('close', (err?: Error | null) => {
      this.#stream = undefined;
      const lost =
        !this.#closing && err ? new PortError('PORT_LOST', `${this.port} disappeared`, { cause: err }) : undefined;
      this.#events.emitClose(lost);
    });
    // The OS asserts both lines at open; release them, as the reset sequences expect.
    try {
      await this.#set({ dtr: false, rts: false });
    } catch {
      // A pty or an adapter without modem lines: nothing to release.
    }
  }

  async write(data: Uint8Array): Promise<void> {
    const stream = this.#require();
    await new Promise<void>((resolve, reject) => {
      stream.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength), (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  onData(listener: (data: Uint8Array) => void): () => void {
    return this.#events.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.#events.onClose(listener);
  }

  async setLines(lines: Partial<SerialLines>): Promise<void> {
    this.#require();
    await this.#set({ ...this.#lines, ...lines });
  }

  async setBreak(on: boolean): Promise<void> {
    const stream = this.#require();
    await new Promise<void>((resolve, reject) => {
      stream.set({ dtr: this.#lines.dtr, rts: this.#lines.rts, brk: on }, (err) => (err ? reject(err) : resolve()));
    });
  }

  async setBaudRate(baudRate: number): Promise<void> {
    const stream = this.#require();
    await new Promise<void>((resolve, reject) => {
      stream.update({ baudRate }, (err) =>
        err
          ? reject(
              new PortError('PORT_BAUD_UNSUPPORTED', `the adapter on ${this.port} refused ${baudRate} baud`, {
                hint: 'try a lower --baud, e.g. 460800 or 115200',
                cause: err,
              }),
            )
          : resolve(),
      );
    });
    this.#baudRate = baudRate;
  }

  async close(): Promise<void> {
    const stream = this.#stream;
    if (!stream) return;
    this.#closing = true;
    await new Promise<void>((resolve) => {
      stream.close(() => resolve());
    });
    this.#stream = undefined;
  }

  async #set(lines: SerialLines): Promise<void> {
    const stream = this.#require();
    await new Promise<void>((resolve, reject) => {
      // Both lines every time: set() would default an omitted one to asserted.
      stream.set({ dtr: lines.dtr, rts: lines.rts, brk: false }, (err) =>
        err
          ? reject(
              new PortError('PORT_LINES_FAILED', `cannot set DTR/RTS on ${this.port}: ${err.message}`, {
                hint: 'this port has no modem lines (a pty or a bare UART?): put the chip in download mode by hand and pass --before no-reset',
                cause: err,
              }),
            )
          : resolve(),
      );
    });
    this.#lines = { ...lines };
  }

  #require(): SerialPortStream {
    if (!this.#stream) throw new PortError('PORT_CLOSED', `${this.port} is not open`);
    return this.#stream;
  }
}
