/**
 * Improv Wi-Fi Serial, version 1 (formats.md §1; https://www.improv-wifi.com/serial/).
 * Frame: "IMPROV" | version 0x01 | type | length N | N data bytes | checksum (sum mod 256).
 */
import { ProtocolError } from '../errors.ts';

export const IMPROV_MAGIC = Buffer.from('IMPROV', 'ascii');
export const IMPROV_VERSION = 0x01;
export const IMPROV_HEADER_BYTES = 9;

export const ImprovType = {
  CURRENT_STATE: 0x01,
  ERROR_STATE: 0x02,
  RPC_COMMAND: 0x03,
  RPC_RESULT: 0x04,
} as const;

export const ImprovState = {
  STOPPED: 0x00,
  AWAITING_AUTHORIZATION: 0x01,
  AUTHORIZED: 0x02,
  PROVISIONING: 0x03,
  PROVISIONED: 0x04,
} as const;

export const ImprovErrorCode = {
  NONE: 0x00,
  INVALID_RPC: 0x01,
  UNKNOWN_RPC: 0x02,
  UNABLE_TO_CONNECT: 0x03,
  NOT_AUTHORIZED: 0x04,
  BAD_HOSTNAME: 0x05,
  UNKNOWN: 0xff,
} as const;

export const ImprovCommand = {
  WIFI_SETTINGS: 0x01,
  GET_CURRENT_STATE: 0x02,
  GET_DEVICE_INFO: 0x03,
  GET_WIFI_NETWORKS: 0x04,
  HOSTNAME: 0x05,
  DEVICE_NAME: 0x06,
  NETWORK_STATE: 0x07,
} as const;

export type ImprovErrorName = 'IMPROV_TRUNCATED' | 'IMPROV_BAD_VERSION' | 'IMPROV_BAD_CHECKSUM' | 'IMPROV_BAD_LENGTH';

export interface ImprovFrame {
  type: number;
  data: Buffer;
}

function sum8(bytes: Uint8Array): number {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xff;
  return s;
}

export function encodeImprovFrame(type: number, data: Uint8Array): Buffer {
  if (data.length > 255) {
    throw new ProtocolError('IMPROV_BAD_LENGTH', `Improv data is ${data.length} bytes; at most 255 fit in a frame`);
  }
  const head = Buffer.concat([IMPROV_MAGIC, Buffer.from([IMPROV_VERSION, type, data.length]), data]);
  return Buffer.concat([head, Buffer.from([sum8(head)])]);
}

/** Total frame length if `buf` starts with a complete header, else undefined. */
export function improvFrameLength(buf: Uint8Array): number | undefined {
  if (buf.length < IMPROV_HEADER_BYTES) return undefined;
  return IMPROV_HEADER_BYTES + (buf[8] as number) + 1;
}

/** Decodes exactly one frame (the whole of `buf`). Throws ProtocolError with an Improv error name. */
export function decodeImprovFrame(buf: Uint8Array): ImprovFrame {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  if (bytes.length < IMPROV_HEADER_BYTES + 1 || !bytes.subarray(0, 6).equals(IMPROV_MAGIC)) {
    throw new ProtocolError('IMPROV_TRUNCATED', `not a complete Improv frame (${bytes.length} bytes)`);
  }
  if (bytes[6] !== IMPROV_VERSION) {
    throw new ProtocolError('IMPROV_BAD_VERSION', `Improv version ${bytes[6]} is not supported (expected 1)`);
  }
  const total = IMPROV_HEADER_BYTES + (bytes[8] as number) + 1;
  if (bytes.length < total) {
    throw new ProtocolError('IMPROV_TRUNCATED', `Improv frame needs ${total} bytes, got ${bytes.length}`);
  }
  if (bytes.length > total) {
    throw new ProtocolError('IMPROV_BAD_LENGTH', `Improv frame is ${total} bytes but ${bytes.length} were given`);
  }
  const expected = sum8(bytes.subarray(0, total - 1));
  if (bytes[total - 1] !== expected) {
    throw new ProtocolError(
      'IMPROV_BAD_CHECKSUM',
      `Improv checksum is 0x${hex2(bytes[total - 1] as number)}, expected 0x${hex2(expected)}`,
    );
  }
  return { type: bytes[7] as number, data: Buffer.from(bytes.subarray(IMPROV_HEADER_BYTES, total - 1)) };
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function readStrings(data: Buffer, start: number, end: number): string[] {
  const out: string[] = [];
  let i = start;
  while (i < end) {
    const len = data[i] as number;
    if (i + 1 + len > end) {
      throw new ProtocolError('IMPROV_BAD_LENGTH', `Improv string at byte ${i} runs past the data`);
    }
    out.push(data.subarray(i + 1, i + 1 + len).toString('utf8'));
    i += 1 + len;
  }
  return out;
}

/** RPC Command data: [command][length][payload]. */
export interface ImprovRpcCommand {
  command: number;
  payload: Buffer;
}

export function decodeImprovRpcCommand(data: Buffer): ImprovRpcCommand {
  if (data.length < 2 || data.length < 2 + (data[1] as number)) {
    throw new ProtocolError('IMPROV_BAD_LENGTH', 'Improv RPC command is shorter than its length byte says');
  }
  return { command: data[0] as number, payload: Buffer.from(data.subarray(2, 2 + (data[1] as number))) };
}

export function encodeImprovRpcCommand(command: number, payload: Uint8Array = new Uint8Array()): Buffer {
  return Buffer.concat([Buffer.from([command, payload.length]), payload]);
}

export function encodeWifiSettings(ssid: string, password: string): Buffer {
  const s = Buffer.from(ssid, 'utf8');
  const p = Buffer.from(password, 'utf8');
  if (s.length > 255 || p.length > 255 || s.length + p.length + 2 > 253) {
    throw new ProtocolError('IMPROV_BAD_LENGTH', 'SSID and password are too long for one Improv frame');
  }
  return encodeImprovRpcCommand(
    ImprovCommand.WIFI_SETTINGS,
    Buffer.concat([Buffer.from([s.length]), s, Buffer.from([p.length]), p]),
  );
}

export function decodeWifiSettings(payload: Buffer): { ssid: string; password: string } {
  const strings = readStrings(payload, 0, payload.length);
  if (strings.length !== 2) {
    throw new ProtocolError('IMPROV_BAD_LENGTH', `Wi-Fi settings carry ${strings.length} strings, expected 2`);
  }
  return { ssid: strings[0] as string, password: strings[1] as string };
}

/** RPC Result data: [command answered][L][len1][str1]…; bytes past 2+L are ignored (sdk-cpp quirk). */
export function decodeImprovRpcResult(data: Buffer): { command: number; strings: string[] } {
  if (data.length < 2 || data.length < 2 + (data[1] as number)) {
    throw new ProtocolError('IMPROV_BAD_LENGTH', 'Improv RPC result is shorter than its length byte says');
  }
  return { command: data[0] as number, strings: readStrings(data, 2, 2 + (data[1] as number)) };
}

export function encodeImprovRpcResult(command: number, strings: readonly string[]): Buffer {
  const parts = strings.map((s) => {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 255) throw new ProtocolError('IMPROV_BAD_LENGTH', 'an Improv string is over 255 bytes');
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  const body = Buffer.concat(parts);
  if (body.length > 253) throw new ProtocolError('IMPROV_BAD_LENGTH', 'Improv RPC result over 253 bytes');
  return Buffer.concat([Buffer.from([command, body.length]), body]);
}
