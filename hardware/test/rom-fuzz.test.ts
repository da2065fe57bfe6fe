/**
 * Malformed input, property-based: random bytes, truncated SLIP, oversized frames,
 * wrong lengths, unknown commands and bad checksums are answered with an error status
 * (the ROM's or the stub's), nothing breaks inside, and SYNC works afterwards.
 *
 * 10,500 cases by default (about a second); KILN_FUZZ_RUNS=N runs N cases per property instead.
 */
import { ROM_LOADER_OPCODES } from '@kiln/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandHandler } from '../src/rom/commands/index.ts';
import { MAX_REQUEST_BYTES } from '../src/rom/loader.ts';
import { slipEncode } from '../src/slip.ts';
import { BenchHost, dataRequest, frames, OP, parseResponse, type Response, request, syncRequest } from './helpers.ts';

const runs = (n: number) => ({ numRuns: Number(process.env.KILN_FUZZ_RUNS ?? n) });

function header(direction: number, op: number, size: number): Buffer {
  const h = Buffer.alloc(8);
  h[0] = direction;
  h[1] = op;
  h.writeUInt16LE(size & 0xffff, 2);
  return h;
}

interface Case {
  /** What goes on the wire. */
  wire: Buffer;
  /** Expected status: ROM [1, code], stub [code, 0]. */
  rom: [number, number];
  stub: [number, number];
  /** Whether the answer keeps the request's op (false: the ROM's "unsupported" op 0). */
  echoRom: boolean;
  op: number;
}

const INVALID: Case['rom'] = [1, 0x05];
const STUB_BAD_LENGTH: Case['stub'] = [0xc0, 0];

const anyOp = fc.integer({ min: 0, max: 255 });
const knownRomOp = fc.constantFrom(OP.READ_REG, OP.WRITE_REG, OP.MEM_BEGIN, OP.FLASH_BEGIN, OP.SPI_FLASH_MD5, OP.SYNC);
const fixedWords: [number, number][] = [
  [OP.READ_REG, 1],
  [OP.MEM_BEGIN, 4],
  [OP.MEM_END, 2],
  [OP.SPI_SET_PARAMS, 6],
  [OP.CHANGE_BAUDRATE, 2],
  [OP.SPI_FLASH_MD5, 4],
];

/** Frames that are not requests: too short, cut off, wrong size field, wrong direction. */
const brokenFrame: fc.Arbitrary<Case> = fc.oneof(
  // truncated: a request cut before its end, then terminated
  fc
    .record({ op: knownRomOp, data: fc.uint8Array({ minLength: 1, maxLength: 40 }), cut: fc.nat() })
    .map(({ op, data, cut }) => {
      const full = Buffer.concat([header(0, op, data.length), data]);
      const part = full.subarray(0, 1 + (cut % (full.length - 1)));
      return { wire: slipEncode(part), rom: INVALID, stub: STUB_BAD_LENGTH, echoRom: true, op: part[1] ?? 0 };
    }),
  // size field that disagrees with the data
  fc
    .record({ op: anyOp, data: fc.uint8Array({ maxLength: 40 }), size: fc.integer({ min: 0, max: 0xffff }) })
    .filter(({ data, size }) => size !== data.length)
    .map(({ op, data, size }) => ({
      wire: slipEncode(Buffer.concat([header(0, op, size), data])),
      rom: INVALID,
      stub: STUB_BAD_LENGTH,
      echoRom: true,
      op,
    })),
  // a response, or anything else that is not a request
  fc
    .record({ dir: fc.integer({ min: 1, max: 255 }), op: anyOp, data: fc.uint8Array({ maxLength: 16 }) })
    .map(({ dir, op, data }) => ({
      wire: slipEncode(Buffer.concat([header(dir, op, data.length), data])),
      rom: INVALID,
      stub: STUB_BAD_LENGTH,
      echoRom: true,
      op,
    })),
  // an invalid SLIP escape inside an otherwise good request
  fc
    .record({ bad: fc.integer({ min: 0, max: 255 }).filter((b) => b !== 0xdc && b !== 0xdd && b !== 0xc0) })
    .map(({ bad }) => {
      const good = request(OP.READ_REG, Buffer.alloc(4));
      const wire = Buffer.concat([good.subarray(0, 5), Buffer.from([0xdb, bad]), good.subarray(5)]);
      return { wire, rom: INVALID, stub: STUB_BAD_LENGTH, echoRom: true, op: OP.READ_REG };
    }),
  // longer than any request can be
  fc
    .record({ op: anyOp, extra: fc.nat({ max: 2000 }), fill: fc.integer({ min: 0, max: 255 }) })
    .map(({ op, extra, fill }) => {
      const size = MAX_REQUEST_BYTES + extra;
      const frame = Buffer.concat([header(0, op, size), Buffer.alloc(size, fill)]);
      return { wire: slipEncode(frame), rom: INVALID, stub: STUB_BAD_LENGTH, echoRom: true, op };
    }),
);

