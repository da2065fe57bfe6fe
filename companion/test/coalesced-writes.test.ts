/**
 * coalesceWrites on real loopback sockets: what aedes writes to an MQTT client arrives whole
 * and in order, in one write a turn; a peer that stops reading is dropped once maxWaiting
 * bytes wait for it, and write() never asks the writer to wait; a refusal written just
 * before destroy() still arrives.
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
async function pair(
  opts: { maxBytes?: number; maxWaiting?: number } = {},
): Promise<{ ours: Socket; peer: Socket; writes: () => number; behind: number[] }> {
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
  const behind: number[] = [];
  coalesceWrites(ours, { maxWaiting: 64 * 1024 * 1024, ...opts, behind: (n) => behind.push(n) });
  return { ours, peer, writes: () => count, behind };
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
    const { ours, peer, writes } = await pair({ maxBytes: 1024 });
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

  it('drops a peer that stops reading once maxWaiting bytes wait for it, never asking to wait', async () => {
    const maxWaiting = 1024 * 1024;
    const { ours, peer, behind } = await pair({ maxWaiting });
    peer.pause();
    const closed = new Promise((r) => ours.once('close', r));
    const piece = Buffer.alloc(16 * 1024, 7);
    let turns = 0;
    // Written turn by turn, as aedes does, far past what the kernel buffers and maxWaiting hold.
    for (; turns < 4000 && !ours.destroyed; turns++) {
      expect(ours.write(piece)).toBe(true);
      await new Promise((r) => setTimeout(r, 0));
    }
    expect(ours.destroyed).toBe(true);
    expect(turns).toBeLessThan(4000);
    expect(behind).toHaveLength(1);
    expect(behind[0]).toBeGreaterThan(maxWaiting);
    await closed;
    // What comes after the drop goes nowhere, without an error.
    expect(ours.write(piece)).toBe(true);
  });

  it('keeps a peer that reads, however much passes through it', async () => {
    const { ours, peer, behind } = await pair({ maxWaiting: 256 * 1024 });
    const piece = Buffer.alloc(16 * 1024, 9);
    const total = 400 * piece.length;
    const got = received(peer, total);
    for (let turn = 0; turn < 400; turn++) {
      ours.write(piece);
      // Reads keep up: a turn for the peer to read between writes.
      await new Promise((r) => setImmediate(r));
    }
    expect((await got).length).toBe(total);
    expect(behind).toEqual([]);
    expect(ours.destroyed).toBe(false);
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
