/**
 * Writes protocol/vectors/*.json, the examples the TS and C suites must both agree on.
 * Run `npm run vectors` after changing a case; commit the output. The suites never
 * regenerate: they check every committed byte against their own implementation, and
 * the anchors taken from Espressif and Improv sources are asserted as constants in
 * protocol/test/vectors.test.ts.
 *
 * JWT keys and tokens are kept from the existing jwt.json so a re-run does not churn them;
 * delete a case's entry (or the file) to sign it anew.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompactSign, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { espCrc32 } from '../src/crc32.ts';
import {
  encodeImprovFrame,
  encodeImprovRpcCommand,
  encodeImprovRpcResult,
  encodeWifiSettings,
  ImprovCommand,
  ImprovErrorCode,
  ImprovState,
  ImprovType,
} from '../src/serial/improv.ts';
import {
  encodeRpcFrame,
  encodeRpcMessage,
  RPC_FLAG_MORE,
  RpcKind,
  RpcMethod,
  RpcStatus,
} from '../src/serial/rpc-frame.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'vectors');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ascii = (s: string) => Buffer.from(s, 'utf8');
const write = (name: string, value: unknown) => writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);

// ---------------------------------------------------------------- crc32.json
const crcCase = (name: string, data: Uint8Array) => ({
  name,
  hex: hex(data),
  crc: `0x${espCrc32(data).toString(16).padStart(8, '0')}`,
});
write('crc32.json', {
  cases: [
    crcCase('check string 123456789', ascii('123456789')),
    crcCase('empty input', new Uint8Array()),
    crcCase('one zero byte', Buffer.from([0])),
    crcCase('otadata ota_seq 1', Buffer.from([1, 0, 0, 0])),
    crcCase('otadata ota_seq 2', Buffer.from([2, 0, 0, 0])),
    crcCase(
      'NVS page 0 header bytes 4..27 (seq 0, version 2)',
      Buffer.concat([Buffer.alloc(4), Buffer.from([0xfe]), Buffer.alloc(19, 0xff)]),
    ),
    crcCase('1 KiB counting pattern', Buffer.from(Array.from({ length: 1024 }, (_, i) => i & 0xff))),
    crcCase('all ones 32 bytes', Buffer.alloc(32, 0xff)),
  ],
});

// ---------------------------------------------------------------- improv.json
const frame = (type: number, data: Uint8Array) => encodeImprovFrame(type, data);
const withChecksum = (bytes: Buffer) => {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xff;
  return Buffer.concat([bytes, Buffer.from([s])]);
};
const deviceInfo = encodeImprovRpcResult(ImprovCommand.GET_DEVICE_INFO, [
  'kiln-firmware',
  '0.1.0',
  'ESP32',
  'kiln-a1b2c3',
]);
const urlResult = encodeImprovRpcResult(ImprovCommand.WIFI_SETTINGS, ['https://gateway.example/devices/kiln-a1b2c3']);
const longPsk = 'p'.repeat(63);
write('improv.json', {
  valid: [
    {
      name: 'request current state (reference vector)',
      hex: hex(frame(ImprovType.RPC_COMMAND, encodeImprovRpcCommand(ImprovCommand.GET_CURRENT_STATE))),
      type: 3,
      data: '0200',
      rpc: { command: 2, payload: '' },
    },
    {
      name: 'Wi-Fi settings MyAP/pass (reference vector)',
      hex: hex(frame(ImprovType.RPC_COMMAND, encodeWifiSettings('MyAP', 'pass'))),
      type: 3,
      data: hex(encodeWifiSettings('MyAP', 'pass')),
      rpc: {
        command: 1,
        payload: hex(encodeWifiSettings('MyAP', 'pass').subarray(2)),
        wifi: { ssid: 'MyAP', password: 'pass' },
      },
    },
    {
      name: 'Wi-Fi settings with a UTF-8 SSID and a 63-byte PSK',
      hex: hex(frame(ImprovType.RPC_COMMAND, encodeWifiSettings('Café ☕ net', longPsk))),
      type: 3,
      data: hex(encodeWifiSettings('Café ☕ net', longPsk)),
      rpc: {
        command: 1,
        payload: hex(encodeWifiSettings('Café ☕ net', longPsk).subarray(2)),
        wifi: { ssid: 'Café ☕ net', password: longPsk },
      },
    },
    {
      name: 'Wi-Fi settings for an open network (empty password)',
      hex: hex(frame(ImprovType.RPC_COMMAND, encodeWifiSettings('guest', ''))),
      type: 3,
      data: hex(encodeWifiSettings('guest', '')),
      rpc: {
        command: 1,
        payload: hex(encodeWifiSettings('guest', '').subarray(2)),
        wifi: { ssid: 'guest', password: '' },
      },
    },
    {
      name: 'request device info',
      hex: hex(frame(ImprovType.RPC_COMMAND, encodeImprovRpcCommand(ImprovCommand.GET_DEVICE_INFO))),
      type: 3,
      data: '0300',
      rpc: { command: 3, payload: '' },
    },
    {
      name: 'state provisioned (reference vector)',
      hex: hex(frame(ImprovType.CURRENT_STATE, Buffer.from([ImprovState.PROVISIONED]))),
      type: 1,
      data: '04',
    },
    {
      name: 'state authorized',
      hex: hex(frame(ImprovType.CURRENT_STATE, Buffer.from([ImprovState.AUTHORIZED]))),
      type: 1,
      data: '02',
    },
    {
      name: 'error unable to connect',
      hex: hex(frame(ImprovType.ERROR_STATE, Buffer.from([ImprovErrorCode.UNABLE_TO_CONNECT]))),
      type: 2,
      data: '03',
    },
    {
      name: 'device info result',
      hex: hex(frame(ImprovType.RPC_RESULT, deviceInfo)),
      type: 4,
      data: hex(deviceInfo),
      rpc: { command: 3, strings: ['kiln-firmware', '0.1.0', 'ESP32', 'kiln-a1b2c3'] },
    },
    {
      name: 'provisioned URL result with the sdk-cpp trailing byte',
      hex: hex(frame(ImprovType.RPC_RESULT, Buffer.concat([urlResult, Buffer.from([0])]))),
      type: 4,
      data: hex(Buffer.concat([urlResult, Buffer.from([0])])),
      rpc: { command: 1, strings: ['https://gateway.example/devices/kiln-a1b2c3'] },
    },
    {
      name: 'end of scan (result with no strings)',
      hex: hex(frame(ImprovType.RPC_RESULT, encodeImprovRpcResult(ImprovCommand.GET_WIFI_NETWORKS, []))),
      type: 4,
      data: '0400',
      rpc: { command: 4, strings: [] },
    },
    {
      name: 'one scanned network',
      hex: hex(
        frame(
          ImprovType.RPC_RESULT,
          encodeImprovRpcResult(ImprovCommand.GET_WIFI_NETWORKS, ['kiln-lab', '-52', 'YES']),
        ),
      ),
      type: 4,
      data: hex(encodeImprovRpcResult(ImprovCommand.GET_WIFI_NETWORKS, ['kiln-lab', '-52', 'YES'])),
      rpc: { command: 4, strings: ['kiln-lab', '-52', 'YES'] },
    },
  ],
  invalid: [
    {
      name: 'checksum off by one',
      hex: (() => {
        const b = frame(3, Buffer.from([2, 0]));
        b[b.length - 1] = ((b[b.length - 1] as number) + 1) & 0xff;
        return hex(b);
      })(),
      error: 'IMPROV_BAD_CHECKSUM',
    },
    {
      name: 'version 2',
      hex: hex(withChecksum(Buffer.concat([ascii('IMPROV'), Buffer.from([2, 3, 2, 2, 0])]))),
      error: 'IMPROV_BAD_VERSION',
    },
    {
      name: 'checksum byte missing',
      hex: hex(frame(3, Buffer.from([2, 0])).subarray(0, 11)),
      error: 'IMPROV_TRUNCATED',
    },
    { name: 'header only', hex: hex(Buffer.concat([ascii('IMPROV'), Buffer.from([1])])), error: 'IMPROV_TRUNCATED' },
    {
      name: 'one byte more than the frame',
      hex: hex(Buffer.concat([frame(3, Buffer.from([2, 0])), Buffer.from([0])])),
      error: 'IMPROV_BAD_LENGTH',
    },
    {
      name: 'RPC command shorter than its length byte',
      hex: hex(frame(3, Buffer.from([2, 5, 0]))),
      error: 'IMPROV_BAD_LENGTH',
    },
    {
      name: 'Wi-Fi settings whose SSID runs past the payload',
      hex: hex(frame(3, Buffer.from([1, 4, 9, 0x41, 0x42, 0x43]))),
      error: 'IMPROV_BAD_LENGTH',
    },
    {
      name: 'Wi-Fi settings without a password string',
      hex: hex(frame(3, Buffer.from([1, 3, 2, 0x41, 0x42]))),
      error: 'IMPROV_BAD_LENGTH',
    },
    {
      name: 'RPC result whose string runs past L',
      hex: hex(frame(4, Buffer.from([3, 3, 5, 0x61, 0x62]))),
      error: 'IMPROV_BAD_LENGTH',
    },
  ],
});

// ---------------------------------------------------------------- serial-rpc.json
const rpc = (f: {
  kind: number;
  method: number;
  id: number;
  status?: number;
  flags?: number;
  chunk?: number;
  data?: Uint8Array;
}) => {
  const full = { status: 0, flags: 0, chunk: 0, ...f, data: Buffer.from(f.data ?? []) };
  return {
    line: hex(encodeRpcFrame(full)),
    kind: full.kind,
    method: full.method,
    id: full.id,
    status: full.status,
    flags: full.flags,
    chunk: full.chunk,
    data: hex(full.data),
  };
};
/** A frame line from raw P bytes, CRC computed, so one field can be wrong on purpose. */
const rawLine = (p: Buffer, prefix = '\x01K1:') => {
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(espCrc32(p));
  return Buffer.concat([ascii(prefix), ascii(Buffer.concat([p, crc]).toString('base64')), ascii('\n')]);
};
const header = (kind: number, method: number, id: number, status: number, flags: number, chunk: number) => {
  const h = Buffer.alloc(8);
  h.writeUInt8(kind, 0);
  h.writeUInt8(method, 1);
  h.writeUInt16LE(id, 2);
  h.writeUInt8(status, 4);
  h.writeUInt8(flags, 5);
  h.writeUInt16LE(chunk, 6);
  return h;
};
const info = ascii(
  JSON.stringify({
    deviceId: 'kiln-a1b2c3',
    mac: '24:0a:c4:a1:b2:c3',
    chip: 'esp32',
    firmware: { name: 'kiln', version: '0.1.0' },
    state: 'unprovisioned',
  }),
);
const pem = ascii(`-----BEGIN CERTIFICATE-----\n${'MIIBkTCB+wIJAK'.repeat(40)}\n-----END CERTIFICATE-----\n`);
const caLines = encodeRpcMessage({ kind: RpcKind.REQUEST, method: RpcMethod.SET_CA_CERT, id: 7, status: 0, data: pem });
const badCrcLine = (() => {
  const p = Buffer.concat([header(1, 1, 1, 0, 0, 0), Buffer.from([0xaa])]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE((espCrc32(p) ^ 1) >>> 0);
  return Buffer.concat([ascii('\x01K1:'), ascii(Buffer.concat([p, crc]).toString('base64')), ascii('\n')]);
})();
const nonCanonical = (() => {
  const good = encodeRpcFrame({
    kind: 1,
    method: 1,
    id: 1,
    status: 0,
    flags: 0,
    chunk: 0,
    data: Buffer.from([0x01]),
  }).toString('latin1');
  // 13 bytes of P -> base64 ends in "==": make the last data character carry stray low bits.
  const body = good.slice(4, -1);
  const i = body.length - 3;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const stray = alphabet[alphabet.indexOf(body[i] as string) | 1] as string;
  return Buffer.from(`\x01K1:${body.slice(0, i)}${stray}${body.slice(i + 1)}\n`, 'latin1');
})();
write('serial-rpc.json', {
  valid: [
    { name: 'GET_INFO request', ...rpc({ kind: RpcKind.REQUEST, method: RpcMethod.GET_INFO, id: 1 }) },
    {
      name: 'GET_INFO response with JSON',
      ...rpc({ kind: RpcKind.RESPONSE, method: RpcMethod.GET_INFO, id: 1, data: info }),
    },
    {
      name: 'SET_GATEWAY request',
      ...rpc({
        kind: RpcKind.REQUEST,
        method: RpcMethod.SET_GATEWAY,
        id: 2,
        data: ascii('wss://gateway.example:8443/v1/device'),
      }),
    },
    {
      name: 'GENERATE_KEY keep existing',
      ...rpc({ kind: RpcKind.REQUEST, method: RpcMethod.GENERATE_KEY, id: 3, data: Buffer.from([0]) }),
    },
    {
      name: 'unknown method answered',
      ...rpc({ kind: RpcKind.RESPONSE, method: 0x7f, id: 65535, status: RpcStatus.UNKNOWN_METHOD }),
    },
    {
      name: 'BAD_FRAME report with id 0',
      ...rpc({ kind: RpcKind.RESPONSE, method: 0, id: 0, status: RpcStatus.BAD_FRAME }),
    },
    {
      name: 'full 256-byte chunk',
      ...rpc({
        kind: RpcKind.REQUEST,
        method: RpcMethod.SET_CA_CERT,
        id: 9,
        flags: RPC_FLAG_MORE,
        data: Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      }),
    },
    ...caLines.map((_line, i) => ({
      name: `CA certificate chunk ${i}`,
      ...rpc({
        kind: 1,
        method: RpcMethod.SET_CA_CERT,
        id: 7,
        flags: i < caLines.length - 1 ? RPC_FLAG_MORE : 0,
        chunk: i,
        data: pem.subarray(i * 256, (i + 1) * 256),
      }),
    })),
    {
      name: 'line without its newline',
      ...(() => {
        const v = rpc({ kind: 1, method: RpcMethod.GET_STATUS, id: 4 });
        return { ...v, line: v.line.slice(0, -2) };
      })(),
    },
  ],
  invalid: [
    { name: 'CRC off by one bit', line: hex(badCrcLine), error: 'RPC_BAD_CHECKSUM' },
    { name: 'character outside base64', line: hex(ascii('\x01K1:AQEBAAAAAAA*AAAAAA==\n')), error: 'RPC_BAD_ENCODING' },
    { name: 'base64 with stray low bits (not canonical)', line: hex(nonCanonical), error: 'RPC_BAD_ENCODING' },
    {
      name: 'base64 without padding',
      line: hex(
        ascii(
          `\x01K1:${Buffer.from(
            encodeRpcFrame({ kind: 1, method: 1, id: 1, status: 0, flags: 0, chunk: 0, data: Buffer.from([1]) })
              .toString('latin1')
              .slice(4, -1)
              .replace(/=+$/, ''),
            'latin1',
          ).toString('latin1')}\n`,
        ),
      ),
      error: 'RPC_BAD_ENCODING',
    },
    {
      name: 'payload shorter than a header and CRC',
      line: hex(rawLine(header(1, 1, 1, 0, 0, 0).subarray(0, 7))),
      error: 'RPC_BAD_LENGTH',
    },
    {
      name: '257 data bytes',
      line: hex(rawLine(Buffer.concat([header(1, 0x11, 1, 0, 0, 0), Buffer.alloc(257, 0x41)]))),
      error: 'RPC_BAD_LENGTH',
    },
    { name: 'kind 3', line: hex(rawLine(header(3, 1, 1, 0, 0, 0))), error: 'RPC_BAD_KIND' },
    { name: 'reserved flag bit', line: hex(rawLine(header(1, 1, 1, 0, 0x02, 0))), error: 'RPC_BAD_FLAGS' },
    { name: 'version 2 prefix', line: hex(rawLine(header(1, 1, 1, 0, 0, 0), '\x01K2:')), error: 'RPC_BAD_VERSION' },
    { name: 'no colon after K1', line: hex(rawLine(header(1, 1, 1, 0, 0, 0), '\x01K1;')), error: 'RPC_BAD_ENCODING' },
    {
      name: '513-byte line',
      line: hex(Buffer.concat([ascii('\x01K1:'), Buffer.alloc(508, 0x41), ascii('\n')])),
      error: 'RPC_TOO_LONG',
    },
  ],
  messages: [
    {
      name: 'CA certificate in three chunks',
      lines: caLines.map(hex),
      result: { kind: 1, method: RpcMethod.SET_CA_CERT, id: 7, status: 0, data: hex(pem) },
    },
    {
      name: 'single frame message',
      lines: [rpc({ kind: 2, method: RpcMethod.GET_INFO, id: 1, data: info }).line],
      result: { kind: 2, method: RpcMethod.GET_INFO, id: 1, status: 0, data: hex(info) },
    },
    { name: 'second chunk missing', lines: [caLines[0], caLines[2]].map((l) => hex(l as Buffer)), error: 'BAD_CHUNK' },
    {
      name: 'chunk with another method',
      lines: [
        hex(caLines[0] as Buffer),
        rpc({ kind: 1, method: RpcMethod.SET_GATEWAY, id: 7, chunk: 1, data: ascii('x') }).line,
      ],
      error: 'BAD_CHUNK',
    },
    {
      name: 'value over 8192 bytes',
      lines: Array.from(
        { length: 33 },
        (_, i) =>
          rpc({
            kind: 1,
            method: RpcMethod.SET_CA_CERT,
            id: 8,
            chunk: i,
            flags: i < 32 ? RPC_FLAG_MORE : 0,
            data: Buffer.alloc(256, 0x41),
          }).line,
      ),
      error: 'TOO_LARGE',
    },
  ],
});

// ---------------------------------------------------------------- serial-stream.json
const improvState = frame(ImprovType.CURRENT_STATE, Buffer.from([ImprovState.AUTHORIZED]));
// A result whose data holds 0x0a bytes: only length-based framing gets it right.
const newlineInside = frame(
  ImprovType.RPC_RESULT,
  encodeImprovRpcResult(ImprovCommand.GET_WIFI_NETWORKS, ['\n\n', '-10', 'NO']),
);
const rpcLine = encodeRpcFrame({
  kind: 2,
  method: RpcMethod.GET_INFO,
  id: 1,
  status: 0,
  flags: 0,
  chunk: 0,
  data: info,
});
const longText = 'x'.repeat(1500);
const longRpc = Buffer.concat([ascii('\x01K1:'), Buffer.alloc(600, 0x41), ascii('\n')]);
const streamCase = (name: string, parts: (string | Buffer)[], events: unknown[]) => ({
  name,
  hex: hex(Buffer.concat(parts.map((p) => (typeof p === 'string' ? ascii(p) : p)))),
  events,
});
write('serial-stream.json', {
  cases: [
    streamCase(
      'ROM and ESP-IDF boot lines with CRLF',
      ['ets Jun  8 2016 00:22:57\r\n', '\r\n', 'I (29) boot: ESP-IDF v5.2.1 2nd stage bootloader\r\n'],
      [
        { kind: 'log', text: 'ets Jun  8 2016 00:22:57' },
        { kind: 'log', text: '' },
        { kind: 'log', text: 'I (29) boot: ESP-IDF v5.2.1 2nd stage bootloader' },
      ],
    ),
    streamCase(
      'coloured log line',
      ['\x1b[0;32mI (312) kiln: online\x1b[0m\n'],
      [{ kind: 'log', text: '\x1b[0;32mI (312) kiln: online\x1b[0m' }],
    ),
    streamCase(
      'Improv frame and its newline between log lines',
      ['I (1) a: one\n', improvState, '\n', 'I (2) a: two\n'],
      [
        { kind: 'log', text: 'I (1) a: one' },
        { kind: 'improv', frame: hex(improvState) },
        { kind: 'log', text: 'I (2) a: two' },
      ],
    ),
    streamCase(
      'Improv frame directly followed by a log line',
      [improvState, 'W (3) a: three\n'],
      [
        { kind: 'improv', frame: hex(improvState) },
        { kind: 'log', text: 'W (3) a: three' },
      ],
    ),
    streamCase(
      'Improv data holding newline bytes',
      [newlineInside, '\n', 'done\n'],
      [
        { kind: 'improv', frame: hex(newlineInside) },
        { kind: 'log', text: 'done' },
      ],
    ),
    streamCase(
      'Improv frame not at a line start is text',
      ['x', improvState, '\n'],
      [{ kind: 'log', text: Buffer.concat([ascii('x'), improvState]).toString('utf8') }],
    ),
    streamCase(
      'RPC line between log lines',
      ['I (5) kiln: ready\r\n', rpcLine, 'E (6) kiln: oops\n'],
      [
        { kind: 'log', text: 'I (5) kiln: ready' },
        { kind: 'rpc', line: hex(rpcLine) },
        { kind: 'log', text: 'E (6) kiln: oops' },
      ],
    ),
    streamCase(
      'words that start like IMPROV are text',
      ['IMPRESSIVE\n', 'IMPROVE\n', 'IMP\n'],
      [
        { kind: 'log', text: 'IMPRESSIVE' },
        { kind: 'log', text: 'IMPROVE' },
        { kind: 'log', text: 'IMP' },
      ],
    ),
    streamCase(
      'IMPROV with version 2 is text',
      [Buffer.concat([ascii('IMPROV'), Buffer.from([2, 1, 1, 4]), ascii('\n')])],
      [{ kind: 'log', text: Buffer.concat([ascii('IMPROV'), Buffer.from([2, 1, 1, 4])]).toString('utf8') }],
    ),
    streamCase(
      'text line over 1024 bytes is cut',
      [`${longText}\n`, 'I (7) a: after\n'],
      [
        { kind: 'log', text: longText.slice(0, 1024) },
        { kind: 'log', text: longText.slice(1024) },
        { kind: 'log', text: 'I (7) a: after' },
      ],
    ),
    streamCase(
      'text line of exactly 1024 bytes is whole',
      [`${longText.slice(0, 1024)}\n`, 'next\n'],
      [
        { kind: 'log', text: longText.slice(0, 1024) },
        { kind: 'log', text: 'next' },
      ],
    ),
    streamCase(
      'text line of 1024 bytes before CRLF keeps 1023',
      [`${longText.slice(0, 1023)}\r\n`],
      [{ kind: 'log', text: longText.slice(0, 1023) }],
    ),
    streamCase(
      'text line of 1025 bytes is cut after 1024',
      [`${longText.slice(0, 1025)}\n`],
      [
        { kind: 'log', text: longText.slice(0, 1024) },
        { kind: 'log', text: 'x' },
      ],
    ),
    streamCase(
      'RPC line over 512 bytes is cut and the rest dropped',
      [longRpc, 'I (8) a: after\n'],
      [
        { kind: 'rpc', line: hex(longRpc.subarray(0, 513)) },
        { kind: 'log', text: 'I (8) a: after' },
      ],
    ),
    streamCase(
      'a partial line is held',
      ['I (9) a: whole\n', 'I (10) a: part'],
      [{ kind: 'log', text: 'I (9) a: whole' }],
    ),
    streamCase('UTF-8 text', ['I (11) wifi: SSID «Café ☕»\n'], [{ kind: 'log', text: 'I (11) wifi: SSID «Café ☕»' }]),
  ],
});

// ---------------------------------------------------------------- messages.json
const hello = {
  type: 'hello',
  seq: 0,
  deviceId: 'kiln-a1b2c3',
  bootId: '9f2c4e6a8b0d1f3e',
  firmware: { name: 'kiln', version: '0.1.0' },
  chip: 'esp32',
  mac: '24:0a:c4:a1:b2:c3',
};
const telemetry = {
  type: 'telemetry',
  seq: 5,
  ts: 1767225600123,
  metrics: { uptime_s: 42, heap_free: 183412, rssi: -61.5, 'temp.chip': 41.25 },
};
const valid = [
  { name: 'hello', message: hello },
  { name: 'hello from an esp32c3', message: { ...hello, chip: 'esp32c3', deviceId: 'a_b', bootId: '00000000' } },
  {
    name: 'welcome',
    message: { type: 'welcome', seq: 0, serverTime: 1767225600000, heartbeatSec: 60, telemetrySec: 10, maxBatch: 64 },
  },
  { name: 'telemetry', message: telemetry },
  {
    name: 'telemetry with 32 metrics',
    message: { ...telemetry, metrics: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`m${i}`, i])) },
  },
  {
    name: 'telemetry with negative, fractional and exponent numbers',
    message: { ...telemetry, metrics: { a: -0.5, b: 1e-7, c: 1.5e300, d: 0 } },
  },
  {
    name: 'telemetry batch',
    message: {
      type: 'telemetry_batch',
      seq: 9,
      samples: [
        { seq: 6, ts: 1767225601000, metrics: { uptime_s: 43 } },
        { seq: 7, ts: 1767225602000, metrics: { uptime_s: 44 } },
      ],
    },
  },
  { name: 'ack', message: { type: 'ack', seq: 1, acked: [5, 6, 7, 4294967295] } },
  {
    name: 'command with args and expiry',
    message: {
      type: 'command',
      seq: 2,
      id: 'cmd-01HZY3',
      name: 'set_interval',
      args: { seconds: 5, nested: { list: [1, 'two', null] } },
      expiresAt: 1767225660000,
    },
  },
  { name: 'command without args', message: { type: 'command', seq: 3, id: 'c1', name: 'reboot' } },
  {
    name: 'command result ok',
    message: { type: 'command_result', seq: 10, id: 'cmd-01HZY3', status: 'ok', result: { seconds: 5 } },
  },
  {
    name: 'command result error',
    message: {
      type: 'command_result',
      seq: 11,
      id: 'c1',
      status: 'error',
      error: 'interval out of range: 0 (1..86400)',
    },
  },
  // The built-in identify command (SPEC §1.3, built-in commands) and its answers.
  {
    name: 'identify command with seconds',
    message: { type: 'command', seq: 6, id: 'cmd-ident1', name: 'identify', args: { seconds: 30 } },
  },
  {
    name: 'identify result',
    message: { type: 'command_result', seq: 13, id: 'cmd-ident1', status: 'ok', result: { seconds: 30 } },
  },
  {
    name: 'identify refused',
    message: {
      type: 'command_result',
      seq: 14,
      id: 'cmd-ident2',
      status: 'error',
      error: 'identify: seconds must be a whole number from 1 to 60',
    },
  },
  { name: 'heartbeat from a device', message: { type: 'heartbeat', seq: 12, uptimeMs: 60000 } },
  { name: 'heartbeat without uptime', message: { type: 'heartbeat', seq: 4294967295 } },
  { name: 'config', message: { type: 'config', seq: 4, telemetrySec: 30 } },
  { name: 'config with both intervals', message: { type: 'config', seq: 7, telemetrySec: 1, heartbeatSec: 3600 } },
  {
    name: 'error with ref',
    message: { type: 'error', seq: 5, code: 'RATE_LIMITED', message: 'over 50 messages/s', ref: 12 },
  },
  {
    name: 'error with a non-ASCII message',
    message: { type: 'error', seq: 6, code: 'BAD_MESSAGE', message: 'Gerät «kiln» — ungültig' },
  },
];
const t = (o: unknown) => JSON.stringify(o);
const invalid = [
  {
    name: 'over 65536 bytes',
    text: t({ ...telemetry, pad: 'x'.repeat(65536) }),
    error: { code: 'TOO_LARGE', path: '' },
  },
  { name: 'not JSON', text: '{"type":"hello",', error: { code: 'INVALID_JSON', path: '' } },
  { name: 'empty frame', text: '', error: { code: 'INVALID_JSON', path: '' } },
  { name: 'root is an array', text: '[1,2]', error: { code: 'WRONG_TYPE', path: '' } },
  { name: 'root is a string', text: '"hello"', error: { code: 'WRONG_TYPE', path: '' } },
  { name: 'no type', text: t({ seq: 1 }), error: { code: 'MISSING_FIELD', path: '/type' } },
  { name: 'type is a number', text: t({ type: 7, seq: 1 }), error: { code: 'WRONG_TYPE', path: '/type' } },
  { name: 'unknown type', text: t({ type: 'telemetry2', seq: 1 }), error: { code: 'UNKNOWN_TYPE', path: '/type' } },
  {
    name: 'welcome sent by a device',
    from: 'device',
    text: t({ type: 'welcome', seq: 0, serverTime: 1, heartbeatSec: 60, telemetrySec: 10, maxBatch: 1 }),
    error: { code: 'UNEXPECTED_TYPE', path: '/type' },
  },
  {
    name: 'telemetry sent by the gateway',
    from: 'gateway',
    text: t(telemetry),
    error: { code: 'UNEXPECTED_TYPE', path: '/type' },
  },
  { name: 'no seq', text: t({ type: 'heartbeat' }), error: { code: 'MISSING_FIELD', path: '/seq' } },
  { name: 'seq is a string', text: t({ type: 'heartbeat', seq: '1' }), error: { code: 'WRONG_TYPE', path: '/seq' } },
  { name: 'seq is fractional', text: t({ type: 'heartbeat', seq: 1.5 }), error: { code: 'NOT_INTEGER', path: '/seq' } },
  { name: 'seq is negative', text: t({ type: 'heartbeat', seq: -1 }), error: { code: 'OUT_OF_RANGE', path: '/seq' } },
  {
    name: 'seq over 32 bits',
    text: t({ type: 'heartbeat', seq: 4294967296 }),
    error: { code: 'OUT_OF_RANGE', path: '/seq' },
  },
  { name: 'seq is null', text: '{"type":"heartbeat","seq":null}', error: { code: 'WRONG_TYPE', path: '/seq' } },
  {
    name: 'device id too short',
    text: t({ ...hello, deviceId: 'ab' }),
    error: { code: 'TOO_SHORT', path: '/deviceId' },
  },
  {
    name: 'device id too long',
    text: t({ ...hello, deviceId: 'a'.repeat(65) }),
    error: { code: 'TOO_LONG', path: '/deviceId' },
  },
  {
    name: 'device id with a slash',
    text: t({ ...hello, deviceId: 'kiln/a1' }),
    error: { code: 'BAD_FORMAT', path: '/deviceId' },
  },
  {
    name: 'device id with an MQTT wildcard',
    text: t({ ...hello, deviceId: 'kiln-+' }),
    error: { code: 'BAD_FORMAT', path: '/deviceId' },
  },
  {
    name: 'device id in upper case',
    text: t({ ...hello, deviceId: 'Kiln-A1' }),
    error: { code: 'BAD_FORMAT', path: '/deviceId' },
  },
  {
    name: 'device id starting with a dash',
    text: t({ ...hello, deviceId: '-kiln' }),
    error: { code: 'BAD_FORMAT', path: '/deviceId' },
  },
  {
    name: 'boot id with upper-case hex',
    text: t({ ...hello, bootId: '9F2C4E6A8B0D1F3E' }),
    error: { code: 'BAD_FORMAT', path: '/bootId' },
  },
  {
    name: 'firmware is a string',
    text: t({ ...hello, firmware: 'kiln 0.1.0' }),
    error: { code: 'WRONG_TYPE', path: '/firmware' },
  },
  { name: 'firmware is null', text: t({ ...hello, firmware: null }), error: { code: 'WRONG_TYPE', path: '/firmware' } },
  {
    name: 'firmware without version',
    text: t({ ...hello, firmware: { name: 'kiln' } }),
    error: { code: 'MISSING_FIELD', path: '/firmware/version' },
  },
  {
    name: 'firmware version with a newline',
    text: t({ ...hello, firmware: { name: 'kiln', version: '0.1\n' } }),
    error: { code: 'BAD_FORMAT', path: '/firmware/version' },
  },
  {
    name: 'firmware name over 31 bytes (UTF-8 counted in bytes)',
    text: t({ ...hello, firmware: { name: 'é'.repeat(16), version: '1' } }),
    error: { code: 'TOO_LONG', path: '/firmware/name' },
  },
  {
    name: 'firmware with an extra field',
    text: t({ ...hello, firmware: { name: 'kiln', version: '1', build: 3 } }),
    error: { code: 'UNKNOWN_FIELD', path: '/firmware/build' },
  },
  { name: 'unknown chip', text: t({ ...hello, chip: 'esp8266' }), error: { code: 'NOT_ALLOWED', path: '/chip' } },
  {
    name: 'MAC in upper case',
    text: t({ ...hello, mac: '24:0A:C4:A1:B2:C3' }),
    error: { code: 'BAD_FORMAT', path: '/mac' },
  },
  {
    name: 'MAC with dashes',
    text: t({ ...hello, mac: '24-0a-c4-a1-b2-c3' }),
    error: { code: 'BAD_FORMAT', path: '/mac' },
  },
  {
    name: 'unknown fields: the byte-wise smallest is named',
    text: t({ ...hello, zeta: 1, Alpha: 2, beta: 3 }),
    error: { code: 'UNKNOWN_FIELD', path: '/Alpha' },
  },
  {
    name: 'declared field errors come before unknown fields',
    text: t({ aaa: 1, ...hello, mac: 'zz:zz:zz:zz:zz:zz' }),
    error: { code: 'BAD_FORMAT', path: '/mac' },
  },
  {
    name: 'field order follows the schema, not the document',
    text: t({ type: 'hello', mac: 'bad', seq: -1 }),
    error: { code: 'OUT_OF_RANGE', path: '/seq' },
  },
  {
    name: 'welcome heartbeat below 5 s',
    text: t({ type: 'welcome', seq: 0, serverTime: 1, heartbeatSec: 4, telemetrySec: 10, maxBatch: 1 }),
    error: { code: 'OUT_OF_RANGE', path: '/heartbeatSec' },
  },
  {
    name: 'serverTime beyond 2^53-1',
    text: '{"type":"welcome","seq":0,"serverTime":9007199254740992,"heartbeatSec":60,"telemetrySec":10,"maxBatch":1}',
    error: { code: 'OUT_OF_RANGE', path: '/serverTime' },
  },
  { name: 'metrics empty', text: t({ ...telemetry, metrics: {} }), error: { code: 'TOO_SHORT', path: '/metrics' } },
  {
    name: 'metrics is an array',
    text: t({ ...telemetry, metrics: [1] }),
    error: { code: 'WRONG_TYPE', path: '/metrics' },
  },
  {
    name: '33 metrics',
    text: t({ ...telemetry, metrics: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`m${i}`, i])) }),
    error: { code: 'TOO_LONG', path: '/metrics' },
  },
  {
    name: 'metric value is a string',
    text: t({ ...telemetry, metrics: { rssi: '-61' } }),
    error: { code: 'WRONG_TYPE', path: '/metrics/rssi' },
  },
  {
    name: 'metric value is null',
    text: t({ ...telemetry, metrics: { rssi: null } }),
    error: { code: 'WRONG_TYPE', path: '/metrics/rssi' },
  },
  {
    name: 'metric value overflows a double',
    text: '{"type":"telemetry","seq":1,"ts":1,"metrics":{"big":1e400}}',
    error: { code: 'OUT_OF_RANGE', path: '/metrics/big' },
  },
  {
    name: 'metric name with upper case (sorted before the bad value)',
    text: t({ ...telemetry, metrics: { zz: 'x', Temp: 1 } }),
    error: { code: 'BAD_FORMAT', path: '/metrics/Temp' },
  },
  {
    name: 'metric name with a slash is escaped in the path',
    text: t({ ...telemetry, metrics: { 'a/b': 1 } }),
    error: { code: 'BAD_FORMAT', path: '/metrics/a~1b' },
  },
  {
    name: 'metric name over 32 bytes',
    text: t({ ...telemetry, metrics: { ['m'.repeat(33)]: 1 } }),
    error: { code: 'BAD_FORMAT', path: `/metrics/${'m'.repeat(33)}` },
  },
  {
    name: 'metric name starting with a digit',
    text: t({ ...telemetry, metrics: { '1st': 1 } }),
    error: { code: 'BAD_FORMAT', path: '/metrics/1st' },
  },
  {
    name: 'batch with no samples',
    text: t({ type: 'telemetry_batch', seq: 1, samples: [] }),
    error: { code: 'TOO_SHORT', path: '/samples' },
  },
  {
    name: 'batch of 65 samples',
    text: t({
      type: 'telemetry_batch',
      seq: 1,
      samples: Array.from({ length: 65 }, (_, i) => ({ seq: i, ts: 1, metrics: { a: 1 } })),
    }),
    error: { code: 'TOO_LONG', path: '/samples' },
  },
  {
    name: 'batch sample without seq',
    text: t({
      type: 'telemetry_batch',
      seq: 1,
      samples: [
        { seq: 1, ts: 1, metrics: { a: 1 } },
        { ts: 1, metrics: { a: 1 } },
      ],
    }),
    error: { code: 'MISSING_FIELD', path: '/samples/1/seq' },
  },
  {
    name: 'batch sample is a number',
    text: t({ type: 'telemetry_batch', seq: 1, samples: [3] }),
    error: { code: 'WRONG_TYPE', path: '/samples/0' },
  },
  {
    name: 'batch sample with a bad metric value',
    text: t({ type: 'telemetry_batch', seq: 1, samples: [{ seq: 1, ts: 1, metrics: { a: true } }] }),
    error: { code: 'WRONG_TYPE', path: '/samples/0/metrics/a' },
  },
  {
    name: 'ack of a negative seq',
    text: t({ type: 'ack', seq: 1, acked: [1, -2] }),
    error: { code: 'OUT_OF_RANGE', path: '/acked/1' },
  },
  {
    name: 'ack of 257 seqs',
    text: t({ type: 'ack', seq: 1, acked: Array.from({ length: 257 }, (_, i) => i) }),
    error: { code: 'TOO_LONG', path: '/acked' },
  },
  {
    name: 'command args is an array',
    text: t({ type: 'command', seq: 1, id: 'c1', name: 'reboot', args: [] }),
    error: { code: 'WRONG_TYPE', path: '/args' },
  },
  {
    name: 'command id with a space',
    text: t({ type: 'command', seq: 1, id: 'c 1', name: 'reboot' }),
    error: { code: 'BAD_FORMAT', path: '/id' },
  },
  {
    name: 'command id empty',
    text: t({ type: 'command', seq: 1, id: '', name: 'reboot' }),
    error: { code: 'TOO_SHORT', path: '/id' },
  },
  {
    name: 'command result with unknown status',
    text: t({ type: 'command_result', seq: 1, id: 'c1', status: 'done' }),
    error: { code: 'NOT_ALLOWED', path: '/status' },
  },
  {
    name: 'command result status empty',
    text: t({ type: 'command_result', seq: 1, id: 'c1', status: '' }),
    error: { code: 'TOO_SHORT', path: '/status' },
  },
  {
    name: 'command result error over 128 bytes',
    text: t({ type: 'command_result', seq: 1, id: 'c1', status: 'error', error: 'e'.repeat(129) }),
    error: { code: 'TOO_LONG', path: '/error' },
  },
  {
    name: 'config with an unknown setting',
    text: t({ type: 'config', seq: 1, pingSec: 10 }),
    error: { code: 'UNKNOWN_FIELD', path: '/pingSec' },
  },
  {
    name: 'error with an unknown code',
    text: t({ type: 'error', seq: 1, code: 'NOPE', message: '' }),
    error: { code: 'NOT_ALLOWED', path: '/code' },
  },
  {
    name: 'error message with a control character',
    text: t({ type: 'error', seq: 1, code: 'INTERNAL', message: 'a\u0007b' }),
    error: { code: 'BAD_FORMAT', path: '/message' },
  },
  {
    name: 'heartbeat uptime is a boolean',
    text: t({ type: 'heartbeat', seq: 1, uptimeMs: true }),
    error: { code: 'WRONG_TYPE', path: '/uptimeMs' },
  },
];
write('messages.json', { valid, invalid });

