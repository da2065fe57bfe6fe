/**
 * Test helpers: build loader requests the way esptool does, read the board's output
 * the way esptool's slip_reader does, and drive a board in-process (no sockets).
 */
import { connect } from 'node:net';
import { ROM_LOADER_OPCODES as OP, ROM_LOADER_SYNC_PAYLOAD } from '@kiln/protocol';
import { VirtualBoard, type VirtualBoardOptions } from '../src/board.ts';
import { FlashChip } from '../src/flash/flash-chip.ts';
import { checksum } from '../src/rom/request.ts';
import { slipEncode } from '../src/slip.ts';
import type { HostPort } from '../src/uart-bridge.ts';

export { OP };

export function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => {
    b.writeUInt32LE(v >>> 0, i * 4);
  });
  return b;
}

/** `00 op size chk data`, SLIP-framed. */
export function request(op: number, data: Uint8Array = Buffer.alloc(0), chk = 0): Buffer {
  const head = Buffer.alloc(8);
  head[1] = op;
  head.writeUInt16LE(data.length, 2);
  head.writeUInt32LE(chk >>> 0, 4);
  return slipEncode(Buffer.concat([head, data]));
}

/** MEM_DATA / FLASH_DATA / FLASH_DEFL_DATA: `[len, seq, 0, 0] + data` with its checksum. */
export function dataRequest(op: number, seq: number, data: Uint8Array, badChecksum = false): Buffer {
  const chk = checksum(data) ^ (badChecksum ? 0x01 : 0);
  return request(op, Buffer.concat([u32(data.length, seq, 0, 0), data]), chk);
}

export const syncRequest = (): Buffer => request(OP.SYNC, ROM_LOADER_SYNC_PAYLOAD);

export interface Response {
  op: number;
  value: number;
  data: Buffer;
  /** The first two status bytes: [0, 0] on success. */
  status: [number, number];
  raw: Buffer;
}

/** Splits output into frames as esptool's slip_reader does; text between frames is skipped. */
export function frames(output: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  let cur: number[] | undefined;
  let esc = false;
  for (const b of output) {
    if (cur === undefined) {
      if (b === 0xc0) cur = [];
      continue;
    }
    if (esc) {
      cur.push(b === 0xdc ? 0xc0 : b === 0xdd ? 0xdb : -1);
      esc = false;
    } else if (b === 0xdb) esc = true;
    else if (b === 0xc0) {
      if (cur.length) out.push(Buffer.from(cur));
      cur = cur.length ? undefined : [];
    } else cur.push(b);
  }
  return out;
}

export function parseResponse(frame: Buffer, statusBytes: 2 | 4): Response {
  if (frame.length < 8 + statusBytes || frame[0] !== 0x01) throw new Error(`not a response: ${frame.toString('hex')}`);
  const size = frame.readUInt16LE(2);
  if (size !== frame.length - 8) throw new Error(`size ${size} but ${frame.length - 8} bytes follow`);
  const body = frame.subarray(8);
  const data = body.subarray(0, body.length - statusBytes);
  const status = body.subarray(body.length - statusBytes);
  return {
    op: frame[1] ?? 0,
    value: frame.readUInt32LE(4),
    data,
    status: [status[0] ?? 0, status[1] ?? 0],
    raw: frame,
  };
}

/** A board with in-memory flash and a host attached in-process, without a baud rate (like socket://). */
export class BenchHost {
  readonly board: VirtualBoard;
  readonly port: HostPort;
  output: Buffer[] = [];

  constructor(options: Partial<VirtualBoardOptions> & { chip?: string } = {}) {
    this.board = new VirtualBoard({ chip: 'esp32', flash: FlashChip.inMemory(1 << 20), ...options });
    const port = this.board.connect((d) => this.output.push(d));
    if (!port) throw new Error('port busy');
    this.port = port;
  }

  /** Takes everything the chip sent since the last call. */
  take(): Buffer {
    const all = Buffer.concat(this.output);
    this.output = [];
    return all;
  }

  /** EN low with IO0 high, then EN high with IO0 low in one step: straight into download mode. */
  enterDownload(): void {
    this.port.setLines({ dtr: false, rts: true });
    this.port.setLines({ dtr: true, rts: false });
    this.port.setLines({ dtr: false });
  }

  /** Sends bytes and waits until the loader has answered them. */
  async send(...chunks: Uint8Array[]): Promise<void> {
    for (const c of chunks) this.port.write(c);
    await this.board.settled();
  }

  async responses(statusBytes: 2 | 4, ...chunks: Uint8Array[]): Promise<Response[]> {
    this.take();
    await this.send(...chunks);
    return frames(this.take()).map((f) => parseResponse(f, statusBytes));
  }

  async command(op: number, data?: Uint8Array, statusBytes: 2 | 4 = 4): Promise<Response> {
    const [r] = await this.responses(statusBytes, request(op, data));
    if (!r) throw new Error(`no response to op 0x${op.toString(16)}`);
    return r;
  }

  /** Uploads a tiny program to RAM and starts it, as esptool starts its stub; returns the greeting. */
  async startStub(address: number): Promise<Buffer[]> {
    const code = Buffer.alloc(64, 0x11);
    await this.send(request(OP.MEM_BEGIN, u32(code.length, 1, 0x1800, address)), dataRequest(OP.MEM_DATA, 0, code));
    this.take();
    await this.send(request(OP.MEM_END, u32(0, address)));
    return frames(this.take());
  }

  /** Resolves once the board's app process (if any) has exited. */
  close(): Promise<void> {
    this.port.close();
    return this.board.close();
  }
}

/** Deterministic test data: half incompressible, half text, so zlib roughly halves it. */
export function testImage(bytes: number, seed = 1): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  const text = Buffer.from('kiln virtual board flash image ');
  for (let i = 0; i < bytes; i++) {
    if (Math.floor(i / 256) % 2) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x & 0xff;
    } else {
      out[i] = text[i % text.length] ?? 0;
    }
  }
  return out;
}

/** Whether a TCP server answers at a board URL (rfc2217:// or socket://). */
export function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(port), hostname, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
