/**
 * The Telnet codec under RFC 2217 that both the flasher's client and the virtual
 * board's server use: negotiation as pyserial's client does it, 0xFF escaping,
 * subnegotiations, state kept across reads, and hostile input bounded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COM_PORT_SERVER_OFFSET, ComPortCommand, ComPortControl, comPortFrame } from '../src/serial/rfc2217.ts';
import {
  DO,
  DONT,
  escapeIac,
  IAC,
  MAX_SUBNEGOTIATION_BYTES,
  SB,
  SE,
  subnegotiation,
  TelnetCodec,
  type TelnetEvent,
  TelnetOption,
  WILL,
  WONT,
} from '../src/serial/telnet.ts';

const RUNS = Number(process.env.KILN_FUZZ_RUNS ?? 500);
const NOP = 0xf1;
const AYT = 0xf6;
const TERMINAL_TYPE = 0x18; // RFC 1091: an option neither end of a serial link wants

const ALL = [TelnetOption.BINARY, TelnetOption.SGA, TelnetOption.COM_PORT];
/** The virtual board's policy; the flasher's client uses the same. */
const server = () => new TelnetCodec({ local: ALL, remote: ALL });
/** A client that wants less than the server offers: no COM-PORT-OPTION on the server's end. */
const narrowClient = () => new TelnetCodec({ local: ALL, remote: [TelnetOption.BINARY, TelnetOption.SGA] });

/** Joins adjacent data events: how a stream is chunked into them is not part of the contract. */
function normalise(events: TelnetEvent[]): TelnetEvent[] {
  const out: TelnetEvent[] = [];
  for (const e of events) {
    const last = out.at(-1);
    if (e.type === 'data' && last?.type === 'data') last.data = Buffer.concat([last.data, e.data]);
    else out.push(e.type === 'data' ? { type: 'data', data: Buffer.from(e.data) } : e);
  }
  return out;
}

function dataOf(events: TelnetEvent[]): Buffer {
  return Buffer.concat(events.flatMap((e) => (e.type === 'data' ? [e.data] : [])));
}

describe('RFC 2217 constants', () => {
  it('match RFC 2217', () => {
    expect(TelnetOption.COM_PORT).toBe(44);
    expect([IAC, DONT, DO, WONT, WILL, SB, SE]).toEqual([255, 254, 253, 252, 251, 250, 240]);
    expect(ComPortCommand).toMatchObject({ SET_BAUDRATE: 1, SET_CONTROL: 5, PURGE_DATA: 12 });
    expect(ComPortControl).toMatchObject({ BREAK_ON: 5, DTR_ON: 8, DTR_OFF: 9, RTS_ON: 11, RTS_OFF: 12 });
    expect(COM_PORT_SERVER_OFFSET).toBe(100);
  });
});

