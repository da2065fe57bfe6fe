/**
 * The Telnet layer under RFC 2217, for both ends of an `rfc2217://` link: the flasher's
 * client and the virtual board's server. RFC 854 commands, RFC 855 option negotiation
 * and subnegotiation, RFC 1143's Q method without the queue bits. A pure codec: bytes
 * in, events out; the negotiation answers it owes come back as bytes for the caller
 * to send, so it never loops with a peer that follows the same rules.
 */

export const IAC = 0xff;
export const DONT = 0xfe;
export const DO = 0xfd;
export const WONT = 0xfc;
export const WILL = 0xfb;
export const SB = 0xfa;
export const SE = 0xf0;

export const TelnetOption = {
  BINARY: 0x00, // RFC 856
  ECHO: 0x01, // RFC 857
  SGA: 0x03, // RFC 858, suppress go-ahead
  COM_PORT: 0x2c, // RFC 2217
} as const;

/**
 * Largest subnegotiation body kept; RFC 2217 bodies are a few bytes. A longer one
 * (or an SB whose SE never comes) stops growing here and is dropped at its SE.
 */
export const MAX_SUBNEGOTIATION_BYTES = 256;

export type TelnetEvent =
  | { type: 'data'; data: Buffer }
  /** A DO, DONT, WILL or WONT from the peer, after the codec has answered it. */
  | { type: 'negotiation'; verb: number; option: number }
  | { type: 'subnegotiation'; option: number; body: Buffer }
  /** Any other IAC command (NOP, BRK, AYT, a stray SE…): nothing a serial port needs. */
  | { type: 'command'; command: number };

/** Options this side enables on its own end (WILL) and accepts on the peer's end (DO). */
export interface TelnetPolicy {
  local: readonly number[];
  remote: readonly number[];
}

/** RFC 1143 option state, per side ('wantno' never arises: nothing here turns an option off). */
type OptionState = 'no' | 'yes' | 'wantyes';

const Mode = { Data: 0, Iac: 1, Negotiate: 2, Sub: 3, SubIac: 4 } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

const ONE_IAC = Uint8Array.of(IAC);

export class TelnetCodec {
  readonly #policy: TelnetPolicy;
  readonly #maxSub: number;
  readonly #us = new Map<number, OptionState>();
  readonly #them = new Map<number, OptionState>();
  #mode: Mode = Mode.Data;
  #verb = 0;
  #sub: number[] = [];
  #subTooLong = false;

  constructor(policy: TelnetPolicy, maxSubnegotiationBytes = MAX_SUBNEGOTIATION_BYTES) {
    this.#policy = policy;
    this.#maxSub = maxSubnegotiationBytes;
  }

  /** Whether an option is on for this side (`local`) or the peer's side (`remote`). */
  enabled(side: 'local' | 'remote', option: number): boolean {
    return (side === 'local' ? this.#us : this.#them).get(option) === 'yes';
  }

  /**
   * What a side opens with: WILL for each local option, DO for each remote one, except
   * those already on or asked for (the peer may have asked first).
   */
  requestOptions(): Buffer {
    const out: number[] = [];
    for (const [options, table, verb] of [
      [this.#policy.local, this.#us, WILL],
      [this.#policy.remote, this.#them, DO],
    ] as const) {
      for (const o of options) {
        if ((table.get(o) ?? 'no') !== 'no') continue;
        table.set(o, 'wantyes');
        out.push(IAC, verb, o);
      }
    }
    return Buffer.from(out);
  }

  /** Parses bytes from the peer; state carries over between calls. `reply` is what to send back. */
  feed(bytes: Uint8Array): { events: TelnetEvent[]; reply: Buffer } {
    const events: TelnetEvent[] = [];
    const reply: number[] = [];
    // Runs of data since the last event, joined into one data event when it is flushed.
    let data: Uint8Array[] = [];
    const flushData = () => {
      if (data.length) events.push({ type: 'data', data: Buffer.concat(data) });
      data = [];
    };
    let i = 0;
    while (i < bytes.length) {
      if (this.#mode === Mode.Data) {
        const at = bytes.indexOf(IAC, i);
        const end = at < 0 ? bytes.length : at;
        if (end > i) data.push(bytes.subarray(i, end));
        if (at < 0) break;
        this.#mode = Mode.Iac;
        i = at + 1;
        continue;
      }
      const b = bytes[i++] as number;
      switch (this.#mode) {
        case Mode.Iac:
          if (b === IAC) {
            data.push(ONE_IAC); // IAC IAC: one 0xFF data byte
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
            events.push({ type: 'command', command: b });
            this.#mode = Mode.Data;
          }
          break;
        case Mode.Negotiate:
          flushData();
          reply.push(...this.#negotiate(this.#verb, b));
          events.push({ type: 'negotiation', verb: this.#verb, option: b });
          this.#mode = Mode.Data;
          break;
        case Mode.Sub:
          if (b === IAC) this.#mode = Mode.SubIac;
          else this.#subPush(b);
          break;
        case Mode.SubIac:
          if (b === IAC) {
            this.#subPush(IAC); // doubled 0xFF inside the body
            this.#mode = Mode.Sub;
          } else if (b === SE) {
            flushData();
            const [option, ...body] = this.#sub;
            if (option !== undefined && !this.#subTooLong) {
              events.push({ type: 'subnegotiation', option, body: Buffer.from(body) });
            }
            this.#sub = [];
            this.#mode = Mode.Data;
          } else {
            // IAC <command> inside SB is a protocol error (RFC 855): drop the unfinished
            // subnegotiation and read the command, so a lost SE cannot swallow what follows.
            this.#sub = [];
            this.#mode = Mode.Iac;
            i--;
          }
          break;
      }
    }
    flushData();
    return { events, reply: Buffer.from(reply) };
  }

  #subPush(b: number): void {
    if (this.#sub.length >= this.#maxSub) this.#subTooLong = true;
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
      table.set(option, 'yes'); // the answer to our request, or a repeat: no reply either way
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

/** Escapes data for the Telnet stream: every 0xFF is doubled. Data without 0xFF is returned as is, uncopied. */
export function escapeIac(data: Uint8Array): Buffer {
  let count = 0;
  for (let at = data.indexOf(IAC); at >= 0; at = data.indexOf(IAC, at + 1)) count++;
  if (count === 0) return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.allocUnsafe(data.length + count);
  let o = 0;
  for (const b of data) {
    out[o++] = b;
    if (b === IAC) out[o++] = IAC;
  }
  return out;
}

/** `IAC SB option body… IAC SE`, with 0xFF in the body doubled. */
export function subnegotiation(option: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([IAC, SB, option]), escapeIac(body), Buffer.from([IAC, SE])]);
}
