/**
 * One Transport interface for every port form Kiln accepts (DESIGN.md "Ports"):
 * a local serial device, `rfc2217://host:port` and `socket://host:port`. The loader
 * never sees serialport or sockets; it gets a Web-Serial-shaped port built on top of
 * a Transport (web-serial.ts), which is what esptool-js expects.
 */

/** DTR and RTS as asserted (true) or not. Tracked together: every change sends both. */
export interface SerialLines {
  dtr: boolean;
  rts: boolean;
}

/** USB identity of the adapter, when the port has one (local USB serial). */
export interface PortUsbInfo {
  usbVendorId?: number;
  usbProductId?: number;
}

export type TransportKind = 'serial' | 'rfc2217' | 'socket';

export interface Transport {
  readonly kind: TransportKind;
  /** The port as the user wrote it (path or URL), for messages. */
  readonly port: string;
  /** false for socket://: no DTR/RTS reach the board, so it cannot be reset. */
  readonly canSetLines: boolean;
  /** false for socket://: the link has no baud rate. */
  readonly hasBaudRate: boolean;
  readonly isOpen: boolean;
  readonly lines: SerialLines;
  readonly baudRate: number;
  readonly usb: PortUsbInfo;
  /** Opens the port at this rate with DTR and RTS released. */
  open(baudRate: number): Promise<void>;
  write(data: Uint8Array): Promise<void>;
  /** Every chunk received from now on; returns an unsubscribe function. */
  onData(listener: (data: Uint8Array) => void): () => void;
  /** Called once when the port closes, with the error if it was lost rather than closed. */
  onClose(listener: (error?: Error) => void): () => void;
  /** Changes one or both lines; the other keeps its tracked state and both are sent. */
  setLines(lines: Partial<SerialLines>): Promise<void>;
  setBreak(on: boolean): Promise<void>;
  /** Changes the rate in place, without closing the port (a reopen can reset the board). */
  setBaudRate(baudRate: number): Promise<void>;
  close(): Promise<void>;
}

/** Listener bookkeeping shared by the implementations. */
export class TransportEvents {
  readonly #data = new Set<(data: Uint8Array) => void>();
  readonly #close = new Set<(error?: Error) => void>();

  onData(listener: (data: Uint8Array) => void): () => void {
    this.#data.add(listener);
    return () => this.#data.delete(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    this.#close.add(listener);
    return () => this.#close.delete(listener);
  }

  emitData(data: Uint8Array): void {
    for (const l of this.#data) l(data);
  }

  emitClose(error?: Error): void {
    const listeners = [...this.#close];
    this.#close.clear();
    for (const l of listeners) l(error);
  }
}