describe('TelnetCodec negotiation', () => {
  it('opens with WILL and DO for each option of its policy', () => {
    expect([...server().requestOptions()]).toEqual([
      ...[IAC, WILL, 0x00, IAC, WILL, 0x03, IAC, WILL, 0x2c],
      ...[IAC, DO, 0x00, IAC, DO, 0x03, IAC, DO, 0x2c],
    ]);
  });

  it("settles pyserial's opening requests without answering its acknowledgements (RFC 1143)", () => {
    const t = server();
    t.requestOptions();
    // pyserial: DO ECHO, WILL SGA, DO SGA, DO COM-PORT, WILL COM-PORT; then WILL BINARY (answer to our DO).
    const client = [IAC, DO, 1, IAC, WILL, 3, IAC, DO, 3, IAC, DO, 0x2c, IAC, WILL, 0x2c, IAC, WILL, 0, IAC, DO, 0];
    const { reply, events } = t.feed(Buffer.from(client));
    expect([...reply]).toEqual([IAC, WONT, 1]); // only ECHO, which a serial port does not do
    expect(events).toEqual([
      { type: 'negotiation', verb: DO, option: 1 },
      { type: 'negotiation', verb: WILL, option: 3 },
      { type: 'negotiation', verb: DO, option: 3 },
      { type: 'negotiation', verb: DO, option: 0x2c },
      { type: 'negotiation', verb: WILL, option: 0x2c },
      { type: 'negotiation', verb: WILL, option: 0 },
      { type: 'negotiation', verb: DO, option: 0 },
    ]);
    for (const o of ALL) {
      expect(t.enabled('local', o)).toBe(true);
      expect(t.enabled('remote', o)).toBe(true);
    }
  });

  it('refuses unknown options every time they are asked for, and acknowledges only changes', () => {
    const t = server();
    expect([...t.feed(Buffer.from([IAC, WILL, TERMINAL_TYPE])).reply]).toEqual([IAC, DONT, TERMINAL_TYPE]);
    expect([...t.feed(Buffer.from([IAC, DO, TERMINAL_TYPE])).reply]).toEqual([IAC, WONT, TERMINAL_TYPE]);
    expect([...t.feed(Buffer.from([IAC, DO, TERMINAL_TYPE])).reply]).toEqual([IAC, WONT, TERMINAL_TYPE]);
    expect(t.enabled('local', TERMINAL_TYPE)).toBe(false);
    expect([...t.feed(Buffer.from([IAC, WONT, TERMINAL_TYPE])).reply]).toEqual([]); // already off
    expect([...t.feed(Buffer.from([IAC, DO, 0x2c])).reply]).toEqual([IAC, WILL, 0x2c]);
    expect([...t.feed(Buffer.from([IAC, DO, 0x2c])).reply]).toEqual([]); // already on
    expect([...t.feed(Buffer.from([IAC, DONT, 0x2c])).reply]).toEqual([IAC, WONT, 0x2c]);
    expect(t.enabled('local', 0x2c)).toBe(false);
  });

  it('treats a refusal of its own request as final, without answering it', () => {
    const t = server();
    t.requestOptions();
    const { reply } = t.feed(Buffer.from([IAC, DONT, 0x2c, IAC, WONT, 0x2c]));
    expect([...reply]).toEqual([]);
    expect(t.enabled('local', 0x2c)).toBe(false);
    expect(t.enabled('remote', 0x2c)).toBe(false);
  });

  it('does not ask again for what the peer enabled first', () => {
    const t = server();
    expect([...t.feed(Buffer.from([IAC, DO, 0x2c, IAC, WILL, 0x00])).reply]).toEqual([
      ...[IAC, WILL, 0x2c],
      ...[IAC, DO, 0x00],
    ]);
    expect([...t.requestOptions()]).toEqual([...[IAC, WILL, 0x00, IAC, WILL, 0x03], ...[IAC, DO, 0x03, IAC, DO, 0x2c]]);
  });

  it('lets a client and a server that follow it settle without looping', () => {
    const client = narrowClient();
    const board = server();
    let toBoard = client.requestOptions();
    let toClient = board.requestOptions();
    let rounds = 0;
    while (toBoard.length || toClient.length) {
      expect(++rounds).toBeLessThan(4);
      const fromClient = board.feed(toBoard);
      const fromBoard = client.feed(toClient);
      toClient = fromClient.reply;
      toBoard = fromBoard.reply;
    }
    for (const o of ALL) {
      expect(board.enabled('remote', o)).toBe(true);
      expect(client.enabled('local', o)).toBe(true);
    }
    expect(board.enabled('local', TelnetOption.BINARY)).toBe(true);
    expect(board.enabled('local', TelnetOption.SGA)).toBe(true);
    // The client refused the board's WILL COM-PORT-OPTION: off on both ends, and nobody asks again.
    expect(board.enabled('local', TelnetOption.COM_PORT)).toBe(false);
    expect(client.enabled('remote', TelnetOption.COM_PORT)).toBe(false);
  });
});