/** Well-framed requests that are still wrong: bad lengths for the command, bad checksums. */
const wrongRequest: fc.Arbitrary<Case> = fc.oneof(
  fc
    .record({ spec: fc.constantFrom(...fixedWords), bytes: fc.nat({ max: 40 }) })
    .filter(({ spec, bytes }) => bytes !== spec[1] * 4)
    .map(({ spec, bytes }) => ({
      wire: request(spec[0], Buffer.alloc(bytes, 0x5a)),
      rom: INVALID,
      stub: STUB_BAD_LENGTH,
      echoRom: true,
      op: spec[0],
    })),
  fc
    .record({
      op: fc.constantFrom(OP.MEM_DATA, OP.FLASH_DATA, OP.FLASH_DEFL_DATA),
      data: fc.uint8Array({ maxLength: 64 }),
    })
    .map(({ op, data }) => ({
      wire: dataRequest(op, 0, data, true),
      rom: [1, 0x07] as [number, number],
      stub: [0xc1, 0] as [number, number],
      echoRom: true,
      op,
    })),
);

function unknownCommand(chip: string, stub: boolean): fc.Arbitrary<Case> {
  const host = new BenchHost({ chip });
  const known = new Set<number>();
  for (let op = 0; op < 256; op++) if (commandHandler(op, host.board.chip, stub)) known.add(op);
  host.close();
  return fc
    .record({ op: anyOp.filter((op) => !known.has(op)), data: fc.uint8Array({ maxLength: 24 }) })
    .map(({ op, data }) => ({
      wire: request(op, data),
      rom: INVALID,
      stub: [0xff, 0] as [number, number],
      echoRom: false,
      op,
    }));
}

/** One board per suite, reused across cases; it is put back into its loader when a case took it out. */
class Target {
  readonly host: BenchHost;
  readonly stub: boolean;
  readonly faults: unknown[] = [];

  constructor(chip: string, stub: boolean) {
    this.host = new BenchHost({ chip });
    this.stub = stub;
    this.host.board.on((e) => {
      if (e.type === 'fault') this.faults.push(e.error);
    });
  }

  async ready(): Promise<void> {
    const state = this.host.board.state;
    if (state === (this.stub ? 'stub' : 'download')) return;
    this.host.enterDownload();
    if (this.stub) await this.host.startStub(this.host.board.chip.ram[0]?.[0] ?? 0);
    this.host.take();
  }

  get statusBytes(): 2 | 4 {
    return this.stub ? 2 : 4;
  }

  async answers(wire: Buffer): Promise<Response[]> {
    return this.host.responses(this.statusBytes, wire);
  }

  /** SYNC works: 8 good answers (the board may have left its loader legitimately: reset it first). */
  async syncs(): Promise<boolean> {
    await this.ready();
    const replies = await this.answers(Buffer.concat([Buffer.from([0xc0]), syncRequest()]));
    const syncs = replies.filter((r) => r.op === OP.SYNC && r.status[0] === 0);
    return syncs.length === 8;
  }

  close(): void {
    this.host.close();
  }
}

describe.each([
  ['ROM', 'esp32', false],
  ['ROM', 'esp32c3', false],
  ['stub', 'esp32s3', true],
])('%s loader (%s) under malformed input', (_who, chip, stub) => {
  let t: Target;
  beforeAll(async () => {
    t = new Target(chip, stub);
    await t.ready();
  });
  afterAll(() => {
    t.close();
    expect(t.faults).toEqual([]);
  });

  it('answers each malformed frame once, with the error status, and still syncs', async () => {
    const cases = fc.oneof(brokenFrame, wrongRequest, unknownCommand(chip, stub));
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        await t.ready();
        const replies = await t.answers(c.wire);
        expect(replies).toHaveLength(1);
        const [r] = replies;
        expect(r?.status).toEqual(stub ? c.stub : c.rom);
        expect(r?.op).toBe(stub || c.echoRom ? c.op : 0);
        expect(await t.syncs()).toBe(true);
      }),
      runs(stub ? 2500 : 1500),
    );
  });

  it('survives random bytes: every answer is a well-formed response, and SYNC works after', async () => {
    const noise = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // biased towards the bytes that matter: delimiters, escapes, request headers
      fc
        .array(fc.constantFrom(0xc0, 0xdb, 0xdc, 0xdd, 0x00, 0x01, 0x08, 0x0a, 0xd2, 0xff), { maxLength: 120 })
        .map((a) => Uint8Array.from(a)),
    );
    await fc.assert(
      fc.asyncProperty(noise, async (bytes) => {
        await t.ready();
        t.host.take();
        await t.host.send(bytes);
        for (const f of frames(t.host.take())) {
          // READ_FLASH data and the MD5 frame are bare; everything else parses as a response.
          if (f[0] === 0x01 && f.length >= 10) expect(() => parseResponse(f, t.statusBytes)).not.toThrow();
        }
        expect(await t.syncs()).toBe(true);
      }),
      runs(stub ? 2000 : 1500),
    );
  });
});

describe('opcode table', () => {
  it('covers every command esptool and esptool-js send', () => {
    const host = new BenchHost({ chip: 'esp32s3' });
    const chip = host.board.chip;
    host.close();
    for (const [name, op] of Object.entries(ROM_LOADER_OPCODES)) {
      expect(commandHandler(op, chip, false) || commandHandler(op, chip, true), name).toBeTruthy();
    }
  });
});
