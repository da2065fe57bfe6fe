/**
 * The Telnet layer under RFC 2217 (RFC 854 commands, RFC 855 option negotiation,
 * RFC 1143's Q method without the queue bits). A pure codec: bytes in, events out;
 * the answers it owes are returned as bytes for the caller to send.
 */

export const IAC = 0xff;
export const DONT = 0xfe;
export const DO = 0xfd;
export const WONT = 0xfc;
export const WILL = 0xfb;
export const SB = 0xfa;
export const SE = 0xf0;

export const Option = {
  BINARY: 0x00, // RFC 856
  ECHO: 0x01, // RFC 857
  SGA: 0x03, // RFC 858, suppress go-ahead
  COM_PORT: 0x2c, // RFC 2217
} as const;

/** Largest subnegotiation body we keep; RFC 2217 bodies are a few bytes. */
const MAX_SUBNEGOTIATION = 64;

export type TelnetEvent =
  | { type: 'data'; data: Buffer }
  | { type: 'subnegotiation'; option: number; body: Buffer }
  | { type: 'command'; command: number };

type Side = 'no' | 'yes' | 'wantyes' | 'wantno';

/** Options we enable on our side (WILL) and accept on the client's side (DO). */
export interface TelnetPolicy {
  local: readonly number[];
  remote: readonly number[];
}

const Mode = { Data: 0, Iac: 1, Negotiate: 2, Sub: 3, SubIac: 4 } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

export class TelnetCodec {
  readonly #policy: TelnetPolicy;
  readonly #us = new Map<number, Side>();
  readonly #them = new Map<number, Side>();
  #mode: Mode = Mode.Data;
  #verb = 0;
  #sub: number[] = [];
  #subTooLong = false;

  constructor(policy: TelnetPolicy) {
    this.#policy = policy;
  }

  /** Whether an option is on for our side (`local`) or the client's side (`remote`). */
  enabled(side: 'local' | 'remote', option: number): boolean {
    return (side === 'local' ? this.#us : this.#them).get(option) === 'yes';
  }

  /** The requests a server opens with: WILL for each local option, DO for each remote one. */
  open(): Buffer {
    const out: number[] = [];
    for (const o of this.#policy.local) {
      this.#us.set(o, 'wantyes');
      out.push(IAC, WILL, o);
    }
    for (const o of this.#policy.remote) {
      this.#them.set(o, 'wantyes');
      out.push(IAC, DO, o);
    }
    return Buffer.from(out);
  }

  /** Parses bytes from the peer. `reply` holds the negotiation answers to send back. */
  feed(bytes: Uint8Array): { events: TelnetEvent[]; reply: Buffer } {
    const events: TelnetEvent[] = [];
    const reply: number[] = [];
    let data: number[] = [];
    const flushData = () => {
      if (data.length) events.push({ type: 'data', data: Buffer.from(data) });
      data = [];
    };
    for (const b of bytes) {
      switch (this.#mode) {
        case Mode.Data:
          if (b === IAC) this.#mode = Mode.Iac;
          else data.push(b);
          break;
        case Mode.Iac:
          if (b === IAC) {
            data.push(IAC); // doubled 0xFF is one data byte
            this.#mode = Mode.Data;
          } else if (b === DO || b === DONT || b === WILL || b === WONT) {
            this.#verb = b;
            this.#mode = Mode.Negotiate;
          } else if (b === SB) {
            this.#sub = [];
            this.#subTooLong = false;
            this.#mode = Mode.Sub;
          } else {
            flushData();
            events.push({ type: 'command', command: b }); // NOP, BRK, AYT, a stray SE…
            this.#mode = Mode.Data;
          }
          break;
        case Mode.Negotiate:
          flushData();
          reply.push(...this.#negotiate(this.#verb, b));
          this.#mode = Mode.Data;
          break;
        case Mode.Sub:
          if (b === IAC) this.#mode = Mode.SubIac;
          else this.#subPush(b);
          break;
        case Mode.SubIac:
          if (b === IAC) {
            this.#subPush(IAC);
            this.#mode = Mode.Sub;
          } else if (b === SE) {
            flushData();
            const [option, ...body] = this.#sub;
            if (option !== undefined && !this.#subTooLong) {
              events.push({ type: 'subnegotiation', option, body: Buffer.from(body) });
            }
            this.#mode = Mode.Data;
          } else {
            // IAC <cmd> inside SB is a protocol error (RFC 855): drop the subnegotiation.
            this.#mode = Mode.Data;
          }
          break;
      }
    }
    flushData();
    return { events, reply: Buffer.from(reply) };
  }

  #subPush(b: number): void {
    if (this.#sub.length >= MAX_SUBNEGOTIATION) this.#subTooLong = true;
    else this.#sub.push(b);
  }

  /** RFC 1143: answer only what changes state, so the two sides never loop. */
  #negotiate(verb: number, option: number): number[] {
    const local = verb === DO || verb === DONT;
    const table = local ? this.#us : this.#them;
    const supported = (local ? this.#policy.local : this.#policy.remote).includes(option);
    const yes = local ? WILL : DO;
    const no = local ? WONT : DONT;
    const state = table.get(option) ?? 'no';
    if (verb === DO || verb === WILL) {
      if (state === 'no') {
        if (supported) {
          table.set(option, 'yes');
          return [IAC, yes, option];
        }
        return [IAC, no, option];
      }
      if (state === 'wantyes') table.set(option, 'yes');
      else if (state === 'wantno') table.set(option, 'no'); // answer to our refusal is an error; stay off
      return [];
    }
    // DONT / WONT
    if (state === 'yes') {
      table.set(option, 'no');
      return [IAC, no, option];
    }
    table.set(option, 'no');
    return [];
  }
}

/** Escapes data for the Telnet stream: 0xFF is doubled. */
export function telnetEscape(data: Uint8Array): Buffer {
  let count = 0;
  for (const b of data) if (b === IAC) count++;
  if (count === 0) return Buffer.from(data);
  const out = Buffer.allocUnsafe(data.length + count);
  let i = 0;
  for (const b of data) {
    out[i++] = b;
    if (b === IAC) out[i++] = IAC;
  }
  return out;
}

/** `IAC SB option body… IAC SE`, with 0xFF in the body doubled. */
export function telnetSubnegotiation(option: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([IAC, SB, option]), telnetEscape(body), Buffer.from([IAC, SE])]);
}
