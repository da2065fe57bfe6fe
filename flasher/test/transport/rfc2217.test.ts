/** The hand-written RFC 2217 client: against the virtual board, and against scripted servers for the wire format. */
import { createServer, type Server, type Socket } from 'node:net';
import { DO, IAC, SB, SE, WILL } from '@kiln/protocol/serial/telnet';
import { afterEach, describe, expect, it } from 'vitest';
import { ClassicReset, HardReset } from '../../src/reset.ts';
import { Rfc2217Transport } from '../../src/transport/rfc2217.ts';
import { collect, Lab, syncFrame, waitFor } from '../helpers.ts';

let lab: Lab;
afterEach(async () => {
  await lab?.close();
});

/** A TCP server on 127.0.0.1:0 that hands each connection to `serve`; closed by the lab. */
async function scriptedServer(serve: (s: Socket) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    serve(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  lab.onClose(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return `rfc2217://127.0.0.1:${address.port}`;
}

describe('Rfc2217Transport against the virtual board', () => {
  it('negotiates, resets the chip into download mode and back to the app, and carries loader traffic', async () => {
    lab = new Lab();
    const board = await lab.board();
    const t = new Rfc2217Transport(board.url);
    await t.open(115200);
    expect(t.lines).toEqual({ dtr: false, rts: false });
    await new ClassicReset(t).reset();
    await waitFor(() => board.board.state === 'download');
    const reply = collect(
      (l) => t.onData(l),
      (all) => all.includes(Buffer.from([0xc0, 0x01, 0x08])),
    );
    await t.write(syncFrame());
    expect((await reply).length).toBeGreaterThan(8);
    await t.setBaudRate(460800);
    expect(t.baudRate).toBe(460800);
    await new HardReset(t).reset();
    await waitFor(() => board.board.state === 'app', 3000);
    await t.close();
    expect(t.isOpen).toBe(false);
  });

  it('reports a port another client holds as busy', async () => {
    lab = new Lab();
    const board = await lab.board();
    const first = new Rfc2217Transport(board.url);
    await first.open(115200);
    lab.onClose(() => first.close());
    await expect(new Rfc2217Transport(board.url).open(115200)).rejects.toMatchObject({
      code: 'PORT_BUSY',
      exitCode: 3,
    });
  });

  it('reports an unreachable server with exit code 3', async () => {
    lab = new Lab();
    await expect(new Rfc2217Transport('rfc2217://127.0.0.1:1').open(115200)).rejects.toMatchObject({
      code: 'PORT_UNREACHABLE',
      exitCode: 3,
    });
  });
});

describe('Rfc2217Transport wire format', () => {
  it('waits for each SET-CONTROL ack, sends DTR before RTS, and doubles 0xFF in data', async () => {
    lab = new Lab();
    const received: number[] = [];
    const url = await scriptedServer((s) => {
      s.write(Buffer.from([IAC, WILL, 44, IAC, DO, 44]));
      s.on('data', (d: Buffer) => {
        received.push(...d);
        // Ack every COM-PORT-OPTION command with code + 100 and the same value.
        for (let i = 0; i + 3 < d.length; i++) {
          if (d[i] === IAC && d[i + 1] === SB && d[i + 2] === 44) {
            const end = d.indexOf(Buffer.from([IAC, SE]), i);
            const body = [...d.subarray(i + 3, end)];
            s.write(Buffer.from([IAC, SB, 44, (body[0] ?? 0) + 100, ...body.slice(1), IAC, SE]));
          }
        }
      });
    });
    const t = new Rfc2217Transport(url);
    await t.open(115200);
    received.length = 0;
    await t.setLines({ dtr: true, rts: true });
    await t.write(Buffer.from([0x01, 0xff, 0x02]));
    await waitFor(() => received.length >= 15);
    expect(received).toEqual([IAC, SB, 44, 5, 8, IAC, SE, IAC, SB, 44, 5, 11, IAC, SE, 0x01, 0xff, 0xff, 0x02]);
    await t.close();
  });

  it('refuses a server that does not speak RFC 2217', async () => {
    lab = new Lab();
    const url = await scriptedServer(() => {});
    const t = new Rfc2217Transport(url, { ackTimeoutMs: 200 });
    await expect(t.open(115200)).rejects.toMatchObject({ code: 'PORT_NOT_RFC2217', exitCode: 3 });
  });

  it('fails a command the server never acknowledges, and skips waiting with ?ign_set_control', async () => {
    lab = new Lab();
    const url = await scriptedServer((s) => {
      s.write(Buffer.from([IAC, DO, 44]));
      s.on('data', (d: Buffer) => {
        // Ack only SET-BAUDRATE and the line settings, never SET-CONTROL.
        for (let i = 0; i + 3 < d.length; i++) {
          if (d[i] === IAC && d[i + 1] === SB && d[i + 2] === 44 && d[i + 3] !== 5) {
            const end = d.indexOf(Buffer.from([IAC, SE]), i);
            const body = [...d.subarray(i + 3, end)];
            s.write(Buffer.from([IAC, SB, 44, (body[0] ?? 0) + 100, ...body.slice(1), IAC, SE]));
          }
        }
      });
    });
    await expect(new Rfc2217Transport(url, { ackTimeoutMs: 200 }).open(115200)).rejects.toMatchObject({
      code: 'PORT_NO_ACK',
    });
    const t = new Rfc2217Transport(`${url}?ign_set_control`, { ackTimeoutMs: 200 });
    await t.open(115200);
    await t.setLines({ rts: true });
    expect(t.lines).toEqual({ dtr: false, rts: true });
    await t.close();
  });
});
