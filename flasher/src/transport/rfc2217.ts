/**
 * `rfc2217://host:port[?ign_set_control]`: a serial port on another machine (an
 * RFC 2217 access server: esp_rfc2217_server, ser2net, `kiln board`), driven the way
 * pyserial's rfc2217 client drives it (pyserial `serial/rfc2217.py`).
 *
 * Written by hand on node:net: no npm package implements the client side of RFC 2217
 * well enough (telnet-stream only parses Telnet; telnet-client is for shells), and the
 * protocol a flasher needs is small: negotiate BINARY, SGA and COM-PORT-OPTION (44),
 * SET-BAUDRATE (1) and SET-CONTROL (5) with their acknowledgements (code + 100), and
 * 0xFF doubled in data. DTR and RTS are separate SET-CONTROL commands; each waits for
 * its ack (unless `?ign_set_control`), so a reset sequence arrives in order.
 */
import type { Socket } from 'node:net';
import { PortError } from '../errors.ts';
import { connectTcp, parseTcpUrl, type TcpAddress } from './tcp.ts';
import { DO, DONT, escapeIac, negotiation, subnegotiation, TelnetOption, TelnetParser, WILL, WONT } from './telnet.ts';
import { type PortUsbInfo, type SerialLines, type Transport, TransportEvents } from './types.ts';

/** COM-PORT-OPTION commands (RFC 2217); the server answers command + 100. */
export const ComPortCommand = {
  SET_BAUDRATE: 1,
  SET_DATASIZE: 2,
  SET_PARITY: 3,
  SET_STOPSIZE: 4,
  SET_CONTROL: 5,
  PURGE_DATA: 12,
} as const;
const SERVER_OFFSET = 100;

/** SET-CONTROL values. */
export const Control = { BREAK_ON: 5, BREAK_OFF: 6, DTR_ON: 8, DTR_OFF: 9, RTS_ON: 11, RTS_OFF: 12 } as const;

const OPTIONS: readonly number[] = [TelnetOption.BINARY, TelnetOption.SGA, TelnetOption.COM_PORT];

export interface Rfc2217Options {
  /** How long to wait for negotiation and for each acknowledgement. Default 3000 ms. */
  ackTimeoutMs?: number;
}

interface Waiter {
  code: number;
  resolve: (body: Buffer) => void;
}

export class Rfc2217Transport implements Transport {
  readonly kind = 'rfc2217' as const;
  readonly canSetLines = true;
  readonly hasBaudRate = true;
  readonly port: string;
  readonly usb: PortUsbInfo = {};
  readonly #address: TcpAddress;
  readonly #events = new TransportEvents();
  readonly #ackTimeoutMs: number;
  readonly #ignoreSetControl: boolean;
  #socket: Socket | undefined;
  #parser = new TelnetParser();
  #waiters: Waiter[] = [];
  /** Options we asked for (WILL/DO sent) and what the server agreed to. */
  #sentWill = new Set<number>();
  #sentDo = new Set<number>();
  #comPortAgreed: (() => void) | undefined;
  #comPortOn = false;
  #lines: SerialLines = { dtr: false, rts: false };
  #baudRate = 0;
  #closing = false;

