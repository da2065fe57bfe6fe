import { describe, expect, it } from 'vitest';
import { DO, escapeIac, IAC, SB, SE, subnegotiation, TelnetParser, WILL } from '../../src/transport/telnet.ts';

describe('TelnetParser', () => {
  it('passes data, undoubles 0xFF and reports negotiation and subnegotiation', () => {
    const p = new TelnetParser();
    const events = p.feed(Buffer.from([1, 2, IAC, IAC, 3, IAC, WILL, 44, IAC, SB, 44, 105, 8, IAC, SE, 4]));
    expect(events).toEqual([
      { type: 'data', data: Buffer.from([1, 2]) },
      { type: 'data', data: Buffer.from([IAC]) },
      { type: 'data', data: Buffer.from([3]) },
      { type: 'negotiate', verb: WILL, option: 44 },
      { type: 'sub', option: 44, body: Buffer.from([105, 8]) },
      { type: 'data', data: Buffer.from([4]) },
    ]);
  });

  it('keeps its state across chunk boundaries, including a doubled 0xFF inside a subnegotiation', () => {
    const p = new TelnetParser();
    const bytes = [IAC, SB, 44, 101, 0, IAC, IAC, 0, 0, IAC, SE, 9];
    const events = bytes.flatMap((b) => p.feed(Buffer.from([b])));
    expect(events).toEqual([
      { type: 'sub', option: 44, body: Buffer.from([101, 0, IAC, 0, 0]) },
      { type: 'data', data: Buffer.from([9]) },
    ]);
  });

  it('escapes 0xFF in data and subnegotiation bodies', () => {
    expect(Buffer.from(escapeIac(Buffer.from([1, IAC, 2, IAC])))).toEqual(Buffer.from([1, IAC, IAC, 2, IAC, IAC]));
    const plain = Buffer.from([1, 2, 3]);
    expect(escapeIac(plain)).toBe(plain);
    expect(subnegotiation(44, Buffer.from([1, 0, 0, IAC, 0]))).toEqual(
      Buffer.from([IAC, SB, 44, 1, 0, 0, IAC, IAC, 0, IAC, SE]),
    );
    expect(DO).toBe(0xfd);
  });
});