describe('TelnetCodec parsing', () => {
  it('turns IAC IAC into one 0xFF data byte, in data and in subnegotiation bodies', () => {
    const { events } = server().feed(
      Buffer.from([0x41, IAC, IAC, IAC, IAC, 0x42, IAC, SB, 0x2c, 0x65, IAC, IAC, 0x00, IAC, SE, IAC, IAC]),
    );
    expect(events).toEqual([
      { type: 'data', data: Buffer.from([0x41, 0xff, 0xff, 0x42]) },
      { type: 'subnegotiation', option: 0x2c, body: Buffer.from([0x65, 0xff, 0x00]) },
      { type: 'data', data: Buffer.from([0xff]) },
    ]);
  });

  it('reports other commands in order and keeps the data around them', () => {
    const { events, reply } = server().feed(Buffer.from([1, IAC, NOP, 2, IAC, AYT, IAC, SE, 3]));
    expect(reply.length).toBe(0);
    expect(events).toEqual([
      { type: 'data', data: Buffer.from([1]) },
      { type: 'command', command: NOP },
      { type: 'data', data: Buffer.from([2]) },
      { type: 'command', command: AYT },
      { type: 'command', command: SE }, // a stray SE outside a subnegotiation
      { type: 'data', data: Buffer.from([3]) },
    ]);
  });

  it('reports subnegotiations of any option, leaving unknown ones to the caller', () => {
    const { events } = server().feed(Buffer.from([IAC, SB, TERMINAL_TYPE, 1, IAC, SE, IAC, SB, IAC, SE]));
    expect(events).toEqual([{ type: 'subnegotiation', option: TERMINAL_TYPE, body: Buffer.from([1]) }]);
  });

  it('gives the same events and replies however the stream is split, at every byte position', () => {
    const stream = Buffer.from([
      ...[0x10, IAC, IAC, 0x11],
      ...[IAC, DO, 0x2c, IAC, WILL, TERMINAL_TYPE],
      ...[IAC, SB, 0x2c, 101, 0x00, IAC, IAC, 0x01, IAC, SE],
      ...[0x12, IAC, NOP, 0x13],
      ...[IAC, SB, 0x2c, 1, IAC, WILL, 0x03],
      ...[IAC, IAC],
    ]);
    const whole = server().feed(stream);
    expect(normalise(whole.events)).toEqual([
      { type: 'data', data: Buffer.from([0x10, 0xff, 0x11]) },
      { type: 'negotiation', verb: DO, option: 0x2c },
      { type: 'negotiation', verb: WILL, option: TERMINAL_TYPE },
      { type: 'subnegotiation', option: 0x2c, body: Buffer.from([101, 0x00, 0xff, 0x01]) },
      { type: 'data', data: Buffer.from([0x12]) },
      { type: 'command', command: NOP },
      { type: 'data', data: Buffer.from([0x13]) },
      { type: 'negotiation', verb: WILL, option: 0x03 },
      { type: 'data', data: Buffer.from([0xff]) },
    ]);
    for (let at = 0; at <= stream.length; at++) {
      const t = server();
      const a = t.feed(stream.subarray(0, at));
      const b = t.feed(stream.subarray(at));
      expect(normalise([...a.events, ...b.events]), `split at ${at}`).toEqual(normalise(whole.events));
      expect(Buffer.concat([a.reply, b.reply]), `split at ${at}`).toEqual(whole.reply);
    }
    const t = server();
    const bytewise = [...stream].map((b) => t.feed(Uint8Array.of(b)));
    expect(normalise(bytewise.flatMap((r) => r.events))).toEqual(normalise(whole.events));
  });

  it('copies data out, so the caller may reuse its read buffer', () => {
    const chunk = Buffer.from([1, 2, 3]);
    const { events } = server().feed(chunk);
    chunk.fill(0);
    expect(events).toEqual([{ type: 'data', data: Buffer.from([1, 2, 3]) }]);
  });
});

