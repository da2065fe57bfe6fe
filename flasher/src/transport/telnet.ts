/**
 * The Telnet side of an RFC 2217 client: a byte-level parser (RFC 854: IAC commands,
 * RFC 855: option negotiation and subnegotiation) and the encoders a client needs.
 * Pure: bytes in, events out.
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
  SGA: 0x03, // RFC 858, suppress go-ahead
  COM_PORT: 0x2c, // RFC 2217
} as const;

export type TelnetEvent =
  | { type: 'data'; data: Buffer }
  | { type: 'negotiate'; verb: number; option: number }
  | { type: 'sub'; option: number; body: Buffer };

enum Mode {
  Data = 0,
  Iac = 1,
  Verb = 2,
  Sub = 3,
  SubIac = 4,
}

/** Subnegotiation bodies in RFC 2217 are a few bytes; a runaway one is cut here. */
const MAX_SUB = 256;

export class TelnetParser {
  #mode = Mode.Data;
  #verb = 0;
  #sub: number[] = [];

  feed(bytes: Uint8Array): TelnetEvent[] {
    const events: TelnetEvent[] = [];
    let start = 0; // start of the current run of plain data
    const flush = (end: number) => {
      if (end > start) events.push({ type: 'data', data: Buffer.from(bytes.subarray(start, end)) });
    };
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] as number;
      switch (this.#mode) {
        case Mode.Data:
          if (b === IAC) {
            flush(i);
            this.#mode = Mode.Iac;
          }
          continue;
        case Mode.Iac:
          if (b === IAC) {
            events.push({ type: 'data', data: Buffer.from([IAC]) }); // IAC IAC: one 0xFF data byte
            this.#mode = Mode.Data;
          } else if (b === SB) {
            this.#sub = [];
            this.#mode = Mode.Sub;
          } else if (b >= WILL && b <= DONT) {
            this.#verb = b;
            this.#mode = Mode.Verb;
          } else {
            this.#mode = Mode.Data; // NOP, GA, AYT…: nothing a serial port needs
          }
          start = i + 1;
          continue;
        case Mode.Verb:
          events.push({ type: 'negotiate', verb: this.#verb, option: b });
          this.#mode = Mode.Data;
          start = i + 1;
          continue;
        case Mode.Sub:
          if (b === IAC) this.#mode = Mode.SubIac;
          else if (this.#sub.length < MAX_SUB) this.#sub.push(b);
          start = i + 1;
          continue;
        case Mode.SubIac:
          if (b === SE) {
            const [option, ...body] = this.#sub;
            if (option !== undefined) events.push({ type: 'sub', option, body: Buffer.from(body) });
            this.#mode = Mode.Data;
          } else {
            if (b === IAC && this.#sub.length < MAX_SUB) this.#sub.push(IAC); // doubled 0xFF inside
            this.#mode = Mode.Sub;
          }
          start = i + 1;
      }
    }
    if (this.#mode === Mode.Data) flush(bytes.length);
    return events;
  }
}

const DOUBLED = Uint8Array.of(IAC);

/** Doubles every 0xFF so data cannot be read as a command. */
export function escapeIac(data: Uint8Array): Uint8Array {
  let at = data.indexOf(IAC);
  if (at < 0) return data;
  const parts: Uint8Array[] = [];
  let start = 0;
  while (at >= 0) {
    parts.push(data.subarray(start, at + 1), DOUBLED);
    start = at + 1;
    at = data.indexOf(IAC, start);
  }
  parts.push(data.subarray(start));
  return Buffer.concat(parts);
}

export function negotiation(verb: number, option: number): Buffer {
  return Buffer.from([IAC, verb, option]);
}

/** IAC SB option body IAC SE, with 0xFF in the body doubled. */
export function subnegotiation(option: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([IAC, SB, option]), escapeIac(body), Buffer.from([IAC, SE])]);
}