// ---------------------------------------------------------------- jwt.json
const jwtPath = join(dir, 'jwt.json');
const old = existsSync(jwtPath)
  ? (JSON.parse(readFileSync(jwtPath, 'utf8')) as {
      keys: Record<string, { privateJwk: JWK; publicJwk: JWK }>;
      cases: { name: string; token: string }[];
    })
  : undefined;
/** ECDSA signatures are randomised: keep a case's committed token so a re-run does not churn it. */
const keptToken = (name: string, token: string) => old?.cases.find((c) => c.name === name)?.token ?? token;
async function keyPair(name: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const kept = old?.keys[name];
  if (kept) return kept;
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateJwk: await exportJWK(privateKey), publicJwk: await exportJWK(publicKey) };
}
const keys = { 'device-a': await keyPair('device-a'), 'device-b': await keyPair('device-b') };
const audience = 'kiln-test-gateway';
const iat = 1767225600;
const claims = { iss: 'kiln-a1b2c3', sub: 'kiln-a1b2c3', aud: audience, iat, exp: iat + 300, jti: 'Yk3v9QmT0aZpL2xR' };
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
async function sign(
  payload: unknown,
  key = keys['device-a'].privateJwk,
  protectedHeader: Record<string, unknown> = { alg: 'ES256', typ: 'JWT' },
) {
  return new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader(protectedHeader as { alg: string })
    .sign(await importJWK(key, 'ES256'));
}
const good = await sign(claims);
const [gh, gp, gs] = good.split('.') as [string, string, string];
const ok = (name: string, token: string, now: number) => ({
  name,
  token: keptToken(name, token),
  key: 'device-a',
  now,
  valid: true,
  claims,
});
const no = (name: string, token: string, now: number, error: string, key = 'device-a') => ({
  name,
  token: keptToken(name, token),
  key,
  now,
  valid: false,
  error,
});
const fakeSig = Buffer.alloc(64, 7).toString('base64url');
write('jwt.json', {
  audience,
  skew: 30,
  keys,
  cases: [
    ok('valid token', good, iat + 10),
    ok('valid at the earliest skew edge', good, iat - 30),
    ok('valid one second before the expiry edge', good, iat + 300 + 29),
    no('issued too far in the future', good, iat - 31, 'JWT_NOT_YET_VALID'),
    no('expired at the skew edge', good, iat + 300 + 30, 'JWT_EXPIRED'),
    no('verified against another device key', good, iat + 10, 'JWT_BAD_SIGNATURE', 'device-b'),
    no('signed by another device key', await sign(claims, keys['device-b'].privateJwk), iat + 10, 'JWT_BAD_SIGNATURE'),
    no(
      'payload changed after signing',
      `${gh}.${b64({ ...claims, exp: iat + 200 })}.${gs}`,
      iat + 10,
      'JWT_BAD_SIGNATURE',
    ),
    no('signature of zeros', `${gh}.${gp}.${Buffer.alloc(64).toString('base64url')}`, iat + 10, 'JWT_BAD_SIGNATURE'),
    no('lifetime 301 s', await sign({ ...claims, exp: iat + 301 }), iat + 10, 'JWT_LIFETIME'),
    no('exp equal to iat', await sign({ ...claims, exp: iat }), iat, 'JWT_LIFETIME'),
    no('wrong audience', await sign({ ...claims, aud: 'another-gateway' }), iat + 10, 'JWT_BAD_AUDIENCE'),
    no('audience as an array', await sign({ ...claims, aud: [audience] }), iat + 10, 'JWT_BAD_CLAIM'),
    no('sub differs from iss', await sign({ ...claims, sub: 'kiln-zzzzzz' }), iat + 10, 'JWT_BAD_SUBJECT'),
    no('iss is not a device id', await sign({ ...claims, iss: 'Kiln A', sub: 'Kiln A' }), iat + 10, 'JWT_BAD_CLAIM'),
    no('no jti', await sign({ ...claims, jti: undefined }), iat + 10, 'JWT_BAD_CLAIM'),
    no('jti of 15 characters', await sign({ ...claims, jti: 'a'.repeat(15) }), iat + 10, 'JWT_BAD_CLAIM'),
    no('iat as a string', await sign({ ...claims, iat: String(iat) }), iat + 10, 'JWT_BAD_CLAIM'),
    no('exp fractional', await sign({ ...claims, exp: iat + 100.5 }), iat + 10, 'JWT_BAD_CLAIM'),
    no(
      'alg ES384 with a 64-byte signature',
      `${b64({ alg: 'ES384', typ: 'JWT' })}.${gp}.${fakeSig}`,
      iat + 10,
      'JWT_BAD_ALG',
    ),
    no('alg HS256 with a 64-byte signature', `${b64({ alg: 'HS256' })}.${gp}.${fakeSig}`, iat + 10, 'JWT_BAD_ALG'),
    no('alg none with an empty signature', `${b64({ alg: 'none' })}.${gp}.`, iat + 10, 'JWT_MALFORMED'),
    no('two segments', `${gh}.${gp}`, iat + 10, 'JWT_MALFORMED'),
    no('padded base64', `${gh}.${gp}=.${gs}`, iat + 10, 'JWT_MALFORMED'),
    no(
      'standard base64 characters',
      `${gh}.${gp}.${gs.replace(/-/g, '+').replace(/_/g, '/')}${/[-_]/.test(gs) ? '' : '+'}`,
      iat + 10,
      'JWT_MALFORMED',
    ),
    no('header is not JSON', `${b64('ES256')}.${gp}.${gs}`, iat + 10, 'JWT_MALFORMED'),
    no('payload is a JSON array', `${gh}.${b64([claims])}.${gs}`, iat + 10, 'JWT_MALFORMED'),
    no(
      'DER-encoded signature',
      `${gh}.${gp}.${Buffer.alloc(70, 0x30).toString('base64url')}`,
      iat + 10,
      'JWT_MALFORMED',
    ),
    no(
      'crit header',
      await sign(claims, keys['device-a'].privateJwk, { alg: 'ES256', crit: ['exp'] }).catch(
        () => `${b64({ alg: 'ES256', crit: ['exp'] })}.${gp}.${gs}`,
      ),
      iat + 10,
      'JWT_MALFORMED',
    ),
    no('empty token', '', iat + 10, 'JWT_MALFORMED'),
  ],
});
console.log(`vectors written to ${dir}`);
