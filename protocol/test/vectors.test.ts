/**
 * The TypeScript half of the cross-language agreement: every case of every vector
 * file must hold for protocol/src. The C half is firmware/…/test (ctest).
 */
import { describe, expect, it } from 'vitest';
import {
  checkDeviceToken,
  decodeImprovFrame,
  decodeImprovRpcCommand,
  decodeImprovRpcResult,
  decodeRpcFrame,
  decodeWifiSettings,
  encodeRpcFrame,
  espCrc32,
  ImprovType,
  ProtocolError,
  RpcAssembler,
  type RpcFrame,
  SerialDemux,
  validateMessage,
  validateValue,
} from '../src/index.ts';
import { fromHex, loadVectors, vectorFileNames } from './vector-files.ts';

const READ_BY_THIS_SUITE = [
  'crc32.json',
  'improv.json',
  'jwt.json',
  'messages.json',
  'serial-rpc.json',
  'serial-stream.json',
];

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return e.code;
    throw e;
  }
  return 'NO_ERROR';
}

describe('vector files', () => {
  it('are each read by this suite (a new file needs a test here and in C)', () => {
    expect(vectorFileNames()).toEqual([...READ_BY_THIS_SUITE].sort());
  });
});

describe('crc32.json', () => {
  const { cases } = loadVectors<{ cases: { name: string; hex: string; crc: string }[] }>('crc32.json');
  it('holds the anchors from ESP-IDF (formats.md §0, §2, §6)', () => {
    const byName = new Map(cases.map((c) => [c.name, c.crc]));
    expect(byName.get('check string 123456789')).toBe('0xd202d277');
    expect(byName.get('otadata ota_seq 1')).toBe('0x4743989a');
    expect(byName.get('otadata ota_seq 2')).toBe('0x55f63774');
    // NVS vector: page header CRC bytes "84 2d ba b9" at 0x1c.
    expect(byName.get('NVS page 0 header bytes 4..27 (seq 0, version 2)')).toBe('0xb9ba2d84');
  });
  it.each(cases)('$name', ({ hex, crc }) => {
    expect(espCrc32(fromHex(hex))).toBe(Number.parseInt(crc, 16));
  });
  it('chains: the CRC of a concatenation is the CRC of the tail seeded with the head', () => {
    const data = fromHex((cases.find((c) => c.name.startsWith('1 KiB')) as { hex: string }).hex);
    expect(espCrc32(data.subarray(300), espCrc32(data.subarray(0, 300)))).toBe(espCrc32(data));
  });
});

interface ImprovVectors {
  valid: {
    name: string;
    hex: string;
    type: number;
    data: string;
    rpc?: { command: number; payload?: string; wifi?: { ssid: string; password: string }; strings?: string[] };
  }[];
  invalid: { name: string; hex: string; error: string }[];
}
describe('improv.json', () => {
  const v = loadVectors<ImprovVectors>('improv.json');
  it('holds the reference frames from formats.md §1', () => {
    const hexOf = (name: string) => v.valid.find((c) => c.name.startsWith(name))?.hex;
    expect(hexOf('request current state')).toBe('494d50524f56010302020' + '0e5');
    expect(hexOf('Wi-Fi settings MyAP/pass')).toBe('494d50524f5601030c010a044d7941500470617373' + '0e');
    expect(hexOf('state provisioned')).toBe('494d50524f56010101' + '04e4');
  });
  it.each(v.valid)('decodes $name', (c) => {
    const frame = decodeImprovFrame(fromHex(c.hex));
    expect(frame.type).toBe(c.type);
    expect(frame.data.toString('hex')).toBe(c.data);
    if (c.type === ImprovType.RPC_COMMAND && c.rpc) {
      const cmd = decodeImprovRpcCommand(frame.data);
      expect(cmd.command).toBe(c.rpc.command);
      expect(cmd.payload.toString('hex')).toBe(c.rpc.payload);
      if (c.rpc.wifi) expect(decodeWifiSettings(cmd.payload)).toEqual(c.rpc.wifi);
    }
    if (c.type === ImprovType.RPC_RESULT && c.rpc) {
      expect(decodeImprovRpcResult(frame.data)).toEqual({ command: c.rpc.command, strings: c.rpc.strings });
    }
  });
  it.each(v.invalid)('rejects $name with $error', (c) => {
    const code = errorCode(() => {
      const frame = decodeImprovFrame(fromHex(c.hex));
      if (frame.type === ImprovType.RPC_COMMAND) {
        const cmd = decodeImprovRpcCommand(frame.data);
        if (cmd.command === 1) decodeWifiSettings(cmd.payload);
      }
      if (frame.type === ImprovType.RPC_RESULT) decodeImprovRpcResult(frame.data);
    });
    expect(code).toBe(c.error);
  });
});

