/**
 * Property-based checks: hostile bytes never escape as anything but a coded
 * ProtocolError or a validation result, and encoders round-trip through decoders.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeImprovFrame,
  decodeImprovRpcResult,
  decodeRpcFrame,
  encodeImprovFrame,
  encodeImprovRpcResult,
  encodeRpcFrame,
  encodeRpcMessage,
  ProtocolError,
  RpcAssembler,
  SerialDemux,
  validateMessage,
  validateValue,
} from '../src/index.ts';

const RUNS = Number(process.env.KILN_FUZZ_RUNS ?? 2000);
const VALIDATION_CODES = new Set([
  'TOO_LARGE',
  'INVALID_JSON',
  'WRONG_TYPE',
  'MISSING_FIELD',
  'UNKNOWN_TYPE',
  'UNEXPECTED_TYPE',
  'UNKNOWN_FIELD',
  'NOT_INTEGER',
  'OUT_OF_RANGE',
  'TOO_SHORT',
  'TOO_LONG',
  'BAD_FORMAT',
  'NOT_ALLOWED',
]);

function onlyProtocolErrors(fn: () => unknown, prefix: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code.startsWith(prefix)).toBe(true);
  }
}

describe('message validation under hostile input', () => {
  it('answers any string with ok or a documented code, never a throw', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.string({ unit: 'binary' })), (text) => {
        const r = validateMessage(text);
        if (!r.ok) expect(VALIDATION_CODES.has(r.error.code)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
  it('answers any JSON-shaped object carrying a known type', () => {
    const types = [
      'hello',
      'welcome',
      'telemetry',
      'telemetry_batch',
      'ack',
      'command',
      'command_result',
      'heartbeat',
      'config',
      'error',
    ];
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.dictionary(fc.string(), fc.jsonValue()), (type, rest) => {
        const r = validateValue({ ...rest, type });
        if (!r.ok) {
          expect(VALIDATION_CODES.has(r.error.code)).toBe(true);
          expect(r.error.path.startsWith('/') || r.error.path === '').toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

const frameArb = fc.record({
  kind: fc.constantFrom(1, 2),
  method: fc.integer({ min: 0, max: 255 }),
  id: fc.integer({ min: 0, max: 65535 }),
  status: fc.integer({ min: 0, max: 255 }),
  flags: fc.constantFrom(0, 1),
  chunk: fc.integer({ min: 0, max: 65535 }),
  data: fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)),
});

describe('serial RPC frames', () => {
  it('round-trip every field', () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        expect(decodeRpcFrame(encodeRpcFrame(f))).toEqual(f);
      }),
      { numRuns: RUNS },
    );
  });
  it('refuse random lines with an RPC_ code only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) =>
        onlyProtocolErrors(() => decodeRpcFrame(Buffer.concat([Buffer.from([1]), bytes])), 'RPC_'),
      ),
      { numRuns: RUNS },
    );
  });
  it('detect any single flipped bit', () => {
    fc.assert(
      fc.property(frameArb, fc.nat(), (f, n) => {
        const line = encodeRpcFrame(f);
        const body = line.subarray(4, line.length - 1);
        const p = Buffer.from(body.toString('latin1'), 'base64');
        const bit = n % (p.length * 8);
        p[bit >> 3] = (p[bit >> 3] as number) ^ (1 << (bit & 7));
        const mutated = Buffer.concat([line.subarray(0, 4), Buffer.from(p.toString('base64')), Buffer.from('\n')]);
        expect(() => decodeRpcFrame(mutated)).toThrow(ProtocolError);
      }),
      { numRuns: RUNS },
    );
  });
  it('reassemble any value up to 8192 bytes from its chunks', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8192 }), (value) => {
        const lines = encodeRpcMessage({ kind: 1, method: 0x11, id: 42, status: 0, data: Buffer.from(value) });
        const asm = new RpcAssembler();
        const results = lines.map((l) => asm.push(decodeRpcFrame(l)));
        const last = results.at(-1);
        expect(results.slice(0, -1).every((r) => r === undefined)).toBe(true);
        expect(last && 'message' in last ? last.message.data.equals(Buffer.from(value)) : false).toBe(true);
      }),
      { numRuns: Math.min(RUNS, 300) },
    );
  });
});

describe('Improv frames', () => {
  it('round-trip', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: 255 }), (type, data) => {
        const f = decodeImprovFrame(encodeImprovFrame(type, data));
        expect(f.type).toBe(type);
        expect(f.data.equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
  it('RPC results round-trip their strings', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.array(fc.string({ maxLength: 20 }), { maxLength: 8 }),
        (cmd, strings) => {
          expect(decodeImprovRpcResult(encodeImprovRpcResult(cmd, strings))).toEqual({ command: cmd, strings });
        },
      ),
      { numRuns: RUNS },
    );
  });
  it('refuse random bytes with an IMPROV_ code only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) =>
        onlyProtocolErrors(() => decodeImprovFrame(Buffer.concat([Buffer.from('IMPROV'), bytes])), 'IMPROV_'),
      ),
      { numRuns: RUNS },
    );
  });
});

describe('serial demultiplexer', () => {
  it('gives the same events however the bytes are chunked', () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 80 }).map((s) => Buffer.from(`${s}\n`)),
      fc.uint8Array({ maxLength: 40 }).map((d) => Buffer.concat([encodeImprovFrame(4, d), Buffer.from('\n')])),
      frameArb.map((f) => encodeRpcFrame(f)),
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (pieces, cuts) => {
        const bytes = Buffer.concat(pieces);
        const whole = new SerialDemux().push(bytes);
        const points = [...new Set(cuts.map((c) => (bytes.length ? c % bytes.length : 0)))].sort((a, b) => a - b);
        const demux = new SerialDemux();
        const chunked = [];
        let prev = 0;
        for (const p of [...points, bytes.length]) {
          chunked.push(...demux.push(bytes.subarray(prev, p)));
          prev = p;
        }
        expect(chunked).toEqual(whole);
      }),
      { numRuns: Math.min(RUNS, 1000) },
    );
  });
  it('delivers every Improv frame and RPC line that starts at a line start', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.string({ maxLength: 60 }).filter((s) => !s.includes('\n')),
            fc.uint8Array({ maxLength: 50 }),
            frameArb,
          ),
        ),
        (items) => {
          const parts = items.flatMap(([text, improv, f]) => [
            Buffer.from(`${text}\n`),
            encodeImprovFrame(4, improv),
            encodeRpcFrame(f),
          ]);
          const events = new SerialDemux().push(Buffer.concat(parts));
          expect(events.filter((e) => e.kind === 'improv')).toHaveLength(items.length);
          expect(events.filter((e) => e.kind === 'rpc').map((e) => e.kind === 'rpc' && decodeRpcFrame(e.line))).toEqual(
            items.map(([, , f]) => f),
          );
        },
      ),
      { numRuns: Math.min(RUNS, 500) },
    );
  });
});
