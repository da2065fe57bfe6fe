/**
 * coalesceWrites on real loopback sockets: what aedes writes to an MQTT client arrives whole
 * and in order, in one write a turn; a peer that stops reading makes write() say so and
 * 'drain' come as on a plain socket; a refusal written just before destroy() still arrives.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { coalesceWrites } from '../src/mqtt/coalesced-writes.ts';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) s.close();
});

/** A connected pair: `ours` coalesced (the broker's side), `peer` the client's. */
async function pair(maxBytes?: number): Promise<{ ours: Socket; peer: Socket; writes: () => number }> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const peer = connect((server.address() as { port: number }).port, '127.0.0.1');
  const ours = await accepted;
  sockets.push(ours, peer);
  await new Promise((r) => peer.once('connect', r));
  // Counts the writes that reach the socket itself (the ones coalesceWrites makes).
  let count = 0;
  const write = ours.write;
  ours.write = function (this: Socket, ...args: unknown[]) {
    count++;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof ours.write;
  coalesceWrites(ours, maxBytes);
  return { ours, peer, writes: () => count };
}

function received(peer: Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  return new Promise((resolve) => {
    const on = (c: Buffer) => {
      chunks.push(c);
      n += c.length;
      if (n >= bytes) {
        peer.off('data', on);
        resolve(Buffer.concat(chunks));
      }
    };
    peer.on('data', on);
  });
}

describe('coalesceWrites', () => {
  it('writes a turn of pieces (strings and bytes, multi-byte text) once, whole and in order', async () => {
    const { ours, peer, writes } = await pair();
    const pieces: (string | Buffer)[] = [];
    for (let i = 0; i < 500; i++)
      pieces.push(Buffer.from([0x30, i & 0xff]), `kiln/v1/dév-${i}/telemetry`, `{"t":${i}}`);
    const expected = Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    const got = received(peer, expected.length);
    for (const p of pieces) expect(ours.write(p)).toBe(true);
    expect(writes()).toBe(0);
    expect((await got).equals(expected)).toBe(true);
    expect(writes()).toBe(1);
  });

  it('goes out at maxBytes without waiting for the turn, and takes a piece larger than that whole', async () => {
    const { ours, peer, writes } = await pair(1024);
    const small = Buffer.alloc(600, 1);
    const large = Buffer.alloc(5000, 2);
    const got = received(peer, 600 * 2 + 5000);
    ours.write(small);
    ours.write(small); // does not fit beside the first: the first goes now
    expect(writes()).toBe(1);
    ours.write(large);
    expect(writes()).toBe(3);
    expect((await got).equals(Buffer.concat([small, small, large]))).toBe(true);
  });

  it('calls a write callback once its bytes are written', async () => {
    const { ours, peer } = await pair();
    const got = received(peer, 3);
    ours.write('ab');
    const done = new Promise<Error | null | undefined>((r) => ours.write(Buffer.from('c'), (err) => r(err)));
    expect(await done).toBeFalsy();
    expect((await got).toString()).toBe('abc');
  });

  it('says false while a peer that stops reading holds it back, then drains', async () => {
    const { ours, peer } = await pair();
    peer.pause();
    const piece = Buffer.alloc(16 * 1024, 7);
    let accepted = 0;
    // Written turn by turn, as aedes does, until write() asks to wait.
    for (let turn = 0; turn < 2000; turn++) {
      if (!ours.write(piece)) break;
      accepted++;
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(accepted).toBeLessThan(2000);
    expect(ours.writableNeedDrain).toBe(true);
    const drained = new Promise((r) => ours.once('drain', r));
    const total = (accepted + 1) * piece.length;
    const got = received(peer, total);
    peer.resume();
    await drained;
    expect((await got).length).toBe(total);
  });

  it('sends what waits before destroy() and end()', async () => {
    for (const how of ['destroy', 'end'] as const) {
      const { ours, peer } = await pair();
      const got = new Promise<Buffer>((resolve) => {
        const chunks: Buffer[] = [];
        peer.on('data', (c: Buffer) => chunks.push(c));
        peer.on('close', () => resolve(Buffer.concat(chunks)));
      });
      ours.write(Buffer.from([0x20, 0x02, 0x00, 0x05])); // CONNACK, not authorized
      ours[how]();
      expect((await got).equals(Buffer.from([0x20, 0x02, 0x00, 0x05]))).toBe(true);
    }
  });
});