describe('TelnetCodec bounds', () => {
  it('keeps a subnegotiation of exactly the limit and drops a longer one', () => {
    const t = server();
    const atLimit = Buffer.alloc(MAX_SUBNEGOTIATION_BYTES - 1, 7); // plus the option byte
    const over = Buffer.alloc(MAX_SUBNEGOTIATION_BYTES, 7);
    const kept = t.feed(Buffer.concat([Buffer.from([IAC, SB, 0x2c]), atLimit, Buffer.from([IAC, SE])]));
    expect(kept.events).toEqual([{ type: 'subnegotiation', option: 0x2c, body: atLimit }]);
    const dropped = t.feed(Buffer.concat([Buffer.from([IAC, SB, 0x2c]), over, Buffer.from([IAC, SE, 9])]));
    expect(dropped.events).toEqual([{ type: 'data', data: Buffer.from([9]) }]);
  });

  it('takes an SB without SE of any length without growing past the limit, and recovers at the next SE', () => {
    const t = new TelnetCodec({ local: ALL, remote: ALL }, 16);
    t.feed(Buffer.from([IAC, SB, 0x2c]));
    for (let i = 0; i < 64; i++) expect(t.feed(Buffer.alloc(16 * 1024, 0x55)).events).toEqual([]);
    const after = t.feed(Buffer.from([IAC, SE, 0x41, IAC, SB, 0x2c, 101, 1, IAC, SE]));
    expect(after.events).toEqual([
      { type: 'data', data: Buffer.from([0x41]) },
      { type: 'subnegotiation', option: 0x2c, body: Buffer.from([101, 1]) },
    ]);
  });

  it('drops an unfinished subnegotiation at the next IAC command and reads that command (RFC 855)', () => {
    const { events, reply } = server().feed(Buffer.from([IAC, SB, 0x2c, 1, 2, IAC, DO, 0x2c, 0x41]));
    expect(events).toEqual([
      { type: 'negotiation', verb: DO, option: 0x2c },
      { type: 'data', data: Buffer.from([0x41]) },
    ]);
    expect([...reply]).toEqual([IAC, WILL, 0x2c]);
    const next = server().feed(Buffer.from([IAC, SB, 0x2c, 1, IAC, SB, 0x2c, 2, IAC, SE]));
    expect(next.events).toEqual([{ type: 'subnegotiation', option: 0x2c, body: Buffer.from([2]) }]);
  });

  it('never throws on arbitrary input, and data survives escaping after any noise', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (noise, data) => {
        const t = server();
        t.feed(noise);
        // Whatever state the noise left, IAC SE twice ends any subnegotiation or command.
        t.feed(Buffer.from([IAC, SE, IAC, SE]));
        expect(dataOf(t.feed(escapeIac(data)).events).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('round-trips escaped data split into arbitrary chunks', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 }), (data, cuts) => {
        const wire = escapeIac(data);
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const t = server();
        const events: TelnetEvent[] = [];
        let from = 0;
        for (const p of [...points, wire.length]) {
          events.push(...t.feed(wire.subarray(from, p)).events);
          from = p;
        }
        expect(events.every((e) => e.type === 'data')).toBe(true);
        expect(dataOf(events).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('escaping and framing', () => {
  it('doubles every 0xFF in data, and passes data without one through uncopied', () => {
    expect([...escapeIac(Buffer.from([1, IAC, 2, IAC, IAC]))]).toEqual([1, IAC, IAC, 2, IAC, IAC, IAC, IAC]);
    const plain = Buffer.from([1, 2, 3]);
    expect(escapeIac(plain)).toBe(plain);
    const view = Uint8Array.of(9, 1, 2, 3).subarray(1);
    expect(escapeIac(view)).toEqual(plain);
    expect(escapeIac(new Uint8Array(0)).length).toBe(0);
  });

  it('frames subnegotiations and COM-PORT-OPTION commands with 0xFF in the body doubled', () => {
    expect([...subnegotiation(0x2c, Buffer.from([0x65, 0xff]))]).toEqual([IAC, SB, 0x2c, 0x65, 0xff, 0xff, IAC, SE]);
    // SET-BAUDRATE 115200, as pyserial sends it.
    expect([...comPortFrame(ComPortCommand.SET_BAUDRATE, [0x00, 0x01, 0xc2, 0x00])]).toEqual([
      ...[IAC, SB, 44, 1, 0x00, 0x01, 0xc2, 0x00],
      ...[IAC, SE],
    ]);
    expect([...comPortFrame(ComPortCommand.SET_CONTROL + COM_PORT_SERVER_OFFSET, Uint8Array.of(0xff))]).toEqual([
      ...[IAC, SB, 44, 105, 0xff, 0xff],
      ...[IAC, SE],
    ]);
  });
});
