import { afterEach, describe, expect, it } from 'vitest';
import { SocketTransport } from '../../src/transport/socket.ts';
import { collect, Lab, syncFrame } from '../helpers.ts';

let lab: Lab;
afterEach(async () => {
  await lab?.close();
});

describe('SocketTransport', () => {
  it('carries loader traffic to a board waiting in download mode; lines and baud are tracked only', async () => {
    lab = new Lab();
    const board = await lab.socketBoard();
    const t = new SocketTransport(board.url);
    expect(t.canSetLines).toBe(false);
    await t.open(115200);
    const reply = collect(
      (l) => t.onData(l),
      (all) => all.includes(Buffer.from([0xc0, 0x01, 0x08])),
    );
    await t.write(syncFrame());
    await reply;
    await t.setLines({ rts: true });
    expect(t.lines).toEqual({ dtr: false, rts: true });
    expect(board.board.state).toBe('download'); // nothing reached the reset circuit
    await t.close();
    expect(t.isOpen).toBe(false);
  });

  it('reports an unreachable port and a malformed URL', async () => {
    lab = new Lab();
    await expect(new SocketTransport('socket://127.0.0.1:1').open(115200)).rejects.toMatchObject({
      code: 'PORT_UNREACHABLE',
      exitCode: 3,
    });
    expect(() => new SocketTransport('socket://nohost')).toThrow(/needs a host and a port/);
  });
});
