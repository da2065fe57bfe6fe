/** The Telnet layer: what pyserial's rfc2217 client sends at open, and what it must get back. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DO,
  DONT,
  IAC,
  Option,
  SB,
  SE,
  TelnetCodec,
  telnetEscape,
  telnetSubnegotiation,
  WILL,
  WONT,
} from '../src/rfc2217/telnet.ts';

const server = () =>
  new TelnetCodec({
    local: [Option.BINARY, Option.SGA, Option.COM_PORT],
    remote: [Option.BINARY, Option.SGA, Option.COM_PORT],
  });

describe('Telnet', () => {
  it('opens with WILL and DO for BINARY, SGA and COM-PORT-OPTION', () => {
    expect([...server().open()]).toEqual([
      ...[IAC, WILL, 0x00, IAC, WILL, 0x03, IAC, WILL, 0x2c],
      ...[IAC, DO, 0x00, IAC, DO, 0x03, IAC, DO, 0x2c],
    ]);
  });

  it("settles pyserial's opening requests without answering its acknowledgements (RFC 1143)", () => {
    const t = server();
    t.open();
    // pyserial: DO ECHO, WILL SGA, DO SGA, DO COM-PORT, WILL COM-PORT; then WILL BINARY (answer to our DO).
    const client = [IAC, DO, 1, IAC, WILL, 3, IAC, DO, 3, IAC, DO, 0x2c, IAC, WILL, 0x2c, IAC, WILL, 0, IAC, DO, 0];
    const { reply, events } = t.feed(Buffer.from(client));
    expect([...reply]).toEqual([IAC, WONT, 1]); // only ECHO, which the board does not do
    expect(events).toEqual([]);
    for (const o of [Option.BINARY, Option.SGA, Option.COM_PORT]) {
      expect(t.enabled('local', o)).toBe(true);
      expect(t.enabled('remote', o)).toBe(true);
    }
  });

  it('answers a fresh request for an unsupported option with a refusal, once', () => {
    const t = server();
    expect([...t.feed(Buffer.from([IAC, WILL, 0x18])).reply]).toEqual([IAC, DONT, 0x18]);
    expect([...t.feed(Buffer.from([IAC, DO, 0x2c])).reply]).toEqual([IAC, WILL, 0x2c]);
    expect([...t.feed(Buffer.from([IAC, DO, 0x2c])).reply]).toEqual([]); // already on
    expect([...t.feed(Buffer.from([IAC, DONT, 0x2c])).reply]).toEqual([IAC, WONT, 0x2c]);
  });

  it('turns IAC IAC into one 0xFF data byte and parses subnegotiations split across reads', () => {
    const t = server();
    const a = t.feed(Buffer.from([0x41, IAC, IAC, 0x42, IAC, SB, 0x2c, 0x01, 0x00]));
    const b = t.feed(Buffer.from([0x01, IAC, IAC, 0x00, IAC, SE, 0x43]));
    expect(a.events).toEqual([{ type: 'data', data: Buffer.from([0x41, 0xff, 0x42]) }]);
    expect(b.events).toEqual([
      { type: 'subnegotiation', option: 0x2c, body: Buffer.from([0x01, 0x00, 0x01, 0xff, 0x00]) },
      { type: 'data', data: Buffer.from([0x43]) },
    ]);
  });

  it('escapes 0xFF in data and subnegotiation bodies', () => {
    expect([...telnetEscape(Buffer.from([1, 0xff, 2]))]).toEqual([1, 0xff, 0xff, 2]);
    expect([...telnetSubnegotiation(0x2c, Buffer.from([0x65, 0xff]))]).toEqual([
      IAC,
      SB,
      0x2c,
      0x65,
      0xff,
      0xff,
      IAC,
      SE,
    ]);
  });

  it('never throws on arbitrary input, and data survives escaping', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (noise, data) => {
        const t = server();
        t.feed(noise);
        // Whatever state the noise left, IAC SE twice ends any subnegotiation or command.
        t.feed(Buffer.from([IAC, SE, IAC, SE]));
        const { events } = t.feed(telnetEscape(data));
        const got = Buffer.concat(events.flatMap((e) => (e.type === 'data' ? [e.data] : [])));
        expect(got.equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: Number(process.env.KILN_FUZZ_RUNS ?? 500) },
    );
  });
});
