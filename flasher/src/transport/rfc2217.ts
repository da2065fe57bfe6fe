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
import { COM_PORT_SERVER_OFFSET, ComPortCommand, ComPortControl, comPortFrame } from '@kiln/protocol/serial/rfc2217';
import { escapeIac, TelnetCodec, TelnetOption, WILL } from '@kiln/protocol/serial/telnet';
import { PortError } from '../errors.ts';
import { TcpTransport } from './tcp.ts';
import type { SerialLines } from './types.ts';

/** Asked for on both ends, as pyserial's client does. */
const OPTIONS: readonly number[] = [TelnetOption.BINARY, TelnetOption.SGA, TelnetOption.COM_PORT];
const newCodec = () => new TelnetCodec({ local: OPTIONS, remote: OPTIONS });

export interface Rfc2217Options {
  /** How long to wait for negotiation and for each acknowledgement. Default 3000 ms. */
  ackTimeoutMs?: number;
}

interface Waiter {
  code: number;
  resolve: (body: Buffer) => void;
}

export class Rfc2217Transport extends TcpTransport {
  readonly kind = 'rfc2217' as const;
  readonly canSetLines = true;
  readonly hasBaudRate = true;
  readonly #ackTimeoutMs: number;
  readonly #ignoreSetControl: boolean;
  #codec = newCodec();
  #waiters: Waiter[] = [];
  /** Settles #negotiate once the server has answered for COM-PORT-OPTION, either way. */
  #comPortAnswered: (() => void) | undefined;

  constructor(url: string, options: Rfc2217Options = {}) {
    super(url, 'rfc2217');
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 3000;
    this.#ignoreSetControl = this.address.params.has('ign_set_control');
  }

  async open(baudRate: number): Promise<void> {
    await this.connect();
    this.#codec = newCodec(); // before any byte is read: 'data' is delivered on a later turn
    try {
      await this.#negotiate();
      // The line settings pyserial sends at open: 8 data bits, no parity, 1 stop bit.
      await this.setBaudRate(baudRate);
      await this.#command(ComPortCommand.SET_DATASIZE, [8]);
      await this.#command(ComPortCommand.SET_PARITY, [1]);
      await this.#command(ComPortCommand.SET_STOPSIZE, [1]);
      await this.#setControl(ComPortControl.DTR_OFF);
      await this.#setControl(ComPortControl.RTS_OFF);
      this.trackedLines = { dtr: false, rts: false };
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  write(data: Uint8Array): Promise<void> {
    return this.send(escapeIac(data));
  }

  /** DTR first, then RTS, as esptool's reset sequences order them; only lines that change are sent. */
  async setLines(lines: Partial<SerialLines>): Promise<void> {
    this.requireSocket();
    if (lines.dtr !== undefined && lines.dtr !== this.trackedLines.dtr) {
      await this.#setControl(lines.dtr ? ComPortControl.DTR_ON : ComPortControl.DTR_OFF);
      this.trackedLines.dtr = lines.dtr;
    }
    if (lines.rts !== undefined && lines.rts !== this.trackedLines.rts) {
      await this.#setControl(lines.rts ? ComPortControl.RTS_ON : ComPortControl.RTS_OFF);
      this.trackedLines.rts = lines.rts;
    }
  }

  async setBreak(on: boolean): Promise<void> {
    await this.#setControl(on ? ComPortControl.BREAK_ON : ComPortControl.BREAK_OFF);
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
    this.currentBaudRate = baudRate;
  }

  protected override disconnected(): void {
    this.#waiters = [];
    this.#comPortAnswered?.();
  }

  protected received(bytes: Buffer): void {
    const { events, reply } = this.#codec.feed(bytes);
    if (reply.length && this.isOpen) this.requireSocket().write(reply); // negotiation answers
    for (const event of events) {
      if (event.type === 'data') this.events.emitData(new Uint8Array(event.data));
      else if (event.type === 'subnegotiation' && event.option === TelnetOption.COM_PORT)
        this.#acknowledged(event.body);
      else if (event.type === 'negotiation' && event.option === TelnetOption.COM_PORT && event.verb !== WILL) {
        // DO: the server takes our COM-PORT commands; DONT/WONT: it refused, which #negotiate reports.
        this.#comPortAnswered?.();
      }
    }
  }

  async #negotiate(): Promise<void> {
    const socket = this.requireSocket();
    const answered = new Promise<void>((resolve) => {
      this.#comPortAnswered = resolve;
    });
    socket.write(this.#codec.requestOptions());
    const timedOut = await raceTimeout(answered, this.#ackTimeoutMs);
    this.#comPortAnswered = undefined;
    if (!this.isOpen) {
      throw new PortError('PORT_BUSY', `${this.port} closed the connection at once`, {
        hint: 'another client probably holds the port: close it, then try again',
      });
    }
    if (timedOut || !this.#codec.enabled('local', TelnetOption.COM_PORT)) {
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
    const socket = this.requireSocket();
    const code = command + COM_PORT_SERVER_OFFSET;
    let waiter: Waiter | undefined;
    const answered = new Promise<Buffer>((resolve) => {
      waiter = { code, resolve };
      if (!noWait) this.#waiters.push(waiter);
    });
    socket.write(comPortFrame(command, value));
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
      if (!this.isOpen) throw new PortError('PORT_LOST', `the connection to ${this.port} was closed`);
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