type RpcCase = Omit<RpcFrame, 'data'> & { name: string; line: string; data: string };
interface RpcVectors {
  valid: RpcCase[];
  invalid: { name: string; line: string; error: string }[];
  messages: {
    name: string;
    lines: string[];
    result?: Omit<RpcCase, 'name' | 'line' | 'flags' | 'chunk'>;
    error?: string;
  }[];
}
describe('serial-rpc.json', () => {
  const v = loadVectors<RpcVectors>('serial-rpc.json');
  it.each(v.valid)('decodes $name', (c) => {
    const f = decodeRpcFrame(fromHex(c.line));
    expect({ ...f, data: f.data.toString('hex') }).toEqual({
      kind: c.kind,
      method: c.method,
      id: c.id,
      status: c.status,
      flags: c.flags,
      chunk: c.chunk,
      data: c.data,
    });
    // and encodes back to the same bytes (the newline is always written)
    const line = fromHex(c.line);
    expect(encodeRpcFrame(f).equals(line.at(-1) === 0x0a ? line : Buffer.concat([line, Buffer.from('\n')]))).toBe(true);
  });
  it.each(v.invalid)('rejects $name with $error', (c) => {
    expect(errorCode(() => decodeRpcFrame(fromHex(c.line)))).toBe(c.error);
  });
  it.each(v.messages)('reassembles $name', (c) => {
    const asm = new RpcAssembler();
    let outcome: unknown;
    for (const line of c.lines) {
      const r = asm.push(decodeRpcFrame(fromHex(line)));
      if (r) {
        outcome =
          'error' in r
            ? { error: r.error }
            : {
                result: {
                  kind: r.message.kind,
                  method: r.message.method,
                  id: r.message.id,
                  status: r.message.status,
                  data: r.message.data.toString('hex'),
                },
              };
        break;
      }
    }
    expect(outcome).toEqual(c.error ? { error: c.error } : { result: c.result });
  });
});

type StreamEvent = { kind: 'log'; text: string } | { kind: 'improv'; frame: string } | { kind: 'rpc'; line: string };
describe('serial-stream.json', () => {
  const { cases } = loadVectors<{ cases: { name: string; hex: string; events: StreamEvent[] }[] }>(
    'serial-stream.json',
  );
  const run = (chunks: Buffer[]) => {
    const demux = new SerialDemux();
    return chunks
      .flatMap((c) => demux.push(c))
      .map((e) =>
        e.kind === 'log'
          ? e
          : e.kind === 'improv'
            ? { kind: 'improv', frame: e.frame.toString('hex') }
            : { kind: 'rpc', line: e.line.toString('hex') },
      );
  };
  it.each(cases)('$name: whole, byte by byte and at every split point', (c) => {
    const bytes = fromHex(c.hex);
    expect(run([bytes])).toEqual(c.events);
    expect(run([...bytes].map((b) => Buffer.from([b])))).toEqual(c.events);
    for (let i = 1; i < bytes.length; i += Math.max(1, Math.floor(bytes.length / 64))) {
      expect(run([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(c.events);
    }
  });
});

interface MessageVectors {
  valid: { name: string; message: unknown }[];
  invalid: { name: string; text: string; from?: 'device' | 'gateway'; error: { code: string; path: string } }[];
}
describe('messages.json', () => {
  const v = loadVectors<MessageVectors>('messages.json');
  it.each(v.valid)('accepts $name', ({ message }) => {
    const r = validateMessage(JSON.stringify(message));
    expect(r.ok ? 'ok' : r.error).toBe('ok');
    expect(validateValue(message)).toEqual({ ok: true, message });
  });
  it.each(v.invalid)('rejects $name', (c) => {
    const r = validateMessage(c.text, c.from);
    expect(r.ok ? 'accepted' : { code: r.error.code, path: r.error.path }).toEqual(c.error);
  });
  it('covers every message type and every error code', () => {
    const types = new Set(v.valid.map((c) => (c.message as { type: string }).type));
    expect([...types].sort()).toEqual([
      'ack',
      'command',
      'command_result',
      'config',
      'error',
      'heartbeat',
      'hello',
      'telemetry',
      'telemetry_batch',
      'welcome',
    ]);
    const codes = new Set(v.invalid.map((c) => c.error.code));
    expect([...codes].sort()).toEqual([
      'BAD_FORMAT',
      'INVALID_JSON',
      'MISSING_FIELD',
      'NOT_ALLOWED',
      'NOT_INTEGER',
      'OUT_OF_RANGE',
      'TOO_LARGE',
      'TOO_LONG',
      'TOO_SHORT',
      'UNEXPECTED_TYPE',
      'UNKNOWN_FIELD',
      'UNKNOWN_TYPE',
      'WRONG_TYPE',
    ]);
  });
});

interface JwtVectors {
  audience: string;
  skew: number;
  keys: Record<string, { privateJwk: Record<string, string>; publicJwk: Record<string, string> }>;
  cases: { name: string; token: string; key: string; now: number; valid: boolean; claims?: unknown; error?: string }[];
}
describe('jwt.json', () => {
  const v = loadVectors<JwtVectors>('jwt.json');
  it('keys are P-256 and the public halves match the private ones', () => {
    for (const k of Object.values(v.keys)) {
      expect(k.publicJwk).toEqual({ kty: 'EC', crv: 'P-256', x: k.privateJwk.x, y: k.privateJwk.y });
    }
  });
  it.each(v.cases)('$name', async (c) => {
    const key = v.keys[c.key]?.publicJwk as Record<string, string>;
    const r = await checkDeviceToken(c.token, { key, audience: v.audience, now: c.now, skew: v.skew });
    expect(r.ok ? { valid: true, claims: r.claims } : { valid: false, error: r.code }).toEqual(
      c.valid ? { valid: true, claims: c.claims } : { valid: false, error: c.error },
    );
  });
});