  constructor(url: string, options: Rfc2217Options = {}) {
    this.port = url;
    this.#address = parseTcpUrl(url, 'rfc2217');
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 3000;
    this.#ignoreSetControl = this.#address.params.has('ign_set_control');
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
    this.#closing = false;
    this.#parser = new TelnetParser();
    this.#sentWill.clear();
    this.#sentDo.clear();
    this.#comPortOn = false;
    socket.on('data', (bytes: Buffer) => this.#receive(bytes));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#socket = undefined;
      this.#waiters = [];
      this.#comPortAgreed?.();
      this.#events.emitClose(
        this.#closing ? undefined : new PortError('PORT_LOST', `the connection to ${this.port} was closed`),
      );
    });
    try {
      await this.#negotiate();
      // The line settings pyserial sends at open: 8 data bits, no parity, 1 stop bit.
      await this.setBaudRate(baudRate);
      await this.#command(ComPortCommand.SET_DATASIZE, [8]);
      await this.#command(ComPortCommand.SET_PARITY, [1]);
      await this.#command(ComPortCommand.SET_STOPSIZE, [1]);
      await this.#setControl(Control.DTR_OFF);
      await this.#setControl(Control.RTS_OFF);
      this.#lines = { dtr: false, rts: false };
    } catch (e) {
      this.#closing = true;
      socket.destroy();
      this.#socket = undefined;
      throw e;
    }
  }

  async write(data: Uint8Array): Promise<void> {
    const socket = this.#require();
    await new Promise<void>((resolve, reject) => {
      socket.write(escapeIac(data), (err) => (err ? reject(err) : resolve()));
    });
  }

  onData(listener: (data: Uint8Array) => void): () => void {
    return this.#events.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.#events.onClose(listener);
  }

  /** DTR first, then RTS, as esptool's reset sequences order them; only lines that change are sent. */
  async setLines(lines: Partial<SerialLines>): Promise<void> {
    this.#require();
    if (lines.dtr !== undefined && lines.dtr !== this.#lines.dtr) {
      await this.#setControl(lines.dtr ? Control.DTR_ON : Control.DTR_OFF);
      this.#lines.dtr = lines.dtr;
    }
    if (lines.rts !== undefined && lines.rts !== this.#lines.rts) {
      await this.#setControl(lines.rts ? Control.RTS_ON : Control.RTS_OFF);
      this.#lines.rts = lines.rts;
    }
  }

  async setBreak(on: boolean): Promise<void> {
    await this.#setControl(on ? Control.BREAK_ON : Control.BREAK_OFF);
  }

  async setBaudRate(baudRate: number): Promise<void> {
    const value = Buffer.alloc(4);
    value.writeUInt32BE(baudRate);
    const ack = await this.#command(ComPortCommand.SET_BAUDRATE, value);
    const agreed = ack.length >= 4 ? ack.readUInt32BE(0) : baudRate;
    if (agreed !== baudRate) {
      throw new PortError('PORT_BAUD_UNSUPPORTED', `${this.port} runs at ${agreed} baud, not ${baudRate}`, {
        hint: 'the server or its adapter refused the rate: try a lower --baud',
      });
    }
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

  #receive(bytes: Buffer): void {
    for (const event of this.#parser.feed(bytes)) {
      if (event.type === 'data') this.#events.emitData(new Uint8Array(event.data));
      else if (event.type === 'negotiate') this.#negotiated(event.verb, event.option);
      else if (event.option === TelnetOption.COM_PORT) this.#acknowledged(event.body);
    }
  }

  /** RFC 1143 without queues: agree to what we want, refuse the rest, never answer twice. */
  #negotiated(verb: number, option: number): void {
    const socket = this.#socket;
    if (!socket) return;
    const wanted = OPTIONS.includes(option);
    if (verb === WILL) {
      if (!wanted) socket.write(negotiation(DONT, option));
      else if (!this.#sentDo.has(option)) {
        this.#sentDo.add(option);
        socket.write(negotiation(DO, option));
      }
    } else if (verb === DO) {
      if (!wanted) socket.write(negotiation(WONT, option));
      else {
        if (!this.#sentWill.has(option)) {
          this.#sentWill.add(option);
          socket.write(negotiation(WILL, option));
        }
        if (option === TelnetOption.COM_PORT) {
          this.#comPortOn = true;
          this.#comPortAgreed?.();
        }
      }
    } else if (option === TelnetOption.COM_PORT) {
      this.#comPortAgreed?.(); // WONT/DONT: refused; #negotiate reports it
    }
  }

  async #negotiate(): Promise<void> {
    const socket = this.#require();
    const agreed = new Promise<void>((resolve) => {
      this.#comPortAgreed = resolve;
    });
    for (const option of OPTIONS) {
      if (!this.#sentWill.has(option)) {
        this.#sentWill.add(option);
        socket.write(negotiation(WILL, option));
      }
      if (!this.#sentDo.has(option)) {
        this.#sentDo.add(option);
        socket.write(negotiation(DO, option));
      }
    }
    const timedOut = await raceTimeout(agreed, this.#ackTimeoutMs);
    this.#comPortAgreed = undefined;
    if (!this.#socket) {
      throw new PortError('PORT_BUSY', `${this.port} closed the connection at once`, {
        hint: 'another client probably holds the port: close it, then try again',
      });
    }
    if (timedOut || !this.#comPortOn) {
      throw new PortError('PORT_NOT_RFC2217', `${this.port} did not agree to RFC 2217 (COM-PORT-OPTION)`, {
        hint: 'check that the server speaks RFC 2217; for a raw TCP bridge use socket://HOST:PORT',
      });
    }
  }

  #setControl(value: number): Promise<Buffer> {
    return this.#command(ComPortCommand.SET_CONTROL, [value], this.#ignoreSetControl);
  }

  /** Sends IAC SB 44 command value IAC SE and waits for the server's command + 100. */
  async #command(command: number, value: Uint8Array | number[], noWait = false): Promise<Buffer> {
    const socket = this.#require();
    const body = Uint8Array.from([command, ...value]);
    const code = command + SERVER_OFFSET;
    let waiter: Waiter | undefined;
    const answered = new Promise<Buffer>((resolve) => {
      waiter = { code, resolve };
      if (!noWait) this.#waiters.push(waiter);
    });
    socket.write(subnegotiation(TelnetOption.COM_PORT, body));
    if (noWait) return Buffer.alloc(0);
    let reply: Buffer | undefined;
    const timedOut = await raceTimeout(
      answered.then((b) => {
        reply = b;
      }),
      this.#ackTimeoutMs,
    );
    if (timedOut || reply === undefined) {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      if (!this.#socket) throw new PortError('PORT_LOST', `the connection to ${this.port} was closed`);
      throw new PortError('PORT_NO_ACK', `${this.port} did not acknowledge COM-PORT-OPTION command ${command}`, {
        hint: 'the RFC 2217 server may be overloaded or not a full RFC 2217 server; add ?ign_set_control to skip waiting for DTR/RTS acks',
      });
    }
    return reply;
  }

  #acknowledged(body: Buffer): void {
    const code = body[0];
    const i = this.#waiters.findIndex((w) => w.code === code);
    if (i < 0) return; // notifications (line/modem state) and acks nobody waits for
    const [waiter] = this.#waiters.splice(i, 1);
    waiter?.resolve(body.subarray(1));
  }

  #require(): Socket {
    if (!this.#socket) throw new PortError('PORT_CLOSED', `${this.port} is not open`);
    return this.#socket;
  }
}

/** Resolves true when the timeout wins; the timer never outlives the race. */
async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), ms);
  });
  try {
    return await Promise.race([promise.then(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
