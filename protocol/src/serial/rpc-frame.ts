/**
 * Kiln serial RPC frames (SPEC.md §2.3): one line, 0x01 'K' '1' ':' + base64(P) + '\n',
 * P = 8-byte header | 0..256 data bytes | CRC32 (Espressif variant) of header+data.
 * Text armour keeps frames from confusing line-oriented log readers and terminals,
 * and the leading 0x01 can never start an ESP-IDF log line.
 */
import { espCrc32 } from '../crc32.ts';
import { ProtocolError } from '../errors.ts';
import { LIMITS } from '../limits.ts';

export const RPC_PREFIX = Buffer.from([0x01, 0x4b, 0x31, 0x3a]); // \x01 K 1 :
export const RPC_HEADER_BYTES = 8;

export const RpcKind = { REQUEST: 0x01, RESPONSE: 0x02 } as const;
export const RPC_FLAG_MORE = 0x01;

export const RpcMethod = {
  GET_INFO: 0x01,
  GET_STATUS: 0x02,
  SET_GATEWAY: 0x10,
  SET_CA_CERT: 0x11,
  SET_DEVICE_ID: 0x12,
  GENERATE_KEY: 0x20,
  GET_PUBLIC_KEY: 0x21,
  FACTORY_RESET: 0x30,
  REBOOT: 0x31,
} as const;

export const RpcStatus = {
  OK: 0x00,
  UNKNOWN_METHOD: 0x01,
  BAD_FRAME: 0x02,
  BAD_VALUE: 0x03,
  TOO_LARGE: 0x04,
  BAD_CHUNK: 0x05,
  BUSY: 0x06,
  NO_KEY: 0x07,
  STORAGE: 0x08,
  INTERNAL: 0x09,
} as const;

export function rpcStatusName(status: number): string {
  const entry = Object.entries(RpcStatus).find(([, v]) => v === status);
  return entry ? entry[0] : `0x${status.toString(16).padStart(2, '0')}`;
}

export type RpcFrameError =
  | 'RPC_TOO_LONG'
  | 'RPC_BAD_VERSION'
  | 'RPC_BAD_ENCODING'
  | 'RPC_BAD_LENGTH'
  | 'RPC_BAD_CHECKSUM'
  | 'RPC_BAD_KIND'
  | 'RPC_BAD_FLAGS';

export interface RpcFrame {
  kind: number;
  method: number;
  id: number;
  status: number;
  flags: number;
  chunk: number;
  data: Buffer;
}

