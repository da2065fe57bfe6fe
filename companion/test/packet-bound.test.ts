/**
 * PacketBound (mqtt/packet-bound.ts) reads MQTT fixed headers across any chunking and stops
 * a packet whose declared length is past the bound; on the gateway's real broker, a client
 * that declares a huge CONNECT is cut off before it has sent it, without logging in.
 */
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { createLogger } from '../src/log.ts';
import { MAX_PACKET_BYTES } from '../src/mqtt/broker.ts';
import { PacketBound } from '../src/mqtt/packet-bound.ts';
import { tempDir, testConfig } from './helpers.ts';

const packets = createRequire(import.meta.resolve('mqtt'))('mqtt-packet') as { generate(p: object): Buffer };

const publish = (bytes: number) =>
  packets.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(bytes), qos: 0, retain: false, dup: false });

/** Feeds `data` in pieces of `size` bytes; the index of the piece refused, or -1. */
function feed(bound: PacketBound, data: Buffer, size: number): number {
  for (let i = 0, n = 0; i < data.length; i += size, n++) if (!bound.scan(data.subarray(i, i + size))) return n;
  return -1;
}

describe('PacketBound', () => {
  const stream = Buffer.concat([
    packets.generate({ cmd: 'pingreq' }),
    publish(10),
    publish(200), // a 2-byte remaining length
    publish(20_000), // 3 bytes
    packets.generate({ cmd: 'puback', messageId: 7 }),
    publish(1000),
  ]);

  it('passes packets up to the bound, however the bytes are cut', () => {
    for (const size of [1, 2, 3, 7, 64, 4096, stream.length])
      expect(feed(new PacketBound(20_100), stream, size)).toBe(-1);
  });

  it('stops at the first packet past the bound, in its header', () => {
    const bound = new PacketBound(10_000);
    // Byte by byte: refused on the header of the 20,000-byte publish, not after its payload.
    const refusedAt = feed(bound, stream, 1);
    const before = Buffer.concat([packets.generate({ cmd: 'pingreq' }), publish(10), publish(200)]).length;
    expect(refusedAt).toBeGreaterThan(before);
    expect(refusedAt).toBeLessThan(before + 4);
  });

  it('reads a 4-byte remaining length', () => {
    const big = publish(3_000_000);
    expect(feed(new PacketBound(4_000_000), big, 5)).toBe(-1);
    expect(feed(new PacketBound(2_000_000), Buffer.concat([big, publish(1)]), 5)).toBe(0);
  });
});

describe('the MQTT listener', () => {
  const lines: string[] = [];
  const dir = tempDir();
  let gw: Gateway;
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    gw = await startGateway(testConfig(dir.dir), { log: createLogger({ level: 'info', destination: sink }) });
  });
  afterAll(async () => {
    await gw?.close();
    dir.remove();
  });

  it('cuts off a client that declares a CONNECT past MAX_PACKET_BYTES, before it has sent it', async () => {
    const s = connect(Number(new URL(gw.mqttUrl).port), '127.0.0.1');
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    // CONNECT, remaining length 100,000,000 (0x80 0xC2 0xD7 0x2F), then a start on the bytes.
    s.write(Buffer.from([0x10, 0x80, 0xc2, 0xd7, 0x2f]));
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024);
    while (!s.destroyed && sent < 8 * MAX_PACKET_BYTES) {
      if (!s.write(chunk)) await new Promise((r) => setTimeout(r, 5));
      sent += chunk.length;
    }
    await closed;
    // Closed for its size (not after the 10 s a login may take), and said so.
    expect(lines.join('')).toContain('MQTT connection closed: it sent a packet larger than the gateway takes');
  });
});
