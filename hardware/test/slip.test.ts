/** SLIP framing as esptool writes and reads it. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlipDecoder, slipEncode } from '../src/slip.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('SLIP', () => {
  it('escapes C0 as DB DC and DB as DB DD, between C0 delimiters (esptool write())', () => {
    expect(slipEncode(hex('01 c0 02 db 03')).toString('hex')).toBe('c001dbdc02dbdd03c0');
  });

  it('decodes frames split anywhere across reads, ignoring bytes between frames', () => {
    const d = new SlipDecoder(100);
    expect(d.push(hex('6e6f697365 c0 01 db'))).toEqual([]);
    const frames = d.push(hex('dc 02 c0 c0 03 c0'));
    expect(frames.map((f) => f.data.toString('hex'))).toEqual(['01c002', '03']);
  });

  it('flags a bad escape and an oversized frame, without growing past the limit', () => {
    const d = new SlipDecoder(4);
    const [bad] = d.push(hex('c0 01 db 05 02 c0'));
    expect(bad?.error).toBe('bad-escape');
    const [big] = d.push(hex('c0 0102030405060708 c0'));
    expect(big?.error).toBe('oversize');
    expect(big?.data.length).toBe(4);
    const [ok] = d.push(hex('c0 0a c0'));
    expect(ok).toEqual({ data: hex('0a') });
  });

  it('a truncated frame is ended by the next C0, and the frame after it still decodes', () => {
    const d = new SlipDecoder(100);
    const frames = d.push(hex('c0 00 08 24 c0 00 0a 04 00 c0'));
    expect(frames.map((f) => f.data.toString('hex'))).toEqual(['000824', '000a0400']);
  });

  it('round-trips any frame', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 7 }), (data, cut) => {
        const d = new SlipDecoder(1000);
        const wire = slipEncode(data);
        const at = Math.floor((wire.length * cut) / 8);
        const out = [...d.push(wire.subarray(0, at)), ...d.push(wire.subarray(at))];
        expect(out).toHaveLength(1);
        expect(out[0]?.error).toBeUndefined();
        expect(Buffer.compare(out[0]?.data ?? Buffer.alloc(0), Buffer.from(data))).toBe(0);
      }),
      { numRuns: Number(process.env.KILN_FUZZ_RUNS ?? 500) },
    );
  });
});