export function encodeRpcFrame(frame: RpcFrame): Buffer {
  if (frame.data.length > LIMITS.rpcChunkBytes) {
    throw new ProtocolError(
      'RPC_BAD_LENGTH',
      `RPC chunk of ${frame.data.length} bytes; at most ${LIMITS.rpcChunkBytes}`,
    );
  }
  const header = Buffer.alloc(RPC_HEADER_BYTES);
  header.writeUInt8(frame.kind, 0);
  header.writeUInt8(frame.method, 1);
  header.writeUInt16LE(frame.id, 2);
  header.writeUInt8(frame.status, 4);
  header.writeUInt8(frame.flags, 5);
  header.writeUInt16LE(frame.chunk, 6);
  const body = Buffer.concat([header, frame.data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(espCrc32(body), 0);
  return Buffer.concat([
    RPC_PREFIX,
    Buffer.from(Buffer.concat([body, crc]).toString('base64'), 'ascii'),
    Buffer.from('\n'),
  ]);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function fail(code: RpcFrameError, message: string): never {
  throw new ProtocolError(code, message);
}

/** Decodes one frame line (with or without its trailing '\n'). */
export function decodeRpcFrame(line: Uint8Array): RpcFrame {
  const bytes = Buffer.from(line.buffer, line.byteOffset, line.length);
  if (bytes.length > LIMITS.rpcLineBytes)
    fail('RPC_TOO_LONG', `RPC line of ${bytes.length} bytes; at most ${LIMITS.rpcLineBytes}`);
  if (bytes[0] !== 0x01 || bytes[1] !== 0x4b || bytes[2] !== 0x31) {
    fail('RPC_BAD_VERSION', 'not a version 1 Kiln RPC line (it must start with 0x01 "K1:")');
  }
  if (bytes[3] !== 0x3a) fail('RPC_BAD_ENCODING', 'Kiln RPC line lacks the ":" after "K1"');
  let end = bytes.length;
  if (bytes[end - 1] === 0x0a) end -= 1;
  const text = bytes.subarray(RPC_PREFIX.length, end).toString('latin1');
  if (!BASE64.test(text)) fail('RPC_BAD_ENCODING', 'RPC frame body is not canonical base64');
  const p = Buffer.from(text, 'base64');
  if (p.toString('base64') !== text) fail('RPC_BAD_ENCODING', 'RPC frame body is not canonical base64');
  if (p.length < RPC_HEADER_BYTES + 4 || p.length - RPC_HEADER_BYTES - 4 > LIMITS.rpcChunkBytes) {
    fail('RPC_BAD_LENGTH', `RPC frame payload of ${p.length} bytes is outside 12..${12 + LIMITS.rpcChunkBytes}`);
  }
  const body = p.subarray(0, p.length - 4);
  const want = p.readUInt32LE(p.length - 4);
  const got = espCrc32(body);
  if (want !== got) {
    fail(
      'RPC_BAD_CHECKSUM',
      `RPC frame CRC is 0x${want.toString(16).padStart(8, '0')}, computed 0x${got.toString(16).padStart(8, '0')}`,
    );
  }
  const kind = body[0] as number;
  if (kind !== RpcKind.REQUEST && kind !== RpcKind.RESPONSE)
    fail('RPC_BAD_KIND', `RPC frame kind 0x${kind.toString(16)} is neither request nor response`);
  const flags = body[5] as number;
  if ((flags & ~RPC_FLAG_MORE) !== 0)
    fail('RPC_BAD_FLAGS', `RPC frame flags 0x${flags.toString(16)} set reserved bits`);
  return {
    kind,
    method: body[1] as number,
    id: body.readUInt16LE(2),
    status: body[4] as number,
    flags,
    chunk: body.readUInt16LE(6),
    data: Buffer.from(body.subarray(RPC_HEADER_BYTES)),
  };
}

/** Splits one RPC message into frame lines of at most 256 data bytes each. */
export function encodeRpcMessage(message: Omit<RpcFrame, 'flags' | 'chunk'>): Buffer[] {
  if (message.data.length > LIMITS.rpcValueBytes) {
    throw new ProtocolError(
      'RPC_BAD_LENGTH',
      `RPC value of ${message.data.length} bytes; at most ${LIMITS.rpcValueBytes}`,
    );
  }
  const lines: Buffer[] = [];
  const count = Math.max(1, Math.ceil(message.data.length / LIMITS.rpcChunkBytes));
  for (let i = 0; i < count; i++) {
    lines.push(
      encodeRpcFrame({
        ...message,
        flags: i < count - 1 ? RPC_FLAG_MORE : 0,
        chunk: i,
        data: message.data.subarray(i * LIMITS.rpcChunkBytes, (i + 1) * LIMITS.rpcChunkBytes),
      }),
    );
  }
  return lines;
}

/**
 * Reassembles chunked RPC messages, one in flight per (kind, id). Bounded:
 * a value over 8192 bytes or an out-of-order chunk drops that message and reports
 * `TOO_LARGE` / `BAD_CHUNK` so the receiver can answer with that status.
 */
export class RpcAssembler {
  private readonly pending = new Map<string, { method: number; next: number; parts: Buffer[]; size: number }>();

  /** Returns the complete message, `undefined` while more chunks are due, or an error status. */
  push(frame: RpcFrame): { message: RpcFrame } | { error: 'BAD_CHUNK' | 'TOO_LARGE'; frame: RpcFrame } | undefined {
    const key = `${frame.kind}:${frame.id}`;
    const current = this.pending.get(key);
    if (frame.chunk === 0) {
      this.pending.delete(key);
    } else if (!current || current.next !== frame.chunk || current.method !== frame.method) {
      this.pending.delete(key);
      return { error: 'BAD_CHUNK', frame };
    }
    const state =
      frame.chunk === 0
        ? { method: frame.method, next: 0, parts: [], size: 0 }
        : (current as NonNullable<typeof current>);
    state.size += frame.data.length;
    if (state.size > LIMITS.rpcValueBytes) {
      this.pending.delete(key);
      return { error: 'TOO_LARGE', frame };
    }
    state.parts.push(frame.data);
    state.next += 1;
    if (frame.flags & RPC_FLAG_MORE) {
      if (this.pending.size >= 8 && !this.pending.has(key)) {
        // Bounded: a peer cannot make us hold more than 8 half-sent messages.
        this.pending.delete(this.pending.keys().next().value as string);
      }
      this.pending.set(key, state);
      return undefined;
    }
    this.pending.delete(key);
    return { message: { ...frame, chunk: 0, flags: 0, data: Buffer.concat(state.parts) } };
  }
}
