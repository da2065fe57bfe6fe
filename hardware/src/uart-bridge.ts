/**
 * The board's USB-UART bridge (a CP2102 or CH340 on a DevKit): one host at a time
 * holds the port, drives DTR/RTS into the auto-reset circuit and sets its baud rate;
 * bytes cross between host and chip only while both sides use the same rate (within
 * 3 %), as on a real UART where a mismatch turns bytes into garbage. A raw TCP host
 * (socket://) has no baud rate and always matches.
 *
 * The chip side: the ROM starts at 115200 and, in download mode, follows the host's
 * rate until CHANGE_BAUDRATE fixes another (its auto-baud detection on SYNC).
 */
import type { Lines } from './auto-reset.ts';
import type { LinkFaults } from './link/faults.ts';
import { PacedLine } from './link/timing.ts';

export const ROM_BAUD = 115200;
const TOLERANCE = 0.03;

export interface HostPort {
  /** Bytes from the host to the chip. */
  write(data: Uint8Array): void;
  setLines(lines: Partial<Lines>): void;
  setBreak(on: boolean): void;
  /** The host's UART rate; undefined for a link without one (raw TCP). */
  setBaud(baud: number | undefined): void;
  readonly baud: number | undefined;
  readonly lines: Lines;
  readonly breakOn: boolean;
  /** Gives the port back: DTR and RTS drop, as when a host closes a serial port. */
  close(): void;
}

export interface BridgeChipSide {
  /** The auto-reset circuit. */
  setLines(lines: Partial<Lines>): void;
  /** Bytes for the chip's UART RX. */
  receive(data: Buffer): void;
}

export interface BridgeOptions {
  /** Pace both directions at the chip's baud rate (the timing model). */
  timing?: boolean;
  /** Bit errors and dropped bytes on the wire. */
  faults?: LinkFaults;
}

export class UartBridge {
  readonly #chip: BridgeChipSide;
  readonly #faults: LinkFaults | undefined;
  readonly #toHost: PacedLine | undefined;
  readonly #toChip: PacedLine | undefined;
  #host: { sink: (data: Buffer) => void; port: HostPort } | undefined;
  #hostBaud: number | undefined;
  #lines: Lines = { dtr: false, rts: false };
  #break = false;
  #chipBaud = ROM_BAUD;
  #autoBaud = false;

  constructor(chip: BridgeChipSide, options: BridgeOptions = {}) {
    this.#chip = chip;
    this.#faults = options.faults;
    if (options.timing) {
      this.#toHost = new PacedLine((data) => this.#host?.sink(data));
      this.#toChip = new PacedLine((data) => this.#chip.receive(data));
    }
  }

  /** Drops bytes still on the wire towards the chip (it was reset). */
  clearToChip(): void {
    this.#toChip?.clear();
  }

  get attached(): boolean {
    return this.#host !== undefined;
  }

  get chipBaud(): number {
    return this.#chipBaud;
  }

  /** The chip's UART rate after a reset (the ROM's) and whether it follows the host (download mode). */
  resetChipUart(autoBaud: boolean): void {
    this.#chipBaud = ROM_BAUD;
    this.#autoBaud = autoBaud;
  }

  /** The chip's firmware set its UART to this rate (CHANGE_BAUDRATE). */
  setChipBaud(baud: number): void {
    this.#chipBaud = baud;
    this.#autoBaud = false;
  }

  /** Takes the port for a host; undefined when another host holds it. */
  attach(sink: (data: Buffer) => void, baud: number | undefined): HostPort | undefined {
    if (this.#host) return undefined;
    this.#hostBaud = baud;
    const bridge = this;
    const port: HostPort = {
      write: (data) => {
        if (bridge.#host?.port === port) bridge.#fromHost(Buffer.from(data));
      },
      setLines: (lines) => {
        if (bridge.#host?.port !== port) return;
        bridge.#lines = { ...bridge.#lines, ...lines };
        bridge.#chip.setLines(lines);
      },
      setBreak: (on) => {
        if (bridge.#host?.port === port) bridge.#break = on;
      },
      setBaud: (b) => {
        if (bridge.#host?.port === port) bridge.#hostBaud = b;
      },
      get baud() {
        return bridge.#hostBaud;
      },
      get lines() {
        return { ...bridge.#lines };
      },
      get breakOn() {
        return bridge.#break;
      },
      close: () => {
        if (bridge.#host?.port !== port) return;
        bridge.#host = undefined;
        bridge.#toHost?.clear();
        bridge.#toChip?.clear();
        bridge.#break = false;
        bridge.#hostBaud = undefined;
        bridge.#lines = { dtr: false, rts: false };
        bridge.#chip.setLines({ dtr: false, rts: false });
      },
    };
    this.#host = { sink, port };
    return port;
  }

  /** Bytes from the chip's UART TX; lost when nobody listens or the rates differ. */
  transmit(data: Buffer): void {
    if (!this.#host || !this.#matched()) return;
    const bytes = this.#faults ? this.#faults.apply(data, 'to-host') : data;
    if (this.#toHost) this.#toHost.send(bytes, this.#chipBaud);
    else this.#host.sink(bytes);
  }

  #fromHost(data: Buffer): void {
    if (this.#break) return; // TX held low: the chip sees a break, not bytes
    if (!this.#matched() && this.#autoBaud && this.#hostBaud !== undefined) this.#chipBaud = this.#hostBaud;
    if (!this.#matched()) return;
    const bytes = this.#faults ? this.#faults.apply(data, 'to-board') : data;
    if (this.#toChip) this.#toChip.send(bytes, this.#chipBaud);
    else this.#chip.receive(bytes);
  }

  #matched(): boolean {
    const host = this.#hostBaud;
    return host === undefined || Math.abs(host - this.#chipBaud) <= this.#chipBaud * TOLERANCE;
  }
}
